//! Zeek's `dns.log`: TSV under its `#separator`/`#fields` header (any column order, `-`
//! unset, `(empty)` an empty set, vectors joined by `#set_separator`, `\xHH` escapes), and
//! Zeek's JSON logs (one object per line, the same names as flat keys: `"id.orig_h"`).
//!
//! Zeek writes each answer as text only: an address is an `A`/`AAAA` answer, `TXT 18 …`,
//! `SPF …`, `RRSIG …` keep their type word, and a name is the question's type when that type
//! answers with a name (`PTR`, `NS`, `MX`, `CNAME`, `SRV`, `DNAME`), else a `CNAME`. Zeek's
//! class names (`C_INTERNET`) are written as DNS names them (`IN`).

use std::borrow::Cow;

use logward_core::event::parse_ip;
use logward_core::{Dataset, DnsAnswer, Event, Timestamp};
use serde_json::{Map, Value};

use super::fields::{mnemonic, name, push_answer, set_rcode, start};

/// The columns a `#fields` line may name (more are allowed and ignored).
const MAX_FIELDS: usize = 256;

/// A TSV header being read or in force.
#[derive(Debug, Clone)]
pub struct Header {
    separator: char,
    set_separator: String,
    empty: String,
    unset: String,
    path: Option<String>,
    /// The columns, once `#fields` came.
    fields: Vec<String>,
}

impl Default for Header {
    fn default() -> Self {
        Header {
            separator: '\t',
            set_separator: ",".into(),
            empty: "(empty)".into(),
            unset: "-".into(),
            path: None,
            fields: Vec::new(),
        }
    }
}

/// What one TSV line was.
#[derive(Debug)]
pub enum Tsv {
    /// A header line (`#…`): no event.
    Header,
    /// A row of a `dns` log.
    Row(Box<Event<'static>>),
    /// A row that does not fit its header: said why.
    Malformed(String),
}

/// `\x09` → the byte it names (Zeek escapes its separators and unprintable bytes so).
fn unescape(s: &str) -> Cow<'_, str> {
    if !s.contains("\\x") {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') {
            let hex = b
                .get(i + 2..i + 4)
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

impl Header {
    /// Whether rows follow that are a `dns` log's.
    pub fn is_dns(&self) -> bool {
        let has = |f: &str| self.fields.iter().any(|x| x == f);
        match self.path.as_deref() {
            Some(p) => p == "dns" && has("query"),
            None => has("query") && has("id.orig_h") && (has("qtype_name") || has("rcode_name")),
        }
    }

    /// A `#` line of the header. `false` when it is none (the caller reads it as a row).
    pub fn header_line(&mut self, line: &str) -> bool {
        let Some(rest) = line.strip_prefix('#') else {
            return false;
        };
        if let Some(sep) = rest.strip_prefix("separator ") {
            *self = Header::default();
            let sep = unescape(sep.trim());
            self.separator = sep.chars().next().unwrap_or('\t');
            return true;
        }
        let (key, value) = match rest.split_once(self.separator) {
            Some((k, v)) => (k, v),
            None => (rest, ""),
        };
        match key {
            "set_separator" => self.set_separator = unescape(value).into_owned(),
            "empty_field" => self.empty = value.to_owned(),
            "unset_field" => self.unset = value.to_owned(),
            "path" => self.path = Some(value.to_owned()),
            "fields" => {
                self.fields = value
                    .split(self.separator)
                    .take(MAX_FIELDS)
                    .map(str::to_owned)
                    .collect();
            }
            "close" => self.fields.clear(),
            _ => {}
        }
        true
    }

    /// A row under this header.
    pub fn row(&self, line: &str) -> Tsv {
        let values: Vec<&str> = line.split(self.separator).collect();
        if values.len() != self.fields.len() {
            return Tsv::Malformed(format!(
                "a Zeek dns.log row of {} columns under a header of {}",
                values.len(),
                self.fields.len()
            ));
        }
        let get = |f: &str| -> Option<&str> {
            let i = self.fields.iter().position(|x| x == f)?;
            let v = *values.get(i)?;
            (v != self.unset).then_some(v)
        };
        let list = |f: &str| -> Vec<Cow<'_, str>> {
            match get(f) {
                None => Vec::new(),
                Some(v) if v == self.empty => Vec::new(),
                Some(v) => v.split(self.set_separator.as_str()).map(unescape).collect(),
            }
        };
        let answers = list("answers");
        let ttls = list("TTLs");
        let fields = Fields {
            ts: get("ts").and_then(super::fields::epoch),
            orig_h: get("id.orig_h"),
            orig_p: get("id.orig_p").and_then(|p| p.parse().ok()),
            resp_h: get("id.resp_h"),
            resp_p: get("id.resp_p").and_then(|p| p.parse().ok()),
            proto: get("proto"),
            trans_id: get("trans_id").and_then(|p| p.parse().ok()),
            query: get("query").map(unescape),
            qclass_name: get("qclass_name"),
            qtype_name: get("qtype_name"),
            rcode_name: get("rcode_name"),
            answers: answers.iter().map(|a| &**a).collect(),
            ttls: ttls.iter().filter_map(|t| t.parse::<f64>().ok()).collect(),
        };
        match fields.event() {
            Some(e) => Tsv::Row(Box::new(e)),
            None => Tsv::Malformed("a Zeek dns.log row without a client address".into()),
        }
    }
}

/// A `dns.log` record's fields, from either form.
struct Fields<'a> {
    ts: Option<Timestamp>,
    orig_h: Option<&'a str>,
    orig_p: Option<u16>,
    resp_h: Option<&'a str>,
    resp_p: Option<u16>,
    proto: Option<&'a str>,
    trans_id: Option<u16>,
    query: Option<Cow<'a, str>>,
    qclass_name: Option<&'a str>,
    qtype_name: Option<&'a str>,
    rcode_name: Option<&'a str>,
    answers: Vec<&'a str>,
    ttls: Vec<f64>,
}

