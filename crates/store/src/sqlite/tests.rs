use std::time::Instant;

use rusqlite::Connection;
use tempfile::TempDir;

use super::migrations::{migrate, Migration, MIGRATIONS};
use super::*;
use crate::types::{NewBan, NewOutbox, ProfileRow};

const T0: UnixTime = 1_750_000_000;

fn open() -> (TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path()).unwrap();
    (dir, store)
}

/// This build's migrations and one more after them, as a later release would ship; the
/// list and the new migration's version.
fn with_one_more(name: &'static str, sql: &'static str) -> (Vec<Migration>, u32) {
    let mut list = MIGRATIONS.to_vec();
    let version = list.len() as u32 + 1;
    list.push(Migration { version, name, sql });
    (list, version)
}

/// A delivery of the batch's alert number `alert` to `sink`, due at `at`.
fn outbox(alert: usize, sink: &str, at: UnixTime) -> NewOutbox {
    NewOutbox {
        alert,
        sink: sink.into(),
        next_attempt_at: at,
    }
}

fn alert(time: UnixTime, rule: &str, seq: u64) -> NewAlert {
    NewAlert {
        time,
        rule_id: rule.to_string(),
        severity: 3,
        host: Some("web1".into()),
        source_address: Some("192.0.2.7".into()),
        user: Some("root".into()),
        json: format!(r#"{{"rule":{{"id":"{rule}"}},"seq":{seq}}}"#),
        dns: None,
    }
}

fn target(s: &str) -> BanTarget {
    BanTarget::parse(s).unwrap()
}

fn ban(s: &str, created: UnixTime, expires: Option<UnixTime>) -> BanChange {
    BanChange::Add(NewBan {
        target: target(s),
        reason: "5 failures in 10 min".into(),
        rule_id: Some("ssh-bruteforce".into()),
        created_at: created,
        expires_at: expires,
    })
}

fn count(store: &SqliteStore, table: &str) -> i64 {
    store
        .conn
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[test]
fn creates_schema_from_empty_and_reopens_without_reapplying() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a/b/state");
    let mut s = SqliteStore::open_dir(&nested).unwrap();
    let latest = MIGRATIONS.last().unwrap().version;
    assert_eq!(s.schema_version().unwrap(), latest);
    assert_eq!(s.path(), nested.join("logward.db"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&nested).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
    let mode: String = s
        .conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let sync: i64 = s
        .conn
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sync, 1, "NORMAL");
    let fk: i64 = s
        .conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
    let instance = s.instance.clone();
    assert_eq!(instance.len(), 16);
    drop(s);

    let mut s = SqliteStore::open_dir(&nested).unwrap();
    assert_eq!(s.schema_version().unwrap(), latest);
    assert_eq!(count(&s, "schema_version"), i64::from(latest));
    assert_eq!(s.instance, instance, "instance id is kept across opens");
}

#[test]
fn full_synchronous_option() {
    let dir = tempfile::tempdir().unwrap();
    let opts = SqliteOptions {
        synchronous: Synchronous::Full,
        ..SqliteOptions::default()
    };
    let s = SqliteStore::open_dir_with(dir.path(), opts).unwrap();
    let sync: i64 = s
        .conn
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sync, 2, "FULL");
}

#[test]
fn migrations_are_numbered_without_gaps() {
    for (i, m) in MIGRATIONS.iter().enumerate() {
        assert_eq!(m.version as usize, i + 1, "{}", m.name);
    }
}

#[test]
fn migrates_an_older_database_forward() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.db");
    let mut conn = Connection::open(&path).unwrap();
    let first = &MIGRATIONS[..1];
    assert_eq!(migrate(&mut conn, &path, first).unwrap(), 1);
    conn.execute(
        "INSERT INTO counters (name, data, saved_at) VALUES ('c', x'01', 1)",
        [],
    )
    .unwrap();
    let (extended, next) = with_one_more(
        "test-extra",
        "CREATE TABLE extra (x INTEGER); INSERT INTO extra VALUES (42);",
    );
    assert_eq!(migrate(&mut conn, &path, &extended).unwrap(), next);
    let x: i64 = conn
        .query_row("SELECT x FROM extra", [], |r| r.get(0))
        .unwrap();
    assert_eq!(x, 42);
    // Data from before the migration is still there, and a second run changes nothing.
    let n: i64 = conn
        .query_row("SELECT count(*) FROM counters", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(migrate(&mut conn, &path, &extended).unwrap(), next);
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM extra", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1);

    // This database is now newer than the real migration list: refused, not touched.
    drop(conn);
    let err = SqliteStore::open(&path, SqliteOptions::default()).unwrap_err();
    assert!(
        matches!(err, StoreError::TooNew { found, supported, .. } if found == next && supported == next - 1),
        "{err}"
    );
    assert!(
        err.to_string().contains("newer than this logward supports"),
        "{err}"
    );
}

