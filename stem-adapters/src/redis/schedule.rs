//! The Redis schedule store: one hash per schedule, a sorted set of the
//! enabled ones by next fire and one of every id (see [the key
//! layout](super::keys)). Every write is one Lua script
//! (`scripts/schedule_*.lua`), a batch of claims or records included.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redis::{FromRedisValue, ScriptInvocation};
use stem::beat::{Claim, Fired, ScheduleEntry, ScheduleStore};
use stem::{Error, Result};

use super::scripts::{
    Lua, SCHEDULE_CLAIM, SCHEDULE_DUE, SCHEDULE_ENABLE, SCHEDULE_LIST, SCHEDULE_PUT, SCHEDULE_RECORD, SCHEDULE_REMOVE,
};
use super::{Shared, failed, from_json, to_json};

/// The most entries one `due` call asks a script for (a larger limit is cut
/// to it, so that it stays exact in Lua's numbers).
const MAX_COUNT: usize = u32::MAX as usize;

/// A [`ScheduleStore`] on Redis: a hash per schedule (its entry as JSON, and
/// its state in fields of their own, which override the JSON's), a sorted
/// set of the enabled schedules by next fire and one of every id, all under
/// `stem:<namespace>:schedules:{<namespace>:schedules}:`.
///
/// On a Redis Cluster every schedule of a namespace is in that one hash
/// slot (the hash tag), since one script claims many schedules at once: a
/// namespace's schedules live on one node.
///
/// Each method is one command or one Lua script, so every write is atomic
/// and a batch of claims (or of records) is one round trip. Fire times are
/// kept to the microsecond: a claim wins if the schedule's next fire, to the
/// microsecond, is the claimed one.
#[derive(Debug)]
pub struct RedisScheduleStore {
    shared: Arc<Shared>,
    /// The start of every schedule key, the scripts' `KEYS[1]`.
    prefix: String,
}

impl RedisScheduleStore {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        let prefix = shared.keys().schedules();
        Self { shared, prefix }
    }

    /// A call of `lua` on this namespace's schedule keys; chain its arguments.
    fn script(&self, lua: &'static Lua) -> ScriptInvocation<'static> {
        lua.on_prefix(&self.prefix)
    }

    /// Runs `call` (see `pipeline::invoke_moving`).
    async fn invoke<T: FromRedisValue>(&self, call: &ScriptInvocation<'_>, what: &str) -> Result<T> {
        super::pipeline::invoke_moving(&self.shared, call, what).await
    }

    /// Runs `call`, which answers one hash (fields and values) per schedule.
    async fn entries(&self, call: &ScriptInvocation<'_>, what: &str) -> Result<Vec<ScheduleEntry>> {
        let hashes: Vec<Vec<(String, String)>> = self.invoke(call, what).await?;
        hashes.into_iter().filter_map(|fields| entry_from(fields).transpose()).collect()
    }
}

/// A time as the scripts keep it: microseconds since the epoch, as text.
fn micros(at: DateTime<Utc>) -> String {
    at.timestamp_micros().to_string()
}

/// An optional time as the scripts take it: `''` for none.
fn optional_micros(at: Option<DateTime<Utc>>) -> String {
    at.map(micros).unwrap_or_default()
}

/// The error for a schedule's hash field that does not read as what it holds.
fn bad_field(name: &str, text: &str, what: &str) -> Error {
    Error::adapter(format!("Redis: a stored schedule's `{name}` is not {what}"), format!("`{text}` is not {what}"))
}

