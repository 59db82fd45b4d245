//! Every key the adapter uses, in one place.
//!
//! All keys start with `stem:<namespace>:`. The keys of one queue carry the
//! queue's name as a hash tag (`stem:<ns>:{<queue>}:...`), so that on Redis
//! Cluster they live in one slot and the queue's scripts may touch them together.
//!
//! A task's record is `stem:<namespace>:task:<id>` on one server and
//! `stem:<namespace>:task:{<namespace>:<last hex digit of the id>}:<id>` on a
//! Cluster (see [`Keys::task`]).
//!
//! The task listing's sorted sets (only with `task_listing=true`, see
//! `backend.rs`) start with `stem:<namespace>:listing:` on one server and
//! with `stem:<namespace>:listing:{<namespace>:<last hex digit>}:` on a
//! Cluster: one set of each kind per slot of the task records, in that slot,
//! so that the status write that changes a record updates its sets in the
//! same script (see [`Keys::listing`]). Under that prefix:
//!
//! | key | type | holds |
//! |-----|------|-------|
//! | `state:<state>` | sorted set | the listed tasks in one state, all scored 0, so ordered by member (see `backend.rs`) |
//! | `both:<state>:<task name>` | sorted set | the listed tasks of one name in one state |
//!
//! Workflow keys start with `stem:<namespace>:wf:{<namespace>}:`. The workflow
//! scripts touch many runs' keys at once (every due run, every watcher of a
//! topic), and the hash tag puts the namespace's workflow keys in one slot on
//! a Redis Cluster. The scripts get that prefix and build the names below
//! from it:
//!
//! | key | type | holds |
//! |-----|------|-------|
//! | `run:<id>` | hash | a run's fields (times in milliseconds, JSON values as text) and its watcher |
//! | `cp:<id>` | hash | a run's checkpoints: field = position, value = the checkpoint as JSON |
//! | `runs` | sorted set | every run id, scored by creation time (`list_runs`) |
//! | `running` | sorted set | running runs, scored by `updated_at` (`stale_runs`) |
//! | `due` | sorted set | suspended runs with a wake time, scored by it (`due_runs`) |
//! | `ended` | sorted set | final runs (completed, failed, cancelled), scored by when they ended (`prune_runs`) |
//! | `watch:<topic>` | sorted set | ids of runs waiting for `topic`, scored by registration order |
//! | `watch_seq` | string | the counter that orders watcher registrations |
//!
//! Schedule keys start with `stem:<namespace>:schedules:{<namespace>:schedules}:`
//! (see [`Keys::schedules`]): a claim moves many schedules at once, so all
//! the schedules of a namespace share one hash slot on a Redis Cluster (their
//! own, not the workflows'). The scripts (`scripts/schedule_*.lua`) get that
//! prefix and build the names below from it:
//!
//! | key | type | holds |
//! |-----|------|-------|
//! | `entry:<id>` | hash | a schedule: `entry` (its JSON) and its state, which overrides the JSON's: `enabled` (`1` or `0`), `next` and `last` (fires, in microseconds since the epoch), `runs`, `skipped`, `drift` (ms) and `error` |
//! | `due` | sorted set | the ids of enabled schedules with a next fire, scored by it |
//! | `all` | sorted set | every schedule id, scored 0 (so in id order, for `list`) |
//!
//! Revoke keys start with `stem:<namespace>:revokes:{<namespace>:revokes}:`
//! (see [`Keys::revokes`]): a batch of revokes is put, and expired ones are
//! pruned, by one script, so all the revokes of a namespace share one hash
//! slot on a Redis Cluster (their own). The scripts (`scripts/revoke_*.lua`)
//! get that prefix and build the names below from it:
//!
//! | key | type | holds |
//! |-----|------|-------|
//! | `all` | hash | per task id, its revoke as JSON |
//! | `expiry` | sorted set | every revoked task id, scored by when its revoke expires (microseconds since the epoch) |

use stem::TaskId;

/// The key names of one namespace.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
    workflows: String,
    schedules: String,
    revokes: String,
    /// On a Cluster, the namespace: task records' hash tags start with it.
    task_tag: Option<String>,
}