/// Schema 1 stored the idempotency key (unique) and indexed alerts five ways; schema 2 derives
/// the key and keeps the time index. A version-1 database keeps every row, id and key.
#[test]
fn version_1_database_migrates_to_derived_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(SqliteStore::FILE_NAME);
    let mut conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "foreign_keys", "ON").unwrap();
    assert_eq!(migrate(&mut conn, &path, &MIGRATIONS[..1]).unwrap(), 1);
    let instance: String = conn
        .query_row("SELECT value FROM meta WHERE key = 'instance'", [], |r| {
            r.get(0)
        })
        .unwrap();
    // What a version-1 agent wrote: two alerts, three deliveries in three states.
    for (id, seq) in [(7_i64, 1_u64), (9, 2)] {
        let a = alert(T0 + seq as i64, "ssh-login", seq);
        conn.execute(
            "INSERT INTO alerts (id, time, rule_id, severity, host, source_address, user_name, \
             json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                id,
                a.time,
                a.rule_id,
                a.severity,
                a.host,
                a.source_address,
                a.user,
                a.json
            ],
        )
        .unwrap();
    }
    let old_rows = [
        (3_i64, 7_i64, "slack", "sent", 0_i64, None::<&str>),
        (4, 7, "mail", "failed", 5, Some("550 no such user")),
        (5, 9, "slack", "pending", 2, Some("timeout")),
    ];
    for (id, alert_id, sink, state, attempts, err) in old_rows {
        conn.execute(
            "INSERT INTO outbox (id, alert_id, sink, state, attempts, next_attempt_at, \
             last_error, idempotency_key, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?6)",
            params![
                id,
                alert_id,
                sink,
                state,
                attempts,
                T0 + 60,
                err,
                format!("{instance}-{alert_id}-{sink}")
            ],
        )
        .unwrap();
    }
    let keys_v1: Vec<(i64, String)> = conn
        .prepare("SELECT id, idempotency_key FROM outbox ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    drop(conn);

    let mut s = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    assert_eq!(
        s.schema_version().unwrap(),
        MIGRATIONS.last().unwrap().version
    );
    assert_eq!(count(&s, "alerts"), 2);
    let mut rows = s.outbox_list(None, 10).unwrap();
    rows.reverse();
    let keys_v2: Vec<(i64, String)> = rows
        .iter()
        .map(|o| (o.id, o.idempotency_key.clone()))
        .collect();
    assert_eq!(keys_v2, keys_v1, "same ids, same keys");
    for (o, (id, alert_id, sink, state, attempts, err)) in rows.iter().zip(old_rows) {
        assert_eq!(
            (o.id, o.alert_id, o.sink.as_str(), o.state.as_str()),
            (id, alert_id, sink, state)
        );
        assert_eq!(
            (i64::from(o.attempts), o.last_error.as_deref()),
            (attempts, err)
        );
        assert_eq!(o.next_attempt_at, T0 + 60);
        assert_eq!(o.alert_json, s.alert(alert_id).unwrap().unwrap().alert.json);
    }
    assert_eq!(
        s.outbox_counts().unwrap(),
        OutboxCounts {
            pending: 1,
            sent: 1,
            failed: 1
        }
    );

    // The schema as a fresh database has it: no key column, the indexes migration 2 keeps.
    let columns: Vec<String> = s
        .conn
        .prepare("SELECT name FROM pragma_table_info('outbox')")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert!(
        !columns.iter().any(|c| c == "idempotency_key"),
        "{columns:?}"
    );
    let indexes = |s: &SqliteStore| -> Vec<String> {
        s.conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'index' \
                 AND tbl_name IN ('alerts', 'outbox') AND sql IS NOT NULL ORDER BY name",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    };
    assert_eq!(
        indexes(&s),
        ["alerts_time", "outbox_alert", "outbox_due"].map(String::from)
    );
    let (_fresh_dir, fresh) = open();
    assert_eq!(indexes(&fresh), indexes(&s));
    let fk_problems: i64 = s
        .conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(fk_problems, 0);
    assert!(s.integrity_check().unwrap().is_empty());
    // The rewritten state check still refuses an unknown state.
    assert!(s
        .conn
        .execute("UPDATE outbox SET state = 'lost' WHERE id = 3", [])
        .is_err());

    // New rows continue after the old ids, and the foreign key still cascades.
    let ids = s
        .commit_batch(&Batch {
            alerts: vec![alert(T0 + 5, "r", 3)],
            outbox: vec![outbox(0, "slack", T0)],
            ..Batch::default()
        })
        .unwrap();
    assert!(ids.alerts[0] > 9 && ids.outbox[0] > 5, "{ids:?}");
    let due = s.due_outbox_for(Some("slack"), T0, 10).unwrap();
    assert_eq!(
        due[0].idempotency_key,
        format!("{instance}-{}-slack", ids.alerts[0])
    );
    s.conn
        .execute("DELETE FROM alerts WHERE id = 7", [])
        .unwrap();
    assert_eq!(count(&s, "outbox"), 2);
}

#[test]
fn failed_migration_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.db");
    let mut conn = Connection::open(&path).unwrap();
    let (list, next) = with_one_more("broken", "CREATE TABLE half (x INTEGER); THIS IS NOT SQL;");
    let err = migrate(&mut conn, &path, &list).unwrap_err();
    assert!(
        matches!(err, StoreError::Migration { version, .. } if version == next),
        "{err}"
    );
    assert_eq!(
        super::migrations::current_version(&conn, &path).unwrap(),
        next - 1
    );
    let half: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'half'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(half, 0, "the failed migration left nothing behind");
}

