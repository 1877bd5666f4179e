//! The operators' side of the collector (docs/DASHBOARD.md): the login page and sessions,
//! the REST JSON API under /v1 (session or bearer token), the OpenAPI document, and the
//! dashboard's static files, embedded in the binary.

// A handler's refusal is its HTTP response, carried as the `Err` of the checks it runs.
#![allow(clippy::result_large_err)]

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use cookie::{Cookie, SameSite};
use logward_core::{BanTarget, Severity, Timestamp};
use logward_store::{AlertFilter, CollectorStore, DecisionSelector, NewDecision, StoredAlert};
use serde_json::{json, Value};

use crate::auth::{self, constant_time_eq, CSRF_HEADER, SESSION_COOKIE};
use crate::metrics::AuthFailure;
use crate::server::AppState;
use crate::sha256_hex;

/// The client's address, added to every request by the accept loop.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// The dashboard's files.
const INDEX_HTML: &str = include_str!("dashboard/index.html");
const LOGIN_HTML: &str = include_str!("dashboard/login.html");
const APP_JS: &str = include_str!("dashboard/app.js");
const APP_CSS: &str = include_str!("dashboard/app.css");

/// Every page and answer of the operators' side carries this policy: nothing from another
/// origin, no inline script or style, no framing.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

/// Default and largest page of `GET /v1/alerts`.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 500;
/// Entries per ranking of `GET /v1/stats`.
const TOP: usize = 10;

use crate::unix_now as now;

/// One route: path, method, handler. The router is built from this table, and the OpenAPI
/// test checks the document against it.
pub type Route = (&'static str, Method, MethodRouter<Arc<AppState>>);

/// The operators' routes (the agents' are in `server::router`).
pub fn routes() -> Vec<Route> {
    vec![
        ("/", Method::GET, get(root)),
        ("/login", Method::GET, get(login_page)),
        ("/login", Method::POST, post(login)),
        ("/logout", Method::POST, post(logout)),
        ("/ui/", Method::GET, get(index)),
        ("/ui/app.js", Method::GET, get(app_js)),
        ("/ui/app.css", Method::GET, get(app_css)),
        ("/v1/openapi.json", Method::GET, get(openapi)),
        ("/v1/session", Method::GET, get(session)),
        ("/v1/alerts", Method::GET, get(alerts)),
        ("/v1/alerts/{id}", Method::GET, get(alert)),
        ("/v1/stats", Method::GET, get(stats)),
        ("/v1/dns/stats", Method::GET, get(crate::dns_api::dns_stats)),
        ("/v1/dns/hits", Method::GET, get(crate::dns_api::dns_hits)),
        ("/v1/agents", Method::GET, get(agents)),
        ("/v1/bans", Method::GET, get(bans)),
        ("/v1/bans", Method::POST, post(add_ban)),
        (
            "/v1/bans/{id}",
            Method::DELETE,
            axum::routing::delete(lift_ban),
        ),
    ]
}

/// Security headers on every answer.
pub async fn headers(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // `same-origin`, not `no-referrer`: under `no-referrer` browsers send `Origin: null` with
    // a form POST, and the login's Origin check (rightly) refuses that. Other sites still get
    // no referrer at all.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    r
}

pub(crate) fn json_reply(
    state: &AppState,
    ep: &'static str,
    status: StatusCode,
    body: Value,
) -> Response {
    state.metrics.request(ep, status.as_u16());
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.to_string(),
    )
        .into_response()
}

pub(crate) fn bad(state: &AppState, ep: &'static str, status: StatusCode, msg: &str) -> Response {
    json_reply(state, ep, status, json!({ "error": msg }))
}

fn html(state: &AppState, ep: &'static str, status: StatusCode, text: String) -> Response {
    state.metrics.request(ep, status.as_u16());
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}

fn redirect(state: &AppState, ep: &'static str, to: &'static str) -> Response {
    state.metrics.request(ep, 303);
    (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
}

fn asset(
    state: &AppState,
    ep: &'static str,
    content_type: &'static str,
    text: &'static str,
) -> Response {
    state.metrics.request(ep, 200);
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        text,
    )
        .into_response()
}

/// Who is asking.
#[derive(Clone)]
pub(crate) enum Operator {
    /// A dashboard session (its cookie value and CSRF token).
    Session {
        user: String,
        csrf: String,
        cookie: String,
    },
    /// An API bearer token (by its name).
    Token { name: String },
}

