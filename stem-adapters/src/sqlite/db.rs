//! The threads that own a file's two connections: one batches every write into
//! transactions, the other serves reads.
//!
//! Every write call (claims, acks, status writes) is a closure sent to the
//! writing thread. The thread takes all the calls waiting, runs them in one immediate
//! transaction, each inside its own savepoint (so one failing call does not undo
//! the others), commits once, and only then answers them. Many tasks' writes
//! thus share one commit, and nothing blocking runs on the async runtime.
//!
//! The thread also watches for commits by other processes (`PRAGMA
//! data_version` changes only for those): after each batch, and every poll
//! interval when idle. When it sees one it wakes `external`, so that idle
//! receivers and waiters look again; nothing else polls.

use std::path::Path;
use std::sync::{Arc, mpsc};

use rusqlite::Connection;
use std::time::Duration;
use stem::Error;

use tokio::sync::{Notify, oneshot};

/// The most calls one transaction takes.
const MAX_BATCH: usize = 1024;

type Answer = Box<dyn FnOnce(Option<&str>) + Send>;
type Call = Box<dyn FnOnce(Result<&Connection, &str>) -> Answer + Send>;
type Read = Box<dyn FnOnce(&Connection) + Send>;

/// A handle on the connection threads of one database file: one writes (and
/// batches), one only reads, so that reads never wait for a write batch.
#[derive(Debug)]
pub(crate) struct Db {
    calls: mpsc::Sender<Call>,
    reads: mpsc::Sender<Read>,
    path: Arc<Path>,
}

impl Db {
    /// Starts the threads that own `writer` and `reader`; they end when the last
    /// handle is dropped.
    pub(crate) fn start(
        writer: Connection,
        reader: Connection,
        path: &Path,
        external: Arc<Notify>,
        poll: Duration,
    ) -> std::io::Result<Self> {
        let (calls, rx) = mpsc::channel::<Call>();
        std::thread::Builder::new()
            .name("stem-sqlite-write".into())
            .spawn(move || serve(&writer, &rx, &external, poll))?;
        let (reads, read_rx) = mpsc::channel::<Read>();
        std::thread::Builder::new().name("stem-sqlite-read".into()).spawn(move || {
            while let Ok(read) = read_rx.recv() {
                read(&reader);
            }
        })?;
        Ok(Self { calls, reads, path: Arc::from(path) })
    }

    /// Runs the read-only `f` on the reading connection, which sees every write
    /// committed before the call.
    pub(crate) async fn read<T, F>(&self, what: &'static str, f: F) -> stem::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let path = Arc::clone(&self.path);
        let read: Read = Box::new(move |conn| {
            let result =
                f(conn).map_err(|e| Error::adapter(format!("SQLite {what} on `{}` failed", path.display()), e));
            let _receiver_gone = tx.send(result);
        });
        self.reads.send(read).map_err(|_| Error::Closed("SQLite connection thread"))?;
        rx.await.map_err(|_| Error::Closed("SQLite connection thread"))?
    }

    /// Runs `f` in the next transaction and returns its result once committed.
    /// `what` names the operation in errors.
    pub(crate) async fn call<T, F>(&self, what: &'static str, f: F) -> stem::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        self.call_then(what, f, |_| ()).await
    }

    /// Like [`call`](Self::call), and runs `on_commit` with the result on the
    /// connection thread right after the commit, even if the caller has gone:
    /// for wakeups that must not be lost with a dropped future.
    pub(crate) async fn call_then<T, F, C>(&self, what: &'static str, f: F, on_commit: C) -> stem::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
        C: FnOnce(&T) + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let path = Arc::clone(&self.path);
        let call: Call = Box::new(move |conn| {
            let result = match conn {
                Ok(conn) => in_savepoint(conn, f)
                    .map_err(|e| Error::adapter(format!("SQLite {what} on `{}` failed", path.display()), e)),
                Err(e) => {
                    Err(Error::adapter(format!("SQLite {what} on `{}` was not run", path.display()), e.to_owned()))
                }
            };
            Box::new(move |commit_error: Option<&str>| {
                let answer = match (commit_error, result) {
                    (Some(e), Ok(_)) => Err(Error::adapter(
                        format!("SQLite {what} on `{}` could not commit; nothing of it was written", path.display()),
                        e.to_owned(),
                    )),
                    (_, result) => result,
                };
                if let Ok(value) = &answer {
                    on_commit(value);
                }
                let _receiver_gone = tx.send(answer);
            })
        });
        self.calls.send(call).map_err(|_| Error::Closed("SQLite connection thread"))?;
        rx.await.map_err(|_| Error::Closed("SQLite connection thread"))?
    }
}

fn in_savepoint<T>(conn: &Connection, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    sql(conn, "SAVEPOINT call")?;
    match f(conn) {
        Ok(value) => {
            sql(conn, "RELEASE call")?;
            Ok(value)
        }
        Err(e) => {
            let _ = sql(conn, "ROLLBACK TO call").and_then(|()| sql(conn, "RELEASE call"));
            Err(e)
        }
    }
}

/// Runs one statement without parameters, prepared once per connection.
fn sql(conn: &Connection, statement: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(statement)?.execute([]).map(|_| ())
}

fn serve(conn: &Connection, rx: &mpsc::Receiver<Call>, external: &Notify, poll: Duration) {
    let data_version = || conn.query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0)).ok();
    let poll = poll.max(Duration::from_millis(1));
    let mut seen = data_version();
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        match rx.recv_timeout(poll) {
            Ok(first) => batch.push(first),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
        while !batch.is_empty() && batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(call) => batch.push(call),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            run(conn, &mut batch);
        }
        let now = data_version();
        if now != seen {
            seen = now;
            external.notify_waiters();
        }
    }
}

/// Runs `batch` in one transaction and answers each call once it is committed.
///
/// If SQLite ends the whole transaction on an error (a full disk, an I/O
/// error), the calls left are not run, and every call of the batch is told
/// that nothing of it was written, which is then true.
fn run(conn: &Connection, batch: &mut Vec<Call>) {
    if let Err(e) = sql(conn, "BEGIN IMMEDIATE") {
        let message = format!("could not begin a transaction: {e}");
        for call in batch.drain(..) {
            call(Err(&message))(None);
        }
        return;
    }
    let mut aborted: Option<String> = None;
    let mut answers: Vec<Answer> = Vec::with_capacity(batch.len());
    for call in batch.drain(..) {
        match &aborted {
            Some(message) => answers.push(call(Err(message))),
            None => {
                answers.push(call(Ok(conn)));
                if conn.is_autocommit() {
                    aborted = Some("SQLite rolled the transaction back after an error".to_owned());
                }
            }
        }
    }
    let failure = match aborted {
        Some(message) => Some(message),
        None => sql(conn, "COMMIT").err().map(|e| e.to_string()),
    };
    if failure.is_some()
        && !conn.is_autocommit()
        && let Err(e) = sql(conn, "ROLLBACK")
    {
        tracing::error!(error = %e, "SQLite could not roll back a failed transaction");
    }
    for answer in answers {
        answer(failure.as_deref());
    }
}
