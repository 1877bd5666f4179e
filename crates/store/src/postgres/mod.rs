//! [`PgStore`]: [`Store`](crate::Store) and [`CollectorStore`](crate::CollectorStore) on a
//! PostgreSQL database (the rust-postgres sync client), for fleets that outgrow one SQLite
//! file (docs/SCALE.md). Everything PostgreSQL stays in this module.
//!
//! One value is one connection, like [`SqliteStore`](crate::SqliteStore): the collector's
//! store thread owns one, delivery and the LLM analyst share another. The client runs its
//! own small runtime, so it is called (and dropped) on the store thread or in
//! `spawn_blocking`, never in an async task. Migrations are numbered like SQLite's and applied under an advisory lock,
//! so collectors starting together cannot both apply one.

mod agents;
mod analysis;
mod base;
mod cluster;
mod collector;
mod copy;
mod decisions;
mod ingest;
mod migrations;
mod nul;
mod operators;
mod partitions;
mod query;
mod tls;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use postgres::types::ToSql;
use postgres::{Client, GenericClient, NoTls, Row, Statement, Transaction};

use crate::error::{Result, StoreError};

/// The PostgreSQL backend of [`Store`](crate::Store) and
/// [`CollectorStore`](crate::CollectorStore): one connection to one database.
pub struct PgStore {
    client: Client,
    /// How to connect again when the connection is lost (a server restart, a failover).
    config: postgres::Config,
    /// The URL without its password, for messages.
    shown: PathBuf,
    /// Days whose partitions are known to exist (see partitions.rs).
    days: partitions::KnownDays,
    /// The hot paths' statements, prepared once per connection.
    stmts: Prepared,
    /// TLS to the server, when the URL says `sslmode=require` (tls.rs).
    tls: Option<tls::Rustls>,
    /// A call failed: the connection may be gone even if the client has not noticed yet (a
    /// terminated backend's FATAL arrives before its socket's end), so the next call checks.
    suspect: bool,
}

