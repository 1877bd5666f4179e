//! Enrolment and agents on [`SqliteStore`] (migration 4): one-use enrolment tokens (their
//! SHA-256 only, with an expiry), the agents they create or shared-key hosts registered on
//! first sight, revocation and heartbeats.

use rusqlite::{params, OptionalExtension, Row, TransactionBehavior};

use super::SqliteStore;
use crate::collector::{Agent, Heartbeat, TokenCheck};
use crate::error::{sql, Result};
use crate::types::UnixTime;

const AGENT_COLUMNS: &str = "id, host, secret, created_at, revoked_at, last_seen, version, \
     spool_items, spool_bytes, oldest_unsent, last_seq";

fn agent_row(r: &Row<'_>) -> rusqlite::Result<Agent> {
    Ok(Agent {
        id: r.get(0)?,
        host: r.get(1)?,
        secret: r.get(2)?,
        created_at: r.get(3)?,
        revoked_at: r.get(4)?,
        last_seen: r.get(5)?,
        version: r.get(6)?,
        spool_items: r.get(7)?,
        spool_bytes: r.get(8)?,
        oldest_unsent: r.get(9)?,
        last_seq: r.get(10)?,
    })
}

impl SqliteStore {
    /// Stores a new enrolment token's SHA-256 (hex) with its expiry.
    pub(crate) fn create_enrol_token(
        &mut self,
        sha256: &str,
        created_at: UnixTime,
        expires_at: UnixTime,
    ) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO enrol_tokens (sha256, created_at, expires_at) VALUES (?1, ?2, ?3)",
                params![sha256, created_at, expires_at],
            )
            .map_err(sql(&self.path, "store an enrolment token"))?;
        Ok(())
    }

    /// Redeems a token (by its SHA-256) for a new agent, in one transaction: the token is
    /// marked used and the agent created only when it is known, unused and unexpired.
    pub(crate) fn redeem_enrol_token(
        &mut self,
        sha256: &str,
        now: UnixTime,
        agent_id: &str,
        host: &str,
        secret: &str,
        version: Option<&str>,
    ) -> Result<TokenCheck> {
        let path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql(path, "redeem an enrolment token"))?;
        let row: Option<(UnixTime, Option<UnixTime>)> = tx
            .query_row(
                "SELECT expires_at, used_at FROM enrol_tokens WHERE sha256 = ?1",
                [sha256],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(sql(path, "redeem an enrolment token"))?;
        let check = match row {
            None => TokenCheck::Unknown,
            Some((_, Some(_))) => TokenCheck::Used,
            Some((expires, None)) if expires <= now => TokenCheck::Expired,
            Some(_) => {
                tx.execute(
                    "UPDATE enrol_tokens SET used_at = ?2, agent_id = ?3 WHERE sha256 = ?1",
                    params![sha256, now, agent_id],
                )
                .map_err(sql(path, "redeem an enrolment token"))?;
                tx.execute(
                    "INSERT INTO agents (id, host, secret, created_at, last_seen, version) \
                     VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
                    params![agent_id, host, secret, now, version],
                )
                .map_err(sql(path, "create an agent"))?;
                TokenCheck::Redeemed
            }
        };
        tx.commit()
            .map_err(sql(path, "redeem an enrolment token"))?;
        Ok(check)
    }

    /// Registers a shared-key host on first sight (no secret); nothing when it exists.
    pub(crate) fn register_shared_agent(&mut self, id: &str, now: UnixTime) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO agents (id, host, created_at, last_seen) VALUES (?1, ?1, ?2, ?2) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .and_then(|mut s| s.execute(params![id, now]))
            .map_err(sql(&self.path, "register an agent"))?;
        Ok(())
    }

    /// One agent.
    pub(crate) fn agent(&mut self, id: &str) -> Result<Option<Agent>> {
        self.conn
            .prepare_cached(&format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = ?1"))
            .and_then(|mut s| s.query_row([id], agent_row).optional())
            .map_err(sql(&self.path, "read an agent"))
    }

    /// All agents, by host then id.
    pub(crate) fn agents(&mut self) -> Result<Vec<Agent>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {AGENT_COLUMNS} FROM agents ORDER BY host, id"
            ))
            .and_then(|mut s| s.query_map([], agent_row)?.collect())
            .map_err(sql(&self.path, "read agents"))
    }

    /// Revokes an agent: its requests are refused from now on. Whether it existed unrevoked.
    pub(crate) fn revoke_agent(&mut self, id: &str, at: UnixTime) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "UPDATE agents SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, at],
            )
            .map_err(sql(&self.path, "revoke an agent"))?;
        Ok(n > 0)
    }

    /// Records a heartbeat (last seen, version, spool figures).
    pub(crate) fn record_heartbeat(
        &mut self,
        id: &str,
        now: UnixTime,
        hb: &Heartbeat,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE agents SET last_seen = ?2, version = coalesce(?3, version), \
                 spool_items = ?4, spool_bytes = ?5, oldest_unsent = ?6 WHERE id = ?1",
            )
            .and_then(|mut s| {
                s.execute(params![
                    id,
                    now,
                    hb.version,
                    hb.spool_items,
                    hb.spool_bytes,
                    hb.oldest_unsent
                ])
            })
            .map_err(sql(&self.path, "record a heartbeat"))?;
        Ok(())
    }
}
