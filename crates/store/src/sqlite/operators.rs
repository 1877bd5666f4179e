//! Dashboard operators and REST API tokens (the dashboard schema, 0008_dashboard.sql). The
//! store keeps only what cannot be turned back into a secret: an argon2id PHC string per
//! operator (hashed by the collector), the SHA-256 of each API token.

use rusqlite::{params, OptionalExtension};

use super::SqliteStore;
use crate::collector::ApiToken;
use crate::error::{sql, Result};
use crate::types::UnixTime;

impl SqliteStore {
    /// Creates an operator, or sets the password of an existing one; whether it was new.
    pub(crate) fn set_operator(&mut self, name: &str, phc: &str, now: UnixTime) -> Result<bool> {
        let existed = self.operator_password(name)?.is_some();
        self.conn
            .execute(
                "INSERT INTO operators (name, password, created_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name) DO UPDATE SET password = excluded.password",
                params![name, phc, now],
            )
            .map_err(sql(&self.path, "store an operator"))?;
        Ok(!existed)
    }

    /// An operator's PHC string.
    pub(crate) fn operator_password(&mut self, name: &str) -> Result<Option<String>> {
        self.conn
            .prepare_cached("SELECT password FROM operators WHERE name = ?1")
            .and_then(|mut s| s.query_row([name], |r| r.get(0)).optional())
            .map_err(sql(&self.path, "read an operator"))
    }

    /// Operator names, sorted.
    pub(crate) fn operators(&mut self) -> Result<Vec<String>> {
        self.conn
            .prepare_cached("SELECT name FROM operators ORDER BY name")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(sql(&self.path, "read operators"))
    }

    /// Removes an operator; whether it existed.
    pub(crate) fn remove_operator(&mut self, name: &str) -> Result<bool> {
        let n = self
            .conn
            .execute("DELETE FROM operators WHERE name = ?1", [name])
            .map_err(sql(&self.path, "remove an operator"))?;
        Ok(n > 0)
    }

    /// Stores a new API token's SHA-256 (hex); returns its id.
    pub(crate) fn create_api_token(
        &mut self,
        name: &str,
        sha256: &str,
        now: UnixTime,
    ) -> Result<i64> {
        self.conn
            .execute(
                "INSERT INTO api_tokens (name, sha256, created_at) VALUES (?1, ?2, ?3)",
                params![name, sha256, now],
            )
            .map_err(sql(&self.path, "store an API token"))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// The unrevoked token with this SHA-256 (its stored digest too, for the caller's
    /// constant-time comparison), marking it used at `now`.
    pub(crate) fn use_api_token(
        &mut self,
        sha256: &str,
        now: UnixTime,
    ) -> Result<Option<(ApiToken, String)>> {
        let found = self
            .conn
            .prepare_cached(
                "SELECT id, name, created_at, last_used, revoked_at, sha256 FROM api_tokens \
                 WHERE sha256 = ?1 AND revoked_at IS NULL",
            )
            .and_then(|mut s| {
                s.query_row([sha256], |r| {
                    Ok((
                        ApiToken {
                            id: r.get(0)?,
                            name: r.get(1)?,
                            created_at: r.get(2)?,
                            last_used: r.get(3)?,
                            revoked_at: r.get(4)?,
                        },
                        r.get::<_, String>(5)?,
                    ))
                })
                .optional()
            })
            .map_err(sql(&self.path, "read an API token"))?;
        if let Some((t, _)) = &found {
            self.conn
                .prepare_cached("UPDATE api_tokens SET last_used = ?2 WHERE id = ?1")
                .and_then(|mut s| s.execute(params![t.id, now]))
                .map_err(sql(&self.path, "mark an API token used"))?;
        }
        Ok(found)
    }

    /// Every API token, by id.
    pub(crate) fn api_tokens(&mut self) -> Result<Vec<ApiToken>> {
        self.conn
            .prepare_cached(
                "SELECT id, name, created_at, last_used, revoked_at FROM api_tokens ORDER BY id",
            )
            .and_then(|mut s| {
                s.query_map([], |r| {
                    Ok(ApiToken {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        created_at: r.get(2)?,
                        last_used: r.get(3)?,
                        revoked_at: r.get(4)?,
                    })
                })?
                .collect()
            })
            .map_err(sql(&self.path, "read API tokens"))
    }

    /// Revokes an API token; whether it existed unrevoked.
    pub(crate) fn revoke_api_token(&mut self, id: i64, now: UnixTime) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, now],
            )
            .map_err(sql(&self.path, "revoke an API token"))?;
        Ok(n > 0)
    }
}
