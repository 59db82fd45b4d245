//! Starting canvas steps: the envelopes to publish and the chord counters to
//! create, gathered from one enqueue or from the outcomes of one batch.

use std::time::Duration;

use futures_util::future::join_all;

use super::piece::{FromNode, Piece, lower, plan_of};
use crate::backend::TaskState;
use crate::codec::Payload;
use crate::envelope::{Envelope, Next};
use crate::error::Result;
use crate::id::TaskId;
use crate::stem::Stem;

/// How long a chord's counter and its members' results are kept while it
/// runs, whatever the backend's retention: until its callback is enqueued,
/// or a year.
pub(crate) const CHORD_KEEP: Duration = Duration::from_secs(365 * 24 * 3600);

/// Enqueues a piece that needs no input; its handle.
pub(crate) async fn enqueue<P: Piece>(stem: &Stem, piece: P) -> Result<P::Handle> {
    let node = piece.into_node()?;
    let handle = P::Handle::from_node(stem, &node);
    let mut launch = Launch::default();
    launch.add(lower(node)?, None);
    launch.run(stem, false).await?;
    Ok(handle)
}

/// Steps to start: their envelopes (with their inputs filled in) and the
/// chord counters to create first.
#[derive(Debug, Default)]
pub(crate) struct Launch {
    chords: Vec<(TaskId, usize)>,
    envelopes: Vec<Envelope>,
}

impl Launch {
    /// Adds `next`, given `input` (the step before's output) if any.
    pub(crate) fn add(&mut self, next: Next, input: Option<&Payload>) {
        self.add_step(next, input, Vec::new());
    }

    /// Adds the first of `steps` (the rest of a chain), given `input`,
    /// handing it the others.
    pub(crate) fn add_chain(&mut self, steps: &[Next], input: &Payload) {
        if let Some((first, rest)) = steps.split_first() {
            self.add_step(first.clone(), Some(input), rest.to_vec());
        }
    }

    /// Adds `next` with `input` and, for a task, the steps after it.
    fn add_step(&mut self, next: Next, input: Option<&Payload>, rest: Vec<Next>) {
        match next {
            Next::Task(mut envelope) => {
                let plan = plan_of(&mut envelope);
                if let Some(input) = input {
                    plan.input = Some(input.clone());
                }
                if !rest.is_empty() {
                    plan.rest = rest;
                }
                self.envelopes.push(*envelope);
            }
            Next::Group(group) => {
                if group.chord {
                    self.chords.push((group.id, group.members.len()));
                }
                for member in group.members {
                    self.add(member, input);
                }
            }
        }
    }

    /// How many envelopes it holds so far.
    pub(crate) fn len(&self) -> usize {
        self.envelopes.len()
    }

    /// Makes the envelopes added since the first `from` continue the trace
    /// context `traceparent` (the execution that started them), unless they
    /// carry their own.
    pub(crate) fn continue_trace(&mut self, from: usize, traceparent: &str) {
        for envelope in self.envelopes.iter_mut().skip(from) {
            crate::trace::continue_in(envelope, traceparent);
        }
    }

    /// Makes the envelopes from `from` on follow `parent` (a canvas step that
    /// finished): it is their parent, and its root (or itself) their root,
    /// unless they name their own.
    pub(crate) fn follow(&mut self, from: usize, parent: &crate::envelope::Envelope) {
        let root = parent.root_id.unwrap_or(parent.id);
        for envelope in self.envelopes.iter_mut().skip(from) {
            envelope.parent_id.get_or_insert(parent.id);
            envelope.root_id.get_or_insert(root);
        }
    }

    /// Whether there is nothing to start.
    pub(crate) fn is_empty(&self) -> bool {
        self.envelopes.is_empty() && self.chords.is_empty()
    }

    /// Creates the chord counters, then publishes the envelopes in one batch.
    ///
    /// `again` says that these steps may have been started before, by a run
    /// of the same task that crashed before its delivery was settled: then a
    /// counter that exists is kept, and a step whose task has a state beyond
    /// queued is not published again (a queued one is, in case only its
    /// record was written; publishing an id the broker holds replaces it).
    pub(crate) async fn run(mut self, stem: &Stem, again: bool) -> Result<()> {
        if again {
            self.keep_unstarted(stem).await?;
        }
        let backend = stem.backend();
        let created = join_all(self.chords.iter().map(|&(id, size)| async move {
            backend.group_init(id, size).await?;
            backend.expire(id, CHORD_KEEP).await
        }))
        .await;
        created.into_iter().collect::<Result<Vec<()>>>()?;
        if !self.envelopes.is_empty() {
            stem.enqueue_envelopes(self.envelopes).await?;
        }
        Ok(())
    }

    /// Drops the chords whose counters exist and the steps already under way.
    async fn keep_unstarted(&mut self, stem: &Stem) -> Result<()> {
        let backend = stem.backend();
        let groups = join_all(self.chords.iter().map(|(id, _)| backend.group_get(*id))).await;
        let mut known = groups.into_iter();
        let mut failed = None;
        self.chords.retain(|_| match known.next() {
            Some(Ok(group)) => group.is_none(),
            Some(Err(error)) => {
                failed.get_or_insert(error);
                false
            }
            None => true,
        });
        let statuses = join_all(self.envelopes.iter().map(|e| backend.get(e.id))).await;
        let mut statuses = statuses.into_iter();
        self.envelopes.retain(|_| match statuses.next() {
            Some(Ok(status)) => status.is_none_or(|s| s.state == TaskState::Queued),
            Some(Err(error)) => {
                failed.get_or_insert(error);
                false
            }
            None => true,
        });
        failed.map_or(Ok(()), Err)
    }
}
