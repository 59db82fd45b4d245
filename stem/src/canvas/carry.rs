//! The canvas in the worker: once a task's outcome is recorded, and before
//! its delivery is settled, the steps after it are started (or, if it failed
//! for good, stopped), and a chord member is counted; the worker that counts
//! a chord's last member claims the chord and starts its callback.
//!
//! Nothing here is lost in a crash: the worker awaits this work before it
//! acks the delivery, so a worker that dies halfway leaves the delivery to
//! come back. The task then runs again, its outcome is recorded with a higher
//! fence, and this work is redone: steps are always started in "again" mode
//! (a step already under way is not started twice), a member is counted once
//! (by its index), and a chord is claimed by one member's task, which alone
//! starts the callback or stops the chord, and finds its claim again if it
//! runs again.

use std::collections::HashSet;

use serde_json::Value;

use super::collect::Collect;
use super::piece::derived_id;
use super::start::Launch;
use crate::backend::{DEFAULT_RESULT_RETENTION, ErrorInfo, GroupMember, ResultBackend, TaskState, TaskStatus};
use crate::codec::{self, Payload};
use crate::envelope::{Envelope, Member, Next};
use crate::error::{CAUSE_META, Error, Result, TaskFailure};
use crate::id::TaskId;
use crate::stem::Stem;
use crate::task::Registry;
use crate::worker::{Extension, FollowUp, LinkedExtension, Recorded};

/// The extension that carries canvases on, in every worker of the binary.
#[derive(Debug, Default)]
struct CarryOn;

inventory::submit! {
    LinkedExtension::new(|| Box::new(CarryOn))
}

impl Extension for CarryOn {
    fn tasks(&self, explicit: bool) -> Registry {
        let _ = explicit;
        Registry::new().register::<Collect>()
    }

    fn watches(&self, envelope: &Envelope, status: &TaskStatus) -> bool {
        envelope.canvas.is_some() && status.state.is_terminal()
    }

    fn recorded(&self, stem: &Stem, outcomes: Vec<Recorded>) -> Option<FollowUp> {
        Some(Box::pin(carry_on(stem.clone(), outcomes)))
    }
}

/// Carries the canvases of one batch of recorded outcomes on.
async fn carry_on(stem: Stem, outcomes: Vec<Recorded>) -> Result<()> {
    let mut work = Work::default();
    for outcome in &outcomes {
        let Some(plan) = outcome.envelope.canvas.as_deref() else { continue };
        let from = work.launch.len();
        match TaskFailure::from_status(&outcome.status) {
            None => {
                if let Some(result) = &outcome.status.result {
                    plan.then.iter().for_each(|next| work.launch.add(next.clone(), Some(result)));
                    work.launch.add_chain(&plan.rest, result);
                }
            }
            Some(failure) => {
                work.errbacks(&plan.on_error, &failure)?;
                let mut unstarted = HashSet::new();
                for next in plan.then.iter().chain(&plan.rest) {
                    work.stop(next, &failure, false, &mut unstarted);
                }
            }
        }
        if let Some(trace) = traced(&outcome.status) {
            work.launch.continue_trace(from, trace);
        }
        work.launch.follow(from, &outcome.envelope);
        if let Some(member) = &plan.member {
            work.members.push((member.clone(), outcome.status.clone()));
        }
    }
    work.finish(&stem).await
}

/// What one batch of outcomes leads to.
#[derive(Default)]
struct Work {
    /// Steps to start.
    launch: Launch,
    /// The statuses of steps that will not run.
    stopped: Vec<TaskStatus>,
    /// Chord members that ended, with their statuses, to count.
    members: Vec<(Member, TaskStatus)>,
    /// Chords whose callbacks were claimed here, their counters to let go
    /// once the callbacks are enqueued.
    claimed: Vec<TaskId>,
}

impl Work {
    /// Starts `errbacks` with `failure` as their input.
    fn errbacks(&mut self, errbacks: &[Envelope], failure: &TaskFailure) -> Result<()> {
        if errbacks.is_empty() {
            return Ok(());
        }
        let input = codec::encode("json", failure)?;
        for errback in errbacks {
            self.launch.add(Next::Task(Box::new(errback.clone())), Some(&input));
        }
        Ok(())
    }

    /// Records that `next` will not run because `cause` failed; `fire` runs
    /// the errbacks of its first tasks (a chord's callback, stopped by a
    /// member). `unstarted` holds the groups met on the way, which were never
    /// started: their members are not counted, and their callbacks are
    /// stopped once.
    fn stop(&mut self, next: &Next, cause: &TaskFailure, fire: bool, unstarted: &mut HashSet<TaskId>) {
        match next {
            Next::Group(group) => {
                unstarted.insert(group.id);
                group.members.iter().for_each(|member| self.stop(member, cause, fire, unstarted));
            }
            Next::Task(envelope) => {
                let status = stopped(envelope, cause);
                let plan = envelope.canvas.as_deref();
                if fire && let Some(plan) = plan {
                    let failure = TaskFailure::from_status(&status).unwrap_or_else(|| cause.clone());
                    // An errback that cannot be encoded is logged: the stop itself must go on.
                    if let Err(error) = self.errbacks(&plan.on_error, &failure) {
                        tracing::warn!(task = %envelope.id, %error, "a chord's errback could not be started");
                    }
                }
                if let Some(plan) = plan {
                    plan.then.iter().chain(&plan.rest).for_each(|next| self.stop(next, cause, false, unstarted));
                    if let Some(member) = &plan.member {
                        if unstarted.contains(&member.group) {
                            // The callback of a chord that never started: stopped once.
                            if unstarted.insert(derived_id(member.group, "stopped")) {
                                member.then.iter().for_each(|next| self.stop(next, cause, false, unstarted));
                            }
                        } else {
                            self.members.push((member.clone(), status.clone()));
                        }
                    }
                }
                self.stopped.push(status);
            }
        }
    }

