//! The adapter's Lua scripts, one per operation in `scripts/*.lua`, run by
//! hash (`EVALSHA`) in pipelines (see `pipeline.rs`).

use std::sync::LazyLock;

use redis::{Cmd, Pipeline, Script};

use super::conn::Conn;
use super::failed;

/// One of the adapter's scripts.
pub(crate) struct Lua {
    script: LazyLock<Script>,
    /// Whether its first key is a prefix under which it names the keys it
    /// works on (a queue's, the workflow store's), rather than a key.
    on_prefix: bool,
}

/// `NAME = "a.lua";` defines a script on keys from one file; `NAME = "lib.lua",
/// "a.lua";` from several, joined in order (shared Lua functions first); `NAME
/// = prefix "a.lua";` a script on a prefix (see [`Lua::cmd`]).
macro_rules! scripts {
    ($($name:ident = $($on_prefix:ident)? $($file:literal),+;)*) => {
        $(pub(crate) static $name: Lua = Lua {
            script: LazyLock::new(|| Script::new(&[$(include_str!(concat!("scripts/", $file))),+].concat())),
            on_prefix: scripts!(@on_prefix $($on_prefix)?),
        };)*
        /// Every script, for loading them all at once.
        static ALL: &[&Lua] = &[$(&$name),*];
    };
    (@on_prefix prefix) => { true };
    (@on_prefix) => { false };
}

scripts! {
    LOCK_ACQUIRE = "lock_acquire.lua";
    LOCK_RENEW = "lock_renew.lua";
    LOCK_RELEASE = "lock_release.lua";
    RATE_RESERVE = "rate_reserve.lua";
    SCHEDULE_PUT = prefix "schedule_lib.lua", "schedule_put.lua";
    SCHEDULE_ENABLE = prefix "schedule_lib.lua", "schedule_enable.lua";
    SCHEDULE_REMOVE = prefix "schedule_lib.lua", "schedule_remove.lua";
    SCHEDULE_CLAIM = prefix "schedule_lib.lua", "schedule_claim.lua";
    SCHEDULE_RECORD = prefix "schedule_lib.lua", "schedule_record.lua";
    SCHEDULE_DUE = prefix "schedule_lib.lua", "schedule_due.lua";
    SCHEDULE_LIST = prefix "schedule_lib.lua", "schedule_list.lua";
    REVOKE_PUT = prefix "revoke_lib.lua", "revoke_put.lua";
    REVOKE_LIVE = prefix "revoke_lib.lua", "revoke_live.lua";
    REVOKE_REMOVE = prefix "revoke_lib.lua", "revoke_remove.lua";
    REVOKE_PRUNE = prefix "revoke_lib.lua", "revoke_prune.lua";
    SET_STATUS = "announce_lib.lua", "set_status.lua";
    SET_QUEUED = "set_queued.lua";
    SET_STATUS_LISTED = "announce_lib.lua", "listing_lib.lua", "set_status_listed.lua";
    SET_QUEUED_LISTED = "listing_lib.lua", "set_queued_listed.lua";
    LIST_TASKS = "listing_lib.lua", "list_tasks.lua";
    UNLIST = "listing_lib.lua", "unlist.lua";
    GROUP_ADD = "group_add.lua";
    CLAIM_CHORD = "claim_chord.lua";
    PUBLISH = prefix "queue_lib.lua", "publish.lua";
    ACK = prefix "queue_lib.lua", "ack.lua";
    CLAIM = prefix "queue_lib.lua", "claim.lua";
    SETTLE = prefix "queue_lib.lua", "settle.lua";
    PURGE = prefix "queue_lib.lua", "purge.lua";
    COUNTS = prefix "counts.lua";
    REPLAY = prefix "queue_lib.lua", "replay.lua";
    FIND_QUEUED = prefix "queue_lib.lua", "find_queued.lua";
    WF_CREATE = prefix "wf_create.lua";
    WF_CLAIM = prefix "wf_claim.lua";
    WF_OPEN = prefix "wf_open.lua";
    WF_RENEW = prefix "wf_renew.lua";
    WF_RELEASE = prefix "wf_release.lua";
    WF_WRITE = prefix "wf_lib.lua", "wf_write.lua";
    WF_SUSPEND = prefix "wf_lib.lua", "wf_suspend.lua";
    WF_RESOLVE = prefix "wf_lib.lua", "wf_resolve.lua";
    WF_DUE = prefix "wf_lib.lua", "wf_due.lua";
    WF_STALE = prefix "wf_stale.lua";
    WF_FINISH = prefix "wf_lib.lua", "wf_finish.lua";
    WF_RECORD_ERROR = prefix "wf_record_error.lua";
    WF_REWIND = prefix "wf_lib.lua", "wf_rewind.lua";
    WF_PRUNE = prefix "wf_lib.lua", "wf_prune.lua";
    WF_LIST = prefix "wf_list.lua";
    WF_WATCHERS = prefix "wf_watchers.lua";
}

/// The name a script on a prefix declares besides the prefix: a key of the
/// same hash slot that is never written.
const GUARD: &str = "~guard";

impl Lua {
    /// The script, to run it on its own (`invoke_async` loads it when needed).
    pub(crate) fn script(&self) -> &Script {
        debug_assert!(!self.on_prefix, "a script on a prefix is called through `cmd` or `on_prefix`");
        &self.script
    }

    /// A call of this script on the keys under `prefix` (with the guard of
    /// [`cmd`](Self::cmd)), run on its own; chain its arguments.
    pub(crate) fn on_prefix(&'static self, prefix: &str) -> redis::ScriptInvocation<'static> {
        debug_assert!(self.on_prefix, "a script on a prefix");
        let mut call = self.script.key(prefix);
        call.key(format!("{prefix}{GUARD}"));
        call
    }

    /// Adds a call of this script on `keys` to `pipe`; chain its arguments.
    pub(crate) fn push<'p>(&self, pipe: &'p mut Pipeline, keys: &[&str]) -> &'p mut Pipeline {
        pipe.add_command(self.cmd(keys))
    }

    /// A call of this script on `keys`, as a command of its own; chain its arguments.
    ///
    /// A script on a prefix declares, besides the prefix, a name under it
    /// that is never written (`<prefix>~guard`). While a hash slot moves
    /// between Cluster nodes, Redis decides where a script may run from its
    /// declared keys: the old node answers `ASK` when none of them is there,
    /// and the new node then runs a call of one key (with `ASKING`, also the
    /// commands inside a script) but answers `TRYAGAIN` to a call of several
    /// that it does not all hold. With the prefix alone, which is no key, a
    /// call went to the new node and wrote keys that the old node still
    /// held, and the move failed with `BUSYKEY` (tested); with two names,
    /// neither ever stored, no call runs on either node until the slot has
    /// moved, and [`query`] retries them until then. On a stable slot, and on
    /// one server, the extra name changes nothing.
    pub(crate) fn cmd(&self, keys: &[&str]) -> Cmd {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(self.script.get_hash());
        match keys.first() {
            Some(prefix) if self.on_prefix => cmd.arg(keys.len() + 1).arg(keys).arg(format!("{prefix}{GUARD}")),
            _ => cmd.arg(keys.len()).arg(keys),
        };
        cmd
    }
}

/// Loads every script (on connect, so that the first pipelines find them).
pub(crate) async fn load_all(conn: &mut Conn) -> stem::Result<()> {
    for lua in ALL {
        lua.script.load_async(conn).await.map_err(|e| failed("loading a script", e))?;
    }
    Ok(())
}