impl std::fmt::Debug for Operator {
    /// The cookie and CSRF token are redacted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Operator::Session { user, .. } => write!(f, "Session({user})"),
            Operator::Token { name } => write!(f, "Token({name})"),
        }
    }
}

impl Operator {
    fn name(&self) -> &str {
        match self {
            Operator::Session { user, .. } => user,
            Operator::Token { name } => name,
        }
    }
}

/// The value of cookie `name` in the request's `Cookie:` headers.
fn cookie(h: &HeaderMap, name: &str) -> Option<String> {
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

/// The session or bearer token of a request, or why there is none.
async fn identify(state: &AppState, h: &HeaderMap) -> Result<Operator, AuthFailure> {
    if let Some(v) = h.get(header::AUTHORIZATION) {
        let token = v
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or(AuthFailure::BadApiToken)?;
        let digest = sha256_hex(token.as_bytes());
        let d = digest.clone();
        let t = now();
        let found = state
            .store
            .call(move |s| s.use_api_token(&d, t))
            .await
            .map_err(|_| AuthFailure::BadApiToken)?
            .map_err(|_| AuthFailure::BadApiToken)?;
        return match found {
            Some((tok, stored)) if constant_time_eq(stored.as_bytes(), digest.as_bytes()) => {
                Ok(Operator::Token { name: tok.name })
            }
            _ => Err(AuthFailure::BadApiToken),
        };
    }
    let c = cookie(h, SESSION_COOKIE).ok_or(AuthFailure::NoSession)?;
    let s = auth::live_session(state, &c)
        .await
        .ok_or(AuthFailure::NoSession)?;
    Ok(Operator::Session {
        user: s.user,
        csrf: s.csrf,
        cookie: c,
    })
}

/// An authenticated API request, or its 401.
pub(crate) async fn api_auth(
    state: &AppState,
    ep: &'static str,
    h: &HeaderMap,
) -> Result<Operator, Response> {
    identify(state, h).await.map_err(|why| {
        state.metrics.auth_failure(why);
        let mut r = bad(
            state,
            ep,
            StatusCode::UNAUTHORIZED,
            "log in (session cookie) or send `Authorization: Bearer <token>`",
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"logward\""),
        );
        r
    })
}

/// A state-changing request made with a session must carry the session's CSRF token (in the
/// header, or the `csrf` form field), and come from this origin when the browser says
/// where it comes from; a bearer token is never sent by a browser on its own.
fn csrf_ok(op: &Operator, uri: &Uri, h: &HeaderMap, form: Option<&str>) -> bool {
    match op {
        Operator::Token { .. } => true,
        Operator::Session { csrf, .. } => {
            // The request's authority, not `Host`: HTTP/2 browsers send no `Host` header.
            if !crate::origin::same_origin(uri, h) {
                return false;
            }
            let sent = h.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).or(form);
            sent.is_some_and(|s| constant_time_eq(s.as_bytes(), csrf.as_bytes()))
        }
    }
}

/// [`csrf_ok`], or the refusal counted and answered: 403 with `refusal`, which says where
/// the token was wanted (the form's field or the header).
fn csrf_guard(
    state: &AppState,
    ep: &'static str,
    op: &Operator,
    uri: &Uri,
    h: &HeaderMap,
    form: Option<&str>,
    refusal: &str,
) -> Result<(), Response> {
    if csrf_ok(op, uri, h, form) {
        return Ok(());
    }
    state.metrics.auth_failure(AuthFailure::BadCsrf);
    Err(bad(state, ep, StatusCode::FORBIDDEN, refusal))
}

/// An operator allowed to change state: [`api_auth`], then [`csrf_ok`] with the token in
/// the `X-CSRF-Token` header (the API's changes take no form).
async fn api_auth_to_change(
    state: &AppState,
    ep: &'static str,
    uri: &Uri,
    h: &HeaderMap,
) -> Result<Operator, Response> {
    let op = api_auth(state, ep, h).await?;
    let refusal = "missing or wrong X-CSRF-Token header";
    csrf_guard(state, ep, &op, uri, h, None, refusal)?;
    Ok(op)
}

