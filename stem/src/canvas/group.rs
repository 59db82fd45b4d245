//! Groups: pieces that run side by side, and the handle that waits for all
//! of their outputs, in member order.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::link::Link;
use super::piece::{FromNode, Node, Piece, Start, Takes, single_tail};
use super::{Linkable, start};
use crate::codec::{self, Payload};
use crate::error::{Error, Result, TaskFailure};
use crate::id::TaskId;
use crate::stem::Stem;
use crate::task::handle::result_of;

/// A group of `members`: a `Vec` or an array of one kind of piece (its output
/// is a `Vec` of theirs), or a tuple of different pieces (a tuple of theirs).
///
/// ```
/// # use stem::prelude::*;
/// # use stem::canvas::group;
/// #[stem::task]
/// async fn square(n: u64) -> Result<u64, TaskError> { Ok(n * n) }
///
/// #[stem::task]
/// async fn greet(name: String) -> Result<String, TaskError> { Ok(format!("hi {name}")) }
///
/// # async fn demo(stem: &stem::Stem) -> stem::Result<()> {
/// let squares: Vec<u64> = group((1..=3).map(Square::call).collect::<Vec<_>>()).enqueue(stem).await?.wait().await?;
/// let (sq, hi): (u64, String) = group((Square::call(4), Greet::call("ada".into()))).enqueue(stem).await?.wait().await?;
/// # Ok(()) }
/// ```
pub fn group<M: Members>(members: M) -> Group<M> {
    let id = TaskId::new();
    let members = members.into_nodes().and_then(|nodes| nodes.into_iter().map(single_tail).collect());
    Group { id, members, _m: PhantomData }
}

/// Pieces that run side by side.
pub struct Group<M> {
    id: TaskId,
    members: Result<Vec<Node>>,
    _m: PhantomData<fn() -> M>,
}

impl<M: Members> Group<M> {
    /// The group id.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// Runs `errback` with the [`TaskFailure`] of each member that fails.
    pub fn link_error<E: Linkable>(mut self, errback: Link<E>) -> Self
    where
        E::First: Takes<TaskFailure>,
        E::Rest: serde::Serialize,
    {
        self.members = self.members.and_then(|mut members| {
            let errback = errback.into_envelope()?;
            members.iter_mut().for_each(|node| node.on_error(&errback));
            Ok(members)
        });
        self
    }
}

impl<M: Members<Input = Start>> Group<M> {
    /// Enqueues every member (in one batch); the handle waits for all.
    pub async fn enqueue(self, stem: &Stem) -> Result<GroupHandle<M::Output>> {
        start::enqueue(stem, self).await
    }
}

impl<M: Members> Piece for Group<M> {
    type Input = M::Input;
    type Output = M::Output;
    type Handle = GroupHandle<M::Output>;

    fn into_node(self) -> Result<Node> {
        Ok(Node::Group { id: self.id, members: self.members? })
    }
}

impl<M> fmt::Debug for Group<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group")
            .field("id", &self.id)
            .field("members", &self.members.as_ref().map(Vec::len).ok())
            .finish()
    }
}

impl<P: Piece> FromIterator<P> for Group<Vec<P>>
where
    P::Output: DeserializeOwned,
{
    fn from_iter<I: IntoIterator<Item = P>>(members: I) -> Self {
        group(members.into_iter().collect::<Vec<_>>())
    }
}

/// What a group can be made of: the members, their common input and their
/// outputs together.
pub trait Members {
    /// What every member takes ([`Start`] for full calls).
    type Input;
    /// The members' outputs in member order: a `Vec` or a tuple.
    type Output: GroupOutput;

    /// The members as nodes, in order.
    #[doc(hidden)]
    fn into_nodes(self) -> Result<Vec<Node>>;
}

impl<P: Piece> Members for Vec<P>
where
    P::Output: DeserializeOwned,
{
    type Input = P::Input;
    type Output = Vec<P::Output>;

    fn into_nodes(self) -> Result<Vec<Node>> {
        self.into_iter().map(Piece::into_node).collect()
    }
}

impl<P: Piece, const N: usize> Members for [P; N]
where
    P::Output: DeserializeOwned,
{
    type Input = P::Input;
    type Output = Vec<P::Output>;

    fn into_nodes(self) -> Result<Vec<Node>> {
        self.into_iter().map(Piece::into_node).collect()
    }
}

