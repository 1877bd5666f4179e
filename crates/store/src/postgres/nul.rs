//! The one rule for text PostgreSQL cannot hold. Its `text` refuses NUL (SQLite keeps it), and
//! an outsider chooses much of the text the store is given: a user name or DNS name in a log
//! line, an agent's id in a request path, a webhook's error, an LLM's answer. So every text
//! parameter the store sends has each NUL replaced by U+FFFD when it is encoded — what is
//! stored and what is looked up alike: a lookup with a NUL finds what was stored with that
//! NUL, and one for anything else finds nothing, as on SQLite, instead of failing the call
//! (or, in an ingest, its whole group at every retry). The event's or alert's JSON keeps the
//! NUL, escaped as `\u0000`.
//!
//! Scalars go through [`NulFree`] in every call of [`Prepared`](super::Prepared), of
//! [`PgStore::rows`](super::PgStore) and kin, and of the copy from SQLite; text arrays (the
//! ingest's `unnest` columns) are built from [`text`].

use std::borrow::Cow;
use std::error::Error;

use bytes::BytesMut;
use postgres::types::{Format, IsNull, ToSql, Type};

/// U+FFFD in UTF-8.
const REPLACEMENT: &[u8] = "\u{fffd}".as_bytes();

/// `s` with each NUL replaced by U+FFFD (for text arrays' elements).
pub(super) fn text(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', "\u{fffd}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// A parameter encoded as it would be, with the NULs of a text value replaced: in UTF-8 a
/// zero byte is only ever NUL, and a text value's encoding is its bytes, in either format.
#[derive(Debug)]
pub(super) struct NulFree<'a>(&'a (dyn ToSql + Sync));

impl ToSql for NulFree<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        let start = out.len();
        let r = self.0.to_sql_checked(ty, out)?;
        let is_text = [Type::TEXT, Type::VARCHAR, Type::BPCHAR, Type::NAME].contains(ty);
        if is_text && out[start..].contains(&0) {
            let value = out.split_off(start);
            for (i, part) in value[..].split(|&b| b == 0).enumerate() {
                if i > 0 {
                    out.extend_from_slice(REPLACEMENT);
                }
                out.extend_from_slice(part);
            }
        }
        Ok(r)
    }

    /// Any type the wrapped value accepts: [`to_sql_checked`](Self::to_sql_checked) asks it.
    fn accepts(_: &Type) -> bool {
        true
    }

    fn to_sql_checked(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        self.to_sql(ty, out)
    }

    fn encode_format(&self, ty: &Type) -> Format {
        self.0.encode_format(ty)
    }
}

/// `f` called with `params`, each through [`NulFree`].
pub(super) fn nul_free<T>(
    params: &[&(dyn ToSql + Sync)],
    f: impl FnOnce(&[&(dyn ToSql + Sync)]) -> T,
) -> T {
    let wrapped: Vec<NulFree<'_>> = params.iter().map(|p| NulFree(*p)).collect();
    let refs: Vec<&(dyn ToSql + Sync)> = wrapped.iter().map(|w| w as &(dyn ToSql + Sync)).collect();
    f(&refs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(v: &(dyn ToSql + Sync), ty: &Type) -> Vec<u8> {
        let mut out = BytesMut::from(&b"head"[..]);
        assert!(matches!(
            NulFree(v).to_sql_checked(ty, &mut out),
            Ok(IsNull::No)
        ));
        out.to_vec()
    }

    #[test]
    fn a_text_parameters_nuls_become_u_fffd() {
        assert_eq!(
            encoded(&"a\0b\0", &Type::TEXT),
            "heada\u{fffd}b\u{fffd}".as_bytes()
        );
        assert_eq!(encoded(&"plain", &Type::TEXT), b"headplain");
        assert_eq!(
            encoded(&String::from("\0"), &Type::VARCHAR),
            "head\u{fffd}".as_bytes()
        );
        // Other types keep their zero bytes.
        assert_eq!(encoded(&1i64, &Type::INT8), b"head\0\0\0\0\0\0\0\x01");
        assert_eq!(encoded(&&b"\0"[..], &Type::BYTEA), b"head\0");
        // A type the value does not accept is still refused.
        let mut out = BytesMut::new();
        assert!(NulFree(&1i64)
            .to_sql_checked(&Type::TEXT, &mut out)
            .is_err());
    }
}
