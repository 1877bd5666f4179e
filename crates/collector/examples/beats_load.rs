//! The collector's Beats input, end to end (bench/beats.sh runs it after the protocol
//! figure): a real collector (`logward_collector::start`, SQLite store in a temp folder, the
//! default fleet rules) with `beats:` on 127.0.0.1, and CLIENTS concurrent connections each
//! sending WINDOWS windows of WINDOW Winlogbeat 4625 documents as Beats do (`W`, one zlib
//! `C` frame at level 3), waiting for each window's ACK — which the collector sends only
//! after the window's events are committed. Every document has its own record id, so every
//! event is stored. Prints one JSON line: events/s ACKed (= stored; checked against the
//! store afterwards) and the peak RSS.
//!
//!     beats_load [CLIENTS] [WINDOWS] [WINDOW]
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use logward_beats::codec::write;
use logward_store::CollectorStore as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A Winlogbeat 4625 document as `output.logstash` sends it (~1.5 KB), record `rec`.
fn doc(rec: u64) -> Vec<u8> {
    let i = rec % 100_000;
    format!(
        r#"{{"@timestamp":"2026-12-06T10:{m:02}:{s:02}.{ms:03}Z","@metadata":{{"beat":"winlogbeat","type":"_doc","version":"8.15.0"}},"agent":{{"type":"winlogbeat","version":"8.15.0","name":"DC01"}},"ecs":{{"version":"8.0.0"}},"host":{{"name":"DC01.corp.example","hostname":"DC01","os":{{"family":"windows","name":"Windows Server 2022 Standard","kernel":"10.0.20348.2529","platform":"windows","type":"windows","version":"10.0"}}}},"event":{{"code":"4625","kind":"event","provider":"Microsoft-Windows-Security-Auditing","action":"logon-failed","category":["authentication"],"type":["start"],"outcome":"failure"}},"log":{{"level":"information"}},"message":"An account failed to log on.","winlog":{{"channel":"Security","event_id":"4625","provider_name":"Microsoft-Windows-Security-Auditing","provider_guid":"{{54849625-5478-4994-a5ba-3e3b0328c30d}}","computer_name":"DC01.corp.example","record_id":{rec},"process":{{"pid":712,"thread":{{"id":4188}}}},"keywords":["Audit Failure"],"opcode":"Info","task":"Logon","event_data":{{"SubjectUserSid":"S-1-0-0","SubjectLogonId":"0x0","TargetUserSid":"S-1-0-0","TargetUserName":"user{u}","TargetDomainName":"CORP","Status":"0xc000006d","FailureReason":"%%2313","SubStatus":"0xc000006a","LogonType":"3","LogonProcessName":"NtLmSsp ","AuthenticationPackageName":"NTLM","WorkstationName":"WS{w}","TransmittedServices":"-","LmPackageName":"-","KeyLength":"0","ProcessId":"0x0","ProcessName":"-","IpAddress":"203.0.113.{a}","IpPort":"{p}"}}}}}}"#,
        m = (i / 60) % 60,
        s = i % 60,
        ms = i % 1000,
        u = i % 97,
        w = i % 13,
        a = i % 250 + 1,
        p = 40_000 + i % 20_000,
    )
    .into_bytes()
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

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
    let (events, secs) = rt.block_on(async {
        let running = logward_collector::start(config).await.unwrap();
        let addr = running.beats_addr.unwrap();
        let start = Instant::now();
        let tasks: Vec<_> = frames
            .into_iter()
            .map(|f| tokio::spawn(client(addr, f, window)))
            .collect();
        let mut acked = 0;
        for t in tasks {
            acked += t.await.unwrap();
        }
        let secs = start.elapsed().as_secs_f64();
        running.stop().await;
        (acked, secs)
    });
    let mut store = logward_store::SqliteStore::open_dir(dir.path()).unwrap();
    let stored = store.count_fleet_events(None).unwrap();
    assert_eq!(stored, events, "every ACKed event is stored, once");
    println!(
        "{{\"clients\":{clients},\"windows\":{windows},\"window\":{window},\
         \"wire_bytes_per_window\":{wire},\"seconds\":{secs:.2},\"events\":{events},\
         \"stored_events_per_s\":{:.0},\"peak_rss_mib\":{:.1}}}",
        events as f64 / secs,
        peak_rss_kib() as f64 / 1024.0
    );
}