/// Zeek's class names → DNS's.
fn class(c: &str) -> Option<Cow<'static, str>> {
    Some(Cow::Borrowed(match c {
        "C_INTERNET" => "IN",
        "C_CHAOS" => "CH",
        "C_HESIOD" => "HS",
        "C_NONE" => "NONE",
        "C_ANY" => "ANY",
        other => {
            // `qclass-32769` (an mDNS question with the unicast-response bit)
            let n = other.strip_prefix("qclass-")?;
            let n: u16 = n.parse().ok()?;
            return Some(Cow::Owned(format!("CLASS{n}")));
        }
    }))
}

impl Fields<'_> {
    fn event(self) -> Option<Event<'static>> {
        let client = parse_ip(self.orig_h?)?;
        let mut e = Event::default();
        let qname: Cow<'static, str> =
            Cow::Owned(name(self.query.as_deref().unwrap_or("")).into_owned());
        let d = start(&mut e, Dataset::DnsZeek, qname.clone());
        d.id = self.trans_id;
        d.question_type = self
            .qtype_name
            .and_then(mnemonic)
            .map(|t| Cow::Owned(t.into_owned()));
        d.question_class = self.qclass_name.and_then(class);
        d.server_ip = self.resp_h.and_then(parse_ip);
        d.server_port = self.resp_p;
        d.transport = match self.proto {
            Some("udp") => Some("udp"),
            Some("tcp") => Some("tcp"),
            _ => None,
        };
        let qtype = d.question_type.clone();
        for (i, a) in self.answers.iter().enumerate() {
            let ttl = self
                .ttls
                .get(i)
                .filter(|t| t.is_finite() && **t >= 0.0)
                .map(|t| t.min(f64::from(u32::MAX)) as u32);
            push_answer(d, answer(&qname, qtype.as_deref(), a, ttl));
        }
        e.set_source(Cow::Owned(client.to_string()), self.orig_p);
        if let Some(r) = self.rcode_name.and_then(mnemonic) {
            set_rcode(&mut e, Cow::Owned(r.into_owned()));
        }
        e.timestamp = self.ts;
        e.process_name = Some(Cow::Borrowed("zeek"));
        Some(e)
    }
}

