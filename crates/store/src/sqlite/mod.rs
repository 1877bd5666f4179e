//! [`SqliteStore`]: [`Store`], [`AgentStore`] and
//! [`CollectorStore`](crate::collector::CollectorStore) on one SQLite file (rusqlite, SQLite
//! bundled). Everything SQLite (connections, transactions, its errors) stays in this module.
//!
//! The file is opened in WAL mode: readers (the CLI, a dashboard) never block the agent's
//! writes, and a commit is one append to the WAL. `synchronous=NORMAL` is the default (see
//! [`Synchronous`] for why it keeps the batch guarantee), the busy timeout covers a second
//! process briefly holding the write lock, and foreign keys are enforced.

mod agents;
mod analysis;
mod checkpoint;
mod cluster;
mod collector;
mod decisions;
mod ingest;
mod meta;
mod migrations;
mod operators;
mod profiles;
mod query;
mod spool;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior};

use crate::agent::AgentStore;
use crate::ban::{BanTarget, Family};
use crate::error::{sql, Result, StoreError};
use crate::fingerprint::Fingerprint;
use crate::store::Store;
use crate::types::retention_cutoff;
use crate::types::{
    Ban, BanChange, Batch, BatchIds, Checkpoint, CounterSnapshot, NewAlert, OutboxAnalysis,
    OutboxCounts, OutboxItem, OutboxState, ProfileRow, PurgeStats, ReportEntry, ReportSection,
    SpoolStats, SpooledItem, StoredAlert, StoredReportEntry, UnixTime,
};

/// SQLite's `synchronous` setting for the WAL.
///
/// Both keep [`AgentStore::commit_batch`]'s guarantee — a batch's checkpoint and its rows are in
/// one transaction, so they are on disk together or not at all — because WAL commits are
/// atomic in either mode. They differ only in durability of the last commits:
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Synchronous {
    /// The default. A commit is written to the WAL (the OS has it) but not fsynced; fsyncs
    /// happen at WAL checkpoints. A killed process (`kill -9`, a panic, OOM) loses nothing. A
    /// power loss or kernel crash may roll back the last few batches — whole batches, each
    /// checkpoint with its own alerts — so the agent re-reads those lines from the older
    /// checkpoint and produces the same rows again: still exactly once in the store. Only
    /// outside effects of the lost batches (a notification sent, a ban applied) may repeat,
    /// which delivery tolerates anyway (at-least-once, idempotency keys).
    #[default]
    Normal,
    /// Every commit is fsynced before it returns: nothing committed is ever rolled back, at
    /// the price of one fsync per batch (milliseconds on spinning or networked disks).
    Full,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        }
    }
}

/// How to open the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteOptions {
    /// WAL sync mode.
    pub synchronous: Synchronous,
    /// How long to wait for another connection's write lock before failing with
    /// [`StoreError::Busy`].
    pub busy_timeout: Duration,
    /// SQLite's page cache, in KiB. Filled only as pages are read: a small agent database
    /// never uses it all; a collector's indexes on millions of events need it, or every
    /// insert re-reads index pages from the OS.
    pub cache_kib: u32,
}

impl Default for SqliteOptions {
    fn default() -> SqliteOptions {
        SqliteOptions {
            synchronous: Synchronous::Normal,
            busy_timeout: Duration::from_secs(5),
            cache_kib: 64 * 1024,
        }
    }
}

/// The SQLite backend of every store trait: one connection to one database file.
#[derive(Debug)]
pub struct SqliteStore {
    /// Stops (and joins) first when the store is dropped: the writer's close then makes the
    /// last checkpoint, as without it.
    checkpointer: Option<checkpoint::Checkpointer>,
    conn: Connection,
    path: PathBuf,
    instance: String,
}

/// u64 stored bit-for-bit in SQLite's i64 (inodes, devices, hashes may use the top bit).
fn u64_to_sql(x: u64) -> i64 {
    i64::from_ne_bytes(x.to_ne_bytes())
}

/// The database, its WAL and its shared-memory file hold user names, addresses and
/// credential hashes: only their owner may read them, whatever the umask. A new database is
/// created 0600 before SQLite opens it (SQLite gives `-wal` and `-shm` the database's mode
/// when it creates them); an existing one, and its `-wal`/`-shm`, lose any group and other
/// bits. Best effort: what cannot be done here (a directory or file of another user) SQLite
/// reports, with its own error, when it opens the file.
#[cfg(unix)]
fn owner_only(path: &Path) {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        if let Ok(m) = std::fs::metadata(&p) {
            let mode = m.permissions().mode() & 0o7777;
            if mode & 0o077 != 0 {
                let _ =
                    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode & 0o7700));
            }
        }
    }
}

fn u64_from_sql(x: i64) -> u64 {
    u64::from_ne_bytes(x.to_ne_bytes())
}

/// A count or offset that must fit SQLite's i64.
fn count_to_sql(what: &'static str, x: u64) -> Result<i64> {
    i64::try_from(x).map_err(|_| StoreError::invalid(what, format!("{x} is too large")))
}