impl Keys {
    /// The keys of `namespace`, laid out for a Cluster when `cluster`.
    pub(crate) fn new(namespace: &str, cluster: bool) -> Self {
        let prefix = format!("stem:{namespace}:");
        let workflows = format!("{prefix}wf:{{{namespace}}}:");
        let schedules = format!("{prefix}schedules:{{{namespace}:schedules}}:");
        let revokes = format!("{prefix}revokes:{{{namespace}:revokes}}:");
        Self { prefix, workflows, schedules, revokes, task_tag: cluster.then(|| namespace.to_owned()) }
    }

    /// The prefix of every key, for scans.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A task's state: a hash, `fence` and `status` (see `backend.rs`).
    ///
    /// On a Cluster the record's name has a hash tag, `<namespace>:` and the
    /// id's last hex digit (random in the ids Stem makes and in v4 UUIDs; a
    /// v1 or v6 UUID ends in its host's address, so one host's ids share a
    /// slot), so that records spread over 16 slots and a batch of status
    /// writes is about 16 script calls (one per slot and 500 records) rather
    /// than about one per task, which halved a Cluster's drain. The price:
    /// 16 slots fall unevenly on the nodes (on three, as unevenly as 4, 4 and
    /// 8 of them for some namespaces), a cluster of more than 16 primaries
    /// holds a namespace's records on 16 at most, and each slot holds a
    /// sixteenth of the records kept, which a resharding moves at once
    /// (status writes to it wait, up to 10 s, see `pipeline::moving`). On one
    /// server, where slots do not matter, the name has no tag.
    pub(crate) fn task(&self, id: TaskId) -> String {
        match &self.task_tag {
            None => format!("{}task:{id}", self.prefix),
            Some(namespace) => {
                let id = id.to_string();
                let shard = &id[id.len() - 1..];
                format!("{}task:{{{namespace}:{shard}}}:{id}", self.prefix)
            }
        }
    }

    /// Where the listing of `id`'s record is kept (see the module docs): the
    /// prefix of the sorted sets of its slot, and the prefix that, followed
    /// by an id, names a task record of that slot ([`task`](Self::task)).
    pub(crate) fn listing(&self, id: TaskId) -> (String, String) {
        let id = id.to_string();
        self.listing_shard(&id[id.len() - 1..])
    }

    /// The listing's shards (see [`listing`](Self::listing)): one on a
    /// server, 16 on a Cluster (one per last hex digit of the ids).
    pub(crate) fn listing_shards(&self) -> Vec<(String, String)> {
        match self.task_tag {
            None => vec![self.listing_shard("")],
            Some(_) => "0123456789abcdef".chars().map(|digit| self.listing_shard(&digit.to_string())).collect(),
        }
    }

    /// The listing's prefixes for the records whose ids end in `digit`.
    fn listing_shard(&self, digit: &str) -> (String, String) {
        match &self.task_tag {
            None => (format!("{}listing:", self.prefix), format!("{}task:", self.prefix)),
            Some(namespace) => (
                format!("{}listing:{{{namespace}:{digit}}}:", self.prefix),
                format!("{}task:{{{namespace}:{digit}}}:", self.prefix),
            ),
        }
    }

    /// The channel on which the id of every task that reaches a final state is published.
    pub(crate) fn done_channel(&self) -> String {
        format!("{}done", self.prefix)
    }

    /// A group: a hash with `expected`, `done` (how many members were
    /// counted), `chord`, and `m:<index>` per member (its status, JSON; see
    /// `group_add.lua`). Untagged: on a Cluster each group is in a slot of its
    /// own, and a group's script touches this key only. Fields of the older
    /// layout (`member:<task id>`, before members had an index) are ignored.
    pub(crate) fn group(&self, id: TaskId) -> String {
        format!("{}group:{id}", self.prefix)
    }

    /// One worker's heartbeat (JSON, expiring).
    pub(crate) fn worker(&self, id: &str) -> String {
        format!("{}worker:{id}", self.prefix)
    }

    /// The ids of workers that sent heartbeats, scored by when each expires.
    pub(crate) fn workers(&self) -> String {
        format!("{}workers", self.prefix)
    }

