//! Headless Chromium for the dashboard tests, driven through chromedriver's W3C WebDriver HTTP
//! API: started with the flags DESIGN.md gives, a session per test, screenshots into
//! target/test-artifacts/dashboard/. `None` (a skip, a failure under `CI=true`) when chromium
//! or chromedriver is missing.
#![allow(dead_code)] // each test file uses its own part

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use logward_test_support::{free_port, spawn, wait_for, Proc};
use serde_json::{json, Value};

/// The flags docs/DESIGN say headless Chromium runs with (plus a window size for stable
/// screenshots); `--user-data-dir` is added per run.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
];

fn find_program(names: &[&str]) -> Option<PathBuf> {
    for n in names {
        let p = Path::new(n);
        if p.is_absolute() && p.exists() {
            return Some(p.to_path_buf());
        }
        if let Some(path) = std::env::var_os("PATH") {
            for d in std::env::split_paths(&path) {
                let c = d.join(n);
                if c.exists() {
                    return Some(c);
                }
            }
        }
    }
    None
}

/// Chromium and chromedriver, when both are installed.
pub fn programs() -> Option<(PathBuf, PathBuf)> {
    let chromium = find_program(&["/usr/bin/chromium", "chromium", "chromium-browser"])?;
    let driver = find_program(&["/usr/bin/chromedriver", "chromedriver"])?;
    Some((chromium, driver))
}

pub const MISSING: &str =
    "chromium or chromedriver is not installed (Debian: apt-get install chromium chromium-driver)";

fn artifacts() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
        .join("test-artifacts/dashboard");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A W3C WebDriver session over chromedriver's HTTP API (and the chromedriver it runs in).
pub struct Browser {
    pub http: reqwest::blocking::Client,
    pub base: String,
    pub session: String,
    pub shots: PathBuf,
    _driver: Proc,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    /// Starts chromedriver and a headless Chromium session with its profile in `dir`;
    /// `insecure` accepts the test's self-signed certificate.
    pub fn start(chromium: &Path, driver: &Path, dir: &Path, insecure: bool) -> Browser {
        let dport = free_port();
        let driver = spawn(
            driver.to_str().unwrap(),
            &[&format!("--port={dport}")],
            &dir.join("chromedriver.err"),
        );
        let base = format!("http://127.0.0.1:{dport}");
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        wait_for("chromedriver", Duration::from_secs(30), || {
            let v: Value = serde_json::from_str(
                &http
                    .get(format!("{base}/status"))
                    .send()
                    .ok()?
                    .text()
                    .ok()?,
            )
            .ok()?;
            v["value"]["ready"].as_bool().filter(|r| *r)
        });
        let profile = dir.join("chromium-profile");
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| (*s).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        if insecure {
            // The test's self-signed certificate; HTTP/2 is what Chromium negotiates over TLS.
            args.push("--ignore-certificate-errors".to_owned());
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {"binary": chromium.to_str().unwrap(), "args": args}
        }}});
        let created: Value = serde_json::from_str(
            &http
                .post(format!("{base}/session"))
                .header("content-type", "application/json")
                .body(caps.to_string())
                .send()
                .unwrap()
                .text()
                .unwrap(),
        )
        .unwrap();
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {created}"))
            .to_owned();
        Browser {
            http,
            base,
            session,
            shots: artifacts(),
            _driver: driver,
        }
    }

    pub fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut r = self.http.request(method, url);
        if let Some(b) = body {
            r = r
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let text = r.send().unwrap().text().unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert!(
            v["value"].get("error").is_none(),
            "WebDriver {path}: {}",
            v["value"]
        );
        v["value"].clone()
    }

    pub fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body))
    }

    pub fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url }));
    }

    pub fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Runs `script` (a function body) in the page.
    pub fn js(&self, script: &str) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": [] }))
    }

    pub fn elements(&self, css: &str) -> Vec<String> {
        self.post(
            "/elements",
            json!({ "using": "css selector", "value": css }),
        )
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e.get(ELEMENT)
                .or_else(|| e.get("ELEMENT"))
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("not an element reference: {e}"))
                .to_owned()
        })
        .collect()
    }

    pub fn element(&self, css: &str) -> String {
        wait_for(css, Duration::from_secs(20), || {
            self.elements(css).into_iter().next()
        })
    }

    pub fn type_into(&self, css: &str, text: &str) {
        let e = self.element(css);
        self.post(&format!("/element/{e}/clear"), json!({}));
        self.post(&format!("/element/{e}/value"), json!({ "text": text }));
    }

    pub fn click(&self, css: &str) {
        let e = self.element(css);
        self.post(&format!("/element/{e}/click"), json!({}));
    }

    pub fn text(&self, css: &str) -> String {
        let e = self.element(css);
        self.call(reqwest::Method::GET, &format!("/element/{e}/text"), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn screenshot(&self, name: &str) {
        let b64 = self.call(reqwest::Method::GET, "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    /// The browser console's SEVERE entries but network errors (script errors, CSP
    /// violations).
    pub fn console_errors(&self) -> Vec<Value> {
        let errors = self
            .http
            .post(format!("{}/session/{}/se/log", self.base, self.session))
            .header("content-type", "application/json")
            .body(json!({"type": "browser"}).to_string())
            .send()
            .ok()
            .and_then(|r| r.text().ok())
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| v["value"].as_array().cloned())
            .unwrap_or_default();
        errors
            .into_iter()
            .filter(|e| e["level"] == "SEVERE" && e["source"] != "network")
            .collect()
    }

    /// Logs in on the login page at `url` (`/ui/` sends the browser there).
    pub fn log_in(&self, url: &str, user: &str, password: &str) {
        self.goto(&format!("{url}/ui/"));
        wait_for("the login page", Duration::from_secs(20), || {
            self.url().ends_with("/login").then_some(())
        });
        self.type_into("#user", user);
        self.type_into("#password", password);
        self.click("#login-submit");
        wait_for("the dashboard", Duration::from_secs(20), || {
            self.url().ends_with("/ui/").then_some(())
        });
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send();
    }
}
