//! `Payload::Committed`: a source's completion runs only once what it sent before is in the
//! store — the Beats input ACKs a window then, so a crash before it loses nothing.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicI64, Ordering::SeqCst};
use std::sync::Arc;

use logward_agent::config::Format;
use logward_agent::pipeline::{Pipeline, Printer};
use logward_agent::sources::{Completion, Payload, SourceItem};
use logward_engine::Engine;
use logward_store::{SqliteStore, Store};

#[test]
fn a_completion_runs_after_the_commit_that_stores_what_came_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path()).unwrap();
    let mut p = Pipeline::new(
        Engine::new(logward_engine::default_program()),
        store,
        false,
        Printer::new(Format::None, Box::new(std::io::sink())),
    );
    let source: Arc<str> = Arc::from("beats");
    let line = |user: &str| {
        SourceItem {
        source: Arc::clone(&source),
        payload: Payload::Line(format!(
            "Jan 10 10:00:00 web sshd[42]: Accepted publickey for {user} from 192.0.2.1 port 40000 ssh2"
        )),
        checkpoint: None,
    }
    };
    p.push(line("alice"));
    p.push(line("bob"));
    // What the completion sees: the alerts stored, read through a second connection.
    let seen = Arc::new(AtomicI64::new(-1));
    let (s, path) = (Arc::clone(&seen), dir.path().to_owned());
    p.push(SourceItem {
        source: Arc::clone(&source),
        payload: Payload::Committed(Completion::new(move || {
            let mut other = SqliteStore::open_dir(&path).unwrap();
            let n = other.alerts_between(i64::MIN, i64::MAX, 10).unwrap().len();
            s.store(n as i64, SeqCst);
        })),
        checkpoint: None,
    });
    assert!(p.pending());
    assert_eq!(seen.load(SeqCst), -1, "not before the commit");
    p.commit().unwrap();
    assert_eq!(seen.load(SeqCst), 2, "after it, with both alerts stored");
    assert!(!p.pending());

    // Lines that store nothing (no alert, no checkpoint): completed once processed.
    let done = Arc::new(AtomicI64::new(0));
    let d = Arc::clone(&done);
    p.push(SourceItem {
        source: Arc::clone(&source),
        payload: Payload::Line("Jan 10 10:00:01 web cron[1]: nothing".into()),
        checkpoint: None,
    });
    p.push(SourceItem {
        source,
        payload: Payload::Committed(Completion::new(move || {
            d.fetch_add(1, SeqCst);
        })),
        checkpoint: None,
    });
    p.commit().unwrap();
    assert_eq!(done.load(SeqCst), 1);
    p.commit().unwrap();
    assert_eq!(done.load(SeqCst), 1, "called once");
}
