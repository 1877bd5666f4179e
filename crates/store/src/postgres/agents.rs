//! Enrolment tokens, agents and their heartbeats, as on SQLite (sqlite/agents.rs).

use postgres::Row;

use super::base::RowError;
use super::{pe, PgStore};
use crate::collector::{Agent, Heartbeat, TokenCheck};
use crate::error::Result;
use crate::types::UnixTime;

/// The columns [`agent_row`] reads, in its order (a macro, for `concat!`).
macro_rules! agent_select {
    () => {
        "SELECT id, host, secret, created_at, revoked_at, last_seen, version, spool_items, \
         spool_bytes, oldest_unsent, last_seq FROM agents"
    };
}

fn agent_row(r: &Row) -> std::result::Result<Agent, RowError> {
    Ok(Agent {
        id: r.try_get(0)?,
        host: r.try_get(1)?,
        secret: r.try_get(2)?,
        created_at: r.try_get(3)?,
        revoked_at: r.try_get(4)?,
        last_seen: r.try_get(5)?,
        version: r.try_get(6)?,
        spool_items: r.try_get(7)?,
        spool_bytes: r.try_get(8)?,
        oldest_unsent: r.try_get(9)?,
        last_seq: r.try_get(10)?,
    })
}

impl PgStore {
    /// Stores a new enrolment token's SHA-256 (hex) with its expiry.
    pub(super) fn create_enrol_token(
        &mut self,
        sha256: &str,
        created_at: UnixTime,
        expires_at: UnixTime,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO enrol_tokens (sha256, created_at, expires_at) VALUES ($1, $2, $3)",
            &[&sha256, &created_at, &expires_at],
            "store an enrolment token",
        )?;
        Ok(())
    }

    /// Redeems a token (by its SHA-256) for a new agent, in one transaction: the token is
    /// marked used and the agent created only when it is known, unused and unexpired. The
    /// token's row is locked, so two collectors redeeming one token make one agent.
    pub(super) fn redeem_enrol_token(
        &mut self,
        sha256: &str,
        now: UnixTime,
        agent_id: &str,
        host: &str,
        secret: &str,
        version: Option<&str>,
    ) -> Result<TokenCheck> {
        self.in_transaction("redeem an enrolment token", |tx, st, shown| {
            let row = st.query_opt(
                tx,
                shown,
                "redeem an enrolment token",
                "SELECT expires_at, used_at FROM enrol_tokens WHERE sha256 = $1 FOR UPDATE",
                &[&sha256],
            )?;
            let row: Option<(i64, Option<i64>)> = row
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .transpose()
                .map_err(pe(shown, "redeem an enrolment token"))?;
            Ok(match row {
                None => TokenCheck::Unknown,
                Some((_, Some(_))) => TokenCheck::Used,
                Some((expires, None)) if expires <= now => TokenCheck::Expired,
                Some(_) => {
                    st.execute(
                        tx,
                        shown,
                        "redeem an enrolment token",
                        "UPDATE enrol_tokens SET used_at = $2, agent_id = $3 WHERE sha256 = $1",
                        &[&sha256, &now, &agent_id],
                    )?;
                    st.execute(
                        tx,
                        shown,
                        "create an agent",
                        "INSERT INTO agents (id, host, secret, created_at, last_seen, version) \
                         VALUES ($1, $2, $3, $4, $4, $5)",
                        &[&agent_id, &host, &secret, &now, &version],
                    )?;
                    TokenCheck::Redeemed
                }
            })
        })
    }

    /// Registers a shared-key host on first sight (no secret); nothing when it exists.
    pub(super) fn register_shared_agent(&mut self, id: &str, now: UnixTime) -> Result<()> {
        self.exec(
            "INSERT INTO agents (id, host, created_at, last_seen) VALUES ($1, $1, $2, $2) \
             ON CONFLICT (id) DO NOTHING",
            &[&id, &now],
            "register an agent",
        )?;
        Ok(())
    }

    /// One agent.
    pub(super) fn agent(&mut self, id: &str) -> Result<Option<Agent>> {
        self.row(
            concat!(agent_select!(), " WHERE id = $1"),
            &[&id],
            "read an agent",
            agent_row,
        )
    }

    /// All agents, by host then id.
    pub(super) fn agents(&mut self) -> Result<Vec<Agent>> {
        self.rows(
            concat!(agent_select!(), " ORDER BY host, id"),
            &[],
            "read agents",
            agent_row,
        )
    }

    /// Revokes an agent: its requests are refused from now on. Whether it existed unrevoked.
    pub(super) fn revoke_agent(&mut self, id: &str, at: UnixTime) -> Result<bool> {
        let n = self.exec(
            "UPDATE agents SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            &[&id, &at],
            "revoke an agent",
        )?;
        Ok(n > 0)
    }

    /// Records a heartbeat (last seen, version, spool figures).
    pub(super) fn record_heartbeat(
        &mut self,
        id: &str,
        now: UnixTime,
        hb: &Heartbeat,
    ) -> Result<()> {
        self.exec(
            "UPDATE agents SET last_seen = $2, version = coalesce($3, version), \
             spool_items = $4, spool_bytes = $5, oldest_unsent = $6 WHERE id = $1",
            &[
                &id,
                &now,
                &hb.version.as_deref(),
                &hb.spool_items,
                &hb.spool_bytes,
                &hb.oldest_unsent,
            ],
            "record a heartbeat",
        )?;
        Ok(())
    }
}
