//! Durable workflows: async fns whose progress survives crashes.
pub mod store;

pub use self::store::{
    CancellationPolicy, Checkpoint, Finish, NewRun, Resumed, RunFilter, RunId, RunState, RunStatus, Suspension,
    Watch, Watcher, WorkflowStore,
};