#[test]
fn batch_commits_everything_and_returns_ids() {
    let (_dir, mut s) = open();
    let fp = Fingerprint::of(b"Jan  1 00:00:00 host sshd[1]: first line\n");
    let batch = Batch {
        checkpoints: vec![
            Checkpoint {
                device: Some(2049),
                inode: Some(u64::MAX - 3),
                offset: 4096,
                fingerprint: Some(fp),
                line: 57,
                ..Checkpoint::new("/var/log/auth.log", T0)
            },
            Checkpoint {
                cursor: Some("s=abc;i=1f;b=def".into()),
                ..Checkpoint::new("journal", T0)
            },
        ],
        alerts: vec![
            alert(T0, "ssh-bruteforce", 1),
            alert(T0 + 1, "root-login", 2),
        ],
        outbox: vec![
            outbox(0, "slack", T0),
            outbox(1, "slack", T0),
            outbox(1, "mail", T0),
        ],
        bans: vec![ban("192.0.2.7", T0, Some(T0 + 600))],
        counters: vec![CounterSnapshot {
            name: "default".into(),
            data: vec![1, 2, 3],
            saved_at: T0,
        }],
        report: vec![ReportEntry {
            time: T0,
            section: ReportSection::Warn,
            text: "root logged in from 192.0.2.7".into(),
        }],
        spool: Vec::new(),
        profiles: vec![ProfileRow {
            key: "web01\u{1f}alice".into(),
            data: b"{\"logins\":1}".to_vec(),
            updated_at: T0,
        }],
    };
    let ids = s.commit_batch(&batch).unwrap();
    assert_eq!(
        s.profile("web01\u{1f}alice").unwrap().as_deref(),
        Some(&b"{\"logins\":1}"[..])
    );
    assert_eq!(s.profile("web01\u{1f}bob").unwrap(), None);
    assert_eq!(s.profile_count().unwrap(), 1);
    assert_eq!(ids.alerts.len(), 2);
    assert_eq!(ids.outbox.len(), 3);
    assert!(ids.alerts[0] < ids.alerts[1]);

    let cp = s.checkpoint("/var/log/auth.log").unwrap().unwrap();
    assert_eq!(cp, batch.checkpoints[0]);
    assert_eq!(s.checkpoints().unwrap(), {
        let mut v = batch.checkpoints.clone();
        v.sort_by(|a, b| a.source.cmp(&b.source));
        v
    });
    assert_eq!(s.checkpoint("nope").unwrap(), None);

    let a = s.alert(ids.alerts[1]).unwrap().unwrap();
    assert_eq!(a.alert, batch.alerts[1]);
    let all = s.alerts_between(T0, T0 + 10, 100).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(s.alerts_between(T0 + 1, T0 + 10, 100).unwrap().len(), 1);
    assert_eq!(s.alerts_between(T0, T0 + 10, 1).unwrap().len(), 1);

    let due = s.due_outbox(T0, 10).unwrap();
    assert_eq!(due.len(), 3);
    assert_eq!(due[0].alert_json, batch.alerts[0].json);
    assert_eq!(due[0].state, OutboxState::Pending);
    assert!(due[0]
        .idempotency_key
        .starts_with(&format!("{}-{}-", s.instance, ids.alerts[0])));
    let keys: std::collections::HashSet<_> = due.iter().map(|d| &d.idempotency_key).collect();
    assert_eq!(keys.len(), 3);

    let b = s.ban(&target("192.0.2.7")).unwrap().unwrap();
    assert_eq!(b.offences, 1);
    assert_eq!(b.family, Family::V4);
    assert_eq!(b.remaining(T0 + 100), Some(500));

    let c = s.load_counters("default").unwrap().unwrap();
    assert_eq!(c.data, vec![1, 2, 3]);
    assert_eq!(s.load_counters("other").unwrap(), None);

    let r = s.report_entries(T0, T0 + 1).unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].entry, batch.report[0]);

    // Checkpoints are upserts.
    let next = Batch {
        checkpoints: vec![Checkpoint {
            offset: 8192,
            line: 99,
            ..batch.checkpoints[0].clone()
        }],
        ..Batch::default()
    };
    s.commit_batch(&next).unwrap();
    let cp = s.checkpoint("/var/log/auth.log").unwrap().unwrap();
    assert_eq!(
        (cp.offset, cp.line, cp.inode),
        (8192, 99, Some(u64::MAX - 3))
    );
    assert!(s.delete_checkpoint("journal").unwrap());
    assert!(!s.delete_checkpoint("journal").unwrap());
    assert_eq!(
        s.commit_batch(&Batch::default()).unwrap(),
        BatchIds::default()
    );
}

