//! Attacks on the dashboard login against the real collector on 127.0.0.1: cross-origin
//! logins, racing the failure limit, locking the operator out from another address, and a
//! removed operator's live session.
#![allow(clippy::unwrap_used)]

use logward_collector::config::{Config, Limits, TlsFiles};
use logward_collector::{add_user, open_store, start, Running, StoreAt, StoreConfig};
use logward_test_support::postgres::TestDb;
use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::redirect::Policy;

const PASSWORD: &str = "a long passphrase";

struct Fixture {
    _dir: tempfile::TempDir,
    // Dropped after `run` (fields drop in order): the database goes with its connections.
    _db: Option<TestDb>,
    /// The collector's store, for what the CLI does to it.
    at: StoreAt,
    run: Running,
    base: String,
    client: reqwest::Client,
}

/// The real collector with operator `alice`; `tls`: over HTTPS (HTTP/2 by ALPN).
async fn fixture(tls: bool, limits: Limits) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let at = StoreAt::from(&dir.path().join("state"));
    fixture_at(dir, None, at, tls, limits).await
}

/// [`fixture`] on a PostgreSQL database of its own; `None` without the test cluster.
async fn fixture_on_postgres(tls: bool, limits: Limits) -> Option<Fixture> {
    let db = TestDb::create()?;
    let dir = tempfile::tempdir().unwrap();
    let at = StoreAt {
        state_dir: dir.path().join("state"),
        store: StoreConfig::Postgres {
            url: db.url().to_owned(),
            password: None,
            ca_file: None,
        },
    };
    Some(fixture_at(dir, Some(db), at, tls, limits).await)
}

async fn fixture_at(
    dir: tempfile::TempDir,
    db: Option<TestDb>,
    at: StoreAt,
    tls: bool,
    limits: Limits,
) -> Fixture {
    // Off the async runtime, as the CLI would (PostgreSQL's client blocks).
    let a = at.clone();
    tokio::task::spawn_blocking(move || add_user(a, "alice", PASSWORD, 1).unwrap())
        .await
        .unwrap();
    let tls = tls.then(|| {
        let (cert, key) =
            logward_collector::gen_cert(&dir.path().join("tls"), &["127.0.0.1".into()]).unwrap();
        TlsFiles { cert, key }
    });
    let scheme = if tls.is_some() { "https" } else { "http" };
    let run = start(Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        state_dir: at.state_dir.clone(),
        store: at.store.clone(),
        tls,
        limits,
        ..Config::default()
    })
    .await
    .unwrap();
    let base = format!("{scheme}://{}", run.addr);
    Fixture {
        _dir: dir,
        _db: db,
        at,
        run,
        base,
        client: client(),
    }
}

fn client() -> reqwest::Client {
    client_from("127.0.0.1")
}

/// A client whose connections come from `addr` (any 127/8 address is loopback on Linux).
fn client_from(addr: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(addr.parse::<std::net::IpAddr>().unwrap())
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
        self.login_from(&self.client, headers, password).await
    }

    async fn login_from(
        &self,
        client: &reqwest::Client,
        headers: &[(&str, &str)],
        password: &str,
    ) -> reqwest::Response {
        let mut r = client
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

fn limits(login_failures: u32) -> Limits {
    Limits {
        login_failures,
        ..Limits::default()
    }
}

fn cookie_of(r: &reqwest::Response) -> String {
    let set = r.headers()[SET_COOKIE].to_str().unwrap();
    set.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn login_limiter_race_60_parallel_guesses_check_no_password_past_the_limit() {
    let f = fixture(false, limits(5)).await;
    // 60 wrong guesses and the right password, all at once from one address.
    let mut guesses: Vec<_> = (0..60)
        .map(|i| f.login_with(&[], if i == 30 { PASSWORD } else { "wrong guess" }))
        .collect();
    guesses.push(f.login_with(&[], PASSWORD));
    let statuses: Vec<u16> = join_all(guesses)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    let checked = statuses.iter().filter(|s| [401, 303].contains(s)).count();
    assert!(
        checked <= 5,
        "at most the limit of passwords are checked: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| [401, 303, 429, 503].contains(s)),
        "{statuses:?}"
    );
    assert!(statuses.contains(&429), "{statuses:?}");
    let limiter = &f.run.state.login_limiter;
    assert!(
        limiter.peak_checks() <= limiter.max_checks(),
        "argon2 checks at once: {} > {}",
        limiter.peak_checks(),
        limiter.max_checks()
    );
    // Whatever got through, the address is now over its limit: the right password is refused.
    if !statuses.contains(&303) {
        assert_eq!(f.login_with(&[], PASSWORD).await.status(), 429);
    }
    f.run.stop().await;
}

/// Polls the futures together on this task (no `futures` crate); their outputs in order.
async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, o) in futures.iter_mut().zip(out.iter_mut()) {
            if o.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *o = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|o| o.unwrap()).collect()
}

