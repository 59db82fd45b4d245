//! Running pipelines: script calls and commands sent together.
//!
//! Redis forgets scripts when it restarts; a pipeline that meets `NOSCRIPT`
//! loads every script and runs again (every script call here is safe to
//! repeat: writes are fenced or idempotent). On a Cluster, a pipeline whose
//! hash slot is moving between nodes runs again until it has moved.
//!
//! On one server a [`Batch`] is one pipeline. On a Cluster a pipeline must
//! stay within one hash slot, so a batch sends one pipeline per slot, all at
//! once, and puts the replies back in the order the commands were added.
//! Commands of one slot keep their order; commands of different slots have
//! none between them.

use std::sync::atomic::{AtomicU64, Ordering};

use redis::{Cmd, FromRedisValue, Pipeline, ServerErrorKind, Value};

use super::conn::{Conn, grouped, slot};
use super::failed;
use super::scripts::load_all;

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

/// Runs the script `call` on `shared`'s connection, saying `what` it was
/// for if it fails; on a Cluster again while its keys' slot is moving (see
/// [`moving`]). For the stores whose scripts all run on one key prefix.
pub(crate) async fn invoke_moving<T: FromRedisValue>(
    shared: &super::Shared,
    call: &redis::ScriptInvocation<'_>,
    what: &str,
) -> stem::Result<T> {
    moving(shared.is_cluster(), || async { call.invoke_async(&mut shared.conn()).await.map_err(|e| failed(what, e)) })
        .await
}

/// Runs `call` and, on a Cluster, runs it again every 50 ms for up to
/// [`MOVING_FOR`] while it fails because its slot is moving (`TRYAGAIN`, or
/// a redirect the client did not follow): nothing of such a call ran (see
/// `Lua::cmd` in `scripts.rs`).
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

/// Commands sent together (see the module docs); each reply is returned, none ignored.
#[derive(Default)]
pub(crate) struct Batch {
    commands: Vec<(u16, Cmd)>,
}

impl Batch {
    /// Adds `cmd`, whose keys are in the slot of `key`.
    pub(crate) fn add(&mut self, key: impl AsRef<[u8]>, cmd: Cmd) {
        self.commands.push((slot(key.as_ref()), cmd));
    }

    /// Sends the commands on `conn`; their replies, in the order they were added.
    pub(crate) async fn run(self, conn: &Conn, what: &str) -> stem::Result<Vec<Value>> {
        if self.commands.is_empty() {
            return Ok(Vec::new());
        }
        if !conn.is_cluster() {
            let mut pipe = redis::pipe();
            for (_, cmd) in self.commands {
                pipe.add_command(cmd);
            }
            return query(&mut conn.clone(), &pipe, what).await;
        }
        // One pipeline per slot, in the order each slot first appears.
        let total = self.commands.len();
        let parts: Vec<(Pipeline, Vec<usize>)> = grouped(self.commands.into_iter().enumerate(), |(_, (slot, _))| *slot)
            .into_iter()
            .map(|(_, commands)| {
                let mut pipe = redis::pipe();
                let mut positions = Vec::with_capacity(commands.len());
                for (at, (_, cmd)) in commands {
                    pipe.add_command(cmd);
                    positions.push(at);
                }
                (pipe, positions)
            })
            .collect();
        let sent = parts.iter().map(|(pipe, _)| {
            let mut conn = conn.clone();
            async move { query::<Vec<Value>>(&mut conn, pipe, what).await }
        });
        let replies = futures_util::future::try_join_all(sent).await?;
        let mut out = vec![Value::Nil; total];
        for ((_, positions), part) in parts.iter().zip(replies) {
            for (&at, reply) in positions.iter().zip(part) {
                out[at] = reply;
            }
        }
        Ok(out)
    }
}
