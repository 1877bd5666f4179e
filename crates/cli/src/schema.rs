//! `logward schema agent|collector|rules`: the JSON Schema of each config file, derived from
//! the config types (schemars), for editors with a YAML language server (docs/SCHEMA.md).

use clap::{Args, ValueEnum};

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Which config file the schema describes.
    #[arg(value_enum)]
    pub kind: Kind,
}

/// The config files that have a schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// The agent's config (`logward run --config`) and its conf.d fragments.
    Agent,
    /// The collector's config (`logward collector --config`).
    Collector,
    /// A rules file (`rules:` of either config).
    Rules,
}

/// The schema as pretty JSON, one trailing newline: the form docs/schema/ keeps.
pub fn text(kind: Kind) -> anyhow::Result<String> {
    let schema = match kind {
        Kind::Agent => logward_agent::config::json_schema(),
        #[cfg(feature = "collector")]
        Kind::Collector => logward_collector::config::json_schema(),
        #[cfg(not(feature = "collector"))]
        Kind::Collector => anyhow::bail!(
            "this logward is an agent-only build (built without the `collector` feature): \
             it has no collector config"
        ),
        Kind::Rules => logward_engine::config::json_schema(),
    };
    Ok(serde_json::to_string_pretty(&schema)? + "\n")
}

pub fn run(args: SchemaArgs) -> anyhow::Result<i32> {
    print!("{}", text(args.kind)?);
    Ok(0)
}
