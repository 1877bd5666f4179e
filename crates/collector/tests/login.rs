//! Attacks on the dashboard login against the real collector on 127.0.0.1: cross-origin
//! logins, racing the failure limit, locking the operator out from another address, and a
//! removed operator's live session.
#![allow(clippy::unwrap_used)]

use logward_collector::config::{Config, Limits, TlsFiles};
use logward_collector::{add_user, start, Running};
use reqwest::header::SET_COOKIE;
use reqwest::redirect::Policy;

const PASSWORD: &str = "a long passphrase";

struct Fixture {
    _dir: tempfile::TempDir,
    run: Running,
    base: String,
    client: reqwest::Client,
}

/// The real collector with operator `alice`; `tls`: over HTTPS (HTTP/2 by ALPN).
async fn fixture(tls: bool, limits: Limits) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    add_user(&dir.path().join("state"), "alice", PASSWORD, 1).unwrap();
    let tls = tls.then(|| {
        let (cert, key) =
            logward_collector::gen_cert(&dir.path().join("tls"), &["127.0.0.1".into()]).unwrap();
        TlsFiles { cert, key }
    });
    let scheme = if tls.is_some() { "https" } else { "http" };
    let run = start(Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        state_dir: dir.path().join("state"),
        tls,
        limits,
        ..Config::default()
    })
    .await
    .unwrap();
    let base = format!("{scheme}://{}", run.addr);
    Fixture {
        _dir: dir,
        run,
        base,
        client: client(),
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap()
}

fn form(user: &str, password: &str) -> String {
    format!("user={user}&password={}", password.replace(' ', "+"))
}

impl Fixture {
    async fn login_with(&self, headers: &[(&str, &str)], password: &str) -> reqwest::Response {
        let mut r = self
            .client
            .post(format!("{}/login", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form("alice", password));
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r.send().await.unwrap()
    }
}

#[tokio::test]
async fn cross_origin_login_is_refused_without_a_cookie() {
    for tls in [false, true] {
        let f = fixture(tls, Limits::default()).await;
        let ours = f.base.clone();
        for headers in [
            vec![("origin", "http://evil.example")],
            vec![("origin", "null")],
            vec![("sec-fetch-site", "cross-site"), ("origin", ours.as_str())],
        ] {
            let r = f.login_with(&headers, PASSWORD).await;
            if tls {
                assert_eq!(r.version(), reqwest::Version::HTTP_2, "TLS is served as h2");
            }
            assert_eq!(r.status(), 403, "tls {tls}, {headers:?}");
            assert!(r.headers().get(SET_COOKIE).is_none(), "{headers:?}");
        }
        // The same origin — over HTTP/2 there is no Host header to compare with — logs in.
        let r = f
            .login_with(
                &[("origin", ours.as_str()), ("sec-fetch-site", "same-origin")],
                PASSWORD,
            )
            .await;
        assert_eq!(r.status(), 303, "tls {tls}");
        assert!(r.headers().get(SET_COOKIE).is_some());
        f.run.stop().await;
    }
}
