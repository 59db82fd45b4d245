//! Group commit: fenced writes that many callers make at the same moment
//! (workflow executions' checkpoints and ends; single task statuses on
//! Postgres), applied to a server store together (one statement, one
//! transaction, one pipeline), each caller answered with its own outcome once
//! the whole batch is durable.
//!
//! A writer task takes the first write waiting, then every other one waiting
//! (up to [`MAX_BATCH`]), hands them to the store's `apply`, and answers each
//! caller; while a batch is in flight, new writes queue for the next. So a
//! lone write goes out at once, and under load many runs share one round
//! trip and one commit: nothing waits for a timer.
//!
//! A caller learns of its write only after the batch holding it committed, as
//! without batching: a run goes on past a checkpoint only once it is durable.
//! A caller that stops waiting (its future dropped) does not take its write
//! back; like a statement already sent, it is applied or not as a whole.
//!
//! The writer runs on the runtime of the first caller; if that runtime has
//! gone (a test's), the next caller starts another on its own.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use stem::{Error, Result};
use tokio::sync::{mpsc, oneshot};

/// The most writes one batch takes.
pub(crate) const MAX_BATCH: usize = 256;

/// The future of one batch: each write's outcome, in the order given.
pub(crate) type Applied = Pin<Box<dyn Future<Output = Result<Vec<bool>>> + Send>>;

type Apply<W> = dyn Fn(Vec<W>) -> Applied + Send + Sync;

/// One write waiting, and where its outcome goes.
struct Pending<W> {
    write: W,
    answer: oneshot::Sender<Result<bool>>,
}

/// The group committer of one kind of write `W`.
pub(crate) struct GroupCommit<W> {
    what: &'static str,
    apply: Arc<Apply<W>>,
    writer: Mutex<Option<mpsc::UnboundedSender<Pending<W>>>>,
}

impl<W: Send + 'static> GroupCommit<W> {
    /// A group committer whose batches `apply` writes (`what` names them in
    /// errors). `apply` answers one outcome per write, in order.
    pub(crate) fn new(what: &'static str, apply: impl Fn(Vec<W>) -> Applied + Send + Sync + 'static) -> Self {
        Self { what, apply: Arc::new(apply), writer: Mutex::new(None) }
    }

    /// Applies `write` with whatever other writes are waiting; its outcome
    /// once their batch has committed.
    pub(crate) async fn write(&self, write: W) -> Result<bool> {
        let (answer, outcome) = oneshot::channel();
        self.sender().send(Pending { write, answer }).map_err(|_| Error::Closed("the group commit writer"))?;
        outcome.await.map_err(|_| Error::Closed("the group commit writer"))?
    }

    /// The writer's queue, starting a writer if none runs.
    fn sender(&self) -> mpsc::UnboundedSender<Pending<W>> {
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        match &*writer {
            Some(tx) if !tx.is_closed() => tx.clone(),
            _ => {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(serve(self.what, Arc::clone(&self.apply), rx));
                *writer = Some(tx.clone());
                tx
            }
        }
    }
}

impl<W> fmt::Debug for GroupCommit<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupCommit").field("what", &self.what).finish_non_exhaustive()
    }
}

/// The writer: one batch at a time, until every sender has gone.
async fn serve<W>(what: &'static str, apply: Arc<Apply<W>>, mut rx: mpsc::UnboundedReceiver<Pending<W>>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (writes, answers): (Vec<W>, Vec<_>) = batch.drain(..).map(|p| (p.write, p.answer)).unzip();
        let count = writes.len();
        match apply(writes).await {
            Ok(outcomes) if outcomes.len() == count => {
                for (answer, outcome) in answers.into_iter().zip(outcomes) {
                    let _caller_gone = answer.send(Ok(outcome));
                }
            }
            Ok(outcomes) => {
                let why = format!("the store answered {} outcomes for {count} writes", outcomes.len());
                for answer in answers {
                    let _caller_gone = answer.send(Err(Error::adapter(format!("{what} failed"), why.clone())));
                }
            }
            Err(error) => {
                let why = error.to_string();
                for answer in answers {
                    let _caller_gone = answer.send(Err(Error::adapter(
                        format!("{what} failed with the {count} writes batched with it"),
                        why.clone(),
                    )));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes made together share a batch, each answered with its own outcome.
    #[tokio::test]
    async fn concurrent_writes_share_a_batch_and_get_their_own_outcomes() {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&sizes);
        let commit = Arc::new(GroupCommit::new("test writes", move |writes: Vec<u32>| {
            seen.lock().expect("lock").push(writes.len());
            Box::pin(async move {
                tokio::task::yield_now().await;
                Ok(writes.iter().map(|w| w % 2 == 0).collect())
            }) as Applied
        }));
        let writes = (0..100u32).map(|i| {
            let commit = Arc::clone(&commit);
            async move { (i, commit.write(i).await.expect("write")) }
        });
        for (i, outcome) in futures_util::future::join_all(writes).await {
            assert_eq!(outcome, i % 2 == 0, "write {i} gets its own outcome");
        }
        let sizes = sizes.lock().expect("lock").clone();
        assert_eq!(sizes.iter().sum::<usize>(), 100);
        assert!(sizes.len() < 100, "writes waiting together went together: {sizes:?}");
    }

    /// A failed batch fails each of its writes, and the writer goes on.
    #[tokio::test]
    async fn a_failed_batch_fails_its_writes_and_the_next_goes_on() {
        let commit = GroupCommit::new("test writes", |writes: Vec<u32>| {
            Box::pin(async move {
                if writes.contains(&0) { Err(Error::Config("boom".to_owned())) } else { Ok(vec![true; writes.len()]) }
            }) as Applied
        });
        let error = commit.write(0).await.expect_err("the batch failed");
        assert!(error.to_string().contains("test writes failed"), "{error}");
        assert!(commit.write(1).await.expect("the next batch"), "the writer went on");
    }
}
