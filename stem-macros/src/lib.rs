//! Procedural macros for [Stem](https://docs.rs/stem). Use them through the
//! `stem` crate (`#[stem::task]`); this crate's paths are not a public API.

mod common;
mod event;
mod step;
mod task;
mod workflow;

use proc_macro::TokenStream;

/// Turns an `async fn` into a typed task.
///
/// ```text
/// #[stem::task(queue = "emails", max_retries = 5, time_limit = "30s")]
/// async fn send_email(ctx: TaskContext, to: String, subject: String) -> Result<Receipt, TaskError> { ... }
/// ```
///
/// The fn stays as it is (callable directly, for unit tests). Beside it come:
/// - `SendEmail`, implementing `stem::Task` (`NAME`, `OPTIONS`, `Args`, `Output`);
/// - `SendEmailArgs`, a serde struct of the arguments (for one argument, an alias
///   of its type; for none, `()`);
/// - `SendEmail::enqueue(&stem, args)`, returning a `TaskHandle<Receipt>`, and
///   `SendEmail::call(args)`, a `Signature<SendEmail>` with per-call options;
/// - a registration, so that every worker linked with it finds the task.
///
/// A `TaskContext` parameter, if any, comes first. The fn returns
/// `Result<T, E>` where `E: Into<TaskError>` (any `std::error::Error` converts).
///
/// Options: `name = "..."` (default: module path and fn name), `queue = "..."`,
/// `max_retries = N`, `retry_backoff = "1s"`, `retry_backoff_max = "10m"`,
/// `retry_jitter = true`, `time_limit = "30s"`, `soft_time_limit = "20s"`,
/// `visibility_timeout = "60s"`, `priority = 0..=9`, `codec = "json" |
/// "bincode"` (bincode needs the `bincode` feature of `stem`), `crate =
/// "path::to::stem"`. Durations take `ms`, `s`, `m`, `h`, `d` units and
/// combine (`"1m30s"`). `rate_limit = "100/s"` (also `/m`, `/h`) holds across
/// every worker of the store, per value of the header `rate_limit_key =
/// "tenant"` if given; `unique_for = "10m"` makes a second enqueue of the same
/// call within the window return the first one's handle, a window that ends
/// when the first task finishes unless `unique_until_finished = false`.
/// `track_started = false` skips the `started` status a run that does not end
/// at its first poll records (one status write fewer per run);
/// `ignore_result = true` records nothing for a success that nothing follows
/// up (no status, no result: one status write fewer per run).
/// `schedule = "cron: 0 8 * * * Europe/Paris"` (or `every 30s`, `at: ...`,
/// `solar: sunrise LAT LON`) makes every scheduler put it under the task's
/// name; a scheduled task with arguments is enqueued with each argument's
/// `Default::default()`, so an argument type without `Default` is a compile
/// error on that type. Mistakes are compile errors.
#[proc_macro_attribute]
pub fn task(args: TokenStream, item: TokenStream) -> TokenStream {
    task::expand(args.into(), item.into()).into()
}

/// Turns an `async fn` into a durable workflow.
///
/// ```text
/// #[stem::workflow(queue = "orders", max_run_time = "7d")]
/// async fn checkout(wf: WorkflowContext, order: Order) -> Result<Receipt, WorkflowError> { ... }
/// ```
///
/// Beside the fn come `Checkout` (implementing `stem::workflow::WorkflowDefinition`),
/// `CheckoutArgs` (as for tasks), `Checkout::start(&stem, args)` returning a
/// `WorkflowHandle<Receipt>`, `Checkout::call(args)` (a `WorkflowStart` with
/// per-run options: run id, queue, cancellation policy) and a registration, so
/// that every worker linked with it runs it.
///
/// The first parameter is `wf: WorkflowContext`. Options: `name`, `queue`,
/// `max_run_time`, `max_suspended_time`, `lease` (durations like `"30s"`),
/// `crate = "path::to::stem"`.
#[proc_macro_attribute]
pub fn workflow(args: TokenStream, item: TokenStream) -> TokenStream {
    workflow::expand(args.into(), item.into()).into()
}

/// Turns an `async fn` into a checkpointed workflow step.
///
/// ```text
/// #[stem::step(max_retries = 5, retry_backoff = "500ms")]
/// async fn charge_card(wf: &WorkflowContext, order: &Order) -> Result<Charge, StepError> { ... }
/// ```
///
/// Called from a workflow fn, it runs once per occurrence and returns its
/// checkpoint on replays. The first parameter is `wf: &WorkflowContext`; the other
/// arguments must be `Clone` (references are), since a retry calls the body
/// again; the output must be serializable. Its error type becomes `StepError`.
/// Options: `name` (default: the fn's name), `max_retries` (3),
/// `retry_backoff` (`"1s"`, doubling), `retry_backoff_max` (`"1m"`), `crate`.
#[proc_macro_attribute]
pub fn step(args: TokenStream, item: TokenStream) -> TokenStream {
    step::expand(args.into(), item.into()).into()
}

/// Registers an event topic, so that front ends check what they send on it.
///
/// ```text
/// /// Sent by the warehouse when a parcel leaves.
/// #[stem::event]
/// pub const PARCEL_SHIPPED: EventTopic<Parcel> = EventTopic::new("parcel.shipped");
/// ```
///
/// The constant stays as written; the registration lets the generated CLI
/// (`wf emit parcel.shipped --payload '{...}'`) decode a payload into the
/// topic's value type before anything is sent, and refuse an unknown topic.
/// Options: `crate`.
#[proc_macro_attribute]
pub fn event(args: TokenStream, item: TokenStream) -> TokenStream {
    event::expand(args.into(), item.into()).into()
}
