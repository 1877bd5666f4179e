//! The rules file as written: YAML, strict (`deny_unknown_fields` everywhere, steps are an
//! internally tagged enum on `type:`). Checked and compiled by [`crate::compile`].
//!
//! ```yaml
//! networks:
//!   ignore: [127.0.0.0/8, "::1/128"]
//! chains:
//!   ssh-failure:
//!     - {type: equals, field: event.action, value: user-login}
//!     - {type: counter_raise, counter: fails, key: [source.ip], window: 10m, save: n}
//!     - {type: ge, field: n, value: 5, then: ssh-ban}
//!   ssh-ban:
//!     - {type: alert, id: ssh-bruteforce, name: SSH brute force, severity: high,
//!        message: "{{ n }} failures from {{ source.ip }}"}
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;

/// The JSON Schema of a config type, titled: draft-07, the draft YAML language servers
/// support best (`logward schema`, docs/SCHEMA.md).
pub fn json_schema_of<T: schemars::JsonSchema>(title: &str) -> schemars::Schema {
    let mut schema = schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<T>();
    schema.insert("title".into(), title.into());
    schema
}

/// The JSON Schema of a rules file.
pub fn json_schema() -> schemars::Schema {
    json_schema_of::<RulesFile>("logward rules file")
}

/// A whole rules file.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    /// Named lists of networks (CIDRs or addresses) that `cidr` filters can name.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, Vec<String>>")]
    pub networks: BTreeMap<String, Vec<Spanned<String>>>,
    /// Bounds of the counter tables.
    #[serde(default)]
    pub counters: CounterSettings,
    /// How long repeat offenders are remembered for escalating bans.
    #[serde(default)]
    pub bans: BanSettings,
    /// The chains, in order: the top-level order is the file's order.
    pub chains: Chains,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CounterSettings {
    /// Most keys one counter holds; beyond it expired keys are swept, then the oldest evicted.
    #[serde(default = "default_max_keys")]
    pub max_keys: usize,
    /// Most hits (or distinct values) remembered per key: counts saturate there.
    #[serde(default = "default_max_hits")]
    pub max_hits: usize,
}

fn default_max_keys() -> usize {
    100_000
}
fn default_max_hits() -> usize {
    1_000
}

impl Default for CounterSettings {
    fn default() -> Self {
        CounterSettings {
            max_keys: default_max_keys(),
            max_hits: default_max_hits(),
        }
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BanSettings {
    /// How long an address's past bans count towards escalation.
    #[serde(default = "default_remember")]
    #[schemars(with = "String")]
    pub remember: Spanned<String>,
    /// Most addresses remembered.
    #[serde(default = "default_max_keys")]
    pub max_entries: usize,
}

fn default_remember() -> Spanned<String> {
    Spanned::new(
        "7d".to_owned(),
        serde_saphyr::Location::UNKNOWN,
        serde_saphyr::Location::UNKNOWN,
    )
}

impl Default for BanSettings {
    fn default() -> Self {
        BanSettings {
            remember: default_remember(),
            max_entries: default_max_keys(),
        }
    }
}

/// The `chains:` mapping, kept in file order.
#[derive(Debug, Default)]
pub struct Chains(pub Vec<(Spanned<String>, Vec<Spanned<Step>>)>);

impl<'de> Deserialize<'de> for Chains {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Chains;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of chain names to lists of steps")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Chains, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry()? {
                    out.push((k, v));
                }
                Ok(Chains(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl schemars::JsonSchema for Chains {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Chains".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Chain names to lists of steps, run in the file's order.",
            "type": "object",
            "additionalProperties": generator.subschema_for::<Vec<Step>>(),
        })
    }
}

/// A scalar as YAML writes it: text, a number or a boolean (compared as text).
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar(pub String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl schemars::JsonSchema for Scalar {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Scalar".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": ["string", "number", "boolean"] })
    }
}

