//! In-memory adapters: every contract, in one process, for tests and docs.

mod backend;
mod broker;
mod lock;
mod rate;
mod revoke;
mod schedule;
mod workflow;

pub use self::backend::MemoryBackend;
pub use self::broker::MemoryBroker;
pub use self::lock::MemoryLockStore;
pub use self::rate::MemoryRateLimiter;
pub use self::revoke::MemoryRevokeStore;
pub use self::schedule::MemoryScheduleStore;
pub use self::workflow::MemoryWorkflowStore;