/// The guarantee's other half: a batch with one bad value anywhere stores nothing.
#[test]
fn invalid_batch_rolls_back_entirely() {
    let (_dir, mut s) = open();
    let good = Batch {
        checkpoints: vec![Checkpoint {
            offset: 100,
            ..Checkpoint::new("f", T0)
        }],
        alerts: vec![alert(T0, "r", 1)],
        ..Batch::default()
    };
    s.commit_batch(&good).unwrap();

    let bad_outbox = Batch {
        checkpoints: vec![Checkpoint {
            offset: 200,
            ..Checkpoint::new("f", T0)
        }],
        alerts: vec![alert(T0, "r", 2)],
        outbox: vec![outbox(5, "slack", T0)],
        bans: vec![ban("192.0.2.8", T0, None)],
        ..Batch::default()
    };
    let err = s.commit_batch(&bad_outbox).unwrap_err();
    assert!(err.to_string().contains("alert index 5"), "{err}");

    // One delivery per (alert, sink): the idempotency key is derived from the pair.
    let mut twice = bad_outbox.clone();
    twice.outbox[0].alert = 0;
    twice.outbox.push(twice.outbox[0].clone());
    let err = s.commit_batch(&twice).unwrap_err();
    assert!(err.to_string().contains("queued twice"), "{err}");

    let mut bad_severity = bad_outbox.clone();
    bad_severity.outbox.clear();
    bad_severity.alerts.push(NewAlert {
        severity: 9,
        ..alert(T0, "r", 3)
    });
    let err = s.commit_batch(&bad_severity).unwrap_err();
    assert!(err.to_string().contains("must be 1 to 5"), "{err}");

    let mut bad_json = bad_outbox.clone();
    bad_json.outbox.clear();
    bad_json.alerts[0].json = "{not json".into();
    assert!(s.commit_batch(&bad_json).is_err());

    let mut bad_offset = bad_outbox.clone();
    bad_offset.outbox.clear();
    bad_offset.checkpoints[0].offset = u64::MAX;
    assert!(s.commit_batch(&bad_offset).is_err());

    assert_eq!(s.checkpoint("f").unwrap().unwrap().offset, 100);
    assert_eq!(count(&s, "alerts"), 1);
    assert_eq!(count(&s, "bans"), 0);
    assert_eq!(count(&s, "outbox"), 0);
}