/// Declares [`Step`]: every filter variant gets the fields all filters share, `not`,
/// `then` and `else`, after its own (the order serde's messages and the schema list them
/// in), so each filter is written with only what is its own.
macro_rules! step_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            filters {
                $($(#[$fmeta:meta])* $filter:ident { $($field:ident: $ty:ty),* $(,)? },)*
            }
            actions { $($actions:tt)* }
        }
    ) => {
        $(#[$meta])*
        pub enum $name {
            $($(#[$fmeta])*
            $filter {
                $($field: $ty,)*
                #[serde(default)]
                not: bool,
                then: Option<String>,
                #[serde(rename = "else")]
                otherwise: Option<String>,
            },)*
            $($actions)*
        }
    };
}

step_enum! {
    /// One step of a chain. Filters pass or fail (`not: true` inverts); actions act.
    /// `then:` jumps to a chain (a filter: when it passes; an action: after it ran);
    /// `else:` jumps when a filter fails.
    #[derive(Debug, Deserialize, schemars::JsonSchema)]
    #[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
    pub enum Step {
        filters {
            /// The field equals the value.
            Equals {
                field: String,
                value: Scalar,
            },
            /// The field equals one of the values.
            In {
                field: String,
                values: Vec<Scalar>,
            },
            Lt {
                field: String,
                value: i64,
            },
            Le {
                field: String,
                value: i64,
            },
            Ge {
                field: String,
                value: i64,
            },
            Gt {
                field: String,
                value: i64,
            },
            /// The field matches the regex; named captures become fields.
            Regex {
                field: String,
                regex: String,
            },
            /// The field matches one of the regexes (the first that matches saves its captures).
            RegexAny {
                field: String,
                regexes: Vec<String>,
            },
            /// The field is an address inside one of the networks (CIDRs, addresses or the names
            /// of `networks:` lists).
            Cidr {
                field: String,
                networks: Vec<String>,
            },
            /// The field is present.
            Exists {
                field: String,
            },
            /// The field names an account of this host.
            UserExists {
                field: String,
            },
        }
        actions {
            // A filter that never fails, so it has only `then:`; the actions follow it.
            /// Always passes: as a chain's last step, processing goes on with the next chain.
            Continue { then: Option<String> },
            /// Counts the event under its key; `save` gets the count in the window.
            CounterRaise {
                counter: String,
                key: Vec<String>,
                window: String,
                distinct: Option<String>,
                save: Option<String>,
                then: Option<String>,
            },
            /// Reads a counter without raising it.
            CounterGet {
                counter: String,
                key: Vec<String>,
                save: String,
                then: Option<String>,
            },
            /// Forgets the key's count; with `grace`, the key cannot be raised for that long.
            CounterReset {
                counter: String,
                key: Vec<String>,
                grace: Option<String>,
                then: Option<String>,
            },
            /// Raises an alert.
            Alert {
                id: String,
                name: String,
                #[serde(default = "default_severity")]
                severity: String,
                #[serde(default)]
                tags: Vec<String>,
                message: String,
                then: Option<String>,
            },
            /// Asks for the address in `field` to be banned.
            Ban {
                #[serde(default = "default_ban_field")]
                field: String,
                #[serde(default = "default_ban_duration")]
                duration: String,
                /// Each earlier ban of the address (within `bans.remember`) multiplies the duration.
                #[serde(default = "default_factor")]
                factor: u32,
                max_duration: Option<String>,
                then: Option<String>,
            },
            /// Asks for the address in `field` to be unbanned.
            Unban {
                #[serde(default = "default_ban_field")]
                field: String,
                then: Option<String>,
            },
            /// Asks for a program to be run: an argv array of templates, never a shell.
            Exec {
                argv: Vec<String>,
                then: Option<String>,
            },
            /// An entry for the daily report.
            Report {
                #[serde(default = "default_section")]
                section: String,
                message: String,
                then: Option<String>,
            },
            /// A log line from the rules themselves.
            Log {
                #[serde(default = "default_level")]
                level: String,
                message: String,
                then: Option<String>,
            },
            /// Does nothing (a chain that ends on it stops).
            Noop { then: Option<String> },        }
    }
}

fn default_severity() -> String {
    "medium".into()
}
fn default_ban_field() -> String {
    "source.ip".into()
}
fn default_ban_duration() -> String {
    "1h".into()
}
fn default_factor() -> u32 {
    1
}
fn default_section() -> String {
    "OTHER".into()
}
fn default_level() -> String {
    "info".into()
}

impl Step {
    /// The YAML `type:` word.
    pub fn kind(&self) -> &'static str {
        match self {
            Step::Equals { .. } => "equals",
            Step::In { .. } => "in",
            Step::Lt { .. } => "lt",
            Step::Le { .. } => "le",
            Step::Ge { .. } => "ge",
            Step::Gt { .. } => "gt",
            Step::Regex { .. } => "regex",
            Step::RegexAny { .. } => "regex_any",
            Step::Cidr { .. } => "cidr",
            Step::Exists { .. } => "exists",
            Step::UserExists { .. } => "user_exists",
            Step::Continue { .. } => "continue",
            Step::CounterRaise { .. } => "counter_raise",
            Step::CounterGet { .. } => "counter_get",
            Step::CounterReset { .. } => "counter_reset",
            Step::Alert { .. } => "alert",
            Step::Ban { .. } => "ban",
            Step::Unban { .. } => "unban",
            Step::Exec { .. } => "exec",
            Step::Report { .. } => "report",
            Step::Log { .. } => "log",
            Step::Noop { .. } => "noop",
        }
    }

    /// `then:` and `else:`.
    pub fn jumps(&self) -> (Option<&str>, Option<&str>) {
        match self {
            Step::Equals {
                then, otherwise, ..
            }
            | Step::In {
                then, otherwise, ..
            }
            | Step::Lt {
                then, otherwise, ..
            }
            | Step::Le {
                then, otherwise, ..
            }
            | Step::Ge {
                then, otherwise, ..
            }
            | Step::Gt {
                then, otherwise, ..
            }
            | Step::Regex {
                then, otherwise, ..
            }
            | Step::RegexAny {
                then, otherwise, ..
            }
            | Step::Cidr {
                then, otherwise, ..
            }
            | Step::Exists {
                then, otherwise, ..
            }
            | Step::UserExists {
                then, otherwise, ..
            } => (then.as_deref(), otherwise.as_deref()),
            Step::Continue { then }
            | Step::CounterRaise { then, .. }
            | Step::CounterGet { then, .. }
            | Step::CounterReset { then, .. }
            | Step::Alert { then, .. }
            | Step::Ban { then, .. }
            | Step::Unban { then, .. }
            | Step::Exec { then, .. }
            | Step::Report { then, .. }
            | Step::Log { then, .. }
            | Step::Noop { then } => (then.as_deref(), None),
        }
    }

    /// `not:` of a filter.
    pub fn negated(&self) -> bool {
        match self {
            Step::Equals { not, .. }
            | Step::In { not, .. }
            | Step::Lt { not, .. }
            | Step::Le { not, .. }
            | Step::Ge { not, .. }
            | Step::Gt { not, .. }
            | Step::Regex { not, .. }
            | Step::RegexAny { not, .. }
            | Step::Cidr { not, .. }
            | Step::Exists { not, .. }
            | Step::UserExists { not, .. } => *not,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_tagged_by_type_and_strict() {
        let f: RulesFile = serde_saphyr::from_str(
            "chains:\n  a:\n    - {type: equals, field: event.action, value: 5}\n    - type: noop\n",
        )
        .unwrap();
        assert_eq!(f.chains.0.len(), 1);
        assert_eq!(f.chains.0[0].1[0].referenced.line(), 3);
        assert!(matches!(&f.chains.0[0].1[0].value, Step::Equals { value, .. } if value.0 == "5"));
        let bad = serde_saphyr::from_str::<RulesFile>(
            "chains:\n  a:\n    - {type: equals, field: x, value: y, colour: red}\n",
        );
        assert!(bad.is_err());
    }
}
