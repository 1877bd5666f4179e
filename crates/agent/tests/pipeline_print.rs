//! The pipeline prints a committed alert as ndjson from the JSON it stored (written once).
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use logward_agent::config::Format;
use logward_agent::pipeline::{Pipeline, Printer};
use logward_agent::sources::{Payload, SourceItem};
use logward_engine::Engine;
use logward_store::{SqliteStore, Store};

/// A `Write` the test can read back.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn ndjson_output_is_the_stored_alert_json() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path()).unwrap();
    let out = Shared::default();
    let mut p = Pipeline::new(
        Engine::new(logward_engine::default_program()),
        store,
        false,
        Printer::new(Format::Ndjson, Box::new(out.clone())),
    );
    let source: Arc<str> = Arc::from("test");
    for (i, user) in ["alice", "bob"].iter().enumerate() {
        p.push(SourceItem {
            source: Arc::clone(&source),
            payload: Payload::Line(format!(
                "Jan 10 10:00:0{i} web sshd[42]: Accepted publickey for {user} from 192.0.2.{i} port 40000 ssh2"
            )),
            checkpoint: None,
        });
    }
    assert!(
        out.0.lock().unwrap().is_empty(),
        "nothing printed before the commit"
    );
    p.commit().unwrap();
    assert_eq!(p.stats().alerts, 2);

    let printed = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = printed.lines().collect();
    let stored = p.store().alerts_between(i64::MIN, i64::MAX, 10).unwrap();
    assert_eq!(lines.len(), 2, "{printed}");
    assert_eq!(stored.len(), 2);
    for (line, (row, user)) in lines.iter().zip(stored.iter().zip(["alice", "bob"])) {
        assert_eq!(*line, row.alert.json);
        assert_eq!(row.alert.user.as_deref(), Some(user));
        assert!(
            line.contains(&format!("\"user\":{{\"name\":\"{user}\"}}")),
            "{line}"
        );
    }
}