#[tokio::test]
async fn login_flood_of_200_from_many_addresses_runs_at_most_one_argon2_check_per_core() {
    let f = fixture(false, limits(5)).await;
    // 40 addresses × 5 unknown names: no address or name is over its limit, so only the
    // bound on password checks stands between the flood and 200 × 19 MiB of argon2.
    let clients: Vec<reqwest::Client> = (0..40)
        .map(|i| client_from(&format!("127.0.1.{}", i + 1)))
        .collect();
    let base = f.base.clone();
    let flood = (0..200).map(|i| {
        let c = clients[i % 40].clone();
        let url = format!("{base}/login");
        async move {
            c.post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form(&format!("user{i}"), "wrong guess"))
                .send()
                .await
                .unwrap()
        }
    });
    let statuses: Vec<u16> = join_all(flood.collect())
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert!(
        statuses.iter().all(|s| [401, 503].contains(s)),
        "{statuses:?}"
    );
    let limiter = &f.run.state.login_limiter;
    assert!(limiter.peak_checks() <= limiter.max_checks());
    assert!(
        statuses.contains(&503),
        "a flood beyond the queue is refused at once: {statuses:?}"
    );
    // The flood is over: the operator logs in.
    assert_eq!(f.login_with(&[], PASSWORD).await.status(), 303);
    f.run.stop().await;
}

#[tokio::test]
async fn lockout_dos_an_attacker_address_cannot_lock_the_operator_out() {
    let f = fixture(false, limits(5)).await;
    let attacker = client_from("127.0.0.2");
    let mut statuses = Vec::new();
    for _ in 0..20 {
        statuses.push(
            f.login_from(&attacker, &[], "wrong guess")
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses[..5], [401; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    // Even the right password from the attacker's address is refused now…
    assert_eq!(f.login_from(&attacker, &[], PASSWORD).await.status(), 429);
    // … but the operator, elsewhere, logs in (after at most the name's short delay).
    let r = f.login_with(&[], PASSWORD).await;
    assert_eq!(r.status(), 303);
    f.run.stop().await;
}

#[tokio::test]
async fn removed_operator_keeps_no_live_session() {
    removed_operator_keeps_no_live_session_on(fixture(false, Limits::default()).await).await;
}

#[tokio::test]
async fn removed_operator_keeps_no_live_session_postgres() {
    if let Some(f) = fixture_on_postgres(false, Limits::default()).await {
        removed_operator_keeps_no_live_session_on(f).await;
    }
}

async fn removed_operator_keeps_no_live_session_on(f: Fixture) {
    // `logward collector user add|remove` from another process: the same store calls, off
    // the async runtime as the CLI is.
    let cli = |job: fn(StoreAt) -> bool| {
        let at = f.at.clone();
        async move { tokio::task::spawn_blocking(move || job(at)).await.unwrap() }
    };
    cli(|at| add_user(at, "bob", PASSWORD, 1).unwrap()).await;
    let login = |user: &'static str| {
        let c = f.client.clone();
        let url = format!("{}/login", f.base);
        async move {
            let r = c
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form(user, PASSWORD))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 303);
            cookie_of(&r)
        }
    };
    let session = |cookie: String| {
        let c = f.client.clone();
        let url = format!("{}/v1/session", f.base);
        async move {
            c.get(url)
                .header(COOKIE, cookie)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let alice = login("alice").await;
    let bob = login("bob").await;
    assert_eq!(session(alice.clone()).await, 200);
    assert!(cli(|at| open_store(at).unwrap().remove_operator("alice").unwrap()).await);
    assert_eq!(
        session(alice.clone()).await,
        401,
        "removed: the session is over"
    );
    let r = f
        .client
        .get(format!("{}/ui/", f.base))
        .header(COOKIE, &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        303,
        "the dashboard sends them to the login page"
    );
    // Re-adding the name does not bring the old session back.
    cli(|at| add_user(at, "alice", PASSWORD, 2).unwrap()).await;
    assert_eq!(session(alice).await, 401);
    // A password change ends the sessions of that operator only.
    assert_eq!(session(bob.clone()).await, 200);
    cli(|at| add_user(at, "bob", "another long passphrase", 3).unwrap()).await;
    assert_eq!(session(bob).await, 401);
    f.run.stop().await;
}
