//! The collector on PostgreSQL through the real binary: `collector migrate`, a real agent
//! enrolled and forwarding, its events and alerts stored in the database and shown by the
//! API; `collector copy-from-sqlite` moving a SQLite collector's state into an empty
//! database (and refusing a database that already holds one). Skipped without the test
//! cluster (scripts/test.sh starts it; a failure under CI=true).
#![allow(clippy::disallowed_methods)] // tests spawn the binary under test
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use logward_store::{
    AlertPlan, CollectorStore as _, FleetEvent, FleetItem, NewAlert, NewDecision, SqliteStore,
};
use logward_test_support::postgres::TestDb;
use logward_test_support::{append, free_port, spawn, wait_port, wait_until};

#[path = "support/run.rs"]
mod run;
use run::{forwarding_agent, numbered_failures as failures};

const BIN: &str = env!("CARGO_BIN_EXE_logward");

fn logward(args: &[&str], config: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A collector config on `db`, its password in a file (the test cluster trusts loopback, so
/// any password passes: what is checked is that one is read and never printed).
/// How many numbered migrations the PostgreSQL store has: the version `migrate` reaches.
fn pg_migrations() -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../store/src/postgres/migrations");
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "sql")
        })
        .count()
}

fn pg_config(dir: &Path, db: &TestDb, port: u16) -> std::path::PathBuf {
    std::fs::write(dir.join("pg.pass"), "not-the-real-one\n").unwrap();
    let cfg = dir.join("collector.yaml");
    std::fs::write(
        &cfg,
        format!(
            "listen: 127.0.0.1:{port}\nstate_dir: {}\nstore: {{type: postgres, url: \"{}\", \
             password_file: pg.pass}}\n",
            dir.join("cstate").display(),
            db.url()
        ),
    )
    .unwrap();
    cfg
}

#[test]
fn an_agent_forwards_to_a_collector_on_postgres_and_the_api_shows_it() {
    let Some(db) = TestDb::create() else { return };
    let d = tempfile::tempdir().unwrap();
    let port = free_port();
    let ccfg = pg_config(d.path(), &db, port);

    let out = logward(&["collector", "migrate"], &ccfg);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains(&format!("schema version {}", pg_migrations())),
        "{said}"
    );
    assert!(!said.contains("not-the-real-one"), "{said}");
    let out = logward(&["check"], &ccfg);
    assert!(
        text(&out.stdout).contains("store PostgreSQL postgresql://"),
        "{}",
        text(&out.stdout)
    );

    let _collector = spawn(
        BIN,
        &["collector", "--config", ccfg.to_str().unwrap()],
        &d.path().join("collector.err"),
    );
    assert!(
        wait_port(port, Duration::from_secs(30)),
        "{}",
        std::fs::read_to_string(d.path().join("collector.err")).unwrap_or_default()
    );
    // Nothing was written to the state directory's SQLite file: the store is PostgreSQL.
    assert!(!d
        .path()
        .join("cstate")
        .join(SqliteStore::FILE_NAME)
        .exists());

    let out = logward(&["collector", "token", "create"], &ccfg);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = text(&out.stdout).trim().to_owned();
    let (log, _, _agent) = forwarding_agent(d.path(), &format!("http://127.0.0.1:{port}"), &token);

    // Five failures from one address: five events and a brute-force alert, in PostgreSQL.
    append(&log, &failures(0, 5));
    let stored = || {
        (
            db.sql("SELECT count(*) FROM fleet_events"),
            db.sql("SELECT count(*) FROM alerts"),
        )
    };
    assert!(
        wait_until(Duration::from_secs(30), || stored()
            == ("5".into(), "1".into())),
        "{:?}\n{}",
        stored(),
        std::fs::read_to_string(d.path().join("collector.err")).unwrap_or_default()
    );
    let agents = text(&logward(&["collector", "agents", "list"], &ccfg).stdout);
    // One agent, active.
    assert_eq!(
        agents.lines().filter(|l| l.ends_with("active")).count(),
        1,
        "{agents}"
    );

    // The API reads them back from PostgreSQL: the alert, its events, the figures.
    let out = logward(&["collector", "api-token", "create"], &ccfg);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bearer = text(&out.stdout).trim().to_owned();
    let client = reqwest::blocking::Client::new();
    let get = |path: &str| -> serde_json::Value {
        let r = client
            .get(format!("http://127.0.0.1:{port}{path}"))
            .bearer_auth(&bearer)
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
        serde_json::from_str(&r.text().unwrap()).unwrap()
    };
    let page = get("/v1/alerts");
    let alerts = page["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{page}");
    let id = alerts[0]["id"].as_i64().unwrap();
    let detail = get(&format!("/v1/alerts/{id}"));
    let events = detail["events"].as_array().unwrap();
    assert_eq!(events.len(), 5, "{detail}");
    assert!(
        events
            .iter()
            .all(|e| e["source_ip"] == "203.0.113.1" && e["agent_id"].is_string()),
        "{detail}"
    );
    let stats = get("/v1/stats?since=0");
    assert_eq!(stats["total"], 1, "{stats}");

    // A fleet decision made through the CLI on PostgreSQL is listed by the API.
    let out = logward(
        &["collector", "decisions", "add", "--ip", "198.51.100.7"],
        &ccfg,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bans = get("/v1/bans?active=true");
    assert!(bans.to_string().contains("198.51.100.7"), "{bans}");
    let log = std::fs::read_to_string(d.path().join("collector.err")).unwrap_or_default();
    assert!(!log.contains("not-the-real-one"), "{log}");
}

