//! deploy/collector.example.yaml loads, every section of it.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

#[test]
fn the_example_config_loads_with_every_section() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/collector.example.yaml");
    let c = logward_collector::config::load(&path).unwrap_or_else(|e| {
        panic!(
            "{}",
            e.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    assert_eq!(c.listen.port(), 7650);
    assert!(c.tls.is_some());
    assert!(matches!(
        c.rules,
        logward_collector::config::FleetRules::Default
    ));
    assert_eq!(c.notify.notifiers.len(), 2);
    assert_eq!(c.anomaly.unwrap().max_speed_kmh, 1000.0);
    let llm = c.llm.unwrap();
    assert_eq!(llm.model, "qwen2.5:7b");
}
