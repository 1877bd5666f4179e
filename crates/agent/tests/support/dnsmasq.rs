//! dnsmasq on loopback serving DNSBL test zones (Debian's dnsmasq-base). Shared by the
//! agent's DNSBL tests and the CLI's live-agent anomaly test.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Server {
    child: Child,
    pub addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// dnsmasq answering two zones: `bl.test` lists 81.2.69.142 and 175.16.199.37 (127.0.0.2)
/// and 2a00:1450::1
/// (127.0.0.4); `quota.test` answers the error code 127.255.255.254 for 81.2.69.142.
/// Every other name under them is NXDOMAIN.
pub fn dnsmasq() -> Option<Server> {
    if Command::new("dnsmasq").arg("--version").output().is_err() {
        logward_test_support::skip!("dnsmasq is not installed (package dnsmasq-base)");
    }
    let v6 = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.5.4.1.0.0.a.2.bl.test";
    for _ in 0..5 {
        let port = logward_test_support::free_udp_port();
        let mut child = Command::new("dnsmasq")
            .args([
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--no-resolv",
                "--no-hosts",
                "--bind-interfaces",
                "--listen-address=127.0.0.1",
                "--user=root",
                "--pid-file=",
                "--log-facility=-",
                "--local-ttl=300",
                &format!("--port={port}"),
                "--address=/bl.test/",
                "--address=/quota.test/",
                "--address=/142.69.2.81.bl.test/127.0.0.2",
                "--address=/37.199.16.175.bl.test/127.0.0.2",
                &format!("--address=/{v6}/127.0.0.4"),
                "--address=/142.69.2.81.quota.test/127.255.255.254",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        if child.try_wait().unwrap().is_none() {
            return Some(Server {
                child,
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
            });
        }
        // The port was taken in between: try another.
    }
    panic!("dnsmasq would not start");
}
