//! The Beats server against an independent client: pylogbeat (PyPI), over plain TCP, over
//! TLS with a client certificate (required: one without it is refused; optional: served
//! without a CN), and resending the window a receiver dropped before committing it; and the
//! TLS port's failures without a client library: plain TCP, a handshake that never ends.
#![allow(clippy::disallowed_methods)] // the test starts python3
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::{config, start, Running, WITHIN};
use logward_beats::metrics::Closed;
use logward_beats::{ClientAuth, TlsConfig};
use logward_test_support::skip;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/pylogbeat_send.py")
}

/// Whether python3 can import pylogbeat (scripts/test.sh installs it).
async fn have_pylogbeat() -> bool {
    Command::new("python3")
        .args(["-c", "import pylogbeat"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|s| s.success())
}

/// What the client printed and whether it succeeded.
struct Shipped {
    lines: Vec<String>,
    ok: bool,
}

/// Runs the client with `args` while `consume` takes the server's batches (it returns
/// false to stop); the client's output once both are done.
async fn ship(
    srv: &mut Running,
    args: &[&str],
    mut consume: impl FnMut(logward_beats::Batch) -> bool,
) -> Shipped {
    let mut child = Command::new("python3")
        .arg(script())
        .args(["--port", &srv.addr.port().to_string()])
        .args(args)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut lines = Vec::new();
    let mut consuming = true;
    let mut reading = true;
    while reading {
        tokio::select! {
            b = srv.batches.recv(), if consuming => consuming = consume(b.unwrap()),
            l = out.next_line() => match l.unwrap() {
                Some(l) => lines.push(l),
                None => reading = false,
            },
            _ = tokio::time::sleep(WITHIN) => panic!("the client hangs; it printed {lines:?}"),
        }
    }
    let ok = child.wait().await.unwrap().success();
    Shipped { lines, ok }
}

fn acked(s: &Shipped) -> Vec<&str> {
    s.lines
        .iter()
        .filter(|l| l.starts_with("ACKED"))
        .map(String::as_str)
        .collect()
}

fn messages(batch: &logward_beats::Batch) -> Vec<String> {
    batch
        .events
        .iter()
        .map(|e| {
            let v: serde_json::Value = serde_json::from_str(e.json.get()).unwrap();
            v["message"].as_str().unwrap().to_owned()
        })
        .collect()
}

fn expected(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("event {i}")).collect()
}

#[tokio::test]
async fn pylogbeat_ships_windows_over_plain_tcp() {
    if !have_pylogbeat().await {
        skip!("python3 cannot import pylogbeat (pip install pylogbeat)");
    }
    let mut srv = start(config()).await;
    let mut got = Vec::new();
    let s = ship(&mut srv, &["--events", "250", "--window", "100"], |b| {
        got.extend(messages(&b));
        b.done.complete();
        true
    })
    .await;
    assert!(s.ok, "{:?}", s.lines);
    assert_eq!(acked(&s), ["ACKED 100", "ACKED 100", "ACKED 50"]);
    assert_eq!(got, expected(250));
}