/// [`Prepared`]'s calls of the client's methods of the same names, on a prepared statement.
macro_rules! prepared_calls {
    ($($(#[$doc:meta])* $name:ident -> $ret:ty;)*) => {$(
        $(#[$doc])*
        fn $name(
            &mut self,
            c: &mut impl GenericClient,
            shown: &Path,
            context: &'static str,
            sql: &str,
            params: &[&(dyn ToSql + Sync)],
        ) -> Result<$ret> {
            self.run(c, shown, context, sql, params, |c, s, p| c.$name(s, p))
        }
    )*};
}

/// Statements prepared once per connection and reused (rust-postgres keeps no cache, and a
/// statement given as text is parsed again on every call: one more round trip each).
#[derive(Default)]
struct Prepared(HashMap<String, Statement>);

impl Prepared {
    /// `sql` prepared on this connection (in `c`, the client or a transaction of it).
    fn get(&mut self, c: &mut impl GenericClient, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.0.get(sql) {
            return Ok(s.clone());
        }
        let s = c.prepare(sql)?;
        self.0.insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    /// `sql`, prepared once, run by `run` in `c` with `params` (their text NUL-free, see
    /// nul.rs); errors name the database and `context`.
    fn run<C: GenericClient, T>(
        &mut self,
        c: &mut C,
        shown: &Path,
        context: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        run: impl FnOnce(&mut C, &Statement, &[&(dyn ToSql + Sync)]) -> Result<T, postgres::Error>,
    ) -> Result<T> {
        let s = self.get(c, sql).map_err(pe(shown, context))?;
        nul::nul_free(params, |p| run(c, &s, p)).map_err(pe(shown, context))
    }

    prepared_calls! {
        /// The rows of `sql` (see [`run`](Self::run)).
        query -> Vec<Row>;
        /// The row of `sql`, if any.
        query_opt -> Option<Row>;
        /// The one row of `sql`.
        query_one -> Row;
        /// How many rows `sql` changed.
        execute -> u64;
    }
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("url", &self.shown).finish()
    }
}

impl PgStore {
    /// Connects to `url` (`postgresql://user@host:port/db?sslmode=…`, or the key=value form)
    /// with `password` when given (from the config's env variable or file, never the URL in a
    /// config file), and migrates the database to the current schema.
    pub fn connect(url: &str, password: Option<&str>) -> Result<PgStore> {
        PgStore::connect_with(url, password, None)
    }

    /// [`connect`](Self::connect), trusting `ca_file`'s certificates (PEM) besides the public
    /// roots when the URL says `sslmode=require` (the connection is then TLS, the server's
    /// certificate and name verified).
    pub fn connect_with(
        url: &str,
        password: Option<&str>,
        ca_file: Option<&std::path::Path>,
    ) -> Result<PgStore> {
        let shown = PathBuf::from(redact(url));
        let mut config: postgres::Config = url.parse().map_err(|e| StoreError::Database {
            path: shown.clone(),
            context: "read the PostgreSQL URL",
            source: Box::new(e),
        })?;
        if let Some(p) = password {
            config.password(p);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(10));
        }
        config.application_name("logward-collector");
        let tls = match config.get_ssl_mode() {
            postgres::config::SslMode::Require => Some(tls::Rustls::new(ca_file).map_err(
                |detail| StoreError::Invalid {
                    what: "PostgreSQL TLS",
                    detail,
                },
            )?),
            _ => None,
        };
        let client = open(&config, &shown, tls.as_ref())?;
        let mut store = PgStore {
            client,
            config,
            shown,
            days: partitions::KnownDays::default(),
            stmts: Prepared::default(),
            suspect: false,
            tls,
        };
        migrations::migrate(&mut store.client, &store.shown)?;
        Ok(store)
    }

    /// Connects again when the connection was lost: every trait method calls this first.
    /// The call that met the loss failed (its transaction did not commit, so retrying it
    /// stores nothing twice); the next one runs on a new connection, with its statements
    /// prepared again and the known day partitions looked up again.
    fn ready(&mut self) -> Result<()> {
        let suspect = std::mem::take(&mut self.suspect);
        if self.client.is_closed()
            || (suspect
                && self
                    .client
                    .is_valid(std::time::Duration::from_secs(5))
                    .is_err())
        {
            self.client = open(&self.config, &self.shown, self.tls.as_ref())?;
            self.stmts = Prepared::default();
            self.days.clear();
        }
        Ok(())
    }

    /// After a failed call: the next [`ready`](Self::ready) makes sure the connection works.
    fn failed(&mut self) {
        self.suspect = true;
    }

    /// Checks that `url` is a PostgreSQL URL (or key=value string) the client accepts, without
    /// connecting: for config checks.
    pub fn check_url(url: &str) -> std::result::Result<(), String> {
        url.parse::<postgres::Config>()
            .map(drop)
            .map_err(|e| e.to_string())
    }

    /// `f` in a transaction of its own, committed when it succeeds (errors name `context`).
    fn in_transaction<T>(
        &mut self,
        context: &'static str,
        f: impl FnOnce(&mut Transaction<'_>, &mut Prepared, &Path) -> Result<T>,
    ) -> Result<T> {
        let PgStore {
            client,
            shown,
            stmts,
            ..
        } = self;
        let mut tx = client.transaction().map_err(pe(shown, context))?;
        let r = f(&mut tx, stmts, shown)?;
        tx.commit().map_err(pe(shown, context))?;
        Ok(r)
    }

    /// A `map_err` for this store's errors: `.map_err(self.err("read alerts"))`.
    fn err(&self, context: &'static str) -> impl FnOnce(postgres::Error) -> StoreError + '_ {
        move |e| pg_error(&self.shown, context, e)
    }
}

/// A new connection with `config`, over TLS when `tls` is given.
fn open(
    config: &postgres::Config,
    shown: &std::path::Path,
    tls: Option<&tls::Rustls>,
) -> Result<Client> {
    match tls {
        Some(t) => config.connect(t.clone()),
        None => config.connect(NoTls),
    }
    .map_err(|e| StoreError::Database {
        path: shown.to_path_buf(),
        context: "connect to PostgreSQL",
        source: Box::new(e),
    })
}

/// A PostgreSQL error as a [`StoreError`] naming the database and what was being done.
fn pg_error(shown: &std::path::Path, context: &'static str, e: postgres::Error) -> StoreError {
    StoreError::Database {
        path: shown.to_path_buf(),
        context,
        source: Box::new(e),
    }
}

/// [`pg_error`] as a `map_err` where `self` is borrowed apart:
/// `.map_err(pe(shown, "store alerts"))`.
fn pe<'a>(
    shown: &'a std::path::Path,
    context: &'static str,
) -> impl FnOnce(postgres::Error) -> StoreError + 'a {
    move |e| pg_error(shown, context, e)
}

/// The URL with any password replaced by `***` (URL form `user:pw@` and key=value
/// `password=…`), for messages and logs.
pub fn redact(url: &str) -> String {
    if let Some(scheme_end) = url.find("://") {
        let rest = &url[scheme_end + 3..];
        let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
        if let Some(at) = rest[..auth_end].rfind('@') {
            if let Some(colon) = rest[..at].find(':') {
                return format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &rest[..colon],
                    &rest[at..]
                );
            }
        }
        return url.to_string();
    }
    url.split_whitespace()
        .map(|kv| {
            if kv.starts_with("password=") {
                "password=***"
            } else {
                kv
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgresql://lw:s3cret@db:5432/logward?sslmode=require"),
            "postgresql://lw:***@db:5432/logward?sslmode=require"
        );
        assert_eq!(
            redact("postgresql://lw@db/logward"),
            "postgresql://lw@db/logward"
        );
        assert_eq!(
            redact("host=db user=lw password=s3cret dbname=x"),
            "host=db user=lw password=*** dbname=x"
        );
    }
}