/// A schedule from its hash's fields: its entry's JSON, overridden by the
/// state fields; `None` when there are none.
fn entry_from(fields: Vec<(String, String)>) -> Result<Option<ScheduleEntry>> {
    if fields.is_empty() {
        return Ok(None);
    }
    let fields: HashMap<String, String> = fields.into_iter().collect();
    let get = |name: &str| fields.get(name).map(String::as_str);
    let json = get("entry").ok_or_else(|| {
        Error::adapter("Redis: a stored schedule has no `entry`", "a field of the schedule's hash is missing")
    })?;
    let mut entry: ScheduleEntry = from_json(json, "schedule")?;
    let time = |name: &str| {
        get(name)
            .map(|text| {
                text.parse::<i64>()
                    .ok()
                    .and_then(DateTime::from_timestamp_micros)
                    .ok_or_else(|| bad_field(name, text, "microseconds since the epoch"))
            })
            .transpose()
    };
    let count =
        |name: &str| get(name).map_or(Ok(0), |text| text.parse::<u64>().map_err(|_| bad_field(name, text, "a count")));
    entry.enabled = get("enabled") == Some("1");
    entry.next_fire = time("next")?;
    entry.last_fire = time("last")?;
    entry.runs = count("runs")?;
    entry.skipped = count("skipped")?;
    entry.last_drift_ms = get("drift")
        .map(|text| text.parse::<i64>().map_err(|_| bad_field("drift", text, "milliseconds")))
        .transpose()?;
    entry.last_error = get("error").map(str::to_owned);
    Ok(Some(entry))
}

#[async_trait]
impl ScheduleStore for RedisScheduleStore {
    async fn put(&self, entry: &ScheduleEntry) -> Result<()> {
        let mut call = self.script(&SCHEDULE_PUT);
        call.arg(&entry.id)
            .arg(to_json(entry)?)
            .arg(if entry.enabled { "1" } else { "0" })
            .arg(optional_micros(entry.next_fire));
        self.invoke::<i64>(&call, "putting a schedule").await.map(drop)
    }

    async fn get(&self, id: &str) -> Result<Option<ScheduleEntry>> {
        let fields: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(self.shared.keys().schedule(id))
            .query_async(&mut self.shared.conn())
            .await
            .map_err(|e| failed("reading a schedule", e))?;
        entry_from(fields)
    }

    async fn list(&self) -> Result<Vec<ScheduleEntry>> {
        self.entries(&self.script(&SCHEDULE_LIST), "listing the schedules").await
    }

    async fn remove(&self, id: &str) -> Result<bool> {
        let mut call = self.script(&SCHEDULE_REMOVE);
        call.arg(id);
        Ok(self.invoke::<i64>(&call, "removing a schedule").await? == 1)
    }

    async fn set_enabled(&self, id: &str, enabled: bool, next_fire: Option<DateTime<Utc>>) -> Result<bool> {
        let mut call = self.script(&SCHEDULE_ENABLE);
        call.arg(id).arg(if enabled { "1" } else { "0" }).arg(optional_micros(next_fire));
        Ok(self.invoke::<i64>(&call, "enabling or disabling a schedule").await? == 1)
    }

    async fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<ScheduleEntry>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut call = self.script(&SCHEDULE_DUE);
        call.arg(micros(now)).arg(limit.min(MAX_COUNT));
        self.entries(&call, "listing due schedules").await
    }

    /// One script for the whole batch.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future after the script was sent may still claim the
    /// fires (the answers are then lost).
    async fn claim(&self, claims: &[Claim]) -> Result<Vec<bool>> {
        if claims.is_empty() {
            return Ok(Vec::new());
        }
        let mut call = self.script(&SCHEDULE_CLAIM);
        for claim in claims {
            call.arg(&claim.id)
                .arg(micros(claim.fire))
                .arg(optional_micros(claim.next))
                .arg(i64::try_from(claim.enqueued).unwrap_or(i64::MAX))
                .arg(i64::try_from(claim.skipped).unwrap_or(i64::MAX))
                .arg(micros(claim.last));
        }
        let won: Vec<i64> = self.invoke(&call, "claiming schedule fires").await?;
        if won.len() != claims.len() {
            return Err(Error::adapter(
                "Redis: claiming schedule fires answered the wrong number of claims",
                format!("{} answers for {} claims", won.len(), claims.len()),
            ));
        }
        Ok(won.into_iter().map(|w| w == 1).collect())
    }

    /// One script for the whole batch.
    async fn record(&self, fired: &[Fired]) -> Result<()> {
        if fired.is_empty() {
            return Ok(());
        }
        let mut call = self.script(&SCHEDULE_RECORD);
        for f in fired {
            call.arg(&f.id)
                .arg(f.drift_ms)
                .arg(if f.error.is_some() { "1" } else { "0" })
                .arg(f.error.as_deref().unwrap_or_default());
        }
        self.invoke::<i64>(&call, "recording schedule fires").await.map(drop)
    }
}
