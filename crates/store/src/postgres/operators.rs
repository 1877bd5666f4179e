//! Dashboard operators and REST API tokens, as on SQLite (sqlite/operators.rs): an argon2id
//! PHC string per operator (hashed by the collector), the SHA-256 of each API token.

use postgres::Row;

use super::base::RowError;
use super::PgStore;
use crate::collector::ApiToken;
use crate::error::Result;
use crate::types::UnixTime;

fn token(r: &Row) -> std::result::Result<ApiToken, RowError> {
    Ok(ApiToken {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        created_at: r.try_get(2)?,
        last_used: r.try_get(3)?,
        revoked_at: r.try_get(4)?,
    })
}

impl PgStore {
    /// Creates an operator, or sets the password of an existing one; whether it was new
    /// (`xmax = 0`: the row was inserted, not updated — one statement, no read first).
    pub(super) fn set_operator(&mut self, name: &str, phc: &str, now: UnixTime) -> Result<bool> {
        let new = self.row(
            "INSERT INTO operators (name, password, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET password = excluded.password \
             RETURNING (xmax = 0)",
            &[&name, &phc, &now],
            "store an operator",
            |r| Ok(r.try_get::<_, bool>(0)?),
        )?;
        Ok(new.unwrap_or(false))
    }

    pub(super) fn operator_password(&mut self, name: &str) -> Result<Option<String>> {
        self.row(
            "SELECT password FROM operators WHERE name = $1",
            &[&name],
            "read an operator",
            |r| Ok(r.try_get(0)?),
        )
    }

    /// Sorted bytewise (`COLLATE "C"`), as SQLite sorts: not by the database's locale.
    pub(super) fn operators(&mut self) -> Result<Vec<String>> {
        self.rows(
            "SELECT name FROM operators ORDER BY name COLLATE \"C\"",
            &[],
            "read operators",
            |r| Ok(r.try_get(0)?),
        )
    }

    pub(super) fn remove_operator(&mut self, name: &str) -> Result<bool> {
        let n = self.exec(
            "DELETE FROM operators WHERE name = $1",
            &[&name],
            "remove an operator",
        )?;
        Ok(n > 0)
    }

    pub(super) fn create_api_token(
        &mut self,
        name: &str,
        sha256: &str,
        now: UnixTime,
    ) -> Result<i64> {
        let id = self.row(
            "INSERT INTO api_tokens (name, sha256, created_at) VALUES ($1, $2, $3) RETURNING id",
            &[&name, &sha256, &now],
            "store an API token",
            |r| Ok(r.try_get::<_, i64>(0)?),
        )?;
        id.ok_or_else(|| crate::error::StoreError::invalid("API token", "no id returned"))
    }

    /// The unrevoked token with this SHA-256 as it was before this use (its stored digest
    /// too, for the caller's constant-time comparison), marked used at `now` in the same
    /// statement.
    pub(super) fn use_api_token(
        &mut self,
        sha256: &str,
        now: UnixTime,
    ) -> Result<Option<(ApiToken, String)>> {
        self.row(
            "WITH old AS (SELECT id, name, created_at, last_used, revoked_at, sha256 \
             FROM api_tokens WHERE sha256 = $1 AND revoked_at IS NULL FOR UPDATE) \
             UPDATE api_tokens t SET last_used = $2 FROM old WHERE t.id = old.id \
             RETURNING old.id, old.name, old.created_at, old.last_used, old.revoked_at, \
             old.sha256",
            &[&sha256, &now],
            "use an API token",
            |r| Ok((token(r)?, r.try_get(5)?)),
        )
    }

    pub(super) fn api_tokens(&mut self) -> Result<Vec<ApiToken>> {
        self.rows(
            "SELECT id, name, created_at, last_used, revoked_at FROM api_tokens ORDER BY id",
            &[],
            "read API tokens",
            token,
        )
    }

    pub(super) fn revoke_api_token(&mut self, id: i64, now: UnixTime) -> Result<bool> {
        let n = self.exec(
            "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            &[&id, &now],
            "revoke an API token",
        )?;
        Ok(n > 0)
    }
}
