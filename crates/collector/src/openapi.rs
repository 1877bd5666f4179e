//! The OpenAPI 3.1 document served at `GET /v1/openapi.json`: every route of the router
//! (agents', operators', the dashboard's pages), checked against
//! [`crate::server::all_routes`] by the tests.

use serde_json::{json, Map, Value};

fn param(name: &str, desc: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": desc, "schema": schema})
}

fn json_ok(desc: &str, schema: Value) -> Value {
    json!({"description": desc, "content": {"application/json": {"schema": schema}}})
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn op(summary: &str, security: Value, params: Vec<Value>, responses: Value) -> Value {
    let mut o = json!({"summary": summary, "security": security, "responses": responses});
    if !params.is_empty() {
        o["parameters"] = Value::Array(params);
    }
    o
}

/// The document.
pub fn document() -> Value {
    let operator = json!([{"session": []}, {"bearer": []}]);
    let agent = json!([{"agentSignature": []}]);
    let public = json!([]);
    let err = || reference("Error");
    let e400 = || json_ok("Bad parameters: `error` says which and why.", err());
    let e401 = || json_ok("No session and no valid bearer token.", err());
    let time = json!({"oneOf": [{"type": "integer"}, {"type": "string", "format": "date-time"}]});
    let mut paths = Map::new();
    let mut add = |path: &str, method: &str, o: Value| {
        let entry = paths
            .entry(path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        entry[method] = o;
    };

    // Agents (docs/COLLECTOR.md).
    add(
        "/v1/enroll",
        "post",
        op(
            "Redeem a one-time enrolment token for an agent id and secret.",
            public.clone(),
            vec![],
            json!({"200": json_ok("Enrolled.", json!({"type": "object", "properties": {"agent_id": {"type": "string"}, "secret": {"type": "string"}}})),
               "401": json_ok("Unknown, used or expired token.", err())}),
        ),
    );
    add(
        "/v1/events",
        "post",
        op(
            "Ingest NDJSON lines of {seq, event} or {seq, alert} (gzip allowed).",
            agent.clone(),
            vec![],
            json!({"200": json_ok("Stored.", json!({"type": "object", "properties": {"accepted": {"type": "integer"}, "duplicates": {"type": "integer"}, "rejected": {"type": "integer"}, "errors": {"type": "array"}}})),
               "401": json_ok("Bad signature.", err()), "413": json_ok("Body too large.", err()), "429": json_ok("Rate limited.", err())}),
        ),
    );
    add(
        "/v1/heartbeat",
        "post",
        op(
            "An agent's heartbeat: version, spool size, oldest unsent item.",
            agent.clone(),
            vec![],
            json!({"200": json_ok("Recorded.", json!({"type": "object"})), "401": json_ok("Bad signature.", err())}),
        ),
    );
    add(
        "/v1/decisions",
        "get",
        op(
            "Fleet ban decisions after an id (agents poll this).",
            agent,
            vec![param(
                "since",
                "Only decisions with a higher id.",
                json!({"type": "integer"}),
            )],
            json!({"200": json_ok("Decisions.", json!({"type": "object", "properties": {"decisions": {"type": "array", "items": reference("Ban")}, "next": {"type": "integer"}}})),
               "401": json_ok("Bad signature.", err())}),
        ),
    );
    add(
        "/metrics",
        "get",
        json!({"summary": "Prometheus metrics (text exposition format).", "security": public,
        "responses": {"200": {"description": "Metrics.", "content": {"text/plain": {"schema": {"type": "string"}}}}}}),
    );

    // The dashboard's pages.
    let page = |summary: &str| {
        json!({"summary": summary, "security": [],
               "responses": {"200": {"description": "HTML.", "content": {"text/html": {"schema": {"type": "string"}}}},
                             "303": {"description": "Redirect (to /login without a session)."}}})
    };
    add("/", "get", page("Redirects to the dashboard."));
    add(
        "/ui/",
        "get",
        page("The dashboard (needs a session; else redirects to /login)."),
    );
    add(
        "/ui/app.js",
        "get",
        json!({"summary": "The dashboard's script.", "security": [],
        "responses": {"200": {"description": "JavaScript.", "content": {"text/javascript": {"schema": {"type": "string"}}}}}}),
    );
    add(
        "/ui/app.css",
        "get",
        json!({"summary": "The dashboard's style sheet.", "security": [],
        "responses": {"200": {"description": "CSS.", "content": {"text/css": {"schema": {"type": "string"}}}}}}),
    );
    add("/login", "get", page("The login form."));
    add(
        "/login",
        "post",
        json!({
        "summary": "Log in: sets the session cookie (HttpOnly, SameSite=Strict, Secure with TLS) and redirects to /ui/.",
        "security": [],
        "requestBody": {"required": true, "content": {"application/x-www-form-urlencoded": {"schema": {
            "type": "object", "required": ["user", "password"],
            "properties": {"user": {"type": "string"}, "password": {"type": "string", "format": "password"}}}}}},
        "responses": {"303": {"description": "Logged in."}, "401": {"description": "Wrong user name or password (the form again)."},
                      "429": {"description": "Too many failed logins from this address or for this user."}}}),
    );
    add(
        "/logout",
        "post",
        json!({
        "summary": "Log out (the session's CSRF token in the X-CSRF-Token header or the `csrf` form field).",
        "security": [{"session": []}],
        "responses": {"303": {"description": "Logged out: to /login."}, "403": json_ok("Missing or wrong CSRF token.", err())}}),
    );

    // The REST API.
    add(
        "/v1/openapi.json",
        "get",
        op(
            "This document.",
            public,
            vec![],
            json!({"200": json_ok("OpenAPI 3.1.", json!({"type": "object"}))}),
        ),
    );
    add(
        "/v1/session",
        "get",
        op(
            "Who is asking; a session's CSRF token.",
            operator.clone(),
            vec![],
            json!({"200": json_ok("The operator.", json!({"type": "object", "properties": {
            "user": {"type": "string"}, "via": {"enum": ["session", "token"]}, "csrf": {"type": ["string", "null"]}}})),
               "401": e401()}),
        ),
    );
    add(
        "/v1/alerts",
        "get",
        op(
            "Alerts, newest first, filtered; keyset pages.",
            operator.clone(),
            vec![
                param(
                    "since",
                    "At or after (Unix seconds or RFC 3339).",
                    time.clone(),
                ),
                param("until", "Before (Unix seconds or RFC 3339).", time.clone()),
                param("host", "host.name, exactly.", json!({"type": "string"})),
                param(
                    "severity",
                    "At least this severity: 1-5 or info, low, medium, high, critical.",
                    json!({"type": "string"}),
                ),
                param("rule", "rule.id, exactly.", json!({"type": "string"})),
                param("user", "user.name, exactly.", json!({"type": "string"})),
                param(
                    "address",
                    "source.address, exactly.",
                    json!({"type": "string"}),
                ),
                param(
                    "before",
                    "Cursor: the `next` of the previous page.",
                    json!({"type": "integer", "minimum": 1}),
                ),
                param(
                    "limit",
                    "Page size, 1-500 (default 50).",
                    json!({"type": "integer", "minimum": 1, "maximum": 500}),
                ),
            ],
            json!({"200": json_ok("A page.", json!({"type": "object", "properties": {
            "alerts": {"type": "array", "items": reference("Alert")},
            "next": {"type": ["integer", "null"], "description": "Pass as `before` for the next page; null on the last."}}})),
               "400": e400(), "401": e401()}),
        ),
    );
    let mut one = op(
        "One alert with its events (raw lines; a fleet alert's from every host), actions taken and the LLM's advisory analysis.",
        operator.clone(),
        vec![],
        json!({"200": json_ok("The alert.", json!({"type": "object", "properties": {
            "alert": reference("Alert"),
            "events": {"type": "array", "items": {"type": "object", "properties": {
                "id": {"type": "integer"}, "time": {"type": "integer"}, "host": {"type": ["string", "null"]},
                "action": {"type": "string"}, "outcome": {"type": "string"}, "source_ip": {"type": ["string", "null"]},
                "user": {"type": ["string", "null"]}, "original": {"type": ["string", "null"], "description": "The raw log line."},
                "event": {"type": "object", "description": "The ECS event."}}}},
            "decisions": {"type": "array", "items": reference("Ban")},
            "deliveries": {"type": "array", "items": {"type": "object", "properties": {
                "sink": {"type": "string"}, "state": {"enum": ["pending", "sent", "failed"]},
                "attempts": {"type": "integer", "description": "Sends tried so far (a sent notification: the failed ones and the one that went through)."},
                "failed_attempts": {"type": "integer"}, "last_error": {"type": ["string", "null"]},
                "updated_at": {"type": "integer"}}}},
            "analysis": {"type": ["object", "null"], "description": "An LLM's advisory opinion (advisory: true), never a verdict."}}})),
               "400": e400(), "401": e401(), "404": json_ok("No such alert.", err())}),
    );
    one["parameters"] = json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1}}]);
    add("/v1/alerts/{id}", "get", one);
    add("/v1/stats", "get", op("The charts' figures: alerts per hour, top source addresses, top users, per host, per severity.", operator.clone(), vec![
            param("since", "Default: 24 hours ago.", time.clone()),
            param("until", "Default: now.", time),
        ],
        json!({"200": json_ok("Figures.", json!({"type": "object", "properties": {
            "total": {"type": "integer"},
            "per_hour": {"type": "array", "items": {"type": "object", "properties": {"hour": {"type": "integer"}, "count": {"type": "integer"}}}},
            "top_sources": reference("Counts"), "top_users": reference("Counts"),
            "per_host": reference("Counts"), "per_severity": reference("Counts")}})),
               "400": e400(), "401": e401()})));
    add(
        "/v1/agents",
        "get",
        op(
            "Agents: last seen, version, lag, spool size.",
            operator.clone(),
            vec![],
            json!({"200": json_ok("Agents.", json!({"type": "object", "properties": {"agents": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "string"}, "host": {"type": "string"}, "version": {"type": ["string", "null"]},
            "last_seen": {"type": ["integer", "null"]}, "seen_secs_ago": {"type": ["integer", "null"]},
            "lag_secs": {"type": ["integer", "null"], "description": "Age of the oldest item not yet forwarded."},
            "spool_items": {"type": ["integer", "null"]}, "spool_bytes": {"type": ["integer", "null"]},
            "revoked": {"type": "boolean"}}}}}})),
               "401": e401()}),
        ),
    );
    add(
        "/v1/bans",
        "get",
        op(
            "Fleet ban decisions, newest first.",
            operator.clone(),
            vec![param(
                "active",
                "Only those in force now.",
                json!({"type": "boolean"}),
            )],
            json!({"200": json_ok("Bans.", json!({"type": "object", "properties": {"bans": {"type": "array", "items": reference("Ban")}}})),
               "400": e400(), "401": e401()}),
        ),
    );
    let mut ban = op(
        "Ban an address or network fleet-wide (sessions send X-CSRF-Token).",
        operator.clone(),
        vec![],
        json!({"201": json_ok("Recorded.", json!({"type": "object", "properties": {"id": {"type": "integer"}}})),
               "400": e400(), "401": e401(), "403": json_ok("Missing or wrong CSRF token.", err())}),
    );
    ban["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {
        "type": "object", "required": ["target", "reason"], "additionalProperties": false,
        "properties": {"target": {"type": "string", "description": "An address or CIDR network."},
                       "duration_secs": {"type": "integer", "minimum": 1, "description": "How long the ban lasts; or leave it out and send permanent."},
                       "permanent": {"type": "boolean", "description": "true for a ban without end (instead of duration_secs): one of the two is required."},
                       "reason": {"type": "string"}}}}}});
    add("/v1/bans", "post", ban);
    let mut lift = op(
        "Lift a ban now (sessions send X-CSRF-Token); agents unban it at their next poll of /v1/decisions.",
        operator,
        vec![],
        json!({"204": {"description": "Lifted."},
               "400": e400(), "401": e401(), "403": json_ok("Missing or wrong CSRF token.", err()),
               "404": json_ok("No such ban in force (unknown, lifted or expired).", err())}),
    );
    lift["parameters"] = json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1}}]);
    add("/v1/bans/{id}", "delete", lift);

    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "logward collector",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Agents' ingest, the operators' REST API and the dashboard (docs/COLLECTOR.md, docs/DASHBOARD.md)."
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE},
                "bearer": {"type": "http", "scheme": "bearer", "description": "`logward collector api-token create`"},
                "agentSignature": {"type": "apiKey", "in": "header", "name": logward_core::wire::HEADER_SIGNATURE,
                                   "description": "HMAC-SHA256 request signature (docs/COLLECTOR.md)."}
            },
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                "Counts": {"type": "array", "items": {"type": "object", "properties": {"key": {"type": "string"}, "count": {"type": "integer"}}}},
                "Alert": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "time": {"type": "integer"}, "rule_id": {"type": "string"},
                    "severity": {"type": "integer", "minimum": 1, "maximum": 5}, "severity_name": {"type": "string"},
                    "host": {"type": ["string", "null"]},
                    "agent_id": {"type": ["string", "null"], "description": "The agent that sent it (for a fleet alert: whose event completed the rule)."},
                    "source_address": {"type": ["string", "null"]},
                    "user": {"type": ["string", "null"]},
                    "target_user": {"type": ["string", "null"], "description": "user.target.name: the account an account or group change acted on."},
                    "message": {"type": ["string", "null"]},
                    "original": {"type": ["string", "null"], "description": "The raw line of the event that raised it."},
                    "alert": {"type": "object", "description": "The whole alert (ECS)."}}},
                "Ban": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "target": {"type": "string"}, "duration_secs": {"type": ["integer", "null"]},
                    "reason": {"type": "string"}, "rule_id": {"type": ["string", "null"]}, "created_at": {"type": "integer"},
                    "expires_at": {"type": ["integer", "null"]}, "alert_id": {"type": ["integer", "null"]},
                    "removed_at": {"type": ["integer", "null"]}, "active": {"type": "boolean"}, "lifted": {"type": "boolean"}}}
            }
        }
    })
}
