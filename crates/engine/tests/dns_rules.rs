//! The default ruleset on `dns-query` events the agent's DNS check marked (docs/DNS.md): one
//! alert per finding, named after it, whose message names the client, the domain and what
//! found it; queries without a finding raise nothing.

use logward_core::{Action, Dns, DnsIntel, Event, Severity, Timestamp};
use logward_engine::{default_program, Engine, Output};

fn query(reason: Option<&'static str>, intel: Option<DnsIntel>) -> Event<'static> {
    let mut e = Event {
        action: Some(Action::DnsQuery),
        source_ip: "10.1.2.3".parse().ok(),
        reason,
        ..Event::default()
    };
    e.dns = Some(Box::new(Dns {
        question_name: "x1.c2.evil.test".into(),
        question_type: Some("A".into()),
        registered_domain: Some("evil.test".into()),
        intel: intel.map(Box::new),
        ..Dns::default()
    }));
    e
}

fn run(e: &Event<'_>) -> Vec<(String, Severity, String)> {
    let mut engine = Engine::new(default_program());
    let mut out = Vec::new();
    let t = Timestamp {
        unix: 1_765_000_000,
        nanos: 0,
        offset: 0,
    };
    engine.replay(e, t, &mut out);
    out.into_iter()
        .filter_map(|o| match o {
            Output::Alert(a) => Some((a.rule_id, a.severity, a.message)),
            _ => None,
        })
        .collect()
}

#[test]
fn each_finding_raises_its_own_alert() {
    let listed = DnsIntel {
        list: Some("badd-boyz".into()),
        list_entry: Some("evil.test".into()),
        severity: Some("high".into()),
        ..DnsIntel::default()
    };
    assert_eq!(
        run(&query(Some("listed"), Some(listed))),
        [(
            "dns-list-hit".to_owned(),
            Severity::High,
            "10.1.2.3 looked up x1.c2.evil.test, listed by badd-boyz (evil.test)".to_owned()
        )]
    );
    let verdict = DnsIntel {
        verdict: Some("malicious".into()),
        ..DnsIntel::default()
    };
    assert_eq!(
        run(&query(Some("api-malicious"), Some(verdict))),
        [(
            "dns-api-verdict".to_owned(),
            Severity::High,
            "10.1.2.3 looked up x1.c2.evil.test: the intel API says malicious".to_owned()
        )]
    );
    let scored = DnsIntel {
        score: Some(87),
        ..DnsIntel::default()
    };
    assert_eq!(
        run(&query(Some("tunnel"), Some(scored.clone()))),
        [(
            "dns-tunnel".to_owned(),
            Severity::High,
            "10.1.2.3 looks like it tunnels data through DNS under evil.test (last query x1.c2.evil.test)".to_owned()
        )]
    );
    assert_eq!(
        run(&query(Some("dga"), Some(scored))),
        [(
            "dga-domain".to_owned(),
            Severity::Medium,
            "10.1.2.3 looked up x1.c2.evil.test, a name that looks machine-generated (score 87)"
                .to_owned()
        )]
    );
}

#[test]
fn queries_without_a_finding_raise_nothing() {
    assert_eq!(run(&query(None, None)), []);
    assert_eq!(
        run(&query(Some("new-domain"), Some(DnsIntel::default()))),
        []
    );
}
