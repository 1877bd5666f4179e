//! The request's authority and the same-origin check of the operators' side.
//!
//! HTTP/2 (and HTTP/3) carry the target in the `:authority` pseudo-header, which hyper puts in
//! the request URI, and browsers send no `Host` header there; HTTP/1.1 has an origin-form URI
//! and the `Host` header. So the authority is the URI's, falling back to `Host`.

use axum::http::{header, HeaderMap, Uri};

/// The authority (`host[:port]`) the client addressed: the URI's (HTTP/2), else `Host`.
pub fn request_authority<'a>(uri: &'a Uri, h: &'a HeaderMap) -> Option<&'a str> {
    uri.authority()
        .map(|a| a.as_str())
        .or_else(|| h.get(header::HOST).and_then(|v| v.to_str().ok()))
        .filter(|a| !a.is_empty())
}

/// `host` and `port` of an authority, the port defaulting to the scheme's (`None`: none).
fn host_port(authority: &str, default_port: Option<u16>) -> Option<(String, Option<u16>)> {
    // No user info in an authority a browser sends; refuse it rather than parse around it.
    if authority.contains('@') {
        return None;
    }
    let (host, port) = match authority.rsplit_once(':') {
        // `[v6]` without a port: the colon is inside the brackets.
        Some((h, p)) if !p.contains(']') => (h, Some(p.parse::<u16>().ok()?)),
        _ => (authority, None),
    };
    Some((host.to_ascii_lowercase(), port.or(default_port)))
}

/// Whether the browser's `Origin` header (when it sends one) names the authority this request
/// was addressed to. A request without `Origin` passes (the CSRF token is the real check);
/// `Origin: null`, an unparsable origin, another scheme (when the URI has one) or a request
/// with no authority at all fails.
pub fn same_origin(uri: &Uri, h: &HeaderMap) -> bool {
    let Some(origin) = h.get(header::ORIGIN) else {
        return true;
    };
    let Some((scheme, rest)) = origin.to_str().ok().and_then(|o| o.split_once("://")) else {
        return false;
    };
    let scheme = scheme.to_ascii_lowercase();
    // HTTP/2 also says which scheme the request came in on: it must be the origin's.
    if uri
        .scheme_str()
        .is_some_and(|s| !s.eq_ignore_ascii_case(&scheme))
    {
        return false;
    }
    let default = match scheme.as_str() {
        "http" => Some(80),
        "https" => Some(443),
        _ => return false,
    };
    let Some(ours) = request_authority(uri, h) else {
        return false;
    };
    match (host_port(rest, default), host_port(ours, default)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// Whether `Sec-Fetch-Site`, when the browser sends it, says the request was made by a page
/// of this origin (`same-origin`) or by the user (`none`: typed, bookmarked).
pub fn fetch_site_ok(h: &HeaderMap) -> bool {
    h.get("sec-fetch-site").is_none_or(|v| {
        matches!(
            v.to_str().map(|s| s.trim().to_ascii_lowercase()).as_deref(),
            Ok("same-origin" | "none")
        )
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn http2_authority_is_used_when_there_is_no_host_header() {
        let uri: Uri = "https://logs.example:8443/v1/bans".parse().unwrap();
        let h = headers(&[(header::ORIGIN, "https://logs.example:8443")]);
        assert_eq!(request_authority(&uri, &h), Some("logs.example:8443"));
        assert!(same_origin(&uri, &h));
        let evil = headers(&[(header::ORIGIN, "https://evil.example:8443")]);
        assert!(!same_origin(&uri, &evil));
        let plain = headers(&[(header::ORIGIN, "http://logs.example:8443")]);
        assert!(!same_origin(&uri, &plain), "the scheme differs");
    }

    #[test]
    fn http1_falls_back_to_host_and_default_ports_match() {
        let uri: Uri = "/v1/bans".parse().unwrap();
        let h = headers(&[
            (header::HOST, "Logs.Example"),
            (header::ORIGIN, "https://logs.example:443"),
        ]);
        assert!(same_origin(&uri, &h));
        let h = headers(&[
            (header::HOST, "[::1]:8080"),
            (header::ORIGIN, "http://[::1]:8080"),
        ]);
        assert!(same_origin(&uri, &h));
        let h = headers(&[
            (header::HOST, "127.0.0.1:8080"),
            (header::ORIGIN, "http://127.0.0.1:8081"),
        ]);
        assert!(!same_origin(&uri, &h));
        assert!(!same_origin(&uri, &headers(&[(header::ORIGIN, "null")])));
        assert!(!same_origin(
            &uri,
            &headers(&[(header::ORIGIN, "http://127.0.0.1")])
        ));
        assert!(same_origin(&uri, &headers(&[(header::HOST, "x")])));
    }

    #[test]
    fn sec_fetch_site_must_be_same_origin_or_the_user() {
        let site = |v: &str| headers(&[(header::HeaderName::from_static("sec-fetch-site"), v)]);
        assert!(fetch_site_ok(&HeaderMap::new()));
        assert!(fetch_site_ok(&site("same-origin")) && fetch_site_ok(&site("none")));
        assert!(!fetch_site_ok(&site("same-site")) && !fetch_site_ok(&site("cross-site")));
    }
}
