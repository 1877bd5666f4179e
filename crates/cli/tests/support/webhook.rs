//! A webhook receiver on 127.0.0.1 for the delivery tests: records every request (time,
//! headers, body) and answers 200, or 503 while it is set down (counting what it refused).
//! Its one-request HTTP/1.1 reader serves the other test servers of plain HTTP too.
#![allow(dead_code)] // each test uses part of it

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Request {
    pub at: Instant,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    /// Answered 503 (the receiver was down).
    pub refused: bool,
}

impl Request {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Clone, Default)]
pub struct Hook {
    log: Arc<Mutex<Vec<Request>>>,
    down: Arc<AtomicBool>,
}

/// One HTTP/1.1 request read off `s` (a `Content-Length` body): its target, its headers
/// (names in lower case) and its body; `None` when the connection ends or stalls first.
pub fn read_request(s: &TcpStream) -> Option<(String, HashMap<String, String>, Vec<u8>)> {
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut r = BufReader::new(s.try_clone().ok()?);
    let mut line = String::new();
    if r.read_line(&mut line).unwrap_or(0) == 0 {
        return None;
    }
    let target = line.split(' ').nth(1).unwrap_or("/").to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).unwrap_or(0) == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let n: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; n];
    r.read_exact(&mut body).ok()?;
    Some((target, headers, body))
}

/// Reads one request and answers.
fn serve(mut s: TcpStream, hook: &Hook) {
    let Some((_, headers, body)) = read_request(&s) else {
        return;
    };
    let refused = hook.down.load(Ordering::SeqCst);
    hook.log.lock().unwrap().push(Request {
        at: Instant::now(),
        headers,
        body,
        refused,
    });
    let answer: &[u8] = if refused {
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\ndown"
    } else {
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    };
    let _ = s.write_all(answer);
}

impl Hook {
    /// Listens on `port` (0: any free one); returns the hook and its port.
    pub fn start_on(port: u16) -> (Hook, u16) {
        let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let port = l.local_addr().unwrap().port();
        let hook = Hook::default();
        let h = hook.clone();
        std::thread::spawn(move || {
            for s in l.incoming().map_while(Result::ok) {
                serve(s, &h);
            }
        });
        (hook, port)
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Every request so far.
    pub fn all(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }

    /// The requests answered 200.
    pub fn accepted(&self) -> Vec<Request> {
        self.all().into_iter().filter(|r| !r.refused).collect()
    }

    /// Waits until `done` holds for the accepted requests (or `within` passes); returns them.
    pub fn wait_for(&self, within: Duration, done: impl Fn(&[Request]) -> bool) -> Vec<Request> {
        let t = Instant::now();
        loop {
            let got = self.accepted();
            if done(&got) || t.elapsed() > within {
                return got;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
