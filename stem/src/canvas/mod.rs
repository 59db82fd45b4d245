//! Canvas: tasks composed into chains, groups and chords, typed end to end.
//!
//! - [`chain`]`(a).then(b).then(c)`: each step gets the output of the one
//!   before as its first argument. A step after another is a [`Link`], made
//!   by the generated `Task::link(rest)` from the task's other arguments; a
//!   chain compiles only if each step's first argument type is the previous
//!   step's output type. Its handle is the last step's.
//! - [`group`]`(members)`: members run side by side; the [`GroupHandle`]
//!   waits for all their outputs, in member order, as a `Vec` (members of one
//!   kind) or a tuple (`group((a, b))`).
//! - [`chord`]`(group, callback)`: the callback runs once with the list of
//!   the members' outputs, when all have succeeded. A chain step may be a
//!   group (its members each get the output of the step before; the step
//!   after gets their outputs as a list), and a member may be a chain.
//! - [`Signature::link`](crate::Signature::link) and
//!   [`link_error`](crate::Signature::link_error) on any call: what runs with
//!   its output, and what runs with its [`TaskFailure`](crate::TaskFailure)
//!   if it fails for good.
//!
//! ```
//! # use stem::prelude::*;
//! use stem::canvas::{chain, chord, group};
//!
//! #[stem::task]
//! async fn fetch(url: String) -> Result<Vec<u8>, TaskError> { Ok(url.into_bytes()) }
//!
//! #[stem::task]
//! async fn resize(image: Vec<u8>, width: u32) -> Result<usize, TaskError> { Ok(image.len() * width as usize) }
//!
//! #[stem::task]
//! async fn total(sizes: Vec<usize>) -> Result<usize, TaskError> { Ok(sizes.iter().sum()) }
//!
//! # async fn demo(stem: &stem::Stem) -> stem::Result<()> {
//! // fetch, then resize at three widths side by side, then add the sizes up.
//! let widths = group([Resize::link(100), Resize::link(200), Resize::link(300)]);
//! let sum: usize = chain(Fetch::call("a.png".into())).then(widths).then(Total::link()).enqueue(stem).await?.wait().await?;
//! # Ok(()) }
//! ```
//!
//! # How it runs
//!
//! Each task's envelope carries its [`Plan`](crate::envelope::Plan): what
//! runs after it, what runs if it fails, the chord it ends a member of. The
//! worker that records a task's outcome starts what follows before it acks
//! the delivery, so a crash can only make the task run again, never lose the
//! rest of the canvas. A chord counts its members in the result backend by
//! index (a member that runs twice counts once); the worker that counts the
//! last one claims the chord (one claim per chord) and enqueues the callback,
//! whose task id was fixed when the chord was built: a worker that dies
//! between the claim and the enqueue leaves its member's delivery unsettled,
//! and the member's next run enqueues the callback under that same id unless
//! it is already under way.
//!
//! A task that fails for good stops what follows it: those steps never run,
//! their states read `failed` with the failure as their cause (so waiting on
//! a chain or chord fails naming the task that failed), and a chord with a
//! failed member never runs its callback. Retries are not failures: only the
//! final outcome counts. Errbacks run for the task that failed and, for a
//! chord, once for the chord; steps stopped after a failure do not run
//! theirs. A chord's members must use the JSON codec (its callback gets their
//! outputs as one JSON list).

mod call;
mod carry;
mod chain;
mod chord;
mod collect;
mod group;
mod link;
mod piece;
mod start;

pub(crate) use self::call::{launch_as, step_name};
pub use self::chain::{Chain, chain};
pub use self::chord::{Chord, chord};
pub use self::collect::Collect;
pub use self::group::{Group, GroupHandle, GroupOutput, Members, group};
pub use self::link::{Link, Linkable, Shape, args_from};
pub use self::piece::{FromNode, Node, Piece, Start, Takes};
