//! Chains: pieces that run one after the other, each given the output of the
//! one before as its input.

use std::fmt;
use std::marker::PhantomData;

use super::link::Link;
use super::piece::{FromNode, Node, Piece, Start, Takes};
use super::{Linkable, start};
use crate::error::{Result, TaskFailure};
use crate::stem::Stem;

/// A chain that starts with `first`: add steps with [`then`](Chain::then).
///
/// ```
/// # use stem::prelude::*;
/// # use stem::canvas::chain;
/// #[stem::task]
/// async fn fetch(url: String) -> Result<Vec<u8>, TaskError> { Ok(url.into_bytes()) }
///
/// #[stem::task]
/// async fn resize(image: Vec<u8>, width: u32) -> Result<usize, TaskError> { Ok(image.len() * width as usize) }
///
/// # async fn demo(stem: &stem::Stem) -> stem::Result<()> {
/// let handle = chain(Fetch::call("a.png".into())).then(Resize::link(300)).enqueue(stem).await?;
/// let size: usize = handle.wait().await?;   // the last step's output
/// # Ok(()) }
/// ```
pub fn chain<P: Piece>(first: P) -> Chain<P::Input, P::Output, P::Handle> {
    Chain { nodes: first.into_node().map(|node| vec![node]), _types: PhantomData }
}

/// Pieces that run one after the other; `In` is what the first takes,
/// `Out` what the last gives, `H` the last one's handle.
pub struct Chain<In, Out, H> {
    nodes: Result<Vec<Node>>,
    _types: PhantomData<fn(In) -> (Out, H)>,
}

impl<In, Out, H: FromNode> Chain<In, Out, H> {
    /// Adds `next`, which takes this chain's output as its input.
    pub fn then<P: Piece>(self, next: P) -> Chain<In, P::Output, P::Handle>
    where
        P::Input: Takes<Out>,
    {
        let nodes = self.nodes.and_then(|mut nodes| {
            nodes.push(next.into_node()?);
            Ok(nodes)
        });
        Chain { nodes, _types: PhantomData }
    }

    /// Runs `errback` with the [`TaskFailure`] of the step that fails, if one
    /// does (the steps after it do not run).
    pub fn link_error<E: Linkable>(mut self, errback: Link<E>) -> Self
    where
        E::First: Takes<TaskFailure>,
        E::Rest: serde::Serialize,
    {
        self.nodes = self.nodes.and_then(|mut nodes| {
            let errback = errback.into_envelope()?;
            nodes.iter_mut().for_each(|node| node.on_error(&errback));
            Ok(nodes)
        });
        self
    }
}

impl<Out, H: FromNode> Chain<Start, Out, H> {
    /// Enqueues the first step; the handle is the last step's.
    pub async fn enqueue(self, stem: &Stem) -> Result<H> {
        start::enqueue(stem, self).await
    }
}

impl<In, Out, H: FromNode> Piece for Chain<In, Out, H> {
    type Input = In;
    type Output = Out;
    type Handle = H;

    fn into_node(self) -> Result<Node> {
        Ok(Node::Chain(self.nodes?))
    }
}

impl<In, Out, H> fmt::Debug for Chain<In, Out, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chain").field("steps", &self.nodes.as_ref().map(Vec::len).ok()).finish_non_exhaustive()
    }
}