#[test]
fn bans_offences_expiry_and_removal() {
    let (_dir, mut s) = open();
    let batch = Batch {
        bans: vec![
            ban("192.0.2.7", T0, Some(T0 + 600)),
            ban("2001:db8::/64", T0, Some(T0 + 3600)),
            ban("198.51.100.0/24", T0, None),
        ],
        ..Batch::default()
    };
    s.commit_batch(&batch).unwrap();
    let active = s.active_bans(T0 + 1).unwrap();
    assert_eq!(active.len(), 3);
    let v6 = active.iter().find(|b| b.family == Family::V6).unwrap();
    assert_eq!(v6.target.to_string(), "2001:db8::/64");
    assert_eq!(v6.remaining(T0 + 1), Some(3599));
    let perm = active.iter().find(|b| b.target.prefix() == 24).unwrap();
    assert_eq!(perm.remaining(T0 + 1), None);

    // After 600 s the first ban is no longer active, even before expire_bans runs.
    assert_eq!(s.active_bans(T0 + 600).unwrap().len(), 2);
    assert_eq!(s.count_active_bans(T0 + 1).unwrap(), 3);
    assert_eq!(s.count_active_bans(T0 + 600).unwrap(), 2);
    let expired = s.expire_bans(T0 + 600).unwrap();
    assert_eq!(expired, vec![target("192.0.2.7")]);
    assert!(s.expire_bans(T0 + 600).unwrap().is_empty());
    let gone = s.ban(&target("192.0.2.7")).unwrap().unwrap();
    assert_eq!(gone.removed_at, Some(T0 + 600));
    assert!(!gone.is_active(T0 + 601));

    // A repeat offender: the same target banned again counts a second offence.
    s.commit_batch(&Batch {
        bans: vec![ban("192.0.2.7", T0 + 700, Some(T0 + 700 + 1200))],
        ..Batch::default()
    })
    .unwrap();
    let again = s.ban(&target("192.0.2.7")).unwrap().unwrap();
    assert_eq!(again.offences, 2);
    assert_eq!(again.removed_at, None);
    assert!(again.is_active(T0 + 701));

    // Removal: immediate, idempotent, a no-op for an unknown target.
    s.commit_batch(&Batch {
        bans: vec![
            BanChange::Remove {
                target: target("2001:db8::/64"),
                at: T0 + 800,
            },
            BanChange::Remove {
                target: target("2001:db8::/64"),
                at: T0 + 900,
            },
            BanChange::Remove {
                target: target("203.0.113.1"),
                at: T0 + 800,
            },
        ],
        ..Batch::default()
    })
    .unwrap();
    let removed = s.ban(&target("2001:db8::/64")).unwrap().unwrap();
    assert_eq!(removed.removed_at, Some(T0 + 800));
    let active: Vec<String> = s
        .active_bans(T0 + 801)
        .unwrap()
        .iter()
        .map(|b| b.target.to_string())
        .collect();
    assert_eq!(active.len(), 2);
    assert!(active.contains(&"192.0.2.7".to_string()));
    assert!(active.contains(&"198.51.100.0/24".to_string()));
    assert_eq!(s.ban(&target("203.0.113.1")).unwrap(), None);
}