/// `a=b&c=d` (query string or form body), percent- and `+`-decoded by the WHATWG
/// `application/x-www-form-urlencoded` parser. It decodes bytes that are not UTF-8 as U+FFFD,
/// so a pair holding one is refused: no parameter of the API or the forms holds that character.
pub fn parse_pairs(q: &str) -> Result<Vec<(String, String)>, String> {
    form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| {
            if k.contains('\u{FFFD}') || v.contains('\u{FFFD}') {
                return Err(format!("parameter {k:?} is not UTF-8 once decoded"));
            }
            Ok((k.into_owned(), v.into_owned()))
        })
        .collect()
}

/// Query parameters, refusing unknown and repeated ones.
pub(crate) fn query(
    req_query: Option<&str>,
    allowed: &[&str],
) -> Result<Vec<(String, String)>, String> {
    let pairs = parse_pairs(req_query.unwrap_or(""))?;
    for (i, (k, _)) in pairs.iter().enumerate() {
        if !allowed.contains(&k.as_str()) {
            return Err(format!(
                "unknown parameter `{k}` (expected one of: {})",
                allowed.join(", ")
            ));
        }
        if pairs[..i].iter().any(|(k2, _)| k2 == k) {
            return Err(format!("parameter `{k}` given twice"));
        }
    }
    Ok(pairs)
}

/// A time parameter: Unix seconds or RFC 3339.
pub(crate) fn parse_time(name: &str, v: &str) -> Result<i64, String> {
    if let Ok(n) = v.parse::<i64>() {
        return Ok(n);
    }
    match Timestamp::parse_rfc3339(v.as_bytes()) {
        Some((t, n)) if n == v.len() => Ok(t.unix),
        _ => Err(format!(
            "{name}: {v:?} is neither Unix seconds nor an RFC 3339 time"
        )),
    }
}

/// `since` and `until` of a figures request (default: the last `default_span` seconds up to
/// now), `since` before `until`.
pub(crate) fn time_range(q: Option<&str>, default_span: i64) -> Result<(i64, i64), String> {
    let t = now();
    let (mut since, mut until) = (t - default_span, t + 1);
    for (k, v) in &query(q, &["since", "until"])? {
        match k.as_str() {
            "since" => since = parse_time(k, v)?,
            _ => until = parse_time(k, v)?,
        }
    }
    if since >= until {
        return Err("since: must be before until".into());
    }
    Ok((since, until))
}

pub(crate) fn non_empty(name: &str, v: &str) -> Result<String, String> {
    if v.is_empty() || v.len() > 256 {
        Err(format!("{name}: must be 1 to 256 characters"))
    } else {
        Ok(v.to_owned())
    }
}

/// The filter and page size of `GET /v1/alerts`.
pub fn alert_filter(q: Option<&str>) -> Result<(AlertFilter, usize), String> {
    let pairs = query(
        q,
        &[
            "since", "until", "host", "severity", "rule", "user", "address", "before", "limit",
        ],
    )?;
    let mut f = AlertFilter::default();
    let mut limit = DEFAULT_LIMIT;
    for (k, v) in &pairs {
        match k.as_str() {
            "since" => f.since = Some(parse_time(k, v)?),
            "until" => f.until = Some(parse_time(k, v)?),
            "host" => f.host = Some(non_empty(k, v)?),
            "rule" => f.rule = Some(non_empty(k, v)?),
            "user" => f.user = Some(non_empty(k, v)?),
            "address" => f.address = Some(non_empty(k, v)?),
            "severity" => {
                f.min_severity = Some(
                    Severity::parse(v)
                        .ok_or_else(|| {
                            format!(
                                "severity: {v:?} is not 1-5 or info, low, medium, high, critical"
                            )
                        })?
                        .code(),
                )
            }
            "before" => {
                f.before = Some(
                    v.parse::<i64>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| format!("before: {v:?} is not a positive alert id"))?,
                )
            }
            "limit" => {
                limit = v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| format!("limit: {v:?} is not a number from 1 to {MAX_LIMIT}"))?
            }
            _ => {}
        }
    }
    if let (Some(s), Some(u)) = (f.since, f.until) {
        if s >= u {
            return Err("since: must be before until".into());
        }
    }
    Ok((f, limit))
}

