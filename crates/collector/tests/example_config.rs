//! deploy/collector.example.yaml loads, every section of it, and agrees with the systemd unit.
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
    // The unit's paths (deploy/logward-collector.service): its StateDirectory= and the
    // files `gen-cert --out /etc/logward/collector` writes (issue 13: they disagreed).
    assert_eq!(c.state_dir, PathBuf::from("/var/lib/logward-collector"));
    let tls = c.tls.as_ref().unwrap();
    let here = path.parent().unwrap();
    assert_eq!(tls.cert, here.join("collector/cert.pem"));
    assert_eq!(tls.key, here.join("collector/key.pem"));
    let unit = std::fs::read_to_string(here.join("logward-collector.service")).unwrap();
    for line in [
        "StateDirectory=logward-collector",
        "LoadCredential=cert.pem:/etc/logward/collector/cert.pem",
        "LoadCredential=key.pem:/etc/logward/collector/key.pem",
    ] {
        assert!(unit.lines().any(|l| l == line), "the unit lacks {line}");
    }
    assert!(unit.contains("--config /etc/logward/collector.yaml"));
    assert_eq!(c.notify.notifiers.len(), 1);
    assert_eq!(c.anomaly.unwrap().max_speed_kmh, 1000.0);
    // Off until an endpoint is there: every alert would log a failure otherwise.
    assert!(c.llm.is_none(), "the example's LLM is off");
}