#[test]
fn copy_from_sqlite_moves_a_collectors_state_once() {
    let Some(db) = TestDb::create() else { return };
    let d = tempfile::tempdir().unwrap();
    let st = d.path().join("old");
    {
        let mut s = SqliteStore::open_dir(&st).unwrap();
        s.register_shared_agent("web01", 100).unwrap();
        let items: Vec<FleetItem> = (0..3)
            .flat_map(|i| {
                [
                    FleetItem::Event {
                        seq: 2 * i + 1,
                        event: FleetEvent {
                            time: 1_000 + i,
                            host: Some("web01".into()),
                            action: "user-login".into(),
                            outcome: "failure".into(),
                            source_ip: Some("192.0.2.9".into()),
                            user: Some("root".into()),
                            json: "{\"n\":1}".into(),
                        },
                    },
                    FleetItem::Alert {
                        seq: 2 * i + 2,
                        alert: NewAlert {
                            time: 1_000 + i,
                            rule_id: "ssh-brute-force".into(),
                            severity: 4,
                            host: Some("web01".into()),
                            source_address: Some("192.0.2.9".into()),
                            user: Some("root".into()),
                            json: "{}".into(),
                            dns: None,
                        },
                        plan: AlertPlan::default(),
                    },
                ]
            })
            .collect();
        s.ingest("web01", 2_000, &items).unwrap();
        s.add_decision(&NewDecision {
            target: "192.0.2.9".into(),
            duration_secs: Some(600),
            reason: "brute force".into(),
            rule_id: Some("ssh-brute-force".into()),
            created_at: 2_000,
            alert_id: Some(1),
        })
        .unwrap();
        s.set_operator("alice", "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA", 3)
            .unwrap();
    }
    let ccfg = pg_config(d.path(), &db, free_port());
    let out = logward(
        &["collector", "copy-from-sqlite", st.to_str().unwrap()],
        &ccfg,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    for (table, rows) in [
        ("alerts", 3),
        ("fleet_events", 3),
        ("agents", 1),
        ("decisions", 1),
    ] {
        assert!(
            said.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == [table, &rows.to_string()]),
            "{table}: {said}"
        );
    }
    assert_eq!(db.sql("SELECT count(*) FROM alerts"), "3");
    assert_eq!(
        db.sql("SELECT string_agg(agent_id || ':' || seq, ',' ORDER BY seq) FROM fleet_events"),
        "web01:1,web01:3,web01:5"
    );
    assert_eq!(db.sql("SELECT last_seq FROM agents"), "6");
    assert_eq!(db.sql("SELECT name FROM operators"), "alice");
    // Ids continue after the copied ones.
    assert_eq!(
        db.sql(
            "INSERT INTO decisions (target, reason, created_at) VALUES ('x', 'y', 1) RETURNING id"
        )
        .lines()
        .next()
        .unwrap_or_default(),
        "2"
    );

    // Twice is refused, and changes nothing.
    let out = logward(
        &["collector", "copy-from-sqlite", st.to_str().unwrap()],
        &ccfg,
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("already holds"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(db.sql("SELECT count(*) FROM alerts"), "3");
    // A directory without a store is named, and nothing is created in it.
    let none = d.path().join("none");
    let out = logward(
        &["collector", "copy-from-sqlite", none.to_str().unwrap()],
        &ccfg,
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no collector store"),
        "{}",
        text(&out.stderr)
    );
    assert!(!none.exists());
}
