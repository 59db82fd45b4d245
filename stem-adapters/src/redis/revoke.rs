//! The Redis revoke store: a hash from task id to revoke (JSON) and a sorted
//! set of the ids by expiry (see [the key layout](super::keys)). Every write
//! is one Lua script (`scripts/revoke_*.lua`), a batch of revokes included.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redis::{FromRedisValue, ScriptInvocation};
use stem::revoke::{Revoke, RevokeStore};
use stem::{Result, TaskId};

use super::scripts::{Lua, REVOKE_LIVE, REVOKE_PRUNE, REVOKE_PUT, REVOKE_REMOVE};
use super::{Shared, failed, from_json, to_json};

/// A [`RevokeStore`] on Redis: a hash from task id to its revoke as JSON and
/// a sorted set of the ids by when their revokes expire, both under
/// `stem:<namespace>:revokes:{<namespace>:revokes}:`.
///
/// On a Redis Cluster every revoke of a namespace is in that one hash slot
/// (the hash tag), since one script puts a batch of revokes, or prunes many,
/// at once: a namespace's revokes live on one node.
///
/// Each method is one command or one Lua script, so every write is atomic
/// and a batch of revokes is one round trip. Expiries are compared to the
/// microsecond: a revoke holds at `now` if it expires after `now`, both cut
/// to the microsecond.
#[derive(Debug)]
pub struct RedisRevokeStore {
    shared: Arc<Shared>,
    /// The start of every revoke key, the scripts' `KEYS[1]`.
    prefix: String,
}

impl RedisRevokeStore {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        let prefix = shared.keys().revokes();
        Self { shared, prefix }
    }

    /// A call of `lua` on this namespace's revoke keys; chain its arguments.
    fn script(&self, lua: &'static Lua) -> ScriptInvocation<'static> {
        lua.on_prefix(&self.prefix)
    }

    /// Runs `call` (see `pipeline::invoke_moving`).
    async fn invoke<T: FromRedisValue>(&self, call: &ScriptInvocation<'_>, what: &str) -> Result<T> {
        super::pipeline::invoke_moving(&self.shared, call, what).await
    }
}

/// A time as the scripts keep it: microseconds since the epoch.
fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

#[async_trait]
impl RevokeStore for RedisRevokeStore {
    /// One script for the whole batch.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future after the script was sent may still put the revokes.
    async fn put(&self, revokes: &[Revoke]) -> Result<()> {
        if revokes.is_empty() {
            return Ok(());
        }
        let mut call = self.script(&REVOKE_PUT);
        for revoke in revokes {
            call.arg(revoke.id.to_string()).arg(to_json(revoke)?).arg(micros(revoke.expires));
        }
        self.invoke::<i64>(&call, "putting revokes").await.map(drop)
    }

    async fn live(&self, now: DateTime<Utc>) -> Result<Vec<Revoke>> {
        let mut call = self.script(&REVOKE_LIVE);
        call.arg(micros(now));
        let stored: Vec<String> = self.invoke(&call, "listing the revokes").await?;
        let mut revokes = stored.iter().map(|json| from_json(json, "revoke")).collect::<Result<Vec<Revoke>>>()?;
        revokes.sort_by_key(|r| r.id);
        Ok(revokes)
    }

    async fn is_revoked(&self, id: TaskId, now: DateTime<Utc>) -> Result<Option<Revoke>> {
        let stored: Option<String> = redis::cmd("HGET")
            .arg(self.shared.keys().revoked())
            .arg(id.to_string())
            .query_async(&mut self.shared.conn())
            .await
            .map_err(|e| failed("reading a revoke", e))?;
        let revoke: Option<Revoke> = stored.map(|json| from_json(&json, "revoke")).transpose()?;
        Ok(revoke.filter(|r| micros(r.expires) > micros(now)))
    }

    async fn remove(&self, id: TaskId) -> Result<bool> {
        let mut call = self.script(&REVOKE_REMOVE);
        call.arg(id.to_string());
        Ok(self.invoke::<i64>(&call, "removing a revoke").await? == 1)
    }

    async fn prune(&self, now: DateTime<Utc>) -> Result<u64> {
        let mut call = self.script(&REVOKE_PRUNE);
        call.arg(micros(now));
        self.invoke(&call, "pruning expired revokes").await
    }
}