fn answer(qname: &str, qtype: Option<&str>, a: &str, ttl: Option<u32>) -> DnsAnswer<'static> {
    let owner = Cow::Owned(qname.to_owned());
    if let Some(ip) = parse_ip(a) {
        return super::fields::address_answer(owner, ip, ttl);
    }
    let first = a.split(' ').next().unwrap_or("");
    let (rtype, data) = if a.contains(' ') && mnemonic(first).is_some_and(|m| m == first) {
        (first.to_owned(), a.to_owned())
    } else {
        let t = qtype
            .filter(|t| matches!(*t, "PTR" | "NS" | "MX" | "CNAME" | "SRV" | "DNAME"))
            .unwrap_or("CNAME");
        (t.to_owned(), name(a).into_owned())
    };
    DnsAnswer {
        name: owner,
        rtype: Cow::Owned(rtype),
        data: Cow::Owned(data),
        ttl,
    }
}

/// Whether a `{` line looks like a Zeek `dns.log` record (its own key names).
pub fn looks_like_json(line: &str) -> bool {
    let has = |k: &str| crate::decoders::scan::contains(line, k);
    has("\"id.orig_h\"") && (has("\"qtype_name\"") || has("\"rcode_name\"") || has("\"trans_id\""))
}

/// A Zeek JSON `dns.log` record; `None` when it is none.
pub fn json(doc: &Map<String, Value>) -> Option<Event<'static>> {
    let text = |k: &str| crate::beats::field(doc, k).and_then(Value::as_str);
    let num = |k: &str| crate::beats::field(doc, k).and_then(Value::as_u64);
    let strings = |k: &str| -> Vec<&str> {
        match crate::beats::field(doc, k) {
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    };
    let ts = match crate::beats::field(doc, "ts") {
        Some(Value::Number(n)) => n.as_f64().and_then(|f| {
            (0.0..1e12).contains(&f).then(|| Timestamp {
                unix: f.trunc() as i64,
                nanos: ((f.fract() * 1e6).round() as u32).min(999_999) * 1000,
                offset: 0,
            })
        }),
        Some(Value::String(s)) => Timestamp::parse_rfc3339(s.as_bytes())
            .map(|(t, _)| t)
            .or_else(|| super::fields::epoch(s)),
        _ => None,
    };
    let ttls: Vec<f64> = match crate::beats::field(doc, "TTLs") {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_f64).collect(),
        _ => Vec::new(),
    };
    let port = |k: &str| num(k).and_then(|p| u16::try_from(p).ok());
    Fields {
        ts,
        orig_h: text("id.orig_h"),
        orig_p: port("id.orig_p"),
        resp_h: text("id.resp_h"),
        resp_p: port("id.resp_p"),
        proto: text("proto"),
        trans_id: port("trans_id"),
        query: text("query").map(Cow::Borrowed),
        qclass_name: text("qclass_name"),
        qtype_name: text("qtype_name"),
        rcode_name: text("rcode_name"),
        answers: strings("answers"),
        ttls,
    }
    .event()
}

