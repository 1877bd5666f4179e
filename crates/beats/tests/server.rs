//! The Beats server on loopback with frames crafted here: every frame type, windows split
//! across reads and pipelined, ACKs only after the consumer completes a batch, keep-alives,
//! every malformed input closing its connection with a counter, a zip bomb, a slowloris,
//! the connection limit, a dropped batch resent by the client, and a held window holding the
//! client back instead of being buffered.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{config, read_ack, read_to_close, start, WITHIN};
use logward_beats::codec::{write, ErrorKind, Version};
use logward_beats::metrics::Closed;
use logward_beats::Limits;
use logward_test_support::eventually;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn docs(batch: &logward_beats::Batch) -> Vec<&str> {
    batch.events.iter().map(|e| e.json.get()).collect()
}

#[tokio::test]
async fn every_frame_type_makes_one_batch_acked_only_after_completion() {
    let mut srv = start(config()).await;
    let mut c = TcpStream::connect(srv.addr).await.unwrap();
    let mut w = write::window(Version::V2, 4);
    w.extend(write::json(1, br#"{"message":"plain"}"#));
    w.extend(write::data(
        Version::V2,
        2,
        &[("line", "kv"), ("host", "h1")],
    ));
    let inner = [
        write::json(3, br#"{"winlog":{"event_id":4625}}"#),
        write::json(4, br#"{"message":"last"}"#),
    ]
    .concat();
    w.extend(write::compressed(&inner, 6));
    c.write_all(&w).await.unwrap();

    let batch = srv.batch().await;
    assert_eq!(
        docs(&batch),
        [
            r#"{"message":"plain"}"#,
            r#"{"host":"h1","line":"kv"}"#,
            r#"{"winlog":{"event_id":4625}}"#,
            r#"{"message":"last"}"#
        ]
    );
    assert_eq!(batch.client_cn, None);
    assert_eq!(batch.peer, c.local_addr().unwrap());
    // The batch is with us: nothing may have been acknowledged yet.
    let mut one = [0u8; 1];
    assert!(
        tokio::time::timeout(Duration::from_millis(50), c.read(&mut one))
            .await
            .is_err(),
        "an ACK before the batch was completed"
    );
    assert_eq!(
        srv.metrics.acks.load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    batch.done.complete();
    assert_eq!(&read_ack(&mut c).await, b"2A\0\0\0\x04");
    let m = &srv.metrics;
    let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        (load(&m.windows), load(&m.events), load(&m.acks)),
        (1, 4, 1)
    );
}

#[tokio::test]
async fn a_v1_window_is_acked_in_v1() {
    let mut srv = start(config()).await;
    let mut c = TcpStream::connect(srv.addr).await.unwrap();
    let mut w = write::window(Version::V1, 1);
    w.extend(write::data(Version::V1, 41, &[("line", "forwarder")]));
    c.write_all(&w).await.unwrap();
    let batch = srv.batch().await;
    assert_eq!(docs(&batch), [r#"{"line":"forwarder"}"#]);
    batch.done.complete();
    assert_eq!(&read_ack(&mut c).await, b"1A\0\0\0\x29");
}

#[tokio::test]
async fn windows_split_across_reads_and_pipelined_arrive_whole_in_order() {
    let mut srv = start(config()).await;
    let mut c = TcpStream::connect(srv.addr).await.unwrap();
    c.set_nodelay(true).unwrap();
    let a = write::beats_window(&[br#"{"n":1}"#, br#"{"n":2}"#], 1, 1);
    let b = write::beats_window(&[br#"{"n":3}"#], 1, 1);
    // The first window a byte per write; the second right behind it, before any ACK.
    for byte in &a {
        c.write_all(std::slice::from_ref(byte)).await.unwrap();
        c.flush().await.unwrap();
    }
    c.write_all(&b).await.unwrap();
    let first = srv.batch().await;
    assert_eq!(docs(&first), [r#"{"n":1}"#, r#"{"n":2}"#]);
    first.done.complete();
    assert_eq!(&read_ack(&mut c).await, b"2A\0\0\0\x02");
    let second = srv.batch().await;
    assert_eq!(docs(&second), [r#"{"n":3}"#]);
    second.done.complete();
    assert_eq!(&read_ack(&mut c).await, b"2A\0\0\0\x01");
}

#[tokio::test]
async fn keepalive_acks_flow_while_the_consumer_holds_the_batch() {
    let mut cfg = config();
    cfg.keepalive = Duration::from_millis(50);
    let mut srv = start(cfg).await;
    let mut c = TcpStream::connect(srv.addr).await.unwrap();
    c.write_all(&write::beats_window(&[b"{}", b"{}", b"{}"], 1, 1))
        .await
        .unwrap();
    let batch = srv.batch().await;
    // Seq 0 is "still working": go-lumber and pylogbeat wait on through it.
    assert_eq!(&read_ack(&mut c).await, b"2A\0\0\0\0");
    assert_eq!(&read_ack(&mut c).await, b"2A\0\0\0\0");
    batch.done.complete();
    loop {
        let a = read_ack(&mut c).await;
        if a != *b"2A\0\0\0\0" {
            assert_eq!(&a, b"2A\0\0\0\x03");
            break;
        }
    }
    assert!(
        srv.metrics
            .keepalives
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 2
    );
}

#[tokio::test]
async fn a_dropped_batch_is_not_acked_and_the_clients_resend_is() {
    let mut srv = start(config()).await;
    let window = write::beats_window(&[br#"{"m":"a"}"#, br#"{"m":"b"}"#], 1, 3);
    let mut c = TcpStream::connect(srv.addr).await.unwrap();
    c.write_all(&window).await.unwrap();
    // The receiver "dies" before committing: the handle is dropped, not completed.
    drop(srv.batch().await);
    assert!(
        read_to_close(&mut c).await.is_empty(),
        "no ACK for a dropped batch"
    );
    let m = srv.metrics.clone();
    eventually(WITHIN, || {
        (m.closed_count(Closed::Dropped) == 1).then_some(())
    })
    .await;

    // The client resends the unacknowledged window on a new connection.
    let mut c = TcpStream::connect(srv.addr).await.unwrap();
    c.write_all(&window).await.unwrap();
    let again = srv.batch().await;
    assert_eq!(docs(&again), [r#"{"m":"a"}"#, r#"{"m":"b"}"#]);
    again.done.complete();
    assert_eq!(&read_ack(&mut c).await, b"2A\0\0\0\x02");
}

/// A frame that must close its connection with a malformed-frame counter of `kind`.
struct Bad {
    name: &'static str,
    bytes: Vec<u8>,
    kind: ErrorKind,
}

fn bad_inputs() -> Vec<Bad> {
    let w1 = write::window(Version::V2, 1);
    let with = |frame: &[u8]| [w1.as_slice(), frame].concat();
    // 16 MiB of zeros: ~16 KiB compressed, far past the 64 KiB inflate limit below.
    let mut bomb = write::json(1, b"{}");
    bomb.resize(16 << 20, 0);
    let mut trailing = write::compressed(&write::json(1, b"{}"), 1);
    trailing.push(0);
    let len = (trailing.len() - 6) as u32;
    trailing[2..6].copy_from_slice(&len.to_be_bytes());
    vec![
        Bad {
            name: "unknown version",
            bytes: b"3W\0\0\0\x01".to_vec(),
            kind: ErrorKind::UnknownVersion,
        },
        Bad {
            name: "HTTP to the Beats port",
            bytes: b"GET / HTTP/1.1\r\n\r\n".to_vec(),
            kind: ErrorKind::UnknownVersion,
        },
        Bad {
            name: "unknown type",
            bytes: b"2Q\0\0\0\x01".to_vec(),
            kind: ErrorKind::UnknownType,
        },
        Bad {
            name: "JSON frame over the frame limit",
            bytes: with(b"2J\0\0\0\x01\x7f\xff\xff\xff"),
            kind: ErrorKind::Oversize,
        },
        Bad {
            name: "compressed frame over the frame limit",
            bytes: with(b"2C\xff\xff\xff\xff"),
            kind: ErrorKind::Oversize,
        },
        Bad {
            name: "window over the window limit",
            bytes: write::window(Version::V2, 100_000),
            kind: ErrorKind::WindowLimit,
        },
        Bad {
            name: "zip bomb",
            bytes: with(&write::compressed(&bomb, 9)),
            kind: ErrorKind::ZipBomb,
        },
        Bad {
            name: "not zlib",
            bytes: with(&write::compressed_raw(b"definitely not zlib")),
            kind: ErrorKind::BadZlib,
        },
        Bad {
            name: "bytes after the zlib stream",
            bytes: with(&trailing),
            kind: ErrorKind::BadZlib,
        },
        Bad {
            name: "invalid JSON",
            bytes: with(&write::json(1, br#"{"message": "#)),
            kind: ErrorKind::InvalidJson,
        },
        Bad {
            name: "JSON that is not an object",
            bytes: with(&write::json(1, b"\"a string\"")),
            kind: ErrorKind::InvalidJson,
        },
        Bad {
            name: "invalid UTF-8",
            bytes: with(&write::json(1, b"{\"m\":\"\xc3\x28\"}")),
            kind: ErrorKind::InvalidUtf8,
        },
        Bad {
            name: "event before any window",
            bytes: write::json(1, b"{}"),
            kind: ErrorKind::Order,
        },
        Bad {
            name: "more events than the window",
            bytes: with(&write::compressed(
                &[write::json(1, b"{}"), write::json(2, b"{}")].concat(),
                1,
            )),
            kind: ErrorKind::Order,
        },
        Bad {
            name: "closed inside a frame",
            bytes: with(b"2J\0\0\0\x01\0\0\0\x10{\"a"),
            kind: ErrorKind::Truncated,
        },
        Bad {
            name: "closed inside a window",
            bytes: write::window(Version::V2, 2),
            kind: ErrorKind::Truncated,
        },
    ]
}

#[tokio::test]
async fn every_malformed_input_closes_its_connection_only_and_is_counted_by_kind() {
    let mut cfg = config();
    cfg.limits = Limits {
        max_frame_bytes: 1 << 20,
        max_inflated_bytes: 64 << 10,
        ..Limits::default()
    };
    let mut srv = start(cfg).await;
    // A well-behaved client stays connected throughout.
    let mut good = TcpStream::connect(srv.addr).await.unwrap();
    for bad in bad_inputs() {
        let before = srv.metrics.malformed_count(bad.kind);
        let mut c = TcpStream::connect(srv.addr).await.unwrap();
        c.write_all(&bad.bytes).await.unwrap();
        if bad.kind == ErrorKind::Truncated {
            c.shutdown().await.unwrap();
        }
        let got = read_to_close(&mut c).await;
        assert!(got.is_empty(), "{}: the server answered {got:?}", bad.name);
        let m = srv.metrics.clone();
        eventually(WITHIN, || {
            (m.malformed_count(bad.kind) == before + 1).then_some(())
        })
        .await;
        // The other connection is unaffected.
        good.write_all(&write::beats_window(&[br#"{"ok":true}"#], 1, 1))
            .await
            .unwrap();
        let b = srv.batch().await;
        assert_eq!(docs(&b), [r#"{"ok":true}"#], "after {}", bad.name);
        b.done.complete();
        assert_eq!(&read_ack(&mut good).await, b"2A\0\0\0\x01");
    }
    let total: u64 = ErrorKind::ALL
        .iter()
        .map(|&k| srv.metrics.malformed_count(k))
        .sum();
    assert_eq!(total, bad_inputs().len() as u64);
}

#[tokio::test]
async fn a_slowloris_that_never_finishes_its_window_is_timed_out() {
    let mut cfg = config();
    cfg.read_timeout = Duration::from_millis(400);
    let srv = start(cfg).await;
    let mut c = TcpStream::connect(srv.addr).await.unwrap();
    c.set_nodelay(true).unwrap();
    // A window, then a JSON frame a byte every 50 ms: never idle, never done.
    c.write_all(&write::window(Version::V2, 1)).await.unwrap();
    let frame = write::json(1, &[b' '; 4096]);
    let started = std::time::Instant::now();
    let mut closed = false;
    for byte in frame.iter().take(200) {
        if c.write_all(std::slice::from_ref(byte)).await.is_err() {
            closed = true;
            break;
        }
        let mut one = [0u8; 1];
        match tokio::time::timeout(Duration::from_millis(50), c.read(&mut one)).await {
            Err(_) => {}
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(_)) => panic!("the server answered a slowloris"),
        }
    }
    assert!(closed, "still open after {:?}", started.elapsed());
    assert!(started.elapsed() >= Duration::from_millis(300));
    let m = srv.metrics.clone();
    eventually(WITHIN, || {
        (m.closed_count(Closed::Timeout) == 1).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_idle_timeout() {
    let mut cfg = config();
    cfg.idle_timeout = Duration::from_millis(200);
    let srv = start(cfg).await;
    let mut c = TcpStream::connect(srv.addr).await.unwrap();
    assert!(read_to_close(&mut c).await.is_empty());
    assert_eq!(srv.metrics.closed_count(Closed::Timeout), 1);
}

#[tokio::test]
async fn connections_over_the_limit_are_refused_and_counted() {
    let mut cfg = config();
    cfg.max_connections = 2;
    let mut srv = start(cfg).await;
    let a = TcpStream::connect(srv.addr).await.unwrap();
    let mut b = TcpStream::connect(srv.addr).await.unwrap();
    let m = srv.metrics.clone();
    let open = |m: &logward_beats::Metrics| m.open.load(std::sync::atomic::Ordering::Relaxed);
    eventually(WITHIN, || (open(&m) == 2).then_some(())).await;
    let mut c = TcpStream::connect(srv.addr).await.unwrap();
    assert!(read_to_close(&mut c).await.is_empty());
    assert_eq!(srv.metrics.closed_count(Closed::Full), 1);
    // The two served ones still work; closing one frees its slot.
    b.write_all(&write::beats_window(&[b"{}"], 1, 1))
        .await
        .unwrap();
    srv.batch().await.done.complete();
    assert_eq!(&read_ack(&mut b).await, b"2A\0\0\0\x01");
    drop(a);
    eventually(WITHIN, || (open(&m) == 1).then_some(())).await;
    let mut d = TcpStream::connect(srv.addr).await.unwrap();
    d.write_all(&write::beats_window(&[b"{}"], 1, 1))
        .await
        .unwrap();
    srv.batch().await.done.complete();
    assert_eq!(&read_ack(&mut d).await, b"2A\0\0\0\x01");
}

#[tokio::test]
async fn the_server_stops_when_the_consumer_goes() {
    let mut cfg = config();
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    let server = logward_beats::Server::bind(cfg).await.unwrap();
    let addr = server.local_addr().unwrap();
    let m = server.metrics();
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let run = tokio::spawn(server.run(tx));
    let mut c = TcpStream::connect(addr).await.unwrap();
    let open = |m: &logward_beats::Metrics| m.open.load(std::sync::atomic::Ordering::Relaxed);
    eventually(WITHIN, || (open(&m) == 1).then_some(())).await;
    drop(rx);
    tokio::time::timeout(WITHIN, run).await.unwrap().unwrap();
    assert!(read_to_close(&mut c).await.is_empty());
    eventually(WITHIN, || (open(&m) == 0).then_some(())).await;
}

#[tokio::test]
async fn settings_the_server_cannot_run_with_are_refused_at_bind() {
    let mut zero_keepalive = config();
    zero_keepalive.keepalive = Duration::ZERO;
    let mut no_window = config();
    no_window.limits.max_window = 0;
    let mut no_connections = config();
    no_connections.max_connections = 0;
    for (cfg, says) in [
        (zero_keepalive, "keepalive must be more than zero"),
        (no_window, "max_window must be more than zero"),
        (no_connections, "max_connections must be 1 to"),
    ] {
        let e = logward_beats::Server::bind(cfg)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains(says), "{e}");
    }
    let mut taken = config();
    let first = start(config()).await;
    taken.listen = first.addr;
    let e = logward_beats::Server::bind(taken)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot listen on"), "{e}");
}

#[tokio::test]
async fn a_held_window_stops_the_reading_so_the_client_is_held_back_not_buffered() {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    let mut srv = start(config()).await;
    let c = TcpStream::connect(srv.addr).await.unwrap();
    let (mut rd, mut wr) = c.into_split();
    // 65 windows of 512 uncompressed ~1 KiB events: 34 MB, three times what the kernel
    // buffers of a loopback connection hold at most (tcp_rmem 6 MiB + tcp_wmem 4 MiB).
    let doc = format!("{{\"message\":\"{}\"}}", "x".repeat(1000));
    let docs: Vec<&[u8]> = vec![doc.as_bytes(); 512];
    let mut one = write::window(Version::V2, 512);
    for (i, d) in docs.iter().enumerate() {
        one.extend(write::json(i as u32 + 1, d));
    }
    const WINDOWS: usize = 65;
    let written = std::sync::Arc::new(AtomicUsize::new(0));
    let progress = written.clone();
    let writer = tokio::spawn(async move {
        for _ in 0..WINDOWS {
            for chunk in one.chunks(64 << 10) {
                wr.write_all(chunk).await.unwrap();
                progress.fetch_add(chunk.len(), Relaxed);
            }
        }
        wr
    });
    // Hold the first window: the client's writes must stall once the kernel's socket
    // buffers are full, far short of everything.
    let held = srv.batch().await;
    let started = std::time::Instant::now();
    let mut last = 0;
    let stalled = loop {
        // Stalled: no progress over one polling interval.
        tokio::time::sleep(Duration::from_millis(150)).await;
        let now = written.load(Relaxed);
        if now == last {
            break now;
        }
        last = now;
        assert!(started.elapsed() < WITHIN, "the client never stalls");
    };
    let total = WINDOWS * (10 + 512 * (10 + doc.len()) - 4);
    assert!(
        stalled < total / 2,
        "the client wrote {stalled} of {total} bytes while its first window was held"
    );
    assert_eq!(
        srv.metrics
            .windows
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    // Released, every window flows and is acknowledged in order.
    held.done.complete();
    let acks = tokio::spawn(async move {
        let mut n = 0;
        while n < WINDOWS {
            let mut a = [0u8; 6];
            rd.read_exact(&mut a).await.unwrap();
            assert_eq!(&a, b"2A\0\0\x02\0");
            n += 1;
        }
    });
    for _ in 1..WINDOWS {
        srv.batch().await.done.complete();
    }
    tokio::time::timeout(WITHIN, acks).await.unwrap().unwrap();
    writer.await.unwrap();
}