    /// A named lock.
    pub(crate) fn lock(&self, key: &str) -> String {
        format!("{}lock:{key}", self.prefix)
    }

    /// A rate limit's schedule: its theoretical arrival time, in microseconds
    /// since the epoch, expiring once it is past (see `rate_reserve.lua`).
    pub(crate) fn rate(&self, key: &str) -> String {
        format!("{}rate:{key}", self.prefix)
    }

    /// The start of every schedule key, hash tag included (see the module
    /// docs): all the schedules of a namespace are in one hash slot.
    pub(crate) fn schedules(&self) -> String {
        self.schedules.clone()
    }

    /// A schedule: a hash of its entry (JSON) and its state (see the module docs).
    pub(crate) fn schedule(&self, id: &str) -> String {
        format!("{}entry:{id}", self.schedules)
    }

    /// The start of every revoke key, hash tag included (see the module
    /// docs): all the revokes of a namespace are in one hash slot.
    pub(crate) fn revokes(&self) -> String {
        self.revokes.clone()
    }

    /// The revokes: a hash from task id to its revoke as JSON (see the module docs).
    pub(crate) fn revoked(&self) -> String {
        format!("{}all", self.revokes)
    }

    /// The names of the queues messages were published to (a set, for
    /// listing them).
    pub(crate) fn queues(&self) -> String {
        format!("{}queues", self.prefix)
    }

    /// The queue of each published task that no worker has written a status
    /// for yet (a hash: task id -> queue name), where a status read finds the
    /// message of a task that has no record; a worker's first write of the
    /// task's status removes its entry.
    pub(crate) fn located(&self) -> String {
        format!("{}located", self.prefix)
    }

    /// The start of every key of `queue`, hash tag included (`find_queued.lua`
    /// builds the same from the prefix and a name in [`located`](Self::located)).
    pub(crate) fn queue(&self, queue: &str) -> String {
        format!("{}{{{queue}}}:", self.prefix)
    }

    /// The broadcast channel `channel`.
    pub(crate) fn broadcast(&self, channel: &str) -> String {
        format!("{}broadcast:{channel}", self.prefix)
    }

    /// The start of every workflow key (see the module docs for the rest).
    pub(crate) fn workflows(&self) -> String {
        self.workflows.clone()
    }

    /// A workflow run: a hash of its fields.
    pub(crate) fn run(&self, id: TaskId) -> String {
        format!("{}run:{id}", self.workflows)
    }

    /// A workflow run's checkpoints: a hash from position to checkpoint (JSON).
    pub(crate) fn checkpoints(&self, id: TaskId) -> String {
        format!("{}cp:{id}", self.workflows)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use stem::TaskId;

    use super::Keys;
    use crate::redis::conn::slot;

    #[test]
    fn task_records_spread_over_16_slots_on_a_cluster_and_have_no_tag_on_one_server() {
        let id = TaskId::new();
        assert_eq!(Keys::new("ns", false).task(id), format!("stem:ns:task:{id}"), "one server: no tag");
        let cluster = Keys::new("ns", true);
        let key = cluster.task(id);
        let last = &id.to_string()[35..];
        assert_eq!(key, format!("stem:ns:task:{{ns:{last}}}:{id}"));
        let slots: HashSet<u16> = (0..2_000).map(|_| slot(cluster.task(TaskId::new()).as_bytes())).collect();
        assert_eq!(slots.len(), 16, "16 slots, each id in one of them");
    }

    #[test]
    fn a_records_listing_is_in_its_slot() {
        for cluster in [false, true] {
            let keys = Keys::new("ns", cluster);
            let id = TaskId::new();
            let (sets, records) = keys.listing(id);
            assert_eq!(format!("{records}{id}"), keys.task(id), "the record's name");
            if cluster {
                let set = format!("{sets}state:failed");
                assert_eq!(slot(set.as_bytes()), slot(keys.task(id).as_bytes()), "one slot");
            }
            assert!(keys.listing_shards().contains(&(sets, records)));
            assert_eq!(keys.listing_shards().len(), if cluster { 16 } else { 1 });
        }
    }
}
