//! The one thread that owns a file's connection and batches calls into transactions.
//!
//! Every call (claims, acks, status writes, reads) is a closure sent to the
//! thread. The thread takes all the calls waiting, runs them in one immediate
//! transaction, each inside its own savepoint (so one failing call does not undo
//! the others), commits once, and only then answers them. Many tasks' writes
//! thus share one commit, and nothing blocking runs on the async runtime.

use std::path::Path;
use std::sync::{Arc, mpsc};

use rusqlite::Connection;
use stem::Error;
use tokio::sync::oneshot;

/// The most calls one transaction takes.
const MAX_BATCH: usize = 1024;

type Answer = Box<dyn FnOnce(Option<&str>) + Send>;
type Call = Box<dyn FnOnce(Result<&Connection, &str>) -> Answer + Send>;

/// A handle on the connection thread of one database file.
#[derive(Debug)]
pub(crate) struct Db {
    calls: mpsc::Sender<Call>,
    path: Arc<Path>,
}

impl Db {
    /// Starts the thread that owns `conn`; it ends when the last handle is dropped.
    pub(crate) fn start(conn: Connection, path: &Path) -> std::io::Result<Self> {
        let (calls, rx) = mpsc::channel::<Call>();
        std::thread::Builder::new().name("stem-sqlite".into()).spawn(move || serve(&conn, &rx))?;
        Ok(Self { calls, path: Arc::from(path) })
    }

    /// Runs `f` in the next transaction and returns its result once committed.
    /// `what` names the operation in errors.
    pub(crate) async fn call<T, F>(&self, what: &'static str, f: F) -> stem::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let path = Arc::clone(&self.path);
        let call: Call = Box::new(move |conn| {
            let result = match conn {
                Ok(conn) => in_savepoint(conn, f)
                    .map_err(|e| Error::adapter(format!("SQLite {what} on `{}` failed", path.display()), e)),
                Err(e) => Err(Error::adapter(
                    format!("SQLite {what} on `{}` could not begin a transaction", path.display()),
                    e.to_owned(),
                )),
            };
            Box::new(move |commit_error: Option<&str>| {
                let answer = match commit_error {
                    Some(e) if result.is_ok() => Err(Error::adapter(
                        format!("SQLite {what} on `{}` could not commit", path.display()),
                        e.to_owned(),
                    )),
                    _ => result,
                };
                let _receiver_gone = tx.send(answer);
            })
        });
        self.calls.send(call).map_err(|_| Error::Closed("SQLite connection thread"))?;
        rx.await.map_err(|_| Error::Closed("SQLite connection thread"))?
    }
}

fn in_savepoint<T>(conn: &Connection, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    conn.execute_batch("SAVEPOINT call")?;
    match f(conn) {
        Ok(value) => {
            conn.execute_batch("RELEASE call")?;
            Ok(value)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK TO call; RELEASE call");
            Err(e)
        }
    }
}

fn serve(conn: &Connection, rx: &mpsc::Receiver<Call>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(call) => batch.push(call),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            let message = e.to_string();
            for call in batch.drain(..) {
                call(Err(&message))(None);
            }
            continue;
        }
        let answers: Vec<Answer> = batch.drain(..).map(|call| call(Ok(conn))).collect();
        let commit = conn.execute_batch("COMMIT").err().map(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            e.to_string()
        });
        for answer in answers {
            answer(commit.as_deref());
        }
    }
}
