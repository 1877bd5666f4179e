//! The Beats input's throughput, protocol only (bench/beats.sh runs it): CLIENTS concurrent
//! connections on loopback, each sending Winlogbeat-like windows the way Beats do (`W`, then
//! one zlib `C` frame at Beats' default level 3 holding WINDOW `J` frames) and waiting for
//! the window's ACK before the next; a consumer that completes every batch at once. Prints
//! one JSON line: events/s through the server, and beside it the frame reader alone on one
//! thread over the same bytes (the ceiling the server's I/O and hand-off are measured
//! against), with the process's peak RSS.
//!
//!     beats_bench [SECONDS] [CLIENTS] [WINDOW]
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use logward_beats::codec::{write, Limits, Reader};
use logward_beats::{Config, Server};
use logward_test_support::bench::{peak_rss_kib, winlogbeat_4625};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn client(addr: std::net::SocketAddr, window: Vec<u8>, n: u32, stop: Instant) -> u64 {
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.set_nodelay(true).unwrap();
    let mut sent = 0u64;
    while Instant::now() < stop {
        c.write_all(&window).await.unwrap();
        loop {
            let mut ack = [0u8; 6];
            c.read_exact(&mut ack).await.unwrap();
            // Keep-alives (seq 0) until the window's own ACK.
            if u32::from_be_bytes([ack[2], ack[3], ack[4], ack[5]]) == n {
                break;
            }
        }
        sent += u64::from(n);
    }
    sent
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, d: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(d);
    let (seconds, clients, window) = (arg(0, 10), arg(1, 4) as usize, arg(2, 2048) as u32);

    let docs: Vec<Vec<u8>> = (0..window)
        .map(|i| winlogbeat_4625(1_000_000 + u64::from(i)))
        .collect();
    let refs: Vec<&[u8]> = docs.iter().map(Vec::as_slice).collect();
    let event_bytes: usize = docs.iter().map(Vec::len).sum::<usize>() / docs.len();
    let frames = write::beats_window(&refs, 1, 3);

    // The frame reader alone, one thread, the same window over and over.
    let mut reader = Reader::new(Limits::default());
    let t = Instant::now();
    let mut decoded = 0u64;
    while t.elapsed() < Duration::from_secs(2) {
        let (used, w) = reader.feed(&frames).unwrap();
        assert_eq!(used, frames.len());
        decoded += w.unwrap().events.len() as u64;
    }
    let reader_rate = decoded as f64 / t.elapsed().as_secs_f64();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (events, elapsed) = rt.block_on(async {
        let server = Server::bind(Config::new("127.0.0.1:0".parse().unwrap()))
            .await
            .unwrap();
        let addr = server.local_addr().unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<logward_beats::Batch>(clients);
        let consumed = Arc::new(AtomicU64::new(0));
        let counted = consumed.clone();
        tokio::spawn(server.run(tx));
        tokio::spawn(async move {
            while let Some(b) = rx.recv().await {
                counted.fetch_add(b.events.len() as u64, Relaxed);
                b.done.complete();
            }
        });
        let start = Instant::now();
        let stop = start + Duration::from_secs(seconds);
        let tasks: Vec<_> = (0..clients)
            .map(|_| tokio::spawn(client(addr, frames.clone(), window, stop)))
            .collect();
        let mut acked = 0;
        for t in tasks {
            acked += t.await.unwrap();
        }
        let elapsed = start.elapsed();
        assert_eq!(
            acked,
            consumed.load(Relaxed),
            "every acked event was consumed"
        );
        (acked, elapsed)
    });
    let secs = elapsed.as_secs_f64();
    println!(
        "{{\"clients\":{clients},\"window\":{window},\"event_bytes\":{event_bytes},\
         \"wire_bytes_per_window\":{},\"seconds\":{secs:.2},\"events\":{events},\
         \"events_per_s\":{:.0},\"reader_alone_events_per_s\":{reader_rate:.0},\
         \"peak_rss_mib\":{:.1}}}",
        frames.len(),
        events as f64 / secs,
        peak_rss_kib() as f64 / 1024.0
    );
}
