//! The Postgres result backend: one row per task (columns for the id, name,
//! queue, state and fence, the whole status as JSON), written with a fenced
//! upsert for a batch at once; final states expire after the retention and are
//! pruned; `wait` is woken by LISTEN/NOTIFY; groups, chord claims and
//! heartbeats in their own tables. Statuses are listed ([`TaskListing`])
//! from four indexes of `tasks` (by update time; by task name, by state, by
//! both, then update time), each page read after the previous page's last row.
//!
//! A task with no row whose message is stored in the same schema reads as
//! queued: a producer on one store writes only the message (see
//! `PostgresBroker::publish_recorded`), and a worker writes the task's first
//! status before it acks the message, so a task never has neither. Such a
//! task is not listed until a worker writes its first status: listing reads
//! `tasks` only.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::Row;
use stem::backend::{
    GroupCount, GroupMember, GroupStatus, ResultBackend, TaskCursor, TaskListing, TaskPage, TaskQuery, TaskStatus,
    WorkerHeartbeat,
};
use stem::{Envelope, Error, Result, TaskId};
use uuid::Uuid;

use super::reads::Stored;
use super::vacuum::{self, Table};
use super::{Shared, failed, from_json, millis, to_json};
use crate::group_commit::{Applied, GroupCommit};

/// Expired rows are pruned at most this often per store.
const PRUNE_EVERY_MS: i64 = 1000;

/// A [`ResultBackend`] on Postgres (tables `tasks`, `groups`, `group_members`,
/// `heartbeats` of the store's schema).
///
/// A single status ([`ResultBackend::set`]: a workflow run's end, a canvas
/// step's) is group-committed with the others written at that moment: one
/// statement and one commit for all of them. Each commit that notifies
/// waiters holds the database's notification lock until it is durable, so
/// statuses written one commit each would queue behind one another.
#[derive(Debug)]
pub struct PostgresBackend {
    shared: Arc<Shared>,
    sets: GroupCommit<TaskStatus>,
}

impl PostgresBackend {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        let on = Arc::clone(&shared);
        let sets = GroupCommit::new("writing a task status", move |batch: Vec<TaskStatus>| {
            let on = Arc::clone(&on);
            Box::pin(async move { write_statuses(&on, &batch).await }) as Applied
        });
        Self { shared, sets }
    }
}

/// Writes `statuses` (an id may come twice: later ones win, in order);
/// returns, per status, whether its fence let it in.
async fn write_statuses(shared: &Arc<Shared>, statuses: &[TaskStatus]) -> Result<Vec<bool>> {
    if statuses.is_empty() {
        return Ok(Vec::new());
    }
    prune(shared).await?;
    // One upsert may not touch a row twice: a batch with an id twice (a
    // progress report and the outcome, say) goes in rounds, in order.
    let mut accepted = vec![false; statuses.len()];
    let mut left: Vec<usize> = (0..statuses.len()).collect();
    while !left.is_empty() {
        let mut seen = HashSet::new();
        let (round, later): (Vec<usize>, Vec<usize>) = left.iter().partition(|&&i| seen.insert(statuses[i].id));
        let batch: Vec<&TaskStatus> = round.iter().map(|&i| &statuses[i]).collect();
        let written = write_round(shared, &batch).await?;
        for &i in &round {
            accepted[i] = written.contains(statuses[i].id.as_uuid());
        }
        left = later;
    }
    Ok(accepted)
}

/// Deletes expired rows, at most once a second.
async fn prune(shared: &Shared) -> Result<()> {
    let now = chrono::Utc::now().timestamp_millis();
    let last = shared.pruned_at.load(Ordering::Relaxed);
    if now - last < PRUNE_EVERY_MS
        || shared.pruned_at.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_err()
    {
        return Ok(());
    }
    sqlx::query(shared.sql(include_str!("sql/prune.sql")))
        .execute(&shared.pool)
        .await
        .map(drop)
        .map_err(|e| failed("pruning expired rows", e))
}

