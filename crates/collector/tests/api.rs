//! The operators' side end to end: the real collector on 127.0.0.1, operators and tokens
//! created as the CLI does, alerts stored through the real ingest transaction, and reqwest
//! asking the REST API, the login form and the OpenAPI document.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use logward_collector::config::{Config, Limits};
use logward_collector::server::all_routes;
use logward_collector::{add_user, create_api_token, open_store, start, Running, StoreAt};
use logward_store::{
    Analysis, AnalysisState, CollectorStore, FleetEvent, FleetItem, NewAlert, NewDecision,
};
use logward_test_support::postgres::TestDb;
use reqwest::header::{AUTHORIZATION, CONTENT_SECURITY_POLICY, COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::Method;
use serde_json::Value;

mod common;
use common::{on_both, Backend, Operator, TestStore};

const PASSWORD: &str = "a long passphrase";

fn config(dir: &Path) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        state_dir: dir.to_path_buf(),
        limits: Limits {
            login_failures: 3,
            ..Limits::default()
        },
        ..Config::default()
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    at: StoreAt,
    run: Running,
    base: String,
    token: String,
    client: reqwest::Client,
    t0: i64,
    // Last (fields drop in order): the database goes after the collector's connections.
    _db: Option<TestDb>,
}

/// 40 alerts from `web01`/`db01`, four addresses, severities 1–5, one a minute from `t0`;
/// each with the failed-login event before it. (Recent: the collector's retention purge
/// runs at start.)
fn seed(s: &mut dyn CollectorStore, t0: i64) {
    s.register_shared_agent("seed", 0).unwrap();
    let mut items = Vec::new();
    for i in 0..40i64 {
        let host = if i % 4 == 0 { "db01" } else { "web01" };
        let addr = format!("198.51.100.{}", i % 4);
        let t = t0 + i * 60;
        let line = format!(
            "Nov 23 10:00:{:02} {host} sshd[1]: Failed password for root from {addr} port 22 ssh2",
            i % 60
        );
        items.push(FleetItem::Event {
            seq: 2 * i + 1,
            event: FleetEvent {
                time: t - 1,
                host: Some(host.into()),
                action: "user-login".into(),
                outcome: "failure".into(),
                source_ip: Some(addr.clone()),
                user: Some("root".into()),
                json: serde_json::json!({"event": {"original": line}}).to_string(),
            },
        });
        items.push(FleetItem::Alert {
            seq: 2 * i + 2,
            alert: NewAlert {
                time: t,
                rule_id: if i % 2 == 0 { "ssh-brute-force" } else { "ssh-invalid-user" }.into(),
                severity: 1 + (i % 5) as u8,
                host: Some(host.into()),
                source_address: Some(addr.clone()),
                user: Some(if i % 3 == 0 { "admin" } else { "root" }.into()),
                json: serde_json::json!({"message": format!("alert {i}"), "event": {"original": line}})
                    .to_string(),
                dns: None,
            },
            plan: logward_store::AlertPlan::default(),
        });
    }
    s.ingest("seed", t0 + 3600, &items).unwrap();
}

async fn fixture_with(c: impl FnOnce(&mut Config)) -> Fixture {
    fixture_on(Backend::Sqlite, c)
        .await
        .unwrap_or_else(|| unreachable!("SQLite is always there"))
}

async fn fixture() -> Fixture {
    fixture_with(|_| {}).await
}

/// The seeded collector on `backend`; `None` when PostgreSQL is asked for without a test
/// cluster.
async fn fixture_on(backend: Backend, c: impl FnOnce(&mut Config)) -> Option<Fixture> {
    let TestStore { db, config: store } = TestStore::on(backend)?;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.store = store;
    let at = StoreAt::from(&cfg);
    let t0 = (common::now() / 3600) * 3600 - 2 * 86_400;
    // Off the async runtime, as the CLI would (PostgreSQL's client blocks).
    let token = {
        let at = at.clone();
        tokio::task::spawn_blocking(move || {
            add_user(at.clone(), "alice", PASSWORD, 1).unwrap();
            let (_, token) = create_api_token(at.clone(), "ci", 1).unwrap();
            seed(open_store(at).unwrap().as_mut(), t0);
            token
        })
        .await
        .unwrap()
    };
    c(&mut cfg);
    let run = start(cfg).await.unwrap();
    let base = format!("http://{}", run.addr);
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    Some(Fixture {
        _dir: dir,
        _db: db,
        at,
        run,
        base,
        token,
        client,
        t0,
    })
}

impl Fixture {
    /// Runs `f` on a connection of its own to the collector's store, off the async runtime.
    async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn CollectorStore) -> T + Send + 'static,
    ) -> T {
        common::with_store(&self.at, f).await
    }

    /// A request to `path` on this collector, with no credentials unless added.
    fn to(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let r = send(
            self.to(Method::GET, path)
                .header(AUTHORIZATION, format!("Bearer {}", self.token)),
        )
        .await;
        let status = r.status().as_u16();
        (status, json(r).await)
    }

    async fn alerts(&self, path: &str) -> Vec<Value> {
        let (status, page) = self.get(path).await;
        assert_eq!(status, 200, "{path}: {page}");
        page["alerts"].as_array().unwrap().clone()
    }

    async fn login(&self, user: &str, password: &str) -> reqwest::Response {
        send(
            self.to(Method::POST, "/login")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(login_form(user, password)),
        )
        .await
    }

    async fn metrics(&self) -> String {
        common::get_text(&self.client, &format!("{}/metrics", self.base), None).await
    }
}