/// Start-up re-applies every active ban; 100 k of them must come back quickly. Prints the
/// times (run with `--nocapture`); does not assert them, since debug builds and shared CI
/// machines vary.
#[test]
fn hundred_thousand_bans_in_one_transaction() {
    let (_dir, mut s) = open();
    const N: u32 = 100_000;
    let mut batch = Batch::default();
    for i in 0..N {
        let t = if i % 4 == 0 {
            format!("2001:db8:{:x}::{:x}", i >> 8, i & 0xff)
        } else {
            let [_, b, c, d] = i.to_be_bytes();
            format!("10.{b}.{c}.{d}")
        };
        batch.bans.push(ban(&t, T0, Some(T0 + 3600 + i64::from(i))));
    }
    let started = Instant::now();
    s.commit_batch(&batch).unwrap();
    let insert = started.elapsed();

    let started = Instant::now();
    let active = s.active_bans(T0 + 10).unwrap();
    let read = started.elapsed();
    println!(
        "100k bans: insert (one transaction) {:.1} ms, active_bans {:.1} ms",
        insert.as_secs_f64() * 1e3,
        read.as_secs_f64() * 1e3
    );
    assert_eq!(active.len(), N as usize);
    assert_eq!(
        active.iter().filter(|b| b.family == Family::V6).count(),
        25_000
    );
    let probe = active
        .iter()
        .find(|b| b.target.to_string() == "10.1.134.159")
        .unwrap();
    // 10.1.134.159 is i = 0x01869f = 99999.
    assert_eq!(probe.expires_at, Some(T0 + 3600 + 99_999));
    // Half of them have run out an hour and 50 000 s later.
    assert_eq!(s.active_bans(T0 + 3600 + 50_000).unwrap().len(), 49_999);
}

#[test]
fn purge_keeps_undelivered_and_recent() {
    let (_dir, mut s) = open();
    let day = 86_400;
    let old = T0 - 40 * day;
    let batch = Batch {
        alerts: vec![
            alert(old, "delivered", 1),
            alert(old, "undelivered", 2),
            alert(T0, "recent", 3),
            alert(old, "no-sinks", 4),
        ],
        outbox: vec![
            outbox(0, "slack", old),
            outbox(1, "slack", old),
            outbox(2, "slack", T0),
        ],
        bans: vec![
            ban("192.0.2.1", old, Some(old + 600)),
            ban("192.0.2.2", old, None),
            ban("192.0.2.3", T0 - day, Some(T0 - day + 600)),
        ],
        report: vec![
            ReportEntry {
                time: old,
                section: ReportSection::Info,
                text: "old".into(),
            },
            ReportEntry {
                time: T0,
                section: ReportSection::Other,
                text: "new".into(),
            },
        ],
        ..Batch::default()
    };
    let ids = s.commit_batch(&batch).unwrap();
    s.mark_sent(ids.outbox[0], old + 1).unwrap();
    s.mark_failed(ids.outbox[1], old + 1, "gave up", None)
        .unwrap();
    s.mark_sent(ids.outbox[2], T0).unwrap();

    let stats = s.purge(T0, 30).unwrap();
    assert_eq!(
        stats,
        PurgeStats {
            alerts: 2,
            outbox: 1,
            bans: 1,
            report: 1,
            dns_hits: 0
        }
    );
    let left: Vec<String> = s
        .alerts_between(0, T0 + 1, 10)
        .unwrap()
        .into_iter()
        .map(|a| a.alert.rule_id)
        .collect();
    assert_eq!(left, vec!["undelivered".to_string(), "recent".to_string()]);
    assert_eq!(count(&s, "outbox"), 2);
    assert!(s.ban(&target("192.0.2.1")).unwrap().is_none());
    assert!(
        s.ban(&target("192.0.2.2")).unwrap().is_some(),
        "permanent ban kept"
    );
    assert!(
        s.ban(&target("192.0.2.3")).unwrap().is_some(),
        "recent history kept"
    );
    assert_eq!(s.report_entries(0, T0 + 1).unwrap().len(), 1);
    assert_eq!(s.delete_report_entries(T0 + 1).unwrap(), 1);
}

#[test]
fn garbage_file_is_reported_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(SqliteStore::FILE_NAME);
    let garbage: Vec<u8> = (0..8192u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&path, garbage).unwrap();
    let err = SqliteStore::open_dir(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("is not a logward database or is corrupt"),
        "{msg}"
    );
    assert!(msg.contains(&path.display().to_string()), "{msg}");
}

