//! Out of file descriptors: `accept()` fails with EMFILE while clients wait in the backlog.
//! The real collector must neither spin on the still-readable listener nor stop serving:
//! once descriptors are back, the waiting clients are served. Alone in its test binary:
//! lowering the process's open-files limit would disturb other tests.
#![allow(clippy::disallowed_methods)] // python3 lowers and restores this process's limit
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::Duration;

use logward_collector::config::Config;
use logward_collector::listener::Connections;
use logward_collector::start;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

/// Sets this process's open-files soft limit to 0 (no new descriptor at all) until told to
/// put it back: a helper process does both, so putting it back needs no new descriptor here.
const HELPER: &str = "import sys, resource as r
pid = int(sys.argv[1])
lim = r.prlimit(pid, r.RLIMIT_NOFILE)
r.prlimit(pid, r.RLIMIT_NOFILE, (0, lim[1]))
print('low', flush=True)
sys.stdin.readline()
r.prlimit(pid, r.RLIMIT_NOFILE, lim)
print('back', flush=True)
";

#[tokio::test]
async fn accept_emfile_neither_spins_nor_stops_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let run = start(Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        state_dir: dir.path().join("state"),
        connections: Connections {
            header_secs: 30,
            ..Connections::default()
        },
        ..Config::default()
    })
    .await
    .unwrap();
    // Client sockets made now (their descriptors exist), connected once the limit is down.
    let sockets: Vec<TcpSocket> = (0..4).map(|_| TcpSocket::new_v4().unwrap()).collect();
    let mut helper = std::process::Command::new("python3")
        .args(["-c", HELPER, &std::process::id().to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = BufReader::new(helper.stdout.take().unwrap());
    let mut to_helper = helper.stdin.take().unwrap();
    let mut line = String::new();
    said.read_line(&mut line).unwrap();
    assert_eq!(line, "low\n");
    let mut clients = Vec::new();
    for s in sockets {
        clients.push(s.connect(run.addr).await.unwrap());
    }
    let errors = &run.state.metrics.conn;
    let end = std::time::Instant::now() + Duration::from_secs(10);
    while errors.accept_errors() == 0 {
        assert!(std::time::Instant::now() < end, "accept never failed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Measured over a fixed second: a spinning loop fails accept() thousands of times.
    let before = errors.accept_errors();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let in_a_second = errors.accept_errors() - before;
    to_helper.write_all(b"\n").unwrap();
    line.clear();
    said.read_line(&mut line).unwrap();
    assert_eq!(line, "back\n");
    helper.wait().unwrap();
    assert!(
        (1..=40).contains(&in_a_second),
        "{in_a_second} failed accepts in a second"
    );
    // Descriptors are back: the clients that waited are served.
    for c in &mut clients {
        AsyncWriteExt::write_all(c, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut head = [0u8; 12];
        tokio::time::timeout(Duration::from_secs(10), c.read_exact(&mut head))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&head, b"HTTP/1.1 200");
    }
    run.stop().await;
}