/// Writes one round of statuses (no id twice); returns the ids written.
async fn write_round(shared: &Arc<Shared>, statuses: &[&TaskStatus]) -> Result<HashSet<Uuid>> {
    let mut columns = Columns::default();
    for status in statuses {
        columns.push(status)?;
    }
    let written: Vec<Uuid> = sqlx::query_scalar(shared.sql(include_str!("sql/set_statuses.sql")))
        .bind(&columns.ids)
        .bind(&columns.tasks)
        .bind(&columns.queues)
        .bind(&columns.states)
        .bind(&columns.fences)
        .bind(&columns.statuses)
        .bind(&columns.finals)
        .bind(millis(shared.options.retention()))
        .bind(shared.done_channel())
        .bind(&columns.updated)
        .fetch_all(&shared.pool)
        .await
        .map_err(|e| failed("writing task statuses", e))?;
    vacuum::retired(shared, Table::Tasks, written.len() as u64);
    Ok(written.into_iter().collect())
}

/// A batch of statuses as the columns of the upsert.
#[derive(Default)]
struct Columns {
    ids: Vec<Uuid>,
    tasks: Vec<String>,
    queues: Vec<String>,
    states: Vec<String>,
    fences: Vec<i64>,
    statuses: Vec<String>,
    finals: Vec<bool>,
    updated: Vec<i64>,
}

impl Columns {
    fn push(&mut self, status: &TaskStatus) -> Result<()> {
        self.ids.push(*status.id.as_uuid());
        self.tasks.push(status.task.clone());
        self.queues.push(status.queue.clone());
        self.states.push(status.state.as_str().to_owned());
        self.fences.push(i64::try_from(status.fence).unwrap_or(i64::MAX));
        self.statuses.push(to_json(status)?);
        self.finals.push(status.state.is_terminal());
        self.updated.push(status.updated_at.timestamp_micros());
        Ok(())
    }
}

/// A batch's members as the columns of `group_add.sql`, each (group, index)
/// once: one statement may not touch a row twice, so a member given twice
/// goes once, with its later status (as if added twice in turn).
#[derive(Default)]
struct MemberColumns {
    groups: Vec<Uuid>,
    indexes: Vec<i64>,
    statuses: Vec<String>,
}

impl MemberColumns {
    fn of(members: &[GroupMember]) -> Result<Self> {
        let mut columns = Self::default();
        let mut places: HashMap<(TaskId, usize), usize> = HashMap::new();
        for member in members {
            let status = to_json(&member.status)?;
            match places.entry((member.group, member.index)) {
                Entry::Occupied(place) => columns.statuses[*place.get()] = status,
                Entry::Vacant(place) => {
                    let index = i64::try_from(member.index).map_err(|e| {
                        Error::adapter(format!("group member index {} is too large for Postgres", member.index), e)
                    })?;
                    place.insert(columns.groups.len());
                    columns.groups.push(*member.group.as_uuid());
                    columns.indexes.push(index);
                    columns.statuses.push(status);
                }
            }
        }
        Ok(columns)
    }
}

/// A row of `group_add.sql`: a member added to a live group (group, index),
/// whether it was new, and its group's size and count after the whole batch.
type AddedRow = (Uuid, i64, bool, i64, i64);

/// Per member of a batch, its group's count right after it was added, from
/// the rows of `group_add.sql`: a group's count before the batch is its
/// count after it less its new members, and the batch's members are counted
/// from there in order, each new (group, index) at its first place.
fn spread_counts(members: &[GroupMember], rows: Vec<AddedRow>) -> Vec<Option<GroupCount>> {
    // Per live group: its size, and its count so far.
    let mut groups: HashMap<Uuid, (i64, i64)> = HashMap::new();
    let mut new: HashSet<(Uuid, i64)> = HashSet::new();
    for (group, index, inserted, expected, done) in rows {
        let (_, before) = groups.entry(group).or_insert((expected, done));
        if inserted {
            *before -= 1;
            new.insert((group, index));
        }
    }
    members
        .iter()
        .map(|member| {
            let group = *member.group.as_uuid();
            let (expected, done) = groups.get_mut(&group)?;
            if new.remove(&(group, i64::try_from(member.index).unwrap_or(i64::MAX))) {
                *done += 1;
            }
            Some(GroupCount {
                expected: usize::try_from(*expected).unwrap_or(0),
                done: usize::try_from(*done).unwrap_or(0),
            })
        })
        .collect()
}

