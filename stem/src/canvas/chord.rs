//! Chords: a group, and a callback that runs once with the list of the
//! members' outputs when every member has succeeded.

use std::fmt;
use std::marker::PhantomData;

use super::group::{Group, Members};
use super::link::Link;
use super::piece::{FromNode, Node, Piece, Start, Takes};
use super::{Linkable, start};
use crate::error::{Result, TaskFailure};
use crate::stem::Stem;

/// A chord: `header`'s members run side by side; once all have succeeded,
/// `callback` runs once with their outputs in member order (a `Vec`, or a
/// tuple for a tuple group) as its first argument.
///
/// The worker that records the last member's success claims the chord in
/// the result backend and enqueues the callback: one claim per chord, so the
/// callback is enqueued once however many workers finish members at the same
/// time. A member that fails for good (after its retries) stops the chord:
/// the callback does not run, and waiting on the chord fails naming that
/// member.
///
/// ```
/// # use stem::prelude::*;
/// # use stem::canvas::{chord, group};
/// #[stem::task]
/// async fn square(n: u64) -> Result<u64, TaskError> { Ok(n * n) }
///
/// #[stem::task]
/// async fn total(squares: Vec<u64>) -> Result<u64, TaskError> { Ok(squares.iter().sum()) }
///
/// # async fn demo(stem: &stem::Stem) -> stem::Result<()> {
/// let header = group((1..=10).map(Square::call).collect::<Vec<_>>());
/// let sum: u64 = chord(header, Total::link()).enqueue(stem).await?.wait().await?;
/// # Ok(()) }
/// ```
pub fn chord<M: Members, C: Piece>(header: Group<M>, callback: C) -> Chord<M::Input, C::Output, C::Handle>
where
    C::Input: Takes<M::Output>,
{
    let node = header.into_node().and_then(|header| match header {
        Node::Group { id, members } => Ok(Node::Chord { id, members, callback: Box::new(callback.into_node()?) }),
        _ => Err(crate::Error::Config("a chord's header must be a group".to_owned())),
    });
    Chord { node, _types: PhantomData }
}

/// A group and the callback that gets its members' outputs; `In` is what the
/// members take, `Out` what the callback gives, `H` its handle.
pub struct Chord<In, Out, H> {
    node: Result<Node>,
    _types: PhantomData<fn(In) -> (Out, H)>,
}

impl<In, Out, H: FromNode> Chord<In, Out, H> {
    /// Runs `errback` once, with the failure of the member that stopped the
    /// chord (or of the callback), if the chord fails.
    pub fn link_error<E: Linkable>(mut self, errback: Link<E>) -> Self
    where
        E::First: Takes<TaskFailure>,
        E::Rest: serde::Serialize,
    {
        self.node = self.node.and_then(|mut node| {
            node.on_error(&errback.into_envelope()?);
            Ok(node)
        });
        self
    }
}

impl<Out, H: FromNode> Chord<Start, Out, H> {
    /// Creates the chord's counter and enqueues its members; the handle is
    /// the callback's.
    pub async fn enqueue(self, stem: &Stem) -> Result<H> {
        start::enqueue(stem, self).await
    }
}

impl<In, Out, H: FromNode> Piece for Chord<In, Out, H> {
    type Input = In;
    type Output = Out;
    type Handle = H;

    fn into_node(self) -> Result<Node> {
        self.node
    }
}

impl<In, Out, H> fmt::Debug for Chord<In, Out, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chord").field("ok", &self.node.is_ok()).finish_non_exhaustive()
    }
}
