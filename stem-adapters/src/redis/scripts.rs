//! The adapter's Lua scripts, and pipelines of script calls.
//!
//! A pipeline runs scripts by hash (`EVALSHA`). Redis forgets scripts when it
//! restarts; a pipeline that meets `NOSCRIPT` loads every script and runs again
//! (every script call here is safe to repeat: writes are fenced or idempotent).

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use redis::{Cmd, FromRedisValue, Pipeline, Script, ServerErrorKind};

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
    SET_STATUS = "set_status.lua";
    SET_QUEUED = "set_queued.lua";
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
    WF_RENEW = prefix "wf_renew.lua";
    WF_RELEASE = prefix "wf_release.lua";
    WF_CHECKPOINT = prefix "wf_checkpoint.lua";
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

/// Runs `pipe`, loading the scripts and running it again if Redis had forgotten
/// them (after a restart), and on a Cluster again while its slot is moving
/// (see [`moving`]). The pipeline runs whole again: script calls are safe to
/// repeat, and so are the plain commands sent with them.
pub(crate) async fn query<T: FromRedisValue>(conn: &mut Conn, pipe: &Pipeline, what: &str) -> stem::Result<T> {
    let cluster = conn.is_cluster();
    moving(cluster, || {
        let mut conn = conn.clone();
        async move { query_once(&mut conn, pipe, what).await }
    })
    .await
}

/// How long calls on a hash slot that is moving between Cluster nodes are
/// tried again: the `redis` crate gives up after its three retries (about a
/// second), and a slot with many keys takes longer to move.
const MOVING_FOR: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs `call` and, on a Cluster, runs it again every 50 ms for up to
/// [`MOVING_FOR`] while it fails because its slot is moving (`TRYAGAIN`, or
/// a redirect the client did not follow): nothing of such a call ran (see
/// [`Lua::cmd`]).
pub(crate) async fn moving<T, F, Fut>(cluster: bool, mut call: F) -> stem::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = stem::Result<T>>,
{
    let deadline = tokio::time::Instant::now() + MOVING_FOR;
    loop {
        match call().await {
            Err(e) if cluster && is_moving(&e) && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            other => return other,
        }
    }
}

/// Whether `error` says its slot is moving between Cluster nodes.
fn is_moving(error: &stem::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(e) = e.downcast_ref::<redis::RedisError>() {
            return slot_moving(e);
        }
        source = e.source();
    }
    false
}

/// Whether Redis answered that the key's hash slot is moving (`TRYAGAIN`),
/// or moved (`ASK`, `MOVED` the client did not follow).
pub(crate) fn slot_moving(e: &redis::RedisError) -> bool {
    matches!(
        e.kind(),
        redis::ErrorKind::Server(ServerErrorKind::TryAgain | ServerErrorKind::Ask | ServerErrorKind::Moved)
    )
}

async fn query_once<T: FromRedisValue>(conn: &mut Conn, pipe: &Pipeline, what: &str) -> stem::Result<T> {
    let loads = LOADS.load(Ordering::Acquire);
    match pipe.query_async(conn).await {
        Err(e) if e.kind() == redis::ErrorKind::Server(ServerErrorKind::NoScript) => {
            reload(conn, loads).await?;
            match pipe.query_async(conn).await {
                // Loaded for another server than this pipeline's: load here too.
                Err(e) if e.kind() == redis::ErrorKind::Server(ServerErrorKind::NoScript) => {
                    load_all(conn).await?;
                    pipe.query_async(conn).await.map_err(|e| failed(what, e))
                }
                other => other.map_err(|e| failed(what, e)),
            }
        }
        other => other.map_err(|e| failed(what, e)),
    }
}

/// How many times the scripts were loaded after a `NOSCRIPT`.
static LOADS: AtomicU64 = AtomicU64::new(0);

/// Held while loading after a `NOSCRIPT`.
static LOADING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Loads every script after a `NOSCRIPT` met when [`LOADS`] was `seen`, unless
/// another call loaded them since: the many pipelines of one batch (one per
/// slot on a Cluster) that meet it together load them once.
async fn reload(conn: &mut Conn, seen: u64) -> stem::Result<()> {
    let _one_at_a_time = LOADING.lock().await;
    if LOADS.load(Ordering::Acquire) == seen {
        load_all(conn).await?;
        LOADS.fetch_add(1, Ordering::AcqRel);
    }
    Ok(())
}

/// Runs the pipelines `build` makes, in order, each sent as soon as it is
/// built: a task of its own sends them one after another while this one
/// builds the next, so that encoding a large batch overlaps with Redis
/// running the part already sent. Returns each pipeline's replies, in order.
/// Stops at the first error (what was sent before it stays done, as in one
/// pipeline).
pub(crate) async fn query_streamed<T: FromRedisValue + Send + 'static>(
    conn: &Conn,
    build: impl Iterator<Item = stem::Result<Pipeline>>,
    what: &'static str,
) -> stem::Result<Vec<T>> {
    let (sender, mut pipes) = tokio::sync::mpsc::channel::<Pipeline>(2);
    let mut conn = conn.clone();
    let sending = tokio::spawn(async move {
        let mut replies = Vec::new();
        while let Some(pipe) = pipes.recv().await {
            replies.push(query::<T>(&mut conn, &pipe, what).await?);
        }
        Ok::<Vec<T>, stem::Error>(replies)
    });
    let mut built = Ok(());
    for pipe in build {
        match pipe {
            // A closed channel means the sender stopped at an error, which it returns.
            Ok(pipe) => {
                if sender.send(pipe).await.is_err() {
                    break;
                }
            }
            Err(error) => {
                built = Err(error);
                break;
            }
        }
    }
    drop(sender);
    let sent = sending.await.unwrap_or_else(|e| Err(stem::Error::adapter("the Redis sending task failed", e)));
    built.and(sent)
}
