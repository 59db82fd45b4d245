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
pub(crate) struct Lua(LazyLock<Script>);

/// `NAME = "a.lua";` defines a script from one file; `NAME = "lib.lua", "a.lua";`
/// from several, joined in order (shared Lua functions first).
macro_rules! scripts {
    ($($name:ident = $($file:literal),+;)*) => {
        $(pub(crate) static $name: Lua =
            Lua(LazyLock::new(|| Script::new(&[$(include_str!(concat!("scripts/", $file))),+].concat())));)*
        /// Every script, for loading them all at once.
        static ALL: &[&Lua] = &[$(&$name),*];
    };
}

scripts! {
    LOCK_ACQUIRE = "lock_acquire.lua";
    LOCK_RENEW = "lock_renew.lua";
    LOCK_RELEASE = "lock_release.lua";
    SET_STATUS = "set_status.lua";
    GROUP_ADD = "group_add.lua";
    CLAIM_CHORD = "claim_chord.lua";
    PUBLISH = "queue_lib.lua", "publish.lua";
    ACK = "queue_lib.lua", "ack.lua";
    CLAIM = "queue_lib.lua", "claim.lua";
    SETTLE = "queue_lib.lua", "settle.lua";
    PURGE = "queue_lib.lua", "purge.lua";
    COUNTS = "counts.lua";
    REPLAY = "queue_lib.lua", "replay.lua";
    FIND_QUEUED = "queue_lib.lua", "find_queued.lua";
    WF_CREATE = "wf_create.lua";
    WF_CLAIM = "wf_claim.lua";
    WF_RENEW = "wf_renew.lua";
    WF_RELEASE = "wf_release.lua";
    WF_CHECKPOINT = "wf_checkpoint.lua";
    WF_SUSPEND = "wf_lib.lua", "wf_suspend.lua";
    WF_RESOLVE = "wf_lib.lua", "wf_resolve.lua";
    WF_DUE = "wf_lib.lua", "wf_due.lua";
    WF_STALE = "wf_stale.lua";
    WF_FINISH = "wf_lib.lua", "wf_finish.lua";
    WF_RECORD_ERROR = "wf_record_error.lua";
    WF_REWIND = "wf_lib.lua", "wf_rewind.lua";
    WF_PRUNE = "wf_lib.lua", "wf_prune.lua";
    WF_LIST = "wf_list.lua";
    WF_WATCHERS = "wf_watchers.lua";
}

impl Lua {
    /// The script, to run it on its own (`invoke_async` loads it when needed).
    pub(crate) fn script(&self) -> &Script {
        &self.0
    }

    /// Adds a call of this script on `keys` to `pipe`; chain its arguments.
    pub(crate) fn push<'p>(&self, pipe: &'p mut Pipeline, keys: &[&str]) -> &'p mut Pipeline {
        pipe.add_command(self.cmd(keys))
    }

    /// A call of this script on `keys`, as a command of its own; chain its arguments.
    pub(crate) fn cmd(&self, keys: &[&str]) -> Cmd {
        redis::cmd("EVALSHA").arg(self.0.get_hash()).arg(keys.len()).arg(keys).to_owned()
    }
}

/// Loads every script (on connect, so that the first pipelines find them).
pub(crate) async fn load_all(conn: &mut Conn) -> stem::Result<()> {
    for lua in ALL {
        lua.0.load_async(conn).await.map_err(|e| failed("loading a script", e))?;
    }
    Ok(())
}

/// Runs `pipe`, loading the scripts and running it again if Redis had forgotten
/// them (after a restart). The pipeline runs whole again: script calls are safe
/// to repeat, though a plain command that took effect the first time (an
/// `HSETNX`) then reports that it did not.
pub(crate) async fn query<T: FromRedisValue>(conn: &mut Conn, pipe: &Pipeline, what: &str) -> stem::Result<T> {
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
