//! Ban targets as the store files them: the shared, validated [`BanTarget`] of
//! `logward_core::ban` (one type from the rules to the firewall to the database), stored in
//! its canonical text form with its [`Family`] code.

pub use logward_core::ban::{BanTarget, Family, InvalidTarget};

use crate::error::StoreError;

impl From<InvalidTarget> for StoreError {
    fn from(e: InvalidTarget) -> StoreError {
        StoreError::invalid("ban target", e.to_string())
    }
}
