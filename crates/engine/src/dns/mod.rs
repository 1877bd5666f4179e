//! DNS threat intelligence: domain and IP threat lists in the formats people download,
//! matched by a name and every parent suffix ([`DomainSet`]), grouped into named lists with
//! a severity and reloaded from their files ([`ListSet`]); and the heuristics that need no
//! list ([`Heuristics`]: DGA-like names, tunnelling, newly seen domains) on each query's
//! registered domain ([`registered_domain`]). Pure and sync: the agent's DNS check calls it
//! for each `dns-query` event; time comes from the caller.

pub mod bounded_map;
pub mod dga;
pub mod domain_set;
pub mod formats;
pub mod heuristics;
pub mod ip_set;
pub mod lists;
pub mod name;
pub mod newly_seen;
pub mod ngram;
pub mod registered_domain;
pub mod tunnel;

pub use domain_set::{DomainMatch, DomainSet, DomainSetBuilder};
pub use formats::{detect, parse, Format, LineError, LoadReport, Parsed};
pub use heuristics::{DgaSettings, Finding, Heuristics, HeuristicsStats, Kind, Settings};
pub use ip_set::{IpSet, Net};
pub use lists::{DomainHit, IpHit, ListOutcome, ListSet, ListSpec, Outcome};
pub use newly_seen::NewDomainSettings;
pub use registered_domain::registered_domain;
pub use tunnel::TunnelSettings;