/// A collector serving HTTPS with a fresh self-signed certificate, and a client built from
/// `client` that trusts it and does not follow redirects. The certificate's directory too.
async fn tls_fixture(
    client: reqwest::ClientBuilder,
) -> (tempfile::TempDir, Fixture, reqwest::Client) {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) =
        logward_collector::gen_cert(&dir.path().join("tls"), &["127.0.0.1".into()]).unwrap();
    let f = fixture_with(|c| {
        c.tls = Some(logward_collector::config::TlsFiles { cert, key });
    })
    .await;
    let client = client
        .redirect(Policy::none())
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    (dir, f, client)
}

/// The login form's body, as the browser encodes it.
fn login_form(user: &str, password: &str) -> String {
    format!("user={user}&password={}", password.replace(' ', "+"))
}

/// The `name=value` of the session cookie a login answer sets.
fn session_cookie(r: &reqwest::Response) -> String {
    let set = r.headers()[SET_COOKIE].to_str().unwrap();
    set.split(';').next().unwrap().to_owned()
}

/// Sends `r`; the answer, whatever its status.
async fn send(r: reqwest::RequestBuilder) -> reqwest::Response {
    r.send().await.unwrap()
}

async fn json(r: reqwest::Response) -> Value {
    serde_json::from_slice(&r.bytes().await.unwrap()).unwrap_or(Value::Null)
}

fn metric(text: &str, line_prefix: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(line_prefix)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {line_prefix} in\n{text}"))
}

on_both! {
    async fn every_operator_route_needs_a_session_or_a_token(b: Backend) {
        let Some(f) = fixture_on(b, |_| {}).await else {
            return;
        };
        for path in [
            "/v1/session",
            "/v1/alerts",
            "/v1/alerts/1",
            "/v1/stats",
            "/v1/dns/stats",
            "/v1/agents",
            "/v1/bans",
        ] {
            let r = send(f.to(Method::GET, path)).await;
            assert_eq!(r.status(), 401, "{path}");
            assert!(r.headers().contains_key("www-authenticate"));
            let body = json(r).await;
            assert!(body["error"].as_str().unwrap().contains("Bearer"), "{body}");
            // A wrong token, a revoked-looking one, a non-bearer scheme: 401 too.
            for auth in ["Bearer lwt_0000", "Basic YWxpY2U6eA==", "Bearer "] {
                let r = send(f.to(Method::GET, path).header(AUTHORIZATION, auth)).await;
                assert_eq!(r.status(), 401, "{path} {auth}");
            }
        }
        let r = send(
            f.to(Method::POST, "/v1/bans")
                .body(r#"{"target":"192.0.2.1","reason":"x"}"#),
        )
        .await;
        assert_eq!(r.status(), 401);
        // The dashboard sends a browser to the login page.
        let r = send(f.to(Method::GET, "/ui/")).await;
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers()[LOCATION], "/login");
        let r = send(f.to(Method::GET, "/")).await;
        assert_eq!(r.headers()[LOCATION], "/ui/");
        // With the token, the API answers.
        let (status, who) = f.get("/v1/session").await;
        assert_eq!(status, 200);
        assert_eq!(
            (who["user"].as_str(), who["via"].as_str()),
            (Some("ci"), Some("token"))
        );
        let m = f.metrics().await;
        assert!(
            metric(
                &m,
                "logward_collector_auth_failures_total{reason=\"no_session\"}"
            ) >= 7.0
        );
        assert!(
            metric(
                &m,
                "logward_collector_auth_failures_total{reason=\"bad_api_token\"}"
            ) >= 18.0
        );
        f.run.stop().await;
    }
}