/// The members' outputs, decoded from their encoded results in member order.
pub trait GroupOutput: Sized {
    /// The outputs from the members' results.
    #[doc(hidden)]
    fn from_results(results: Vec<Payload>) -> Result<Self>;
}

impl<T: DeserializeOwned> GroupOutput for Vec<T> {
    fn from_results(results: Vec<Payload>) -> Result<Self> {
        results.iter().map(codec::decode).collect()
    }
}

/// `Members` and `GroupOutput` for tuples of pieces: `group((a, b, c))`.
macro_rules! tuple_group {
    ($len:literal: $first:ident $($rest:ident)*) => {
        impl<$first: Piece, $($rest: Piece),*> Members for ($first, $($rest,)*)
        where
            $first::Output: DeserializeOwned,
            $($rest::Output: DeserializeOwned, $rest::Input: Takes<$first::Input>,)*
        {
            type Input = $first::Input;
            type Output = ($first::Output, $($rest::Output,)*);

            #[allow(non_snake_case)]
            fn into_nodes(self) -> Result<Vec<Node>> {
                let ($first, $($rest,)*) = self;
                Ok(vec![$first.into_node()?, $($rest.into_node()?,)*])
            }
        }

        impl<$first: DeserializeOwned, $($rest: DeserializeOwned),*> GroupOutput for ($first, $($rest,)*) {
            #[allow(non_snake_case)]
            fn from_results(results: Vec<Payload>) -> Result<Self> {
                let [$first, $($rest,)*] = <[Payload; $len]>::try_from(results).map_err(|r| Error::Codec {
                    codec: "canvas".to_owned(),
                    message: format!("a group of {} members gave {} results", $len, r.len()),
                })?;
                Ok((codec::decode(&$first)?, $(codec::decode(&$rest)?,)*))
            }
        }
    };
}

tuple_group!(2: A B);
tuple_group!(3: A B C);
tuple_group!(4: A B C D);
tuple_group!(5: A B C D E);
tuple_group!(6: A B C D E F);
tuple_group!(7: A B C D E F G);
tuple_group!(8: A B C D E F G H);

/// A handle on an enqueued group: `wait()` yields every member's output in
/// member order, `O` (a `Vec` or a tuple).
pub struct GroupHandle<O> {
    stem: Stem,
    id: TaskId,
    members: Vec<TaskId>,
    _output: PhantomData<fn() -> O>,
}

impl<O> GroupHandle<O> {
    /// The group id.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// The task ids whose results are the members' outputs, in member order.
    pub fn members(&self) -> &[TaskId] {
        &self.members
    }
}

impl<O: GroupOutput> GroupHandle<O> {
    /// Waits until every member has finished and returns their outputs.
    ///
    /// Fails with [`Error::TaskFailed`], naming the member (its id, task and
    /// error), as soon as the first member in order is found failed.
    pub async fn wait(&self) -> Result<O> {
        const CHUNK: Duration = Duration::from_secs(3600);
        let mut results = Vec::with_capacity(self.members.len());
        for id in &self.members {
            loop {
                match result_of(&self.stem, *id, CHUNK).await {
                    Err(Error::Timeout { .. }) => {}
                    other => {
                        results.push(other?);
                        break;
                    }
                }
            }
        }
        O::from_results(results)
    }

    /// Like [`wait`](Self::wait), but fails with [`Error::Timeout`] once
    /// `timeout` has passed.
    pub async fn wait_timeout(&self, timeout: Duration) -> Result<O> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut results = Vec::with_capacity(self.members.len());
        for id in &self.members {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            results.push(result_of(&self.stem, *id, left).await?);
        }
        O::from_results(results)
    }
}

impl<O> FromNode for GroupHandle<O> {
    fn from_node(stem: &Stem, node: &Node) -> Self {
        let members = node.members().iter().map(|m| m.tail().unwrap_or_default()).collect();
        Self { stem: stem.clone(), id: node.group_id().unwrap_or_default(), members, _output: PhantomData }
    }
}

impl<O> Clone for GroupHandle<O> {
    fn clone(&self) -> Self {
        Self { stem: self.stem.clone(), id: self.id, members: self.members.clone(), _output: PhantomData }
    }
}

impl<O> fmt::Debug for GroupHandle<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupHandle")
            .field("id", &self.id)
            .field("members", &self.members.len())
            .field("output", &std::any::type_name::<O>())
            .finish()
    }
}