#[tokio::test]
async fn a_window_the_receiver_dropped_is_resent_by_pylogbeat_and_stored_once() {
    if !have_pylogbeat().await {
        skip!("python3 cannot import pylogbeat (pip install pylogbeat)");
    }
    let mut srv = start(config()).await;
    let mut stored = Vec::new();
    let mut batches = 0;
    let s = ship(
        &mut srv,
        &["--events", "30", "--window", "10", "--resend"],
        |b| {
            batches += 1;
            // The second window dies with the receiver before it is committed.
            if batches == 2 {
                drop(b);
            } else {
                stored.extend(messages(&b));
                b.done.complete();
            }
            true
        },
    )
    .await;
    assert!(s.ok, "{:?}", s.lines);
    assert_eq!(
        s.lines.iter().filter(|l| l.starts_with("RESEND")).count(),
        1
    );
    assert_eq!(acked(&s).len(), 3);
    assert_eq!(batches, 4);
    assert_eq!(stored, expected(30), "every event stored once, in order");
    assert_eq!(srv.metrics.closed_count(Closed::Dropped), 1);
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate (CN
/// `winlogbeat-dc01`) it signed, and a client certificate from another CA, as PEM files.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        use logward_test_support::pki::{Ca, Role};
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::new(dir.path(), "ca", "logward test CA");
        // Only its client certificate is used: a CA the server does not trust.
        let other = Ca::new(dir.path(), "other-ca", "someone else's CA");
        ca.leaf("server", "127.0.0.1", "beats.test", Role::Server);
        ca.leaf("client", "dc01.test", "winlogbeat-dc01", Role::Client);
        other.leaf("stranger", "x.test", "stranger", Role::Client);
        Pki { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }

    fn tls(&self, client_auth: ClientAuth) -> TlsConfig {
        TlsConfig {
            cert: self.path("server.pem").into(),
            key: self.path("server.key").into(),
            client_auth,
        }
    }

    fn client_args(&self, cert: Option<&str>) -> Vec<String> {
        let mut a = vec!["--ca".to_owned(), self.path("ca.pem")];
        if let Some(c) = cert {
            a.extend([
                "--cert".into(),
                self.path(&format!("{c}.pem")),
                "--key".into(),
                self.path(&format!("{c}.key")),
            ]);
        }
        a
    }
}

async fn ship_tls(
    srv: &mut Running,
    pki: &Pki,
    cert: Option<&str>,
) -> (Shipped, Vec<Option<String>>) {
    let mut args = pki.client_args(cert);
    args.extend(["--events", "20", "--window", "10"].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut cns = Vec::new();
    let s = ship(srv, &args, |b| {
        cns.push(b.client_cn.clone());
        b.done.complete();
        true
    })
    .await;
    (s, cns)
}

#[tokio::test]
async fn pylogbeat_over_tls_with_a_required_client_certificate() {
    if !have_pylogbeat().await {
        skip!("python3 cannot import pylogbeat (pip install pylogbeat)");
    }
    let pki = Pki::new();
    let mut cfg = config();
    cfg.tls = Some(pki.tls(ClientAuth::Required {
        ca: pki.path("ca.pem").into(),
    }));
    let mut srv = start(cfg).await;

    let (s, cns) = ship_tls(&mut srv, &pki, Some("client")).await;
    assert!(s.ok, "{:?}", s.lines);
    assert_eq!(acked(&s), ["ACKED 10", "ACKED 10"]);
    assert_eq!(cns, vec![Some("winlogbeat-dc01".to_owned()); 2]);

    // Without a certificate, or with one another CA signed: refused, nothing delivered.
    for (cert, failures) in [(None, 1), (Some("stranger"), 2)] {
        let (s, cns) = ship_tls(&mut srv, &pki, cert).await;
        assert!(!s.ok, "{cert:?}: {:?}", s.lines);
        assert!(
            s.lines.iter().any(|l| l.starts_with("ERROR")),
            "{:?}",
            s.lines
        );
        assert!(cns.is_empty(), "{cert:?}: a batch got through");
        assert_eq!(srv.metrics.tls_failures(), failures);
    }
}

#[tokio::test]
async fn an_optional_client_certificate_names_the_client_when_present() {
    if !have_pylogbeat().await {
        skip!("python3 cannot import pylogbeat (pip install pylogbeat)");
    }
    let pki = Pki::new();
    let mut cfg = config();
    cfg.tls = Some(pki.tls(ClientAuth::Optional {
        ca: pki.path("ca.pem").into(),
    }));
    let mut srv = start(cfg).await;
    let (s, cns) = ship_tls(&mut srv, &pki, None).await;
    assert!(s.ok, "{:?}", s.lines);
    assert_eq!(cns, [None, None]);
    let (s, cns) = ship_tls(&mut srv, &pki, Some("client")).await;
    assert!(s.ok, "{:?}", s.lines);
    assert_eq!(cns, vec![Some("winlogbeat-dc01".to_owned()); 2]);
    // A certificate from another CA is still refused.
    let (s, cns) = ship_tls(&mut srv, &pki, Some("stranger")).await;
    assert!(!s.ok && cns.is_empty(), "{:?}", s.lines);
    assert_eq!(srv.metrics.tls_failures(), 1);
}

#[tokio::test]
async fn plain_tcp_to_a_tls_port_is_a_tls_failure() {
    let pki = Pki::new();
    let mut cfg = config();
    cfg.tls = Some(pki.tls(ClientAuth::Off));
    let srv = start(cfg).await;
    let mut c = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    use tokio::io::AsyncWriteExt;
    c.write_all(&logward_beats::codec::write::beats_window(&[b"{}"], 1, 1))
        .await
        .unwrap();
    let got = common::read_to_close(&mut c).await;
    assert!(!got.starts_with(b"2A"), "{got:?}");
    let m = srv.metrics.clone();
    logward_test_support::eventually(WITHIN, || (m.tls_failures() == 1).then_some(())).await;
}

#[tokio::test]
async fn a_stalled_tls_handshake_is_cut_at_its_deadline() {
    let pki = Pki::new();
    let mut cfg = config();
    cfg.tls = Some(pki.tls(ClientAuth::Off));
    cfg.handshake_timeout = std::time::Duration::from_millis(300);
    let srv = start(cfg).await;
    // Connected, never a ClientHello.
    let mut c = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    let started = std::time::Instant::now();
    assert!(common::read_to_close(&mut c).await.is_empty());
    assert!(started.elapsed() >= std::time::Duration::from_millis(250));
    assert_eq!(srv.metrics.tls_failures(), 1);
}