#[async_trait]
impl ResultBackend for PostgresBackend {
    async fn set_batch(&self, statuses: &mut Vec<TaskStatus>) -> Result<Vec<bool>> {
        write_statuses(&self.shared, statuses).await
    }

    async fn set(&self, status: TaskStatus) -> Result<bool> {
        self.sets.write(status).await
    }

    async fn get(&self, id: TaskId) -> Result<Option<TaskStatus>> {
        match self.shared.reads().get(id).await? {
            None => Ok(None),
            Some(Stored::Status(text)) => from_json(&text, "task status").map(Some),
            Some(Stored::Message(text)) => {
                let envelope: Envelope = from_json(&text, "envelope")?;
                Ok(Some(TaskStatus::queued(&envelope)))
            }
        }
    }

    async fn wait(&self, id: TaskId, timeout: Duration) -> Result<Option<TaskStatus>> {
        let notify = self.shared.done().await?.waiters.register(id);
        crate::waiters::wait_final(&notify, timeout, || self.get(id)).await
    }

    async fn expire(&self, id: TaskId, ttl: Duration) -> Result<()> {
        sqlx::query(self.shared.sql(include_str!("sql/expire.sql")))
            .bind(id.as_uuid())
            .bind(millis(ttl))
            .execute(&self.shared.pool)
            .await
            .map(drop)
            .map_err(|e| failed("setting an expiry", e))
    }

