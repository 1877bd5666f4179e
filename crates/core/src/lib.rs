//! logward's event model, shared by every stage of the pipeline.
//!
//! An [`Event`] uses Elastic Common Schema names (see DESIGN.md). It borrows from the line it was
//! decoded from where it can (`Event<'a>`), so the decoders on the hot path allocate nothing;
//! [`Event::into_owned`] makes an `Event<'static>` for stages that keep events.

pub mod alert;
pub mod backoff;
pub mod ban;
pub mod clock;
pub mod config_error;
pub mod dns;
pub mod duration;
pub mod enrich;
pub mod event;
pub mod exposition;
pub mod field;
pub mod json;
pub mod json_read;
#[cfg(feature = "nats")]
pub mod nats;
pub mod process_metrics;
pub mod time;
pub mod vocab;
pub mod winlog;
pub mod wire;

pub use alert::{write_alert, Alert, Severity};
pub use ban::{BanTarget, Family, InvalidTarget};
pub use clock::{Clock, ManualClock, SystemClock};
pub use dns::{Dns, DnsAnswer, DnsIntel};
pub use event::{parse_ip, Event};
pub use field::Field;
pub use time::Timestamp;
pub use vocab::{Action, Category, Dataset, Kind, Outcome};
pub use winlog::Winlog;
