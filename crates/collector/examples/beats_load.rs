//! The collector's Beats input, end to end (bench/beats.sh runs it after the protocol
//! figure): a real collector (`logward_collector::start`, SQLite store in a temp folder, the
//! default fleet rules) with `beats:` on 127.0.0.1, and CLIENTS concurrent connections each
//! sending WINDOWS windows of WINDOW Winlogbeat 4625 documents as Beats do (`W`, one zlib
//! `C` frame at level 3), waiting for each window's ACK — which the collector sends only
//! after the window's events are committed. Every document has its own record id, so every
//! event is stored. Prints one JSON line: events/s ACKed (= stored; checked against the
//! store afterwards), the process's CPU time per event meanwhile (every thread: the
//! collector's and the clients', which only write prepared frames and read ACKs), the store
//! thread's alone (it stores every event, one at a time: its CPU per event bounds the rate)
//! and the peak RSS.
//!
//!     beats_load [CLIENTS] [WINDOWS] [WINDOW]
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use logward_beats::codec::write;
use logward_store::CollectorStore as _;
use logward_test_support::bench::{
    cpu_secs, peak_rss_kib, thread_cpu_secs, winlogbeat_4625 as doc,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `windows` in order, each after the previous one's ACK; the events ACKed.
async fn client(addr: std::net::SocketAddr, windows: Vec<Vec<u8>>, n: u32) -> u64 {
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.set_nodelay(true).unwrap();
    let mut acked = 0u64;
    for w in windows {
        c.write_all(&w).await.unwrap();
        loop {
            let mut ack = [0u8; 6];
            c.read_exact(&mut ack).await.unwrap();
            // Keep-alives (seq 0) until the window's own ACK.
            if u32::from_be_bytes([ack[2], ack[3], ack[4], ack[5]]) == n {
                break;
            }
        }
        acked += u64::from(n);
    }
    acked
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, d: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(d);
    let (clients, windows, window) = (arg(0, 4), arg(1, 25), arg(2, 2048) as u32);
    // Every window of every client, prepared before the clock starts.
    let frames: Vec<Vec<Vec<u8>>> = (0..clients)
        .map(|c| {
            (0..windows)
                .map(|w| {
                    let base = (c * windows + w) * u64::from(window);
                    let docs: Vec<Vec<u8>> =
                        (0..u64::from(window)).map(|i| doc(base + i)).collect();
                    let refs: Vec<&[u8]> = docs.iter().map(Vec::as_slice).collect();
                    write::beats_window(&refs, 1, 3)
                })
                .collect()
        })
        .collect();
    let wire: usize = frames[0].iter().map(Vec::len).sum::<usize>() / frames[0].len();

    let dir = tempfile::tempdir().unwrap();
    let config = logward_collector::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        state_dir: dir.path().to_owned(),
        beats: Some(logward_beats::config::BeatsFile {
            listen: "127.0.0.1:0".into(),
            tls: None,
            max_connections: 256,
            limits: Default::default(),
        }),
        ..logward_collector::Config::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (events, secs, cpu) = rt.block_on(async {
        let running = logward_collector::start(config).await.unwrap();
        let addr = running.beats_addr.unwrap();
        let start = Instant::now();
        let cpu_start = (cpu_secs(), thread_cpu_secs("collector-store"));
        let tasks: Vec<_> = frames
            .into_iter()
            .map(|f| tokio::spawn(client(addr, f, window)))
            .collect();
        let mut acked = 0;
        for t in tasks {
            acked += t.await.unwrap();
        }
        let secs = start.elapsed().as_secs_f64();
        let cpu = (
            cpu_secs() - cpu_start.0,
            thread_cpu_secs("collector-store") - cpu_start.1,
        );
        running.stop().await;
        (acked, secs, cpu)
    });
    let mut store = logward_store::SqliteStore::open_dir(dir.path()).unwrap();
    let stored = store.count_fleet_events(None).unwrap();
    assert_eq!(stored, events, "every ACKed event is stored, once");
    println!(
        "{{\"clients\":{clients},\"windows\":{windows},\"window\":{window},\
         \"wire_bytes_per_window\":{wire},\"seconds\":{secs:.2},\"events\":{events},\
         \"stored_events_per_s\":{:.0},\"cpu_us_per_event\":{:.1},\"store_thread_cpu_us_per_event\":{:.1},\
         \"peak_rss_mib\":{:.1}}}",
        events as f64 / secs,
        cpu.0 * 1e6 / events as f64,
        cpu.1 * 1e6 / events as f64,
        peak_rss_kib() as f64 / 1024.0
    );
}