    /// Counts the chord members, claims the chords that are done, writes the
    /// stopped steps' statuses and starts the steps.
    async fn finish(mut self, stem: &Stem) -> Result<()> {
        let backend = stem.backend();
        // Stopping a chord's callback can end a member of an enclosing
        // chord: count until no member is left.
        while !self.members.is_empty() {
            let ended = std::mem::take(&mut self.members);
            let adds: Vec<GroupMember> = ended
                .iter()
                .map(|(m, status)| GroupMember { group: m.group, index: m.index, status: status.clone() })
                .collect();
            let counts = backend.group_add(&adds).await?;
            for ((member, status), count) in ended.into_iter().zip(counts) {
                let Some(count) = count else {
                    tracing::warn!(group = %member.group, "a chord member ended after its chord's counter expired");
                    continue;
                };
                // The first failed member stops the chord, the last member
                // to succeed starts its callback: whichever of them claims
                // the chord (by its last task's id; one claimant per chord,
                // which finds its claim again if it runs again, after dying
                // before its work was done: steps and errbacks already under
                // way are not started twice).
                let failure = TaskFailure::from_status(&status);
                if (failure.is_none() && !count.is_complete()) || !claimed(&**backend, member.group, status.id).await? {
                    continue;
                }
                match failure {
                    Some(failure) => {
                        let mut unstarted = HashSet::new();
                        member.then.iter().for_each(|next| self.stop(next, &failure, true, &mut unstarted));
                    }
                    None => {
                        let from = self.launch.len();
                        self.callback(stem, &member).await?;
                        if let Some(trace) = traced(&status) {
                            self.launch.continue_trace(from, trace);
                        }
                    }
                }
            }
        }
        if !self.stopped.is_empty() {
            let stopped = self.stopped.clone();
            backend.set_batch(&mut self.stopped).await?;
            crate::worker::written(stem, &stopped).await;
        }
        if !self.launch.is_empty() {
            // A delivery cannot tell whether an earlier one of its task died
            // halfway: steps are started in "again" mode, which starts none
            // that is under way.
            self.launch.run(stem, true).await?;
        }
        for group in self.claimed {
            backend.expire(group, DEFAULT_RESULT_RETENTION).await?;
        }
        Ok(())
    }

    /// Starts the callback of `member`'s chord with the members' outputs (or
    /// stops the chord, if a member failed).
    async fn callback(&mut self, stem: &Stem, member: &Member) -> Result<()> {
        let group = stem.backend().group_get(member.group).await?.ok_or_else(|| Error::Codec {
            codec: "canvas".to_owned(),
            message: format!("chord {} was claimed but its counter is gone", member.group),
        })?;
        if let Some(failure) = group.results.values().find_map(TaskFailure::from_status) {
            // A member failed but this one claimed the chord first (they were
            // counted in one batch): the claimant stops the chord.
            let mut unstarted = HashSet::new();
            member.then.iter().for_each(|next| self.stop(next, &failure, true, &mut unstarted));
            return Ok(());
        }
        let outputs = group
            .results
            .values()
            .map(|status| {
                let result = status.result.as_ref().ok_or_else(|| no_result(status))?;
                serde_json::from_slice::<Value>(result.bytes()).map_err(|e| codec::codec_error("json", e))
            })
            .collect::<Result<Vec<_>>>()?;
        let input = Payload::new("json", serde_json::to_vec(&outputs).map_err(|e| codec::codec_error("json", e))?);
        member.then.iter().for_each(|next| self.launch.add(next.clone(), Some(&input)));
        self.claimed.push(member.group);
        Ok(())
    }
}

/// The trace context of the execution that recorded `status`, if traced.
fn traced(status: &TaskStatus) -> Option<&str> {
    status.meta.get(crate::trace::TRACE_META).and_then(Value::as_str)
}

/// Whether `claimant` holds the claim of chord `group`: it wins it now, or
/// won it in a run that died before its work was done.
async fn claimed(backend: &dyn ResultBackend, group: TaskId, claimant: TaskId) -> Result<bool> {
    if backend.claim_chord(group, claimant).await? {
        return Ok(true);
    }
    Ok(backend.group_get(group).await?.is_some_and(|g| g.chord_callback == Some(claimant)))
}

/// The status of a step that will not run because `cause` failed.
fn stopped(envelope: &Envelope, cause: &TaskFailure) -> TaskStatus {
    let mut status = TaskStatus::new(envelope.id, &envelope.task, &envelope.queue, TaskState::Failed);
    status.error = Some(ErrorInfo { kind: "canvas".to_owned(), message: format!("did not run: {cause}") });
    status.meta.insert(CAUSE_META.to_owned(), serde_json::to_value(cause).unwrap_or_default());
    status
}

fn no_result(status: &TaskStatus) -> Error {
    Error::Codec {
        codec: "canvas".to_owned(),
        message: format!("chord member `{}` ({}) succeeded without a result", status.task, status.id),
    }
}
