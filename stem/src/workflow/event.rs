//! Typed event topics: what `stem.emit` sends and `wf.await_event` receives
//! agree on one type at compile time.

use std::fmt;
use std::marker::PhantomData;

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
        const BATCH: usize = 256;
        let value = serde_json::json!({ "event": serde_json::to_value(&value).map_err(|e| crate::Error::Codec {
            codec: "json".to_owned(),
            message: format!("the event for `{}` could not be encoded: {e}", topic.name()),
        })? });
        let mut resumed = 0;
        loop {
            let now = self.clock().now();
            let batch = self.workflows().resolve_watchers(topic.name(), value.clone(), now, BATCH).await?;
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