on_both! {
    async fn login_sets_a_strict_cookie_csrf_guards_changes_and_failures_are_limited(b: Backend) {
        let Some(f) = fixture_on(b, |_| {}).await else {
            return;
        };
        let page = send(f.to(Method::GET, "/login")).await;
        assert_eq!(page.status(), 200);
        let csp = page.headers()[CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe-inline"));
        let html = page.text().await.unwrap();
        assert!(
            html.contains("name=\"password\"")
                && !html.contains("http://")
                && !html.contains("https://")
        );

        let r = f.login("alice", "wrong password").await;
        assert_eq!(r.status(), 401);
        assert!(r.headers().get(SET_COOKIE).is_none());
        assert!(r
            .text()
            .await
            .unwrap()
            .contains("Wrong user name or password"));
        let r = f.login("nobody", PASSWORD).await;
        assert_eq!(
            r.status(),
            401,
            "an unknown user looks like a wrong password"
        );

        let r = f.login("alice", PASSWORD).await;
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers()[LOCATION], "/ui/");
        let set = r.headers()[SET_COOKIE].to_str().unwrap().to_owned();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"),
            "{set}"
        );
        assert!(
            !set.contains("Secure"),
            "plain HTTP on loopback: no Secure flag"
        );
        let cookie = session_cookie(&r);

        let r = send(f.to(Method::GET, "/ui/").header(COOKIE, &cookie)).await;
        assert_eq!(r.status(), 200);
        assert!(r.headers()[CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'"));
        let who = json(send(f.to(Method::GET, "/v1/session").header(COOKIE, &cookie)).await).await;
        assert_eq!(who["user"], "alice");
        let csrf = who["csrf"].as_str().unwrap().to_owned();
        assert_eq!(csrf.len(), 64);

        // A state change with the session but without its CSRF token is refused.
        let ban = |token: Option<&str>| {
            let mut r = f
                .to(Method::POST, "/v1/bans")
                .header(COOKIE, &cookie)
                .header("content-type", "application/json")
                .body(r#"{"target":"192.0.2.77","duration_secs":600,"reason":"manual"}"#);
            if let Some(t) = token {
                r = r.header("x-csrf-token", t);
            }
            r.send()
        };
        assert_eq!(ban(None).await.unwrap().status(), 403);
        // The right token from another origin is refused too.
        let r = send(
            f.to(Method::POST, "/v1/bans")
                .header(COOKIE, &cookie)
                .header("x-csrf-token", &csrf)
                .header("origin", "http://evil.example")
                .body(r#"{"target":"192.0.2.78","reason":"x"}"#),
        )
        .await;
        assert_eq!(r.status(), 403);
        assert_eq!(
            ban(Some("0".repeat(64).as_str())).await.unwrap().status(),
            403
        );
        let r = ban(Some(&csrf)).await.unwrap();
        assert_eq!(r.status(), 201);
        let (_, bans) = f.get("/v1/bans?active=true").await;
        let b = &bans["bans"][0];
        assert_eq!(
            (b["target"].as_str(), b["active"].as_bool()),
            (Some("192.0.2.77"), Some(true))
        );
        assert!(b["reason"].as_str().unwrap().contains("by alice"));

        // Lifting it: the same session and CSRF rules, then the agents' feed says so.
        let agent = common::Agent::enrol(&f.run).await;
        let id = b["id"].as_i64().unwrap();
        let lift = |path: String, token: Option<&str>, origin: Option<&str>| {
            let mut r = f.to(Method::DELETE, &path).header(COOKIE, &cookie);
            if let Some(t) = token {
                r = r.header("x-csrf-token", t);
            }
            if let Some(o) = origin {
                r = r.header("origin", o);
            }
            r.send()
        };
        let path = format!("/v1/bans/{id}");
        assert_eq!(lift(path.clone(), None, None).await.unwrap().status(), 403);
        let evil = Some("http://evil.example");
        assert_eq!(
            lift(path.clone(), Some(&csrf), evil)
                .await
                .unwrap()
                .status(),
            403
        );
        let r = send(f.to(Method::DELETE, &path)).await;
        assert_eq!(r.status(), 401, "no session, no token");
        for bad in ["/v1/bans/0", "/v1/bans/x", "/v1/bans/-3"] {
            let r = lift(bad.into(), Some(&csrf), None).await.unwrap();
            assert_eq!(r.status(), 400, "{bad}");
        }
        let r = lift("/v1/bans/9999".into(), Some(&csrf), None)
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        let r = lift(path.clone(), Some(&csrf), None).await.unwrap();
        assert_eq!(r.status(), 204);
        assert_eq!(
            lift(path.clone(), Some(&csrf), None)
                .await
                .unwrap()
                .status(),
            404
        );
        let (_, bans) = f.get("/v1/bans?active=true").await;
        assert!(bans["bans"].as_array().unwrap().is_empty(), "{bans}");
        let feed = agent.get("/v1/decisions?since=0").await;
        let actions: Vec<&str> = feed["decisions"]
            .as_array()
            .unwrap_or_else(|| panic!("{feed}"))
            .iter()
            .filter(|c| c["decision_id"] == id)
            .filter_map(|c| c["action"].as_str())
            .collect();
        assert_eq!(actions, ["add", "delete"], "{feed}");
        // A bearer token lifts without a CSRF token.
        let r = ban(Some(&csrf)).await.unwrap();
        let id2 = json(r).await["id"].as_i64().unwrap();
        let r = send(
            f.to(Method::DELETE, &format!("/v1/bans/{id2}"))
                .header(AUTHORIZATION, format!("Bearer {}", f.token)),
        )
        .await;
        assert_eq!(r.status(), 204);
        // A bearer token needs no CSRF token (a browser never sends one by itself).
        let r = send(
            f.to(Method::POST, "/v1/bans")
                .header(AUTHORIZATION, format!("Bearer {}", f.token))
                .body(r#"{"target":"not an address","reason":"x"}"#),
        )
        .await;
        assert_eq!(r.status(), 400);
        assert!(r.text().await.unwrap().contains("target"));

        // Logout needs the CSRF token too, then the session is gone.
        let logout = |t: &str| {
            f.to(Method::POST, "/logout")
                .header(COOKIE, &cookie)
                .header("x-csrf-token", t)
                .send()
        };
        assert_eq!(logout("nope").await.unwrap().status(), 403);
        let r = logout(&csrf).await.unwrap();
        assert_eq!(r.status(), 303);
        assert!(r.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0"));
        let r = send(f.to(Method::GET, "/v1/session").header(COOKIE, &cookie)).await;
        assert_eq!(r.status(), 401);

        // Three failures (the configured limit) from this address: the next login is refused
        // with 429 and Retry-After, even with the right password.
        assert_eq!(f.login("alice", "wrong again").await.status(), 401);
        let r = f.login("alice", PASSWORD).await;
        assert_eq!(r.status(), 429);
        assert!(
            r.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
                >= 1
        );
        let m = f.metrics().await;
        assert_eq!(
            metric(
                &m,
                "logward_collector_auth_failures_total{reason=\"login_failed\"}"
            ),
            3.0
        );
        assert_eq!(
            metric(
                &m,
                "logward_collector_auth_failures_total{reason=\"login_rate_limited\"}"
            ),
            1.0
        );
        assert_eq!(
            metric(
                &m,
                "logward_collector_auth_failures_total{reason=\"bad_csrf\"}"
            ),
            6.0
        );
        assert_eq!(metric(&m, "logward_collector_dashboard_logins_total"), 1.0);
        f.run.stop().await;
    }
}

#[tokio::test]
async fn tls_sessions_get_the_secure_flag() {
    let (_dir, f, client) = tls_fixture(reqwest::Client::builder()).await;
    let r = send(
        client
            .post(format!("https://{}/login", f.run.addr))
            .body(login_form("alice", PASSWORD)),
    )
    .await;
    assert_eq!(r.status(), 303);
    assert!(r.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("; Secure"));
    f.run.stop().await;
}

/// Issue 13: over HTTPS the dashboard's Ban, Lift and Log out were refused ("missing or wrong
/// X-CSRF-Token header") because HTTP/2 has no `Host` header and the Origin check compared
/// with it. Over real TLS and HTTP/2 the same-origin actions now work, logging out ends the
/// session on the server, and the cross-origin attack is still refused.
#[tokio::test]
async fn csrf_origin_check_uses_the_http2_authority() {
    // Only HTTP/2, as a browser negotiates it: no `Host` header, the `:authority` instead.
    let (_dir, f, client) = tls_fixture(reqwest::Client::builder().http2_prior_knowledge()).await;
    let base = format!("https://{}", f.run.addr);
    let r = send(
        client
            .post(format!("{base}/login"))
            .body(login_form("alice", PASSWORD)),
    )
    .await;
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(r.status(), 303);
    let cookie = session_cookie(&r);
    let who = json(
        client
            .get(format!("{base}/v1/session"))
            .header(COOKIE, &cookie)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let csrf = who["csrf"].as_str().unwrap().to_owned();
    let ban = |origin: &str, target: &str| {
        client
            .post(format!("{base}/v1/bans"))
            .header(COOKIE, &cookie)
            .header("x-csrf-token", &csrf)
            .header("origin", origin)
            .header("content-type", "application/json")
            .body(format!(
                r#"{{"target":"{target}","duration_secs":600,"reason":"h2"}}"#
            ))
            .send()
    };
    // The attack: the right session and token, from another origin (or port, or scheme).
    for evil in [
        "https://evil.example".to_owned(),
        format!("https://127.0.0.1:{}", f.run.addr.port() ^ 1),
        format!("http://{}", f.run.addr),
        "null".to_owned(),
    ] {
        let r = ban(&evil, "192.0.2.80").await.unwrap();
        assert_eq!(r.status(), 403, "{evil}");
    }
    // The dashboard's own origin: the ban is made and lifted.
    let own = base.clone();
    let r = ban(&own, "192.0.2.81").await.unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(r.status(), 201);
    let id = json(r).await["id"].as_i64().unwrap();
    let r = client
        .delete(format!("{base}/v1/bans/{id}"))
        .header(COOKIE, &cookie)
        .header("x-csrf-token", &csrf)
        .header("origin", &own)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    // Log out from another origin: refused, the session lives on.
    let logout = |origin: &str| {
        client
            .post(format!("{base}/logout"))
            .header(COOKIE, &cookie)
            .header("x-csrf-token", &csrf)
            .header("origin", origin)
            .send()
    };
    assert_eq!(logout("https://evil.example").await.unwrap().status(), 403);
    let session = || {
        client
            .get(format!("{base}/v1/session"))
            .header(COOKIE, &cookie)
            .send()
    };
    assert_eq!(session().await.unwrap().status(), 200);
    // Log out from the dashboard: the session ends on the server, not just in the browser.
    let r = logout(&own).await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(session().await.unwrap().status(), 401);
    f.run.stop().await;
}

on_both! {
    async fn filters_and_keyset_pages(b: Backend) {
        let Some(f) = fixture_on(b, |_| {}).await else {
            return;
        };
        // Every page newest first; together every alert exactly once.
        let mut ids = Vec::new();
        let mut next: Option<i64> = None;
        loop {
            let path = match next {
                Some(n) => format!("/v1/alerts?limit=15&before={n}"),
                None => "/v1/alerts?limit=15".into(),
            };
            let (status, page) = f.get(&path).await;
            assert_eq!(status, 200, "{page}");
            let got: Vec<i64> = page["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].as_i64().unwrap())
                .collect();
            assert!(got.len() <= 15);
            ids.extend(got);
            match page["next"].as_i64() {
                Some(n) => next = Some(n),
                None => break,
            }
        }
        assert_eq!(ids.len(), 40);
        assert!(ids.windows(2).all(|w| w[0] > w[1]));

        let a = f.alerts("/v1/alerts?address=198.51.100.2&limit=500").await;
        assert_eq!(a.len(), 10);
        assert!(a.iter().all(|x| x["source_address"] == "198.51.100.2"));
        assert!(a[0]["original"]
            .as_str()
            .unwrap()
            .contains("from 198.51.100.2 port"));
        let a = f.alerts("/v1/alerts?host=db01&severity=high").await;
        assert!(!a.is_empty());
        assert!(a
            .iter()
            .all(|x| x["host"] == "db01" && x["severity"].as_i64().unwrap() >= 4));
        let a = f
            .alerts("/v1/alerts?rule=ssh-invalid-user&user=admin")
            .await;
        assert!(a
            .iter()
            .all(|x| x["rule_id"] == "ssh-invalid-user" && x["user"] == "admin"));
        assert_eq!(a.len(), 7, "odd multiples of 3 below 40");
        // since (RFC 3339) and until (Unix seconds): minutes 10..20.
        let since = logward_core::Timestamp {
            unix: f.t0 + 600,
            nanos: 0,
            offset: 0,
        };
        let mut rfc = String::new();
        since.write_rfc3339(&mut rfc).unwrap();
        let a = f
            .alerts(&format!("/v1/alerts?since={rfc}&until={}", f.t0 + 1200))
            .await;
        assert_eq!(a.len(), 10, "{rfc}");
        assert!(a
            .iter()
            .all(|x| (f.t0 + 600..f.t0 + 1200).contains(&x["time"].as_i64().unwrap())));
        let a = f.alerts("/v1/alerts?address=203.0.113.250").await;
        assert!(a.is_empty());

        // One alert: its events with their raw lines, and the ban taken for it.
        let id = ids[0];
        let t0 = f.t0;
        f.with_store(move |s| {
            s.add_decision(&NewDecision {
                target: "198.51.100.3".into(),
                duration_secs: Some(3600),
                reason: "fleet brute force".into(),
                rule_id: Some("ssh-brute-force".into()),
                created_at: t0 + 2400,
                alert_id: Some(id),
            })
            .unwrap();
            s.put_analysis(&Analysis {
                alert_id: id,
                state: AnalysisState::Done,
                model: Some("small-model".into()),
                text: Some("a scanner guessing root's password".into()),
                error: None,
                cache_key: None,
                requested_at: t0 + 2400,
                finished_at: Some(t0 + 2401),
                latency_ms: Some(900),
            })
            .unwrap();
        })
        .await;
        let (status, d) = f.get(&format!("/v1/alerts/{id}")).await;
        assert_eq!(status, 200, "{d}");
        assert_eq!(d["alert"]["id"], id);
        let ev = d["events"].as_array().unwrap();
        assert!(!ev.is_empty());
        assert!(ev.iter().all(|e| e["original"]
            .as_str()
            .unwrap()
            .contains(d["alert"]["source_address"].as_str().unwrap())));
        assert_eq!(d["decisions"][0]["reason"], "fleet brute force");
        assert_eq!(d["analysis"]["state"], "done");
        assert_eq!(d["analysis"]["text"], "a scanner guessing root's password");
        let (_, other) = f.get(&format!("/v1/alerts/{}", ids[1])).await;
        assert!(other["analysis"].is_null() && other["decisions"].as_array().unwrap().is_empty());
        let (status, _) = f.get("/v1/alerts/999999").await;
        assert_eq!(status, 404);

        let (status, st) = f
            .get(&format!("/v1/stats?since=0&until={}", f.t0 + 86_400))
            .await;
        assert_eq!(status, 200);
        assert_eq!(st["total"], 40);
        assert_eq!(st["per_host"][0]["key"], "web01");
        assert_eq!(st["per_host"][0]["count"], 30);
        assert_eq!(st["top_sources"].as_array().unwrap().len(), 4);
        let hours: i64 = st["per_hour"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["count"].as_i64().unwrap())
            .sum();
        assert_eq!(hours, 40);
        // The DNS figures through the same window and store call: none stored here.
        let (status, dns) = f.get("/v1/dns/stats?since=0").await;
        assert_eq!(status, 200, "{dns}");
        assert_eq!(dns["total"], 0);
        for k in ["per_day", "per_hour", "top_domains", "top_clients", "per_finding"] {
            assert!(dns[k].as_array().is_some_and(Vec::is_empty), "{k}: {dns}");
        }
        let (status, ag) = f.get("/v1/agents").await;
        assert_eq!(status, 200);
        assert_eq!(ag["agents"][0]["id"], "seed");
        f.run.stop().await;
    }
}

#[tokio::test]
async fn the_dashboard_is_self_contained() {
    let f = fixture().await;
    for (path, kind) in [
        ("/ui/app.js", "text/javascript"),
        ("/ui/app.css", "text/css"),
        ("/login", "text/html"),
    ] {
        let r = send(f.to(Method::GET, path)).await;
        assert_eq!(r.status(), 200, "{path}");
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with(kind));
        let body = r.text().await.unwrap();
        // No URL to anywhere else: the only absolute one is the SVG namespace name.
        let stripped = body.replace("http://www.w3.org/2000/svg", "");
        assert!(
            !stripped.contains("http://")
                && !stripped.contains("https://")
                && !stripped.contains("//cdn"),
            "{path} refers to another origin"
        );
        // No inline script or style for the CSP to allow.
        assert!(
            !body.contains("<script>") && !body.contains("style=\""),
            "{path}"
        );
    }
    f.run.stop().await;
}

on_both! {
    async fn bad_parameters_are_400_with_a_clear_message(b: Backend) {
        let Some(f) = fixture_on(b, |_| {}).await else {
            return;
        };
        for (path, says) in [
            ("/v1/alerts?severity=bogus", "severity"),
            ("/v1/alerts?severity=9", "severity"),
            ("/v1/alerts?limit=0", "limit"),
            ("/v1/alerts?limit=501", "limit"),
            ("/v1/alerts?limit=ten", "limit"),
            ("/v1/alerts?before=-3", "before"),
            ("/v1/alerts?since=yesterday", "since"),
            ("/v1/alerts?since=100&until=50", "since"),
            ("/v1/alerts?hots=web01", "unknown parameter `hots`"),
            ("/v1/alerts?host=a&host=b", "given twice"),
            // Percent-decoded before the checks: the same parameter, spelled differently.
            ("/v1/alerts?h%6Fst=a&host=b", "given twice"),
            ("/v1/alerts?host=%FF", "not UTF-8"),
            ("/v1/alerts?host=", "host"),
            ("/v1/alerts/abc", "id"),
            ("/v1/alerts/0", "id"),
            ("/v1/stats?until=soon", "until"),
            ("/v1/dns/stats?since=yesterday", "since"),
            ("/v1/bans?active=maybe", "active"),
            ("/v1/bans?x=1", "unknown parameter"),
        ] {
            let (status, body) = f.get(path).await;
            assert_eq!(status, 400, "{path}: {body}");
            let msg = body["error"].as_str().unwrap();
            assert!(msg.contains(says), "{path}: {msg}");
        }
        let (status, body) = f.get("/v1/nothing-here").await;
        assert_eq!(status, 404);
        assert!(body["error"].as_str().unwrap().contains("openapi"));
        f.run.stop().await;
    }
}

on_both! {
    /// Issue 18: PostgreSQL's `text` refuses NUL, and a filter holding one (`%00`) used to
    /// reach it as is and fail the query. The store's one rule (the ingest's replacement, on
    /// lookups too) answers as SQLite does: what was stored with that NUL, here nothing —
    /// 200 and an empty list on either backend, never a 500.
    async fn a_nul_in_a_filter_is_an_empty_answer_on_both_backends(b: Backend) {
        let Some(f) = fixture_on(b, |_| {}).await else {
            return;
        };
        assert!(!f.alerts("/v1/alerts?address=198.51.100.2").await.is_empty());
        for path in [
            "/v1/alerts?address=198.51.100.2%00",
            "/v1/alerts?host=%00",
            "/v1/alerts?user=root%00&rule=a%00b",
        ] {
            assert!(f.alerts(path).await.is_empty(), "{path}");
        }
        let (status, body) = f.get("/v1/dns/hits?domain=bad%00.example").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["hits"].as_array().map(Vec::len), Some(0), "{body}");
        // An address is checked before the store: not one, on either backend.
        let (status, body) = f.get("/v1/dns/hits?client=10.0.0.5%00").await;
        assert_eq!(status, 400, "{body}");
        f.run.stop().await;
    }
}

#[tokio::test]
async fn the_openapi_document_describes_every_route_of_the_router() {
    let f = fixture().await;
    let r = send(f.to(Method::GET, "/v1/openapi.json")).await;
    assert_eq!(r.status(), 200);
    let doc = json(r).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let routes = all_routes();
    for (path, method, _) in &routes {
        let m = method.as_str().to_ascii_lowercase();
        let op = &paths
            .get(*path)
            .unwrap_or_else(|| panic!("{path} is not in the document"))[&m];
        assert!(op.is_object(), "{method} {path} is not in the document");
        assert!(
            op["summary"].is_string() && op["responses"].is_object(),
            "{method} {path}"
        );
        // And the route is really served: not the 404 fallback, not 405.
        let url = format!("{}{}", f.base, path.replace("{id}", "1"));
        let r = f
            .client
            .request(method.clone(), url)
            .header(AUTHORIZATION, format!("Bearer {}", f.token))
            .send()
            .await
            .unwrap();
        let status = r.status();
        assert_ne!(status, 405, "{method} {path}");
        if status == 404 {
            // A handler may answer 404 for a missing id; the fallback names the route.
            let body = json(r).await;
            let error = body["error"].as_str().unwrap_or_default();
            assert!(!error.contains("no route"), "{method} {path}: {error}");
        }
    }
    // Nothing documented that the router does not serve.
    for (path, item) in paths {
        for m in item.as_object().unwrap().keys() {
            assert!(
                routes
                    .iter()
                    .any(|(p, rm, _)| p == path && rm.as_str().eq_ignore_ascii_case(m)),
                "{m} {path} is documented but not routed"
            );
        }
    }
    // Each $ref resolves.
    let text = doc.to_string();
    for r in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = r.split('"').next().unwrap();
        assert!(doc["components"]["schemas"][name].is_object(), "{name}");
    }
    f.run.stop().await;
}

on_both! {
    async fn metrics_have_ingest_rate_queue_depth_store_latency_and_auth_failures_with_bounded_labels(b: Backend)
    {
        let Some(f) = fixture_on(b, |_| {}).await else {
            return;
        };
        let _ = f.get("/v1/alerts").await;
        let _ = f.login("alice", "nope").await;
        let m = f.metrics().await;
        for name in [
            "logward_collector_ingest_rate ",
            "logward_collector_store_queue_depth ",
            "logward_collector_store_seconds_count ",
            "logward_collector_auth_failures_total{reason=\"login_failed\"} ",
            "logward_collector_requests_total{endpoint=\"alerts\",status=\"200\"} ",
            "logward_collector_requests_total{endpoint=\"login\",status=\"401\"} ",
        ] {
            assert!(m.contains(name), "{name} missing from\n{m}");
        }
        assert!(metric(&m, "logward_collector_store_seconds_count") >= 2.0);
        // No label carries a user, an address or a token.
        for bad in ["alice", "198.51.100", "127.0.0.1", "lwt_"] {
            assert!(!m.contains(bad), "{bad} in metrics");
        }
        f.run.stop().await;
    }
}

on_both! {
    /// Issue 13, dashboard: a fleet alert (host `fleet`) shows the events of every host behind
    /// it, not "Events (0)"; an account change names its target user; a notification sent at
    /// the first try says one attempt, not zero; and a ban needs a duration or an explicit
    /// `permanent` (an empty duration silently banned forever). On PostgreSQL the delivery
    /// worker's connection is the background one.
    async fn alert_pages_and_bans_say_what_happened(b: Backend) {
        use logward_core::{write_alert, Action, Alert, Dataset, Event, Outcome, Severity};
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        // On PostgreSQL the delivery worker has its own connection too, dropped at `stop`.
        let Some(store) = TestStore::on(b) else { return };
        let at = store.at(&state);
        let t = common::now();
        // A fleet alert and the failed logins on three hosts that made it, stored as the ingest
        // transaction stores them.
        let seed_at = at.clone();
        tokio::task::spawn_blocking(move || {
            let mut s = open_store(seed_at).unwrap();
            s.register_shared_agent("seed", 0).unwrap();
            let addr = "203.0.113.50";
            let mut items: Vec<FleetItem> = ["web01", "db01", "mail01"]
                .iter()
                .enumerate()
                .map(|(i, host)| FleetItem::Event {
                    seq: i as i64 + 1,
                    event: FleetEvent {
                        time: t - 30 + i as i64,
                        host: Some((*host).into()),
                        action: "user-login".into(),
                        outcome: "failure".into(),
                        source_ip: Some(addr.into()),
                        user: Some("root".into()),
                        json: serde_json::json!({"event": {"original": format!("{host} sshd: Failed password for root from {addr}")}})
                            .to_string(),
                    },
                })
                .collect();
            items.push(FleetItem::Alert {
                seq: 4,
                alert: NewAlert {
                    time: t - 20,
                    rule_id: "fleet-bruteforce".into(),
                    severity: 4,
                    host: Some(logward_store::FLEET_HOST.into()),
                    source_address: Some(addr.into()),
                    user: None,
                    json: serde_json::json!({"message": "fleet brute force"}).to_string(),
                    dns: None,
                },
                plan: logward_store::AlertPlan::default(),
            });
            s.ingest("seed", t, &items).unwrap();
        })
        .await
        .unwrap();
        let notified = dir.path().join("notified.ndjson");
        let run = common::collector(
            dir.path(),
            &format!(
                "{}notify:\n  notifiers:\n    log: {{type: file, path: {}}}\n  routes:\n    - {{notifiers: [log]}}\n",
                store.yaml(),
                notified.display()
            ),
        )
        .await;
        let op = Operator::new(&run).await;

        // An agent forwards an account creation: root created the account `mallory`.
        let agent = common::Agent::enrol(&run).await;
        let mut e = Event::new(Dataset::Shadow, Action::UserCreated, Outcome::Success);
        e.user_name = Some("root".into());
        e.user_target_name = Some("mallory".into());
        e.original = Some("useradd[812]: new user: name=mallory, UID=1001".into());
        let a = Alert::new(
            e,
            "account-created",
            "User created",
            Severity::Medium,
            "mallory",
        );
        let mut line = Vec::new();
        write_alert(&mut line, &a);
        let body = format!(
            "{{\"seq\":1,\"alert\":{}}}\n",
            String::from_utf8(line).unwrap()
        );
        assert_eq!(agent.events(body).await["accepted"], 1);

        let list = op.get("/v1/alerts").await;
        let find = |rule: &str| {
            list["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["rule_id"] == rule)
                .unwrap_or_else(|| panic!("no {rule} in {list}"))["id"]
                .as_i64()
                .unwrap()
        };
        let (fleet_id, account_id) = (find("fleet-bruteforce"), find("account-created"));

        let fleet = op.get(&format!("/v1/alerts/{fleet_id}")).await;
        let mut hosts: Vec<&str> = fleet["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["host"].as_str())
            .collect();
        hosts.sort_unstable();
        assert_eq!(hosts, ["db01", "mail01", "web01"], "{fleet}");

        // Sent at the first try: one attempt, none failed.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let account = loop {
            let v = op.get(&format!("/v1/alerts/{account_id}")).await;
            if v["deliveries"][0]["state"] == "sent" {
                break v;
            }
            assert!(std::time::Instant::now() < deadline, "never sent: {v}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        assert_eq!(account["alert"]["target_user"], "mallory", "{account}");
        assert_eq!(account["alert"]["user"], "root");
        let d = &account["deliveries"][0];
        assert_eq!(
            (d["attempts"].as_i64(), d["failed_attempts"].as_i64()),
            (Some(1), Some(0))
        );

        // A ban with no length is refused; `permanent: true` or a duration is explicit.
        let ban = |body: &'static str| op.post("/v1/bans", body);
        let r = ban(r#"{"target":"192.0.2.90","reason":"forgot the duration"}"#).await;
        assert_eq!(r.status(), 400);
        assert!(r.text().await.unwrap().contains("permanent"));
        let r = ban(r#"{"target":"192.0.2.90","duration_secs":60,"permanent":true,"reason":"x"}"#).await;
        assert_eq!(r.status(), 400);
        let bans = op.get("/v1/bans").await;
        assert!(bans["bans"].as_array().unwrap().is_empty(), "{bans}");
        let r = ban(r#"{"target":"192.0.2.90","permanent":true,"reason":"meant it"}"#).await;
        assert_eq!(r.status(), 201);
        let r = ban(r#"{"target":"192.0.2.91","duration_secs":600,"reason":"an hour"}"#).await;
        assert_eq!(r.status(), 201);
        let bans = op.get("/v1/bans").await;
        let expiry = |target: &str| {
            bans["bans"]
                .as_array()
                .unwrap()
                .iter()
                .find(|b| b["target"] == target)
                .unwrap()["expires_at"]
                .clone()
        };
        assert!(expiry("192.0.2.90").is_null());
        assert!(expiry("192.0.2.91").is_i64());
        run.stop().await;
        drop(store);
    }
}

on_both! {
    /// Issue 16: a Windows alert and its event, forwarded through the signed ingest, come back
    /// from the API with their `winlog.*` fields, logon type, workstation, the account acted on
    /// and the Event XML as it was read; an oversized EventData value is cut like every other
    /// field.
    async fn windows_alerts_keep_their_winlog_fields_and_event_xml(b: Backend) {
        use logward_core::{
            write_alert, Action, Alert, Dataset, Event, Outcome, Severity, Timestamp, Winlog,
        };
        let dir = tempfile::tempdir().unwrap();
        let Some(store) = TestStore::on(b) else { return };
        let run = common::collector(
            dir.path(),
            &format!("{}limits: {{field_bytes: 1024}}\n", store.yaml()),
        )
        .await;
        let op = Operator::new(&run).await;
        let t = common::now();
        let xml = "<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"><System><EventID>4625</EventID><Channel>Security</Channel><Computer>DC01</Computer></System><EventData><Data Name=\"TargetUserName\">administrator</Data><Data Name=\"WorkstationName\">&lt;script&gt;alert(1)&lt;/script&gt;</Data></EventData></Event>";
        // A failed network logon from KALI at 203.0.113.50, as the Windows mapping makes it.
        let event = |id: u32, at: i64| {
            let logon = id == 4625;
            let mut e = if logon {
                Event::new(
                    Dataset::WindowsSecurity,
                    Action::UserLogin,
                    Outcome::Failure,
                )
            } else {
                Event::new(
                    Dataset::WindowsSecurity,
                    Action::UserCreated,
                    Outcome::Success,
                )
            };
            e.timestamp = Some(Timestamp::from_unix_micros(at * 1_000_000));
            e.host_name = Some("DC01".into());
            let mut data = vec![
                ("SubjectUserName".into(), "alice".into()),
                ("TargetUserName".into(), "mallory".into()),
            ];
            if logon {
                e.user_name = Some("administrator".into());
                e.set_source("203.0.113.50".into(), Some(49812));
                data = vec![
                    ("TargetUserName".into(), "administrator".into()),
                    ("LogonType".into(), "3".into()),
                    ("WorkstationName".into(), "KALI".into()),
                    ("IpAddress".into(), "203.0.113.50".into()),
                    ("ProcessName".into(), "x".repeat(5000).into()),
                ];
            } else {
                e.user_name = Some("alice".into());
                e.user_target_name = Some("mallory".into());
            }
            e.original = Some(xml.replace("4625", &id.to_string()).into());
            e.winlog = Some(Box::new(Winlog {
                channel: "Security".into(),
                event_id: id,
                provider_name: "Microsoft-Windows-Security-Auditing".into(),
                computer_name: "DC01".into(),
                record_id: Some(u64::from(id)),
                logon_type: logon.then_some("network"),
                event_data: data,
            }));
            e
        };
        let mut body = common::event_line(1, &event(4625, t - 10));
        for (seq, id, rule) in [
            (2, 4625, "windows-bruteforce"),
            (3, 4720, "account-created"),
        ] {
            let a = Alert::new(event(id, t - 5), rule, rule, Severity::High, "m");
            let mut out = Vec::new();
            write_alert(&mut out, &a);
            body.push_str(&format!(
                "{{\"seq\":{seq},\"alert\":{}}}\n",
                String::from_utf8(out).unwrap()
            ));
        }
        body.push_str(&common::alert_line(
            4,
            "ssh-bruteforce",
            Severity::High,
            "198.51.100.1",
            "root",
        ));
        let agent = common::Agent::enrol(&run).await;
        assert_eq!(agent.events(body).await["accepted"], 4);

        let list = op.get("/v1/alerts").await;
        let alerts = list["alerts"].as_array().unwrap();
        let of = |rule: &str| {
            alerts
                .iter()
                .find(|a| a["rule_id"] == rule)
                .unwrap()
                .clone()
        };
        let logon = of("windows-bruteforce");
        assert_eq!(logon["winlog"]["channel"], "Security");
        assert_eq!(logon["winlog"]["event_id"], "4625");
        assert_eq!(logon["winlog"]["computer_name"], "DC01");
        assert_eq!(logon["winlog"]["event_data"]["IpAddress"], "203.0.113.50");
        assert_eq!(logon["logon_type"], "network");
        assert_eq!(logon["workstation"], "KALI");
        assert_eq!(logon["user"], "administrator");
        assert_eq!(logon["source_address"], "203.0.113.50");
        assert_eq!(logon["original"], xml);
        // The 5000-byte value was cut to the field cap, marked.
        let cut = logon["winlog"]["event_data"]["ProcessName"]
            .as_str()
            .unwrap();
        assert!(cut.len() <= 1024 && cut.ends_with("…[truncated]"), "{cut}");
        let created = of("account-created");
        assert_eq!(created["winlog"]["event_id"], "4720");
        assert_eq!(created["target_user"], "mallory");
        assert_eq!(created["user"], "alice");
        assert_eq!(created["logon_type"], Value::Null);
        assert_eq!(created["workstation"], Value::Null);
        // A Linux alert has none of them.
        let ssh = of("ssh-bruteforce");
        assert_eq!(ssh["winlog"], Value::Null);
        assert_eq!(ssh["logon_type"], Value::Null);

        // The alert page: the event behind it with its winlog fields and its XML.
        let d = op.get(&format!("/v1/alerts/{}", logon["id"])).await;
        assert_eq!(d["alert"]["winlog"]["event_id"], "4625");
        let events = d["events"].as_array().unwrap();
        assert_eq!(events.len(), 1, "{d}");
        let e = &events[0];
        assert_eq!(e["winlog"]["event_id"], "4625");
        assert_eq!(e["winlog"]["event_data"]["WorkstationName"], "KALI");
        assert_eq!(e["logon_type"], "network");
        assert_eq!(e["workstation"], "KALI");
        assert_eq!(e["original"], xml);
    }
}
