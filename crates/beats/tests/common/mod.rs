//! What the Beats server tests share: a real server on loopback and its batches.
#![allow(dead_code)] // each test file uses its own part

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use logward_beats::{Batch, Config, Metrics, Server};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

pub const WITHIN: Duration = Duration::from_secs(10);

/// A running server: its address, counters and the batches it hands on.
pub struct Running {
    pub addr: SocketAddr,
    pub metrics: Arc<Metrics>,
    pub batches: mpsc::Receiver<Batch>,
}

/// Starts a server with `cfg` (its `listen` replaced by a free loopback port).
pub async fn start(mut cfg: Config) -> Running {
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    let server = Server::bind(cfg).await.unwrap();
    let addr = server.local_addr().unwrap();
    let metrics = server.metrics();
    let (tx, batches) = mpsc::channel(4);
    tokio::spawn(server.run(tx));
    Running {
        addr,
        metrics,
        batches,
    }
}

pub fn config() -> Config {
    Config::new("127.0.0.1:0".parse().unwrap())
}

impl Running {
    /// The next batch (fails after [`WITHIN`]).
    pub async fn batch(&mut self) -> Batch {
        tokio::time::timeout(WITHIN, self.batches.recv())
            .await
            .expect("a batch in time")
            .expect("the server runs")
    }
}

/// Reads one 6-byte frame (an ACK) from `s`.
pub async fn read_ack(s: &mut TcpStream) -> [u8; 6] {
    let mut a = [0u8; 6];
    tokio::time::timeout(WITHIN, s.read_exact(&mut a))
        .await
        .expect("an ACK in time")
        .expect("an ACK");
    a
}

/// Reads until the server closes `s`; what came before the close.
pub async fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let r = tokio::time::timeout(WITHIN, s.read_to_end(&mut got)).await;
    match r {
        Ok(Ok(_)) => {}
        // A reset after data the server did not read counts as closed too.
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("the server did not close the connection: {other:?}"),
    }
    got
}