    async fn group_init(&self, group: TaskId, expected: usize) -> Result<()> {
        // The group first (which locks its row), then its members: an add
        // that committed meanwhile is seen by the delete, one waiting for the
        // row adds to the reset group.
        let mut tx = self.shared.pool.begin().await.map_err(|e| failed("creating a group", e))?;
        sqlx::query(self.shared.sql(include_str!("sql/group_insert.sql")))
            .bind(group.as_uuid())
            .bind(i64::try_from(expected).unwrap_or(i64::MAX))
            .bind(millis(self.shared.options.retention()))
            .execute(&mut *tx)
            .await
            .map_err(|e| failed("creating a group", e))?;
        sqlx::query(self.shared.sql(include_str!("sql/group_delete.sql")))
            .bind(group.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(|e| failed("clearing a reset group's members", e))?;
        tx.commit().await.map_err(|e| failed("creating a group", e))
    }

    /// One statement for the whole batch (see `group_add.sql`).
    async fn group_add(&self, members: &[GroupMember]) -> Result<Vec<Option<GroupCount>>> {
        if members.is_empty() {
            return Ok(Vec::new());
        }
        let columns = MemberColumns::of(members)?;
        let rows: Vec<AddedRow> = sqlx::query_as(self.shared.sql(include_str!("sql/group_add.sql")))
            .bind(&columns.groups)
            .bind(&columns.indexes)
            .bind(&columns.statuses)
            .fetch_all(&self.shared.pool)
            .await
            .map_err(|e| failed("adding to a group", e))?;
        Ok(spread_counts(members, rows))
    }

    async fn group_get(&self, group: TaskId) -> Result<Option<GroupStatus>> {
        let row = sqlx::query(self.shared.sql(include_str!("sql/group_get.sql")))
            .bind(group.as_uuid())
            .fetch_optional(&self.shared.pool)
            .await
            .map_err(|e| failed("reading a group", e))?;
        let Some(row) = row else { return Ok(None) };
        let expected: i64 = row.try_get("expected").map_err(|e| failed("reading a group", e))?;
        let chord: Option<Uuid> = row.try_get("chord").map_err(|e| failed("reading a group", e))?;
        let members: Vec<(i64, String)> = sqlx::query_as(self.shared.sql(include_str!("sql/group_members.sql")))
            .bind(group.as_uuid())
            .fetch_all(&self.shared.pool)
            .await
            .map_err(|e| failed("reading a group's members", e))?;
        let mut results = BTreeMap::new();
        for (index, text) in members {
            let index = usize::try_from(index)
                .map_err(|e| Error::adapter(format!("a group member's index in Postgres ({index}) is negative"), e))?;
            results.insert(index, from_json(&text, "group member status")?);
        }
        Ok(Some(GroupStatus {
            id: group,
            expected: usize::try_from(expected).unwrap_or(0),
            results,
            chord_callback: chord.map(TaskId::from),
        }))
    }

    async fn claim_chord(&self, group: TaskId, callback: TaskId) -> Result<bool> {
        let done = sqlx::query(self.shared.sql(include_str!("sql/claim_chord.sql")))
            .bind(group.as_uuid())
            .bind(callback.as_uuid())
            .execute(&self.shared.pool)
            .await
            .map_err(|e| failed("claiming a chord", e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_heartbeat(&self, heartbeat: WorkerHeartbeat, ttl: Duration) -> Result<()> {
        sqlx::query(self.shared.sql(include_str!("sql/heartbeat_set.sql")))
            .bind(&heartbeat.worker_id)
            .bind(to_json(&heartbeat)?)
            .bind(millis(ttl))
            .execute(&self.shared.pool)
            .await
            .map(drop)
            .map_err(|e| failed("storing a heartbeat", e))
    }

    async fn list_heartbeats(&self) -> Result<Vec<WorkerHeartbeat>> {
        let beats: Vec<String> = sqlx::query_scalar(self.shared.sql(include_str!("sql/heartbeats.sql")))
            .fetch_all(&self.shared.pool)
            .await
            .map_err(|e| failed("listing heartbeats", e))?;
        beats.iter().map(|b| from_json(b, "heartbeat")).collect()
    }

    fn listing(&self) -> Option<&dyn TaskListing> {
        self.shared.options.task_listing().then_some(self as &dyn TaskListing)
    }
}

#[async_trait]
impl TaskListing for PostgresBackend {
    async fn list_tasks(&self, query: &TaskQuery) -> Result<TaskPage> {
        let size = query.page_size();
        let (after_us, after_id) = query.cursor()?.map_or((i64::MAX, Uuid::nil()), |c| (c.updated_us, *c.id.as_uuid()));
        let filter = match (&query.task, query.state) {
            (None, None) => "true",
            (Some(_), None) => "task = $4",
            (None, Some(_)) => "state = $4",
            (Some(_), Some(_)) => "task = $4 AND state = $5",
        };
        let sql = include_str!("sql/list_tasks.sql").replace("{filter}", filter);
        let mut select = sqlx::query(self.shared.sql(&sql))
            .bind(after_us)
            .bind(after_id)
            .bind(i64::try_from(size + 1).unwrap_or(i64::MAX));
        if let Some(task) = &query.task {
            select = select.bind(task.as_str());
        }
        if let Some(state) = query.state {
            select = select.bind(state.as_str());
        }
        let rows = select.fetch_all(&self.shared.pool).await.map_err(|e| failed("listing task statuses", e))?;
        let rows = rows
            .iter()
            .map(|row| {
                let (at, id, json): (i64, Uuid, String) = (
                    row.try_get(0).map_err(|e| failed("listing task statuses", e))?,
                    row.try_get(1).map_err(|e| failed("listing task statuses", e))?,
                    row.try_get(2).map_err(|e| failed("listing task statuses", e))?,
                );
                Ok((TaskCursor::new(at, TaskId::from(id)), from_json(&json, "task status")?))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(TaskPage::from_rows(rows, size))
    }
}