/// The address a record names as its client, for tests.
#[cfg(test)]
fn client(e: &Event<'_>) -> Option<std::net::IpAddr> {
    e.source_ip
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n#open\t2021-03-19-16-07-56\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery\tqclass\tqclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\trejected\n#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tinterval\tstring\tcount\tstring\tcount\tstring\tcount\tstring\tbool\tbool\tbool\tbool\tcount\tvector[string]\tvector[interval]\tbool";

    fn header() -> Header {
        let mut h = Header::default();
        for l in HEADER.lines() {
            assert!(h.header_line(l), "{l}");
        }
        assert!(h.is_dns());
        h
    }

    fn row(h: &Header, l: &str) -> Event<'static> {
        match h.row(l) {
            Tsv::Row(e) => *e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_tsv_row() {
        let h = header();
        let e = row(&h, "1610645203.325590\tCjeD8p1g3hp9yCMn17\t10.20.1.31\t53\t207.158.192.40\t53\tudp\t25701\t-\tUs.V27.distributed.net\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tT\tF\tF\tT\t0\t206.109.64.186,www-cmu.andrew.cmu.edu,TXT 18 a\\x2cb\t900.000000,60.000000,5.000000\tF");
        let d = e.dns.as_ref().unwrap();
        assert_eq!(client(&e), "10.20.1.31".parse().ok());
        assert_eq!(e.source_port, Some(53));
        assert_eq!(d.question_name, "us.v27.distributed.net");
        assert_eq!(d.question_class.as_deref(), Some("IN"));
        assert_eq!(d.question_type.as_deref(), Some("A"));
        assert_eq!(d.response_code.as_deref(), Some("NOERROR"));
        assert_eq!(d.id, Some(25701));
        assert_eq!(d.transport, Some("udp"));
        assert_eq!(d.server_ip, "207.158.192.40".parse().ok());
        let a: Vec<_> = d
            .answers
            .iter()
            .map(|a| (&*a.rtype, &*a.data, a.ttl))
            .collect();
        assert_eq!(
            a,
            [
                ("A", "206.109.64.186", Some(900)),
                ("CNAME", "www-cmu.andrew.cmu.edu", Some(60)),
                ("TXT", "TXT 18 a,b", Some(5)),
            ]
        );
        assert_eq!(e.timestamp.map(|t| t.unix), Some(1_610_645_203));
        // Btest baselines mask the time; an unset rcode and class stay unset.
        let e = row(&h, "XXXXXXXXXX.XXXXXX\tC\t192.168.0.20\t5353\t224.0.0.251\t5353\tudp\t0\t-\t_homekit._tcp.local\t32769\tqclass-32769\t12\tPTR\t-\t-\tF\tF\tF\tF\t0\t-\t-\tF");
        let d = e.dns.as_ref().unwrap();
        assert_eq!(e.timestamp, None);
        assert_eq!(d.response_code, None);
        assert_eq!(d.question_class.as_deref(), Some("CLASS32769"));
        assert!(d.answers.is_empty());
    }

    #[test]
    fn malformed_rows_and_other_logs() {
        let h = header();
        assert!(matches!(h.row("1\t2\t3"), Tsv::Malformed(_)));
        let l = "1\tC\tnot-an-ip\t1\t2.2.2.2\t53\tudp\t1\t-\tq\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tF\tF\t0\t-\t-\tF";
        assert!(matches!(h.row(l), Tsv::Malformed(_)));
        let mut conn = Header::default();
        for l in [
            "#separator \\x09",
            "#path\tconn",
            "#fields\tts\tuid\tid.orig_h",
        ] {
            conn.header_line(l);
        }
        assert!(!conn.is_dns());
        let mut closed = header();
        closed.header_line("#close\t2021-03-19-16-08-26");
        assert!(!closed.is_dns());
    }

    #[test]
    fn a_json_record() {
        let l = r#"{"ts": 1517336042.279652, "uid": "CVvreZ2AGtqjnP3nnl", "id.orig_h": "192.168.88.2", "id.orig_p": 55638, "id.resp_h": "165.227.88.15", "id.resp_p": 53, "proto": "udp", "trans_id": 42937, "rtt": 0.069982, "query": "6dde0175375169c68f.dnsc.r-1x.com", "qclass": 1, "qclass_name": "C_INTERNET", "qtype": 16, "qtype_name": "TXT", "rcode": 0, "rcode_name": "NOERROR", "AA": false, "TC": false, "RD": true, "RA": true, "Z": 0, "answers": ["TXT 18 302f017537c68f5169"], "TTLs": [60.000000], "rejected": true}"#;
        assert!(looks_like_json(l));
        let doc: Map<String, Value> = serde_json::from_str(l).unwrap();
        let e = json(&doc).unwrap();
        let d = e.dns.as_ref().unwrap();
        assert_eq!(d.question_name, "6dde0175375169c68f.dnsc.r-1x.com");
        assert_eq!(d.answers[0].rtype, "TXT");
        assert_eq!(d.answers[0].ttl, Some(60));
        let t = e.timestamp.unwrap();
        assert_eq!((t.unix, t.nanos), (1_517_336_042, 279_652_000));
        assert_eq!(e.source_port, Some(55638));
    }
}