#[test]
fn damaged_database_pages_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = SqliteStore::open_dir(dir.path()).unwrap();
        let mut batch = Batch::default();
        for i in 0..2000 {
            batch.alerts.push(alert(T0, "r", i));
        }
        s.commit_batch(&batch).unwrap();
        s.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
    }
    let path = dir.path().join(SqliteStore::FILE_NAME);
    let mut bytes = std::fs::read(&path).unwrap();
    // Keep the header page, overwrite everything after it.
    for b in bytes.iter_mut().skip(4096) {
        *b = 0xA5;
    }
    std::fs::write(&path, bytes).unwrap();
    let err = SqliteStore::open_dir(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
}

#[test]
fn state_dir_under_a_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    for bad in [file.join("state"), file.clone()] {
        let err = SqliteStore::open_dir(&bad).unwrap_err();
        assert!(matches!(err, StoreError::StateDir { .. }), "{err:?}");
        assert!(
            err.to_string().starts_with("cannot use state directory"),
            "{err}"
        );
    }
    // A database path under a file (ENOTDIR) from `open` directly.
    let err = SqliteStore::open(&file.join("logward.db"), SqliteOptions::default()).unwrap_err();
    assert!(matches!(err, StoreError::NotWritable { .. }), "{err:?}");
}

#[test]
fn second_writer_waits_then_reports_busy() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = SqliteStore::open_dir(dir.path()).unwrap();
    let opts = SqliteOptions {
        busy_timeout: std::time::Duration::from_millis(100),
        ..SqliteOptions::default()
    };
    let mut b = SqliteStore::open_dir_with(dir.path(), opts).unwrap();
    let tx = a
        .conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .unwrap();
    let batch = Batch {
        alerts: vec![alert(T0, "r", 1)],
        ..Batch::default()
    };
    let err = b.commit_batch(&batch).unwrap_err();
    assert!(matches!(err, StoreError::Busy { .. }), "{err:?}");
    assert!(
        err.to_string().contains("locked by another process"),
        "{err}"
    );
    drop(tx);
    b.commit_batch(&batch).unwrap();
    // WAL: the other connection reads it without reopening.
    assert_eq!(a.alerts_between(T0, T0 + 1, 10).unwrap().len(), 1);
}

#[test]
fn integrity_check_of_a_healthy_database() {
    let (_dir, mut s) = open();
    s.commit_batch(&Batch {
        alerts: vec![alert(T0, "r", 1)],
        ..Batch::default()
    })
    .unwrap();
    assert_eq!(s.integrity_check().unwrap(), Vec::<String>::new());
}

#[test]
fn core_alert_round_trip() {
    use logward_core::{Action, Alert, Dataset, Event, Outcome, Severity, Timestamp};
    let (_dir, mut s) = open();
    let mut event = Event::new(Dataset::Sshd, Action::UserLogin, Outcome::Failure);
    event.timestamp = Some(Timestamp::from_unix_micros(T0 * 1_000_000));
    event.host_name = Some("web1".into());
    event.user_name = Some("admin".into());
    event.set_source("2001:0db8::0001".into(), Some(2222));
    let a = Alert::new(
        event,
        "ssh-bruteforce",
        "SSH brute force",
        Severity::High,
        "5 failures from 2001:db8::1",
    );
    let row = NewAlert::from_alert(&a, T0 + 99);
    assert_eq!(row.time, T0);
    assert_eq!(row.severity, 4);
    assert_eq!(row.source_address.as_deref(), Some("2001:db8::1"));
    assert_eq!(row.user.as_deref(), Some("admin"));
    assert_eq!(row.host.as_deref(), Some("web1"));
    let ids = s
        .commit_batch(&Batch {
            alerts: vec![row.clone()],
            ..Batch::default()
        })
        .unwrap();
    let rule: String = s
        .conn
        .query_row(
            "SELECT json_extract(json, '$.rule.id') FROM alerts WHERE id = ?1",
            [ids.alerts[0]],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rule, "ssh-bruteforce");
    assert_eq!(s.alert(ids.alerts[0]).unwrap().unwrap().alert, row);
}
