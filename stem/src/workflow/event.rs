//! Typed event topics: what `stem.emit` sends and `wf.await_event` receives
//! agree on one type at compile time.

use std::fmt;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::args::{self, ArgsError};

/// A named event topic carrying values of type `T`.
///
/// ```
/// # #[derive(serde::Serialize, serde::Deserialize)] struct Parcel { tracking: String }
/// use stem::workflow::EventTopic;
///
/// pub const PARCEL_SHIPPED: EventTopic<Parcel> = EventTopic::new("parcel.shipped");
/// ```
pub struct EventTopic<T> {
    name: &'static str,
    _value: PhantomData<fn() -> T>,
}

impl<T> EventTopic<T> {
    /// The topic named `name`.
    pub const fn new(name: &'static str) -> Self {
        Self { name, _value: PhantomData }
    }

    /// Its name.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl<T> Clone for EventTopic<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for EventTopic<T> {}

impl<T> fmt::Debug for EventTopic<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventTopic").field("name", &self.name).field("value", &std::any::type_name::<T>()).finish()
    }
}

impl crate::stem::Stem {
    /// Sends `value` to every run waiting on `topic` now (registered with
    /// `wf.await_event`), each exactly once, and enqueues their executions.
    /// Returns how many runs it resumed; an event nobody waits for is dropped.
    pub async fn emit<T: serde::Serialize>(&self, topic: EventTopic<T>, value: T) -> crate::Result<usize> {
        let value = serde_json::to_value(&value).map_err(|e| crate::Error::Codec {
            codec: "json".to_owned(),
            message: format!("the event for `{}` could not be encoded: {e}", topic.name()),
        })?;
        self.emit_json(topic.name(), value).await
    }

    /// [`emit`](Self::emit) for a value given as JSON, sent as it is (no type
    /// check): for front ends such as the CLI, which check it first against a
    /// topic they know ([`EventRegistration::check`]) or were told to send it raw.
    pub async fn emit_json(&self, topic: &str, value: serde_json::Value) -> crate::Result<usize> {
        const BATCH: usize = 256;
        let value = serde_json::json!({ "event": value });
        let mut resumed = 0;
        loop {
            let now = self.synced_now().await?;
            let batch = self.workflows().resolve_watchers(topic, value.clone(), now, BATCH).await?;
            let n = batch.len();
            resumed += n;
            super::resume::continue_runs(self, batch).await?;
            if n < BATCH {
                return Ok(resumed);
            }
        }
    }

    /// A typed handle on an existing run (for example one started by another
    /// process). The output type is the caller's claim: waiting fails with a
    /// codec error if the stored result does not decode as `T`.
    pub fn workflow_handle<T>(&self, id: super::RunId) -> super::WorkflowHandle<T> {
        super::WorkflowHandle::new(self.clone(), id)
    }
}

/// What an event's value must be: serializable, so that it can be stored
/// and sent.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an event's value: it must implement `Serialize` and `Deserialize`",
    label = "not serializable",
    note = "add `#[derive(serde::Serialize, serde::Deserialize)]` to the type"
)]
pub trait EventValue: Serialize + DeserializeOwned + Send + 'static {}

impl<T: Serialize + DeserializeOwned + Send + 'static> EventValue for T {}

/// An event topic as front ends know it: `#[stem::event]` on a topic constant
/// submits one to `inventory`, so that the CLI checks what it emits on the
/// topic against the topic's value type; [`linked_events`] lists them.
#[derive(Clone, Copy)]
pub struct EventRegistration {
    name: &'static str,
    value_type: &'static str,
    doc: &'static str,
    file: &'static str,
    line: u32,
    check: fn(&serde_json::Value) -> Result<serde_json::Value, ArgsError>,
}

inventory::collect!(EventRegistration);

impl EventRegistration {
    /// The registration of `topic`, whose values are `value_type` (for `#[stem::event]`).
    #[doc(hidden)]
    pub const fn of<T: EventValue>(
        topic: EventTopic<T>,
        value_type: &'static str,
        doc: &'static str,
        file: &'static str,
        line: u32,
    ) -> Self {
        Self { name: topic.name(), value_type, doc, file, line, check: args::check::<T> }
    }

    /// The topic's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The Rust type of its values, as written.
    pub fn value_type(&self) -> &'static str {
        self.value_type
    }

    /// The first line of the constant's doc comment.
    pub fn doc(&self) -> &'static str {
        self.doc
    }

    /// Where it is declared, as `file:line`.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    /// `value` checked against the topic's value type: its canonical JSON,
    /// or [`Error::Args`](crate::Error::Args) naming the field and why.
    pub fn check(&self, value: &serde_json::Value) -> crate::Result<serde_json::Value> {
        (self.check)(value).map_err(|error| crate::Error::Args { name: self.name.to_owned(), error })
    }
}

impl fmt::Debug for EventRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventRegistration").field("name", &self.name).field("value_type", &self.value_type).finish()
    }
}

/// Every event topic declared with `#[stem::event]` in this binary, by name.
pub fn linked_events() -> impl Iterator<Item = &'static EventRegistration> {
    let mut all: Vec<&EventRegistration> = inventory::iter::<EventRegistration>.into_iter().collect();
    all.sort_by_key(|e| e.name);
    all.dedup_by_key(|e| e.name);
    all.into_iter()
}