fn alert_json(a: &StoredAlert) -> Value {
    let parsed: Value = serde_json::from_str(&a.alert.json).unwrap_or(Value::Null);
    let message = parsed
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let original = parsed
        .get("event")
        .and_then(|e| e.get("original"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    // The agent that sent it (`agent.id`), or for a fleet alert the one whose event
    // completed the rule.
    let agent = parsed
        .get("agent")
        .and_then(|g| g.get("id"))
        .or_else(|| parsed.get("labels").and_then(|l| l.get("event_agent")))
        .and_then(Value::as_str)
        .map(str::to_owned);
    // Account and group changes name the account acted on as `user.target.name`.
    let target_user = parsed
        .pointer("/user/target/name")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let (winlog, logon_type, workstation) = windows_fields(&parsed);
    json!({
        "id": a.id,
        "time": a.alert.time,
        "rule_id": a.alert.rule_id,
        "severity": a.alert.severity,
        "severity_name": Severity::from_code(a.alert.severity).map(Severity::as_str),
        "host": a.alert.host,
        "agent_id": agent,
        "source_address": a.alert.source_address,
        "user": a.alert.user,
        "target_user": target_user,
        "message": message,
        "original": original,
        "winlog": winlog,
        "logon_type": logon_type,
        "workstation": workstation,
        "alert": parsed,
    })
}

/// A Windows event's own fields, for the list and the alert page: `winlog` as stored (channel,
/// event id, `event_data` …), the logon type word and the workstation the logon came from
/// (4624/4625's WorkstationName, 4776's Workstation). All `null` for other events.
fn windows_fields(parsed: &Value) -> (Value, Value, Value) {
    let Some(winlog) = parsed.get("winlog") else {
        return (Value::Null, Value::Null, Value::Null);
    };
    let logon_type = parsed
        .pointer("/logward/windows/logon_type")
        .cloned()
        .unwrap_or(Value::Null);
    let workstation = ["WorkstationName", "Workstation"]
        .iter()
        .filter_map(|k| winlog.get("event_data")?.get(k)?.as_str())
        .find(|v| !v.trim().is_empty() && v.trim() != "-")
        .map_or(Value::Null, |v| Value::from(v.trim()));
    (winlog.clone(), logon_type, workstation)
}

pub(crate) fn store_error(state: &AppState, ep: &'static str) -> Response {
    bad(
        state,
        ep,
        StatusCode::SERVICE_UNAVAILABLE,
        "store error, retry later",
    )
}

async fn root(State(state): State<Arc<AppState>>) -> Response {
    redirect(&state, "ui", "/ui/")
}

async fn index(State(state): State<Arc<AppState>>, h: HeaderMap) -> Response {
    match identify(&state, &h).await {
        Ok(_) => html(&state, "ui", StatusCode::OK, INDEX_HTML.to_owned()),
        Err(_) => redirect(&state, "ui", "/login"),
    }
}

async fn app_js(State(state): State<Arc<AppState>>) -> Response {
    asset(&state, "ui", "text/javascript; charset=utf-8", APP_JS)
}

async fn app_css(State(state): State<Arc<AppState>>) -> Response {
    asset(&state, "ui", "text/css; charset=utf-8", APP_CSS)
}

fn login_with(state: &AppState, status: StatusCode, message: &str) -> Response {
    let note = if message.is_empty() {
        String::new()
    } else {
        format!("<p class=\"error\" id=\"login-error\">{message}</p>")
    };
    html(
        state,
        "login",
        status,
        LOGIN_HTML.replace("<!--message-->", &note),
    )
}

async fn login_page(State(state): State<Arc<AppState>>) -> Response {
    login_with(&state, StatusCode::OK, "")
}

async fn login(State(state): State<Arc<AppState>>, req: Request) -> Response {
    const EP: &str = "login";
    let ip: Option<IpAddr> = req.extensions().get::<Peer>().map(|p| p.0.ip());
    // A login form posted from another site must not hand that site's victim a session.
    if !crate::origin::same_origin(req.uri(), req.headers())
        || !crate::origin::fetch_site_ok(req.headers())
    {
        state.metrics.auth_failure(AuthFailure::BadCsrf);
        return login_with(&state, StatusCode::FORBIDDEN, "Cross-origin login refused.");
    }
    let body = match axum::body::to_bytes(req.into_body(), 8192).await {
        Ok(b) => b,
        Err(_) => return login_with(&state, StatusCode::PAYLOAD_TOO_LARGE, "Form too large."),
    };
    let pairs = std::str::from_utf8(&body)
        .map_err(|_| ())
        .and_then(|s| parse_pairs(s).map_err(|_| ()))
        .unwrap_or_default();
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let (user, password) = (field("user"), field("password"));
    if !auth::valid_user_name(&user) || password.is_empty() || password.len() > 1024 {
        state.metrics.auth_failure(AuthFailure::LoginFailed);
        return login_with(
            &state,
            StatusCode::UNAUTHORIZED,
            "Wrong user name or password.",
        );
    }
    // Counted before the password is checked, so concurrent guesses cannot outrun the limit.
    let attempt = match state.login_limiter.begin(ip, &user) {
        Ok(a) => a,
        Err(refused) => return login_refused(&state, refused),
    };
    if !attempt.delay.is_zero() {
        tokio::time::sleep(attempt.delay).await;
    }
    let u = user.clone();
    let phc = match state.store.call(move |s| s.operator_password(&u)).await {
        Ok(Ok(p)) => p,
        _ => {
            attempt.cancel();
            return login_with(&state, StatusCode::SERVICE_UNAVAILABLE, "Store error.");
        }
    };
    let ok = match state.login_limiter.verify(phc.clone(), password).await {
        Ok(ok) => ok,
        Err(refused) => {
            attempt.cancel();
            return login_refused(&state, refused);
        }
    };
    let phc = match (ok, phc) {
        (true, Some(phc)) => phc,
        _ => {
            // The attempt stays counted as a failure.
            drop(attempt);
            state.metrics.auth_failure(AuthFailure::LoginFailed);
            tracing::info!(user = %user, peer = ?ip, "dashboard login failed");
            return login_with(
                &state,
                StatusCode::UNAUTHORIZED,
                "Wrong user name or password.",
            );
        }
    };
    attempt.succeeded();
    state.metrics.logins.fetch_add(1, Relaxed);
    tracing::info!(user = %user, "dashboard login");
    let ttl = Duration::from_secs(state.config.limits.session_secs);
    let (id, _) = state.sessions.create(&user, &phc, ttl);
    let cookie = session_cookie(id, ttl).secure(state.config.tls.is_some());
    let mut r = redirect(&state, EP, "/ui/");
    if let Ok(v) = HeaderValue::from_str(&cookie.to_string()) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// The session cookie: sent back only to this site (`SameSite=Strict`), never readable by
/// scripts (`HttpOnly`); `Secure` is added when the collector serves TLS.
fn session_cookie(value: String, ttl: Duration) -> cookie::CookieBuilder<'static> {
    let max_age = cookie::time::Duration::seconds(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX));
    Cookie::build((SESSION_COOKIE, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(max_age)
}

/// The login answer when the limiter refuses: 429 for an address over its limit, 503 when
/// too many password checks are running; both with `Retry-After`.
fn login_refused(state: &AppState, refused: auth::Refused) -> Response {
    let (status, secs, message) = match refused {
        auth::Refused::Limited(secs) => {
            state.metrics.auth_failure(AuthFailure::LoginRateLimited);
            (
                StatusCode::TOO_MANY_REQUESTS,
                secs,
                format!("Too many failed logins: try again in {secs} s."),
            )
        }
        auth::Refused::Busy => {
            state.metrics.login_busy.fetch_add(1, Relaxed);
            (
                StatusCode::SERVICE_UNAVAILABLE,
                1,
                "Too many logins at once: try again in a moment.".to_owned(),
            )
        }
    };
    let mut r = login_with(state, status, &message);
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

async fn logout(State(state): State<Arc<AppState>>, req: Request) -> Response {
    const EP: &str = "logout";
    let (parts, body) = req.into_parts();
    let op = match identify(&state, &parts.headers).await {
        Ok(op @ Operator::Session { .. }) => op,
        _ => return redirect(&state, EP, "/login"),
    };
    let body = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let form = std::str::from_utf8(&body)
        .ok()
        .and_then(|s| parse_pairs(s).ok())
        .and_then(|p| p.into_iter().find(|(k, _)| k == "csrf").map(|(_, v)| v));
    let (sent, refusal) = (form.as_deref(), "missing or wrong CSRF token");
    if let Err(r) = csrf_guard(&state, EP, &op, &parts.uri, &parts.headers, sent, refusal) {
        return r;
    }
    if let Operator::Session { cookie, .. } = &op {
        state.sessions.remove(cookie);
    }
    let mut r = redirect(&state, EP, "/login");
    let expired = session_cookie(String::new(), Duration::ZERO).to_string();
    if let Ok(v) = HeaderValue::from_str(&expired) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

async fn openapi(State(state): State<Arc<AppState>>) -> Response {
    json_reply(
        &state,
        "openapi",
        StatusCode::OK,
        crate::openapi::document(),
    )
}

async fn session(State(state): State<Arc<AppState>>, h: HeaderMap) -> Response {
    const EP: &str = "session";
    let op = match api_auth(&state, EP, &h).await {
        Ok(op) => op,
        Err(r) => return r,
    };
    let (via, csrf) = match &op {
        Operator::Session { csrf, .. } => ("session", Some(csrf.clone())),
        Operator::Token { .. } => ("token", None),
    };
    json_reply(
        &state,
        EP,
        StatusCode::OK,
        json!({"user": op.name(), "via": via, "csrf": csrf}),
    )
}

async fn alerts(State(state): State<Arc<AppState>>, req: Request) -> Response {
    const EP: &str = "alerts";
    if let Err(r) = api_auth(&state, EP, req.headers()).await {
        return r;
    }
    let (filter, limit) = match alert_filter(req.uri().query()) {
        Ok(f) => f,
        Err(msg) => return bad(&state, EP, StatusCode::BAD_REQUEST, &msg),
    };
    match state
        .store
        .call(move |s| s.query_alerts(&filter, limit))
        .await
    {
        Ok(Ok(page)) => json_reply(
            &state,
            EP,
            StatusCode::OK,
            json!({
                "alerts": page.alerts.iter().map(alert_json).collect::<Vec<_>>(),
                "next": page.next,
            }),
        ),
        _ => store_error(&state, EP),
    }
}

async fn alert(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    h: HeaderMap,
) -> Response {
    const EP: &str = "alert";
    if let Err(r) = api_auth(&state, EP, &h).await {
        return r;
    }
    let Some(id) = id.parse::<i64>().ok().filter(|n| *n > 0) else {
        return bad(
            &state,
            EP,
            StatusCode::BAD_REQUEST,
            &format!("id: {id:?} is not a positive alert id"),
        );
    };
    let d = match state.store.call(move |s| s.alert_detail(id)).await {
        Ok(Ok(Some(d))) => d,
        Ok(Ok(None)) => return bad(&state, EP, StatusCode::NOT_FOUND, &format!("no alert {id}")),
        _ => return store_error(&state, EP),
    };
    let events: Vec<Value> = d
        .events
        .iter()
        .map(|e| {
            let parsed: Value = serde_json::from_str(&e.json).unwrap_or(Value::Null);
            let (winlog, logon_type, workstation) = windows_fields(&parsed);
            json!({
                "id": e.id, "agent_id": e.agent_id, "time": e.time, "host": e.host,
                "action": e.action, "outcome": e.outcome, "source_ip": e.source_ip,
                "user": e.user,
                "target_user": parsed.pointer("/user/target/name"),
                "original": parsed.get("event").and_then(|v| v.get("original")),
                "winlog": winlog, "logon_type": logon_type, "workstation": workstation,
                "event": parsed,
            })
        })
        .collect();
    let decisions: Vec<Value> = d.decisions.iter().map(decision_json).collect();
    let deliveries: Vec<Value> = d
        .deliveries
        .iter()
        .map(|x| {
            // The outbox counts failed sends; a sent row was tried once more than that.
            let tries = x.attempts + i64::from(x.state == "sent");
            json!({"sink": x.sink, "state": x.state, "attempts": tries,
                   "failed_attempts": x.attempts,
                   "last_error": x.last_error, "updated_at": x.updated_at})
        })
        .collect();
    let analysis = d.analysis.map(|a| {
        // An opinion from a model that read attacker-controlled log text: never a verdict.
        json!({"state": a.state.as_str(), "model": a.model, "text": a.text, "error": a.error,
               "requested_at": a.requested_at, "finished_at": a.finished_at, "advisory": true})
    });
    json_reply(
        &state,
        EP,
        StatusCode::OK,
        json!({
            "alert": alert_json(&d.alert),
            "events": events,
            "decisions": decisions,
            "deliveries": deliveries,
            "analysis": analysis,
        }),
    )
}

fn decision_json(d: &logward_store::Decision) -> Value {
    json!({
        "id": d.id, "target": d.target, "duration_secs": d.duration_secs, "reason": d.reason,
        "rule_id": d.rule_id, "created_at": d.created_at, "expires_at": d.expires_at,
        "alert_id": d.alert_id, "removed_at": d.removed_at, "lifted": d.lifted(),
    })
}

async fn stats(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let figures = |s: &mut dyn CollectorStore, since, until| s.alert_stats(since, until, TOP);
    let (h, q) = (req.headers(), req.uri().query());
    stats_reply(
        &state,
        "stats",
        h,
        q,
        86_400,
        figures,
        |since, until, st| {
            json!({
                "since": since, "until": until, "total": st.total,
                "per_hour": series_json(&st.per_hour, "hour"),
                "top_sources": counts_json(&st.top_sources),
                "top_users": counts_json(&st.top_users),
                "per_host": counts_json(&st.per_host),
                "per_severity": counts_json(&st.per_severity),
            })
        },
    )
    .await
}

/// A figures endpoint (`/v1/stats`, `/v1/dns/stats`): an operator's token or session, the
/// `since`/`until` window (the last `default_span` seconds unless given), `figures` from the
/// store and `render` of them.
pub(crate) async fn stats_reply<S, F>(
    state: &AppState,
    endpoint: &'static str,
    headers: &HeaderMap,
    q: Option<&str>,
    default_span: i64,
    figures: F,
    render: impl FnOnce(i64, i64, S) -> Value,
) -> Response
where
    S: Send + 'static,
    F: FnOnce(&mut dyn CollectorStore, i64, i64) -> logward_store::Result<S> + Send + 'static,
{
    if let Err(r) = api_auth(state, endpoint, headers).await {
        return r;
    }
    let (since, until) = match time_range(q, default_span) {
        Ok(r) => r,
        Err(msg) => return bad(state, endpoint, StatusCode::BAD_REQUEST, &msg),
    };
    match state.store.call(move |s| figures(s, since, until)).await {
        Ok(Ok(st)) => json_reply(state, endpoint, StatusCode::OK, render(since, until, st)),
        _ => store_error(state, endpoint),
    }
}

/// Top-N counts as the figures endpoints serve them: `[{"key", "count"}]`.
pub(crate) fn counts_json(v: &[logward_store::Count]) -> Vec<Value> {
    v.iter()
        .map(|c| json!({"key": c.key, "count": c.count}))
        .collect()
}

/// A time series as the figures endpoints serve it: `[{key: t, "count"}]`.
pub(crate) fn series_json(v: &[(i64, i64)], key: &str) -> Vec<Value> {
    v.iter().map(|(t, n)| json!({key: t, "count": n})).collect()
}

async fn agents(State(state): State<Arc<AppState>>, h: HeaderMap) -> Response {
    const EP: &str = "agents";
    if let Err(r) = api_auth(&state, EP, &h).await {
        return r;
    }
    let t = now();
    match state.store.call(|s| s.agents()).await {
        Ok(Ok(list)) => {
            let list: Vec<Value> = list
                .iter()
                .map(|a| {
                    let lag = match (a.spool_items, a.oldest_unsent) {
                        (Some(n), Some(o)) if n > 0 => Some((t - o).max(0)),
                        (Some(_), _) => Some(0),
                        _ => None,
                    };
                    json!({
                        "id": a.id, "host": a.host, "version": a.version,
                        "created_at": a.created_at, "last_seen": a.last_seen,
                        "seen_secs_ago": a.last_seen.map(|s| (t - s).max(0)),
                        "lag_secs": lag, "spool_items": a.spool_items,
                        "spool_bytes": a.spool_bytes, "last_seq": a.last_seq,
                        "revoked": a.revoked_at.is_some(),
                    })
                })
                .collect();
            json_reply(&state, EP, StatusCode::OK, json!({ "agents": list }))
        }
        _ => store_error(&state, EP),
    }
}

async fn bans(State(state): State<Arc<AppState>>, req: Request) -> Response {
    const EP: &str = "bans";
    if let Err(r) = api_auth(&state, EP, req.headers()).await {
        return r;
    }
    let active = match query(req.uri().query(), &["active"]) {
        Ok(p) => match p.first().map(|(_, v)| v.as_str()) {
            None | Some("false") => false,
            Some("true") => true,
            Some(v) => {
                return bad(
                    &state,
                    EP,
                    StatusCode::BAD_REQUEST,
                    &format!("active: {v:?} is not true or false"),
                )
            }
        },
        Err(msg) => return bad(&state, EP, StatusCode::BAD_REQUEST, &msg),
    };
    let t = now();
    match state
        .store
        .call(move |s| s.bans_list(active.then_some(t), 1000))
        .await
    {
        Ok(Ok(list)) => {
            let list: Vec<Value> = list
                .iter()
                .map(|d| {
                    let mut v = decision_json(d);
                    v["active"] = json!(d.in_force(t));
                    v
                })
                .collect();
            json_reply(&state, EP, StatusCode::OK, json!({ "bans": list }))
        }
        _ => store_error(&state, EP),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BanBody {
    target: String,
    #[serde(default)]
    duration_secs: Option<i64>,
    /// A ban without an end must be asked for: a forgotten duration is an error, not forever.
    #[serde(default)]
    permanent: bool,
    reason: String,
}

async fn add_ban(State(state): State<Arc<AppState>>, req: Request) -> Response {
    const EP: &str = "bans_add";
    let (parts, body) = req.into_parts();
    let op = match api_auth_to_change(&state, EP, &parts.uri, &parts.headers).await {
        Ok(op) => op,
        Err(r) => return r,
    };
    let Ok(body) = axum::body::to_bytes(body, 4096).await else {
        return bad(
            &state,
            EP,
            StatusCode::PAYLOAD_TOO_LARGE,
            "the body is over 4096 bytes",
        );
    };
    let b: BanBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return bad(
                &state,
                EP,
                StatusCode::BAD_REQUEST,
                &format!(
                    "expected {{\"target\", \"duration_secs\" or \"permanent\", \"reason\"}}: {e}"
                ),
            )
        }
    };
    let target = match BanTarget::parse(b.target.trim()) {
        Ok(t) => t,
        Err(e) => return bad(&state, EP, StatusCode::BAD_REQUEST, &format!("target: {e}")),
    };
    let length_error = match (b.duration_secs, b.permanent) {
        (Some(d), false) if d <= 0 => Some("duration_secs: must be above 0"),
        (Some(_), false) | (None, true) => None,
        (None, false) => Some(
            "give duration_secs (seconds above 0), or \"permanent\": true for a ban without end",
        ),
        (Some(_), true) => Some("give either duration_secs or \"permanent\": true, not both"),
    };
    if let Some(msg) = length_error {
        return bad(&state, EP, StatusCode::BAD_REQUEST, msg);
    }
    if b.reason.trim().is_empty() || b.reason.len() > 512 {
        return bad(
            &state,
            EP,
            StatusCode::BAD_REQUEST,
            "reason: must be 1 to 512 characters",
        );
    }
    let d = NewDecision {
        target: target.to_string(),
        duration_secs: b.duration_secs,
        reason: format!("{} (by {})", b.reason.trim(), op.name()),
        rule_id: None,
        created_at: now(),
        alert_id: None,
    };
    tracing::info!(target = %d.target, by = %op.name(), "operator ban");
    match state.store.call(move |s| s.add_decision(&d)).await {
        Ok(Ok(id)) => {
            state.decisions_changed();
            json_reply(&state, EP, StatusCode::CREATED, json!({ "id": id }))
        }
        _ => store_error(&state, EP),
    }
}

/// Lifts a ban: the decision ends now, and agents polling `GET /v1/decisions` unban it.
async fn lift_ban(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    uri: Uri,
    h: HeaderMap,
) -> Response {
    const EP: &str = "bans_lift";
    let op = match api_auth_to_change(&state, EP, &uri, &h).await {
        Ok(op) => op,
        Err(r) => return r,
    };
    let Some(id) = id.parse::<i64>().ok().filter(|n| *n > 0) else {
        return bad(
            &state,
            EP,
            StatusCode::BAD_REQUEST,
            &format!("id: {id:?} is not a positive decision id"),
        );
    };
    let t = now();
    match state
        .store
        .call(move |s| s.delete_decision(DecisionSelector::Id(id), t))
        .await
    {
        Ok(Ok(Some(_))) => {
            state.decisions_changed();
            tracing::info!(decision = id, by = %op.name(), "operator lifted a ban");
            state.metrics.request(EP, 204);
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(Ok(None)) => bad(
            &state,
            EP,
            StatusCode::NOT_FOUND,
            &format!("no ban {id} in force"),
        ),
        _ => store_error(&state, EP),
    }
}

/// `Body` is used by the fallback.
pub async fn not_found(State(state): State<Arc<AppState>>, req: Request<Body>) -> Response {
    let path = req.uri().path().to_owned();
    bad(
        &state,
        "other",
        StatusCode::NOT_FOUND,
        &format!("no route {path} (see /v1/openapi.json)"),
    )
}