fn count_from_sql(what: &'static str, x: i64) -> Result<u64> {
    u64::try_from(x)
        .map_err(|_| StoreError::invalid(what, format!("{x} is negative in the database")))
}

pub(crate) fn limit_to_sql(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

impl SqliteStore {
    /// File name of the database inside a state directory.
    pub const FILE_NAME: &'static str = "logward.db";

    /// Opens (creating it and the directory if needed) `dir/logward.db` with default options.
    /// A new directory is created with mode 0700: alerts name users and addresses.
    pub fn open_dir(dir: &Path) -> Result<SqliteStore> {
        SqliteStore::open_dir_with(dir, SqliteOptions::default())
    }

    /// [`open_dir`](Self::open_dir) with options.
    pub fn open_dir_with(dir: &Path, options: SqliteOptions) -> Result<SqliteStore> {
        let state_dir = |source| StoreError::StateDir {
            path: dir.to_path_buf(),
            source,
        };
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(state_dir)?;
        if !std::fs::metadata(dir).map_err(state_dir)?.is_dir() {
            return Err(state_dir(std::io::Error::other("not a directory")));
        }
        SqliteStore::open(&dir.join(SqliteStore::FILE_NAME), options)
    }

    /// Opens (creating it if needed) the database file at `path` and migrates it to the
    /// current schema.
    pub fn open(path: &Path, options: SqliteOptions) -> Result<SqliteStore> {
        #[cfg(unix)]
        owner_only(path);
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn =
            Connection::open_with_flags(path, flags).map_err(sql(path, "open the database"))?;
        conn.busy_timeout(options.busy_timeout)
            .map_err(sql(path, "set the busy timeout"))?;
        // SQLite silently opens a file it may not write read-only; say so now rather than at
        // the first commit.
        if conn
            .is_readonly(rusqlite::MAIN_DB)
            .map_err(sql(path, "open the database"))?
        {
            return Err(StoreError::ReadOnly {
                path: path.to_path_buf(),
            });
        }
        // The first statement that reads the file: a non-database fails here (NOTADB).
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(sql(path, "switch the database to WAL mode"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::invalid(
                "journal mode",
                format!(
                    "{}: SQLite kept journal mode {mode:?} instead of WAL",
                    path.display()
                ),
            ));
        }
        conn.pragma_update(None, "synchronous", options.synchronous.pragma())
            .map_err(sql(path, "set synchronous mode"))?;
        conn.pragma_update(None, "cache_size", -i64::from(options.cache_kib))
            .map_err(sql(path, "set the cache size"))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(sql(path, "enable foreign keys"))?;
        migrations::migrate(&mut conn, path, migrations::MIGRATIONS)?;
        conn.set_prepared_statement_cache_capacity(32);
        let instance: String = conn
            .query_row("SELECT value FROM meta WHERE key = 'instance'", [], |r| {
                r.get(0)
            })
            .map_err(sql(path, "read the database instance id"))?;
        Ok(SqliteStore {
            checkpointer: None,
            conn,
            path: path.to_path_buf(),
            instance,
        })
    }

    /// Checkpoints the WAL on a thread of its own from now on (sqlite/checkpoint.rs), for a
    /// writer whose thread bounds its throughput (the collector's store thread); SQLite's
    /// own checkpoint on the committing thread stays as a backstop at 64 MiB of WAL.
    pub fn checkpoint_in_background(&mut self) -> Result<()> {
        if self.checkpointer.is_some() {
            return Ok(());
        }
        let path = &self.path;
        let synchronous: i64 = self
            .conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .map_err(sql(path, "read synchronous mode"))?;
        self.checkpointer = Some(checkpoint::Checkpointer::start(
            path,
            &synchronous.to_string(),
        )?);
        self.conn
            .pragma_update(None, "wal_autocheckpoint", checkpoint::BACKSTOP_PAGES)
            .map_err(sql(path, "set the WAL checkpoint threshold"))
    }

    /// After a commit the background checkpointer should copy soon (a large one).
    pub(crate) fn committed(&self) {
        if let Some(c) = &self.checkpointer {
            c.wake();
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for the copy into PostgreSQL (postgres/copy.rs).
    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Runs SQLite's full `integrity_check`; returns its findings (empty when healthy).
    /// Reads the whole file: for `logward` diagnostics, not for every start-up.
    pub fn integrity_check(&mut self) -> Result<Vec<String>> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare("PRAGMA integrity_check")
            .map_err(sql(path, "check the database"))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(sql(path, "check the database"))?;
        let mut problems = Vec::new();
        for row in rows {
            let line = row.map_err(sql(path, "check the database"))?;
            if line != "ok" {
                problems.push(line);
            }
        }
        Ok(problems)
    }

    fn checkpoint_from_row(row: &Row<'_>) -> rusqlite::Result<CheckpointRow> {
        Ok(CheckpointRow {
            source: row.get(0)?,
            device: row.get(1)?,
            inode: row.get(2)?,
            offset: row.get(3)?,
            fp_len: row.get(4)?,
            fp_hash: row.get(5)?,
            line: row.get(6)?,
            cursor: row.get(7)?,
            updated_at: row.get(8)?,
        })
    }
}

/// A checkpoint as SQLite returns it, before range checks.
struct CheckpointRow {
    source: String,
    device: Option<i64>,
    inode: Option<i64>,
    offset: i64,
    fp_len: Option<i64>,
    fp_hash: Option<i64>,
    line: i64,
    cursor: Option<String>,
    updated_at: i64,
}

impl CheckpointRow {
    fn into_checkpoint(self) -> Result<Checkpoint> {
        let fingerprint = match (self.fp_len, self.fp_hash) {
            (Some(len), Some(hash)) => Some(Fingerprint {
                len: u32::try_from(len)
                    .map_err(|_| StoreError::invalid("fingerprint length", len.to_string()))?,
                hash: u64_from_sql(hash),
            }),
            _ => None,
        };
        Ok(Checkpoint {
            source: self.source,
            device: self.device.map(u64_from_sql),
            inode: self.inode.map(u64_from_sql),
            offset: count_from_sql("checkpoint offset", self.offset)?,
            fingerprint,
            line: count_from_sql("checkpoint line", self.line)?,
            cursor: self.cursor,
            updated_at: self.updated_at,
        })
    }
}

const CHECKPOINT_COLUMNS: &str =
    "source, device, inode, byte_offset, fp_len, fp_hash, line, cursor, updated_at";
pub(crate) const ALERT_COLUMNS: &str =
    "id, time, rule_id, severity, host, source_address, user_name, json";
const BAN_COLUMNS: &str =
    "target, family, reason, rule_id, created_at, expires_at, offences, removed_at";

pub(crate) fn alert_from_row(row: &Row<'_>) -> rusqlite::Result<StoredAlert> {
    Ok(StoredAlert {
        id: row.get(0)?,
        alert: NewAlert {
            time: row.get(1)?,
            rule_id: row.get(2)?,
            severity: row.get(3)?,
            host: row.get(4)?,
            source_address: row.get(5)?,
            user: row.get(6)?,
            json: row.get(7)?,
            dns: None,
        },
    })
}

/// A ban as SQLite returns it, before the target is parsed.
struct BanRow {
    target: String,
    family: i64,
    reason: String,
    rule_id: Option<String>,
    created_at: i64,
    expires_at: Option<i64>,
    offences: i64,
    removed_at: Option<i64>,
}

fn ban_row(row: &Row<'_>) -> rusqlite::Result<BanRow> {
    Ok(BanRow {
        target: row.get(0)?,
        family: row.get(1)?,
        reason: row.get(2)?,
        rule_id: row.get(3)?,
        created_at: row.get(4)?,
        expires_at: row.get(5)?,
        offences: row.get(6)?,
        removed_at: row.get(7)?,
    })
}

impl BanRow {
    fn into_ban(self) -> Result<Ban> {
        let target = BanTarget::parse(&self.target)?;
        let family = Family::from_code(self.family)
            .ok_or_else(|| StoreError::invalid("ban family", self.family.to_string()))?;
        Ok(Ban {
            target,
            family,
            reason: self.reason,
            rule_id: self.rule_id,
            created_at: self.created_at,
            expires_at: self.expires_at,
            offences: u32::try_from(self.offences)
                .map_err(|_| StoreError::invalid("ban offences", self.offences.to_string()))?,
            removed_at: self.removed_at,
        })
    }
}

/// The idempotency key of the delivery of alert `alert_id` to `sink`: unique per database
/// (`instance` is random per database file), alert and sink, and the same at every attempt.
/// Schema 1 stored exactly this text in a column; schema 2 derives it.
fn idempotency_key(instance: &str, alert_id: i64, sink: &str) -> String {
    format!("{instance}-{alert_id}-{sink}")
}

impl SqliteStore {
    /// Outbox rows with their alert's JSON; `tail` is the WHERE/ORDER/LIMIT clause.
    fn outbox_query(
        &mut self,
        tail: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<OutboxItem>> {
        type Raw = (
            (i64, i64, String, String, i64, i64, Option<String>, String),
            Option<(String, Option<String>, UnixTime)>,
        );
        let rows: Vec<Raw> = self
            .conn
            .prepare_cached(&format!(
                "SELECT o.id, o.alert_id, o.sink, o.state, o.attempts, o.next_attempt_at, \
                 o.last_error, a.json, l.state, l.text, l.requested_at \
                 FROM outbox o JOIN alerts a ON a.id = o.alert_id \
                 LEFT JOIN alert_analysis l ON l.alert_id = o.alert_id {tail}"
            ))
            .and_then(|mut s| {
                s.query_map(params, |r| {
                    let analysis: Option<String> = r.get(8)?;
                    Ok((
                        (
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get(4)?,
                            r.get(5)?,
                            r.get(6)?,
                            r.get(7)?,
                        ),
                        match analysis {
                            Some(state) => Some((state, r.get(9)?, r.get(10)?)),
                            None => None,
                        },
                    ))
                })?
                .collect()
            })
            .map_err(sql(&self.path, "read the outbox"))?;
        let instance = &self.instance;
        rows.into_iter()
            .map(
                |((id, alert_id, sink, state, attempts, next, err, json), l)| {
                    let analysis = match l {
                        None => None,
                        Some((state, text, requested_at)) => Some(OutboxAnalysis {
                            state: crate::collector::AnalysisState::parse(&state)
                                .ok_or_else(|| StoreError::invalid("analysis state", state))?,
                            text,
                            requested_at,
                        }),
                    };
                    Ok(OutboxItem {
                        analysis,
                        idempotency_key: idempotency_key(instance, alert_id, &sink),
                        id,
                        alert_id,
                        sink,
                        state: OutboxState::parse(&state)
                            .ok_or_else(|| StoreError::invalid("outbox state", state.clone()))?,
                        attempts: u32::try_from(attempts).map_err(|_| {
                            StoreError::invalid("outbox attempts", attempts.to_string())
                        })?,
                        next_attempt_at: next,
                        last_error: err,
                        alert_json: json,
                    })
                },
            )
            .collect()
    }
}

const INSERT_ALERT: &str = "INSERT INTO alerts (time, rule_id, severity, host, \
     source_address, user_name, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/// Runs one retention `DELETE` whose `?1` is the cutoff time, in the open transaction, and
/// says how many rows went: the agent's and the collector's purges are lists of these.
fn purge_older(
    tx: &Connection,
    path: &Path,
    statement: &str,
    cutoff: UnixTime,
    what: &'static str,
) -> Result<u64> {
    tx.execute(statement, [cutoff])
        .map(|n| n as u64)
        .map_err(sql(path, what))
}

/// Queues one pending delivery (alert, sink, due time), for the agent's batches and the
/// collector's ingest alike.
const INSERT_OUTBOX: &str = "INSERT INTO outbox (alert_id, sink, state, attempts, \
     next_attempt_at, updated_at) VALUES (?1, ?2, 'pending', 0, ?3, ?3)";

/// Stores the DNS hit of the alert just inserted as `alert_id`, if it has one.
fn insert_dns_hit(tx: &Connection, path: &Path, alert_id: i64, a: &NewAlert) -> Result<()> {
    let Some(h) = &a.dns else {
        return Ok(());
    };
    tx.prepare_cached(
        "INSERT INTO dns_hits (alert_id, day, time, host, client, domain, qtype, finding, \
         list, verdict, severity, answer, owner) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )
    .and_then(|mut s| {
        s.execute(params![
            alert_id,
            a.time.div_euclid(86_400),
            a.time,
            a.host,
            h.client,
            h.domain,
            h.qtype,
            h.finding,
            h.list,
            h.verdict,
            h.severity,
            h.answer,
            h.owner
        ])
    })
    .map_err(sql(path, "store a DNS hit"))?;
    Ok(())
}

/// Inserts one alert row with [`INSERT_ALERT`] (the agent's batches and the collector's
/// ingest alike), refusing a severity outside 1–5.
fn insert_alert(stmt: &mut rusqlite::CachedStatement<'_>, a: &NewAlert, path: &Path) -> Result<()> {
    a.validate()?;
    stmt.execute(params![
        a.time,
        a.rule_id,
        a.severity,
        a.host,
        a.source_address,
        a.user,
        a.json
    ])
    .map_err(sql(path, "store alerts"))?;
    Ok(())
}

impl Store for SqliteStore {
    fn alert(&mut self, id: i64) -> Result<Option<StoredAlert>> {
        self.conn
            .prepare_cached(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?1"))
            .and_then(|mut s| s.query_row([id], alert_from_row).optional())
            .map_err(sql(&self.path, "read an alert"))
    }

    fn alerts_between(
        &mut self,
        from: UnixTime,
        to: UnixTime,
        limit: usize,
    ) -> Result<Vec<StoredAlert>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {ALERT_COLUMNS} FROM alerts WHERE time >= ?1 AND time < ?2 \
                 ORDER BY time, id LIMIT ?3"
            ))
            .and_then(|mut s| {
                s.query_map(params![from, to, limit_to_sql(limit)], alert_from_row)?
                    .collect()
            })
            .map_err(sql(&self.path, "read alerts"))
    }

    fn due_outbox(&mut self, now: UnixTime, limit: usize) -> Result<Vec<OutboxItem>> {
        self.due_outbox_for(None, now, limit)
    }

    fn due_outbox_for(
        &mut self,
        sink: Option<&str>,
        now: UnixTime,
        limit: usize,
    ) -> Result<Vec<OutboxItem>> {
        self.outbox_query(
            "WHERE o.state = 'pending' AND o.next_attempt_at <= ?1 AND (?2 IS NULL OR o.sink = ?2) \
             ORDER BY o.next_attempt_at, o.id LIMIT ?3",
            params![now, sink, limit_to_sql(limit)],
        )
    }

    fn outbox_list(&mut self, state: Option<OutboxState>, limit: usize) -> Result<Vec<OutboxItem>> {
        self.outbox_query(
            "WHERE (?1 IS NULL OR o.state = ?1) ORDER BY o.id DESC LIMIT ?2",
            params![state.map(OutboxState::as_str), limit_to_sql(limit)],
        )
    }

    fn next_due(&mut self, sink: &str) -> Result<Option<UnixTime>> {
        self.conn
            .prepare_cached(
                "SELECT min(next_attempt_at) FROM outbox WHERE state = 'pending' AND sink = ?1",
            )
            .and_then(|mut s| s.query_row([sink], |r| r.get(0)))
            .map_err(sql(&self.path, "read the outbox"))
    }

    fn postpone(&mut self, ids: &[i64], until: UnixTime, at: UnixTime) -> Result<()> {
        let path = &self.path;
        let tx = self
            .conn
            .transaction()
            .map_err(sql(path, "postpone deliveries"))?;
        {
            let mut st = tx
                .prepare_cached(
                    "UPDATE outbox SET next_attempt_at = ?2, updated_at = ?3 \
                     WHERE id = ?1 AND state = 'pending'",
                )
                .map_err(sql(path, "postpone deliveries"))?;
            for id in ids {
                st.execute(params![id, until, at])
                    .map_err(sql(path, "postpone deliveries"))?;
            }
        }
        tx.commit().map_err(sql(path, "postpone deliveries"))
    }

    fn mark_sent_many(&mut self, ids: &[i64], at: UnixTime) -> Result<()> {
        let path = &self.path;
        let tx = self
            .conn
            .transaction()
            .map_err(sql(path, "mark deliveries sent"))?;
        {
            let mut st = tx
                .prepare_cached("UPDATE outbox SET state = 'sent', updated_at = ?2 WHERE id = ?1")
                .map_err(sql(path, "mark deliveries sent"))?;
            for id in ids {
                st.execute(params![id, at])
                    .map_err(sql(path, "mark deliveries sent"))?;
            }
        }
        tx.commit().map_err(sql(path, "mark deliveries sent"))
    }

    fn purge_outbox(&mut self, state: OutboxState) -> Result<u64> {
        let n = self
            .conn
            .prepare_cached("DELETE FROM outbox WHERE state = ?1")
            .and_then(|mut s| s.execute([state.as_str()]))
            .map_err(sql(&self.path, "purge the outbox"))?;
        Ok(n as u64)
    }

    fn mark_sent(&mut self, id: i64, at: UnixTime) -> Result<()> {
        let n = self
            .conn
            .prepare_cached("UPDATE outbox SET state = 'sent', updated_at = ?2 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![id, at]))
            .map_err(sql(&self.path, "mark a delivery sent"))?;
        if n == 0 {
            return Err(StoreError::NotFound {
                what: "outbox row",
                id,
            });
        }
        Ok(())
    }

    fn mark_failed(
        &mut self,
        id: i64,
        at: UnixTime,
        error: &str,
        retry_at: Option<UnixTime>,
    ) -> Result<()> {
        let state = OutboxState::after_failure(retry_at);
        let n = self
            .conn
            .prepare_cached(
                "UPDATE outbox SET state = ?2, attempts = attempts + 1, last_error = ?3, \
                 next_attempt_at = coalesce(?4, next_attempt_at), updated_at = ?5 \
                 WHERE id = ?1 AND state != 'sent'",
            )
            .and_then(|mut s| s.execute(params![id, state.as_str(), error, retry_at, at]))
            .map_err(sql(&self.path, "record a failed delivery"))?;
        if n == 0 {
            return Err(StoreError::NotFound {
                what: "unsent outbox row",
                id,
            });
        }
        Ok(())
    }

    fn retry_failed(&mut self, sink: Option<&str>, now: UnixTime) -> Result<u64> {
        let n = self
            .conn
            .prepare_cached(
                "UPDATE outbox SET state = 'pending', next_attempt_at = ?2, updated_at = ?2 \
                 WHERE state = 'failed' AND (?1 IS NULL OR sink = ?1)",
            )
            .and_then(|mut s| s.execute(params![sink, now]))
            .map_err(sql(&self.path, "retry failed deliveries"))?;
        Ok(n as u64)
    }

    fn retry_pending_now(&mut self, sink: &str, now: UnixTime) -> Result<u64> {
        let n = self
            .conn
            .prepare_cached(
                "UPDATE outbox SET next_attempt_at = ?2, updated_at = ?2 \
                 WHERE state = 'pending' AND sink = ?1 AND attempts > 0 AND next_attempt_at > ?2",
            )
            .and_then(|mut s| s.execute(params![sink, now]))
            .map_err(sql(&self.path, "retry pending deliveries"))?;
        Ok(n as u64)
    }

    fn outbox_counts(&mut self) -> Result<OutboxCounts> {
        let path = &self.path;
        let rows: Vec<(String, i64)> = self
            .conn
            .prepare_cached("SELECT state, count(*) FROM outbox GROUP BY state")
            .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .map_err(sql(path, "count the outbox"))?;
        let mut counts = OutboxCounts::default();
        for (state, n) in rows {
            let n = count_from_sql("outbox count", n)?;
            match OutboxState::parse(&state) {
                Some(OutboxState::Pending) => counts.pending = n,
                Some(OutboxState::Sent) => counts.sent = n,
                Some(OutboxState::Failed) => counts.failed = n,
                None => return Err(StoreError::invalid("outbox state", state)),
            }
        }
        Ok(counts)
    }

    fn load_counters(&mut self, name: &str) -> Result<Option<CounterSnapshot>> {
        self.conn
            .prepare_cached("SELECT name, data, saved_at FROM counters WHERE name = ?1")
            .and_then(|mut s| {
                s.query_row([name], |r| {
                    Ok(CounterSnapshot {
                        name: r.get(0)?,
                        data: r.get(1)?,
                        saved_at: r.get(2)?,
                    })
                })
                .optional()
            })
            .map_err(sql(&self.path, "load counters"))
    }

    fn report_entries(&mut self, from: UnixTime, to: UnixTime) -> Result<Vec<StoredReportEntry>> {
        let rows: Vec<(i64, i64, String, String)> = self
            .conn
            .prepare_cached(
                "SELECT id, time, section, text FROM report_entries \
                 WHERE time >= ?1 AND time < ?2 ORDER BY time, id",
            )
            .and_then(|mut s| {
                s.query_map([from, to], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })?
                .collect()
            })
            .map_err(sql(&self.path, "read report entries"))?;
        rows.into_iter()
            .map(|(id, time, section, text)| {
                Ok(StoredReportEntry {
                    id,
                    entry: ReportEntry {
                        time,
                        section: ReportSection::parse(&section)
                            .ok_or_else(|| StoreError::invalid("report section", section))?,
                        text,
                    },
                })
            })
            .collect()
    }

    fn delete_report_entries(&mut self, until: UnixTime) -> Result<u64> {
        let n = self
            .conn
            .execute("DELETE FROM report_entries WHERE time < ?1", [until])
            .map_err(sql(&self.path, "delete report entries"))?;
        Ok(n as u64)
    }

    fn purge(&mut self, now: UnixTime, keep_days: u32) -> Result<PurgeStats> {
        let path = &self.path;
        let cutoff = retention_cutoff(now, keep_days);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql(path, "begin retention"))?;
        let purge = |statement, what| purge_older(&tx, path, statement, cutoff, what);
        let outbox = purge(
            "DELETE FROM outbox WHERE state = 'sent' AND updated_at < ?1",
            "purge sent deliveries",
        )?;
        // Remaining outbox rows of a purged alert are sent ones (cascade); pending or failed
        // deliveries keep their alert.
        let alerts = purge(
            "DELETE FROM alerts WHERE time < ?1 AND NOT EXISTS \
             (SELECT 1 FROM outbox o WHERE o.alert_id = alerts.id AND o.state != 'sent')",
            "purge alerts",
        )?;
        let bans = purge(
            "DELETE FROM bans WHERE removed_at < ?1 \
             OR (removed_at IS NULL AND expires_at < ?1)",
            "purge old bans",
        )?;
        let report = purge(
            "DELETE FROM report_entries WHERE time < ?1",
            "purge report entries",
        )?;
        // Whole days: the day holding the cutoff is kept until it is entirely older.
        let dns_hits = purge(
            "DELETE FROM dns_hits WHERE day < ?1 / 86400",
            "purge DNS hits",
        )?;
        tx.commit().map_err(sql(path, "commit retention"))?;
        Ok(PurgeStats {
            alerts,
            outbox,
            bans,
            report,
            dns_hits,
        })
    }

    fn schema_version(&mut self) -> Result<u32> {
        migrations::current_version(&self.conn, &self.path)
    }

    fn profile(&mut self, key: &str) -> Result<Option<Vec<u8>>> {
        SqliteStore::profile(self, key)
    }

    fn meta(&mut self, key: &str) -> Result<Option<String>> {
        SqliteStore::meta(self, key)
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<()> {
        SqliteStore::set_meta(self, key, value)
    }

    fn init_meta(&mut self, key: &str, value: &str) -> Result<String> {
        SqliteStore::init_meta(self, key, value)
    }
}

impl AgentStore for SqliteStore {
    fn commit_batch(&mut self, batch: &Batch) -> Result<BatchIds> {
        let path = &self.path;
        let mut ids = BatchIds {
            alerts: Vec::with_capacity(batch.alerts.len()),
            outbox: Vec::with_capacity(batch.outbox.len()),
            spool_dropped: 0,
        };
        if batch.is_empty() {
            return Ok(ids);
        }
        // IMMEDIATE: take the write lock now (waiting up to the busy timeout) rather than
        // failing half-way through when a reader upgrades.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql(path, "begin a batch"))?;
        // Dropping `tx` on any early return below rolls the whole batch back.
        if !batch.alerts.is_empty() {
            let mut stmt = tx
                .prepare_cached(INSERT_ALERT)
                .map_err(sql(path, "store alerts"))?;
            for a in &batch.alerts {
                insert_alert(&mut stmt, a, path)?;
                let id = tx.last_insert_rowid();
                insert_dns_hit(&tx, path, id, a)?;
                ids.alerts.push(id);
            }
        }
        if !batch.outbox.is_empty() {
            let mut stmt = tx
                .prepare_cached(INSERT_OUTBOX)
                .map_err(sql(path, "queue deliveries"))?;
            // One row per (alert, sink): the idempotency key is derived from the pair, and
            // the batch creating an alert is the only one that queues its deliveries.
            let mut seen = HashSet::with_capacity(batch.outbox.len());
            for o in &batch.outbox {
                if !seen.insert((o.alert, o.sink.as_str())) {
                    return Err(StoreError::invalid(
                        "outbox row",
                        format!(
                            "alert index {} is queued twice for sink {:?}",
                            o.alert, o.sink
                        ),
                    ));
                }
                let alert_id = *ids.alerts.get(o.alert).ok_or_else(|| {
                    StoreError::invalid(
                        "outbox row",
                        format!(
                            "alert index {} for sink {:?}, but the batch has {} alerts",
                            o.alert,
                            o.sink,
                            batch.alerts.len()
                        ),
                    )
                })?;
                stmt.execute(params![alert_id, o.sink, o.next_attempt_at])
                    .map_err(sql(path, "queue deliveries"))?;
                ids.outbox.push(tx.last_insert_rowid());
            }
        }
        if !batch.bans.is_empty() {
            let mut add = tx
                .prepare_cached(
                    "INSERT INTO bans (target, family, reason, rule_id, created_at, expires_at, \
                     offences, removed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, NULL) \
                     ON CONFLICT (target) DO UPDATE SET reason = excluded.reason, \
                     rule_id = excluded.rule_id, created_at = excluded.created_at, \
                     expires_at = excluded.expires_at, offences = bans.offences + 1, \
                     removed_at = NULL",
                )
                .map_err(sql(path, "record bans"))?;
            let mut remove = tx
                .prepare_cached(
                    "UPDATE bans SET removed_at = ?2 WHERE target = ?1 AND removed_at IS NULL",
                )
                .map_err(sql(path, "record unbans"))?;
            for change in &batch.bans {
                match change {
                    BanChange::Add(b) => {
                        add.execute(params![
                            b.target.to_string(),
                            b.target.family().code(),
                            b.reason,
                            b.rule_id,
                            b.created_at,
                            b.expires_at
                        ])
                        .map_err(sql(path, "record bans"))?;
                    }
                    BanChange::Remove { target, at } => {
                        remove
                            .execute(params![target.to_string(), at])
                            .map_err(sql(path, "record unbans"))?;
                    }
                }
            }
        }
        if !batch.counters.is_empty() {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO counters (name, data, saved_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (name) DO UPDATE SET data = excluded.data, \
                     saved_at = excluded.saved_at",
                )
                .map_err(sql(path, "save counters"))?;
            for c in &batch.counters {
                stmt.execute(params![c.name, c.data, c.saved_at])
                    .map_err(sql(path, "save counters"))?;
            }
        }
        if !batch.report.is_empty() {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO report_entries (time, section, text) VALUES (?1, ?2, ?3)",
                )
                .map_err(sql(path, "store report entries"))?;
            for r in &batch.report {
                stmt.execute(params![r.time, r.section.as_str(), r.text])
                    .map_err(sql(path, "store report entries"))?;
            }
        }
        if !batch.checkpoints.is_empty() {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO checkpoints (source, device, inode, byte_offset, fp_len, \
                     fp_hash, line, cursor, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
                     ON CONFLICT (source) DO UPDATE SET device = excluded.device, \
                     inode = excluded.inode, byte_offset = excluded.byte_offset, \
                     fp_len = excluded.fp_len, fp_hash = excluded.fp_hash, \
                     line = excluded.line, cursor = excluded.cursor, \
                     updated_at = excluded.updated_at",
                )
                .map_err(sql(path, "write checkpoints"))?;
            for c in &batch.checkpoints {
                stmt.execute(params![
                    c.source,
                    c.device.map(u64_to_sql),
                    c.inode.map(u64_to_sql),
                    count_to_sql("checkpoint offset", c.offset)?,
                    c.fingerprint.map(|f| f.len),
                    c.fingerprint.map(|f| u64_to_sql(f.hash)),
                    count_to_sql("checkpoint line", c.line)?,
                    c.cursor,
                    c.updated_at
                ])
                .map_err(sql(path, "write checkpoints"))?;
            }
        }
        if !batch.spool.is_empty() {
            ids.spool_dropped = spool::append(&tx, path, &batch.spool)?;
        }
        if !batch.profiles.is_empty() {
            profiles::put(&tx, path, &batch.profiles)?;
        }
        tx.commit().map_err(sql(path, "commit a batch"))?;
        Ok(ids)
    }

    fn checkpoint(&mut self, source: &str) -> Result<Option<Checkpoint>> {
        let path = &self.path;
        let row = self
            .conn
            .prepare_cached(&format!(
                "SELECT {CHECKPOINT_COLUMNS} FROM checkpoints WHERE source = ?1"
            ))
            .and_then(|mut s| {
                s.query_row([source], SqliteStore::checkpoint_from_row)
                    .optional()
            })
            .map_err(sql(path, "read a checkpoint"))?;
        row.map(CheckpointRow::into_checkpoint).transpose()
    }

    fn checkpoints(&mut self) -> Result<Vec<Checkpoint>> {
        let path = &self.path;
        let rows = self
            .conn
            .prepare_cached(&format!(
                "SELECT {CHECKPOINT_COLUMNS} FROM checkpoints ORDER BY source"
            ))
            .and_then(|mut s| {
                s.query_map([], SqliteStore::checkpoint_from_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(sql(path, "read checkpoints"))?;
        rows.into_iter()
            .map(CheckpointRow::into_checkpoint)
            .collect()
    }

    fn delete_checkpoint(&mut self, source: &str) -> Result<bool> {
        let n = self
            .conn
            .execute("DELETE FROM checkpoints WHERE source = ?1", [source])
            .map_err(sql(&self.path, "delete a checkpoint"))?;
        Ok(n > 0)
    }

    /// Alerts stored after row `id`, in commit order, at most `limit` (what the agent had not
    /// printed yet when it was killed).
    fn alerts_after(&mut self, id: i64, limit: usize) -> Result<Vec<StoredAlert>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {ALERT_COLUMNS} FROM alerts WHERE id > ?1 ORDER BY id LIMIT ?2"
            ))
            .and_then(|mut s| {
                s.query_map(params![id, limit_to_sql(limit)], alert_from_row)?
                    .collect()
            })
            .map_err(sql(&self.path, "read alerts"))
    }

    /// The newest alert's row id (0 when there is none).
    fn last_alert_id(&mut self) -> Result<i64> {
        self.conn
            .query_row("SELECT COALESCE(MAX(id), 0) FROM alerts", [], |r| r.get(0))
            .map_err(sql(&self.path, "read alerts"))
    }

    fn ban(&mut self, target: &BanTarget) -> Result<Option<Ban>> {
        let row = self
            .conn
            .prepare_cached(&format!("SELECT {BAN_COLUMNS} FROM bans WHERE target = ?1"))
            .and_then(|mut s| s.query_row([target.to_string()], ban_row).optional())
            .map_err(sql(&self.path, "read a ban"))?;
        row.map(BanRow::into_ban).transpose()
    }

    fn count_active_bans(&mut self, now: UnixTime) -> Result<u64> {
        self.conn
            .prepare_cached(
                "SELECT count(*) FROM bans WHERE removed_at IS NULL \
                 AND (expires_at IS NULL OR expires_at > ?1)",
            )
            .and_then(|mut st| st.query_row([now], |r| r.get::<_, i64>(0)))
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(sql(&self.path, "count active bans"))
    }

    fn active_bans(&mut self, now: UnixTime) -> Result<Vec<Ban>> {
        let path = &self.path;
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {BAN_COLUMNS} FROM bans WHERE removed_at IS NULL \
                 AND (expires_at IS NULL OR expires_at > ?1)"
            ))
            .map_err(sql(path, "read active bans"))?;
        let rows = stmt
            .query_map([now], ban_row)
            .map_err(sql(path, "read active bans"))?;
        let mut bans = Vec::new();
        for row in rows {
            bans.push(row.map_err(sql(path, "read active bans"))?.into_ban()?);
        }
        Ok(bans)
    }

    fn expire_bans(&mut self, now: UnixTime) -> Result<Vec<BanTarget>> {
        let path = &self.path;
        let targets: Vec<String> = self
            .conn
            .prepare_cached(
                "UPDATE bans SET removed_at = expires_at WHERE removed_at IS NULL \
                 AND expires_at IS NOT NULL AND expires_at <= ?1 RETURNING target",
            )
            .and_then(|mut s| s.query_map([now], |r| r.get(0))?.collect())
            .map_err(sql(path, "expire bans"))?;
        targets
            .iter()
            .map(|t| BanTarget::parse(t).map_err(StoreError::from))
            .collect()
    }

    fn spool_set_max(&mut self, max_bytes: u64) -> Result<()> {
        SqliteStore::spool_set_max(self, max_bytes)
    }

    fn spool_read(&mut self, max_items: usize, max_bytes: u64) -> Result<Vec<SpooledItem>> {
        SqliteStore::spool_read(self, max_items, max_bytes)
    }

    fn spool_ack(&mut self, through: u64) -> Result<u64> {
        SqliteStore::spool_ack(self, through)
    }

    fn spool_stats(&mut self) -> Result<SpoolStats> {
        SqliteStore::spool_stats(self)
    }

    fn forward_state(&mut self, key: &str) -> Result<Option<String>> {
        SqliteStore::forward_state(self, key)
    }

    fn set_forward_state(&mut self, key: &str, value: &str) -> Result<()> {
        SqliteStore::set_forward_state(self, key, value)
    }

    fn put_profiles(&mut self, rows: &[ProfileRow]) -> Result<()> {
        SqliteStore::put_profiles(self, rows)
    }

    fn profile_count(&mut self) -> Result<u64> {
        SqliteStore::profile_count(self)
    }
}
