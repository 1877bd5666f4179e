//! DNS threat intelligence: domain and IP threat lists in the formats people download,
//! matched by a name and every parent suffix ([`DomainSet`]), grouped into named lists with
//! a severity and reloaded from their files ([`ListSet`]). Pure and sync: the agent's DNS
//! check calls it for each `dns-query` event.

pub mod domain_set;
pub mod formats;
pub mod ip_set;
pub mod lists;
pub mod name;

pub use domain_set::{DomainMatch, DomainSet, DomainSetBuilder};
pub use formats::{detect, parse, Format, LineError, LoadReport, Parsed};
pub use ip_set::{IpSet, Net};
pub use lists::{DomainHit, IpHit, ListOutcome, ListSet, ListSpec, Outcome};
