//! Enrolment tokens, agents and their heartbeats, as on SQLite (sqlite/agents.rs).

use postgres::Row;

use super::ingest::text;
use super::{pg_error, PgStore};
use crate::collector::{Agent, Heartbeat, TokenCheck};
use crate::error::Result;
use crate::types::UnixTime;

const AGENT_SELECT: &str = "SELECT id, host, secret, created_at, revoked_at, last_seen, \
     version, spool_items, spool_bytes, oldest_unsent, last_seq FROM agents";

fn agent_row(r: &Row) -> Agent {
    Agent {
        id: r.get(0),
        host: r.get(1),
        secret: r.get(2),
        created_at: r.get(3),
        revoked_at: r.get(4),
        last_seen: r.get(5),
        version: r.get(6),
        spool_items: r.get(7),
        spool_bytes: r.get(8),
        oldest_unsent: r.get(9),
        last_seq: r.get(10),
    }
}

impl PgStore {
    /// Stores a new enrolment token's SHA-256 (hex) with its expiry.
    pub(super) fn create_enrol_token(
        &mut self,
        sha256: &str,
        created_at: UnixTime,
        expires_at: UnixTime,
    ) -> Result<()> {
        self.client
            .execute(
                "INSERT INTO enrol_tokens (sha256, created_at, expires_at) VALUES ($1, $2, $3)",
                &[&text(sha256), &created_at, &expires_at],
            )
            .map_err(|e| pg_error(&self.shown, "store an enrolment token", e))?;
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
        let shown = &self.shown;
        let err = |e| pg_error(shown, "redeem an enrolment token", e);
        let mut tx = self.client.transaction().map_err(err)?;
        let row = tx
            .query_opt(
                "SELECT expires_at, used_at FROM enrol_tokens WHERE sha256 = $1 FOR UPDATE",
                &[&text(sha256)],
            )
            .map_err(err)?
            .map(|r| (r.get::<_, i64>(0), r.get::<_, Option<i64>>(1)));
        let check = match row {
            None => TokenCheck::Unknown,
            Some((_, Some(_))) => TokenCheck::Used,
            Some((expires, None)) if expires <= now => TokenCheck::Expired,
            Some(_) => {
                tx.execute(
                    "UPDATE enrol_tokens SET used_at = $2, agent_id = $3 WHERE sha256 = $1",
                    &[&text(sha256), &now, &text(agent_id)],
                )
                .map_err(err)?;
                tx.execute(
                    "INSERT INTO agents (id, host, secret, created_at, last_seen, version) \
                     VALUES ($1, $2, $3, $4, $4, $5)",
                    &[
                        &text(agent_id),
                        &text(host),
                        &text(secret),
                        &now,
                        &version.map(text),
                    ],
                )
                .map_err(|e| pg_error(shown, "create an agent", e))?;
                TokenCheck::Redeemed
            }
        };
        tx.commit().map_err(err)?;
        Ok(check)
    }

    /// Registers a shared-key host on first sight (no secret); nothing when it exists.
    pub(super) fn register_shared_agent(&mut self, id: &str, now: UnixTime) -> Result<()> {
        let PgStore {
            client,
            shown,
            stmts,
            ..
        } = self;
        let err = |e| pg_error(shown, "register an agent", e);
        let s = stmts
            .get(
                client,
                "INSERT INTO agents (id, host, created_at, last_seen) VALUES ($1, $1, $2, $2) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .map_err(err)?;
        client.execute(&s, &[&text(id), &now]).map_err(err)?;
        Ok(())
    }

    /// One agent.
    pub(super) fn agent(&mut self, id: &str) -> Result<Option<Agent>> {
        let PgStore {
            client,
            shown,
            stmts,
            ..
        } = self;
        let err = |e| pg_error(shown, "read an agent", e);
        const SQL: &str = "SELECT id, host, secret, created_at, revoked_at, last_seen, \
             version, spool_items, spool_bytes, oldest_unsent, last_seq FROM agents \
             WHERE id = $1";
        let s = stmts.get(client, SQL).map_err(err)?;
        Ok(client
            .query_opt(&s, &[&text(id)])
            .map_err(err)?
            .as_ref()
            .map(agent_row))
    }

    /// All agents, by host then id.
    pub(super) fn agents(&mut self) -> Result<Vec<Agent>> {
        let rows = self
            .client
            .query(&format!("{AGENT_SELECT} ORDER BY host, id"), &[])
            .map_err(|e| pg_error(&self.shown, "read agents", e))?;
        Ok(rows.iter().map(agent_row).collect())
    }

    /// Revokes an agent: its requests are refused from now on. Whether it existed unrevoked.
    pub(super) fn revoke_agent(&mut self, id: &str, at: UnixTime) -> Result<bool> {
        let n = self
            .client
            .execute(
                "UPDATE agents SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                &[&text(id), &at],
            )
            .map_err(|e| pg_error(&self.shown, "revoke an agent", e))?;
        Ok(n > 0)
    }

    /// Records a heartbeat (last seen, version, spool figures).
    pub(super) fn record_heartbeat(
        &mut self,
        id: &str,
        now: UnixTime,
        hb: &Heartbeat,
    ) -> Result<()> {
        let PgStore {
            client,
            shown,
            stmts,
            ..
        } = self;
        let err = |e| pg_error(shown, "record a heartbeat", e);
        let s = stmts
            .get(
                client,
                "UPDATE agents SET last_seen = $2, version = coalesce($3, version), \
                 spool_items = $4, spool_bytes = $5, oldest_unsent = $6 WHERE id = $1",
            )
            .map_err(err)?;
        client
            .execute(
                &s,
                &[
                    &text(id),
                    &now,
                    &hb.version.as_deref().map(text),
                    &hb.spool_items,
                    &hb.spool_bytes,
                    &hb.oldest_unsent,
                ],
            )
            .map_err(err)?;
        Ok(())
    }
}
