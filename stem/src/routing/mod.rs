//! Routing files: which queue a call goes to, decided outside the code.
//!
//! A routing file (TOML only) declares queues with their aliases and allowed
//! priorities, broadcasts (a call copied to several queues), and routes from
//! task name patterns to a queue or a broadcast:
//!
//! ```toml
//! [queues.emails]
//! aliases = ["mail"]         # other names for it, wherever a queue is named
//! priority = [0, 5]          # the allowed range; priorities are clamped into it
//!
//! [queues.cache-a]
//! [queues.cache-b]
//!
//! [broadcasts.refresh]
//! queues = ["cache-a", "cache-b"]
//!
//! [[routes]]
//! task = "reports.*"         # glob: `*` any run of characters, `?` one
//! queue = "mail"             # a queue or an alias of one
//! priority = 3               # the priority when the call sets none
//!
//! [[routes]]
//! task = "cache.refresh"
//! broadcast = "refresh"
//! ```
//!
//! Load it with [`Routing::load`] (or [`Routing::from_toml`]) and give it to
//! the [`Stem`](crate::Stem) producers enqueue through with
//! [`Stem::with_routing`](crate::Stem::with_routing); the generated CLI reads
//! the file `STEM_ROUTING_CONFIG` or `--routing` names.
//!
//! # Validation
//!
//! The whole file is checked when it is loaded, and a file with any mistake
//! gives no routing: every mistake is reported at once, each naming its entry
//! and field (`routes[2] (task "reports.*"): queue "rep" is neither a queue
//! nor an alias of one`; routes are counted from 0). Unknown fields are
//! refused, with their path and line. Queue, alias and broadcast names follow
//! the queue name rule ([`crate::queue`]); an alias may be neither a queue's
//! name nor another alias; priorities run from 0 to 9 and a range's lowest is
//! at most its highest; a queue a route or a broadcast names must be declared
//! under `[queues]` (by its name or an alias), so that a typo fails the load;
//! a route has exactly one of `queue` and `broadcast`, and a non-empty `task`;
//! a broadcast lists at least one queue, none twice.
//!
//! # What an enqueue does with it
//!
//! Routing applies when a new call is published through a `Stem` that has
//! it: a typed enqueue, a canvas piece (each of its steps, those that start
//! later included) or an enqueue from the CLI.
//!
//! - A call that names no queue goes to the queue of the *first* route (in
//!   file order) whose pattern matches its task name; with no match, to its
//!   task's own queue. A queue the call names (`.queue(..)`) always wins.
//! - A call that sets no priority takes the matching route's priority, if it
//!   has one; otherwise the task's. A priority the call sets always wins.
//! - A queue named by the call, a route or the task may be an alias: it is
//!   resolved to its queue. Any priority is then clamped into the range of
//!   the queue it goes to (declared queues only; others allow 0 to 9).
//! - A call routed to a broadcast is published as one copy per member queue,
//!   each with a task id of its own; the handle the enqueue returns is the
//!   first copy's (which keeps the call's id). A canvas step (a task with a
//!   chain, a link, an errback or a chord around it) cannot be copied: a
//!   broadcast route that matches one fails its enqueue, naming the route.
//!
//! What was read back from a store is never routed again: a retry, a
//! replayed dead letter and a canvas step started by a worker keep the queue
//! and priority they were published with (routing what a canvas starts later
//! happens when the canvas is enqueued). Envelopes built by hand
//! ([`Envelope::new`]) and workflow runs keep their own queue. Without
//! routing, nothing changes, and an enqueue costs nothing more.
//!
//! A worker built from a `Stem` with routing resolves the aliases among its
//! queues, and without queues given consumes its tasks' routed queues (each
//! broadcast member included) besides their own.

mod file;
mod pattern;

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::path::Path;
use std::sync::Arc;

pub use self::pattern::Pattern;
use crate::envelope::{Call, Envelope, MAX_PRIORITY, Next, Plan, RUN_META};
use crate::error::{Error, Result};
use crate::id::TaskId;
use crate::task::{EnqueueOptions, TaskOptions};

/// A validated routing file (see the [module docs](self)): queues, aliases,
/// broadcasts and routes. A `Stem` holds it behind an `Arc`; the default is
/// routing with nothing in it, which leaves every call where it is.
///
/// ```
/// use stem::routing::Routing;
/// use stem::task::{EnqueueOptions, TaskOptions};
///
/// # fn main() -> stem::Result<()> {
/// let routing = Routing::from_toml(
///     r#"
///     [queues.emails]
///     aliases = ["mail"]
///     priority = [0, 5]
///
///     [[routes]]
///     task = "app::emails::*"
///     queue = "mail"
///     priority = 7
///     "#,
/// )?;
/// let goes = routing.destination("app::emails::send", &TaskOptions::DEFAULT, &EnqueueOptions::default());
/// assert_eq!(goes.targets, [("emails".to_owned(), 5)]); // the alias resolved, 7 clamped into 0 to 5
/// let stem = stem::Stem::in_memory().with_routing(routing);
/// # let _ = stem;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Routing {
    /// The declared queues, by name.
    queues: BTreeMap<String, Queue>,
    /// Each alias and the queue it names.
    aliases: BTreeMap<String, String>,
    /// The broadcasts, by name.
    broadcasts: BTreeMap<String, Broadcast>,
    /// The routes, in file order.
    routes: Vec<Route>,
}

/// A queue a routing file declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    name: String,
    aliases: Vec<String>,
    priority: RangeInclusive<u8>,
}

impl Queue {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its other names, as the file lists them.
    pub fn aliases(&self) -> &[String] {
        &self.aliases
    }

    /// The priorities it allows (0 to 9 unless the file says otherwise).
    pub fn priority_range(&self) -> RangeInclusive<u8> {
        self.priority.clone()
    }
}

/// A broadcast: a call routed to it is copied to each of its queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broadcast {
    name: String,
    queues: Vec<String>,
}

impl Broadcast {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its queues, aliases resolved, in file order.
    pub fn queues(&self) -> &[String] {
        &self.queues
    }
}

/// One route: the calls of the tasks its pattern matches go to its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pattern: Pattern,
    target: Target,
    /// The queue as the file wrote it (an alias, perhaps).
    written: Option<String>,
    priority: Option<u8>,
}

impl Route {
    /// The task name pattern.
    pub fn pattern(&self) -> &Pattern {
        &self.pattern
    }

    /// Where the calls go.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The queue as the file wrote it (an alias, perhaps); `None` for a
    /// route to a broadcast.
    pub fn written_queue(&self) -> Option<&str> {
        self.written.as_deref()
    }

    /// The priority of the calls that set none, if the route gives one.
    pub fn priority(&self) -> Option<u8> {
        self.priority
    }
}

/// Where a route sends calls.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// One queue (its name, an alias resolved).
    Queue(String),
    /// A broadcast, by name.
    Broadcast(String),
}

/// Where a call goes once routed (see [`Routing::destination`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Destination {
    /// The index in the file of the route that matched the task name, if any.
    pub route: Option<usize>,
    /// The broadcast the call is copied through, if it goes to one.
    pub broadcast: Option<String>,
    /// Each queue a copy is published on, with its priority: one, or each
    /// member of the broadcast in order (the first keeps the call's id).
    pub targets: Vec<(String, u8)>,
}

impl Routing {
    /// The routing the TOML `text` describes; [`Error::Config`] naming every
    /// mistake (its entry and field) if it has any.
    pub fn from_toml(text: &str) -> Result<Self> {
        file::parse(text).map_err(|why| Error::Config(format!("routing: {why}")))
    }

    /// The routing of the TOML file at `path`; [`Error::Config`] naming the
    /// file, and every mistake's entry and field, if it cannot be read or has
    /// any mistake.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("routing file {}: cannot be read: {e}", path.display())))?;
        file::parse(&text).map_err(|why| Error::Config(format!("routing file {}: {why}", path.display())))
    }

    /// The declared queues, by name.
    pub fn queues(&self) -> impl Iterator<Item = &Queue> {
        self.queues.values()
    }

    /// The declared queue `name` names, by its name or an alias.
    pub fn queue(&self, name: &str) -> Option<&Queue> {
        self.queues.get(name).or_else(|| self.aliases.get(name).and_then(|q| self.queues.get(q)))
    }

    /// The queue `name` stands for: the queue it is an alias of, or itself.
    pub fn resolve<'a>(&'a self, name: &'a str) -> &'a str {
        self.aliases.get(name).map_or(name, String::as_str)
    }

    /// The broadcasts, by name.
    pub fn broadcasts(&self) -> impl Iterator<Item = &Broadcast> {
        self.broadcasts.values()
    }

    /// The routes, in file order.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// Where a call of the task `task` (with defaults `defaults`) and
    /// per-call `options` goes: the queue (or the queues of a broadcast) and
    /// the priority, as an enqueue through a `Stem` with this routing
    /// publishes it.
    pub fn destination(&self, task: &str, defaults: &TaskOptions, options: &EnqueueOptions) -> Destination {
        let queue = options.queue.as_deref().unwrap_or(defaults.queue);
        let priority = options.priority.unwrap_or(defaults.priority).min(MAX_PRIORITY);
        self.place(task, queue, options.queue.is_some(), priority, options.priority.is_some())
    }

    /// The destination of a call of `task` now on `queue` with `priority`,
    /// which named them itself or not.
    fn place(&self, task: &str, queue: &str, queue_named: bool, priority: u8, priority_named: bool) -> Destination {
        let matched = self.routes.iter().enumerate().find(|(_, r)| r.pattern.matches(task));
        let priority = match matched {
            Some((_, route)) if !priority_named => route.priority.unwrap_or(priority),
            _ => priority,
        };
        let one = |queue: &str| vec![(queue.to_owned(), self.clamp(queue, priority))];
        let (broadcast, targets) = match matched.map(|(_, r)| &r.target) {
            Some(Target::Queue(routed)) if !queue_named => (None, one(routed)),
            Some(Target::Broadcast(name)) if !queue_named => {
                let queues = self.broadcasts.get(name).map_or(&[][..], |b| &b.queues);
                (Some(name.clone()), queues.iter().map(|q| (q.clone(), self.clamp(q, priority))).collect())
            }
            _ => (None, one(self.resolve(queue))),
        };
        Destination { route: matched.map(|(i, _)| i), broadcast, targets }
    }

    /// `priority` clamped into the range of `queue`.
    fn clamp(&self, queue: &str, priority: u8) -> u8 {
        match self.queues.get(queue) {
            Some(q) => priority.clamp(*q.priority.start(), *q.priority.end()),
            None => priority.min(MAX_PRIORITY),
        }
    }

    /// Routes a new call about to be published, and each step of its canvas:
    /// the envelope, and the other copies of a call routed to a broadcast
    /// (the envelope itself, with its id, is the first's). What is not a new
    /// call is given back as it is.
    pub(crate) fn apply(&self, mut envelope: Envelope) -> Result<(Envelope, Vec<Envelope>)> {
        if let Some(plan) = envelope.canvas.as_deref_mut() {
            self.apply_plan(plan)?;
        }
        let Some(destination) = self.destination_of(&envelope) else { return Ok((envelope, Vec::new())) };
        if envelope.canvas.is_some() {
            refuse_broadcast(&envelope, &destination)?;
        }
        envelope.call = Call::Placed;
        let mut targets = destination.targets.into_iter();
        if let Some((queue, priority)) = targets.next() {
            (envelope.queue, envelope.priority) = (queue, priority);
        }
        let copies = targets
            .map(|(queue, priority)| {
                let mut copy = envelope.clone();
                copy.id = TaskId::new();
                // The run marker belongs to the call's own id.
                copy.meta.remove(RUN_META);
                (copy.queue, copy.priority) = (queue, priority);
                copy
            })
            .collect();
        Ok((envelope, copies))
    }

    /// [`apply`](Self::apply) to each of `envelopes`, the copies of each
    /// after it.
    pub(crate) fn apply_all(&self, envelopes: Vec<Envelope>) -> Result<Vec<Envelope>> {
        let mut routed = Vec::with_capacity(envelopes.len());
        for envelope in envelopes {
            let (first, copies) = self.apply(envelope)?;
            routed.push(first);
            routed.extend(copies);
        }
        Ok(routed)
    }

    /// Routes every step of `plan` that is a new call, in place.
    fn apply_plan(&self, plan: &mut Plan) -> Result<()> {
        for next in plan.then.iter_mut().chain(plan.rest.iter_mut()) {
            self.apply_next(next)?;
        }
        for errback in &mut plan.on_error {
            self.apply_step(errback)?;
        }
        if let Some(member) = plan.member.as_mut() {
            for next in Arc::make_mut(&mut member.then) {
                self.apply_next(next)?;
            }
        }
        Ok(())
    }

    fn apply_next(&self, next: &mut Next) -> Result<()> {
        match next {
            Next::Task(envelope) => self.apply_step(envelope),
            Next::Group(group) => group.members.iter_mut().try_for_each(|m| self.apply_next(m)),
        }
    }

    /// Routes one canvas step (which cannot be copied) and its own canvas.
    fn apply_step(&self, envelope: &mut Envelope) -> Result<()> {
        if let Some(plan) = envelope.canvas.as_deref_mut() {
            self.apply_plan(plan)?;
        }
        let Some(destination) = self.destination_of(envelope) else { return Ok(()) };
        refuse_broadcast(envelope, &destination)?;
        if let Some((queue, priority)) = destination.targets.into_iter().next() {
            (envelope.queue, envelope.priority) = (queue, priority);
        }
        envelope.call = Call::Placed;
        Ok(())
    }

    /// Where `envelope` goes when a `Stem` with this routing publishes it;
    /// `None` if it is not a new call (read from a store, built by hand,
    /// routed already), which is published as it is.
    pub fn destination_of(&self, envelope: &Envelope) -> Option<Destination> {
        match envelope.call {
            Call::Placed => None,
            Call::New { queue, priority } => {
                Some(self.place(&envelope.task, &envelope.queue, queue, envelope.priority, priority))
            }
        }
    }
}

/// Fails when a canvas step is routed to a broadcast.
fn refuse_broadcast(envelope: &Envelope, destination: &Destination) -> Result<()> {
    match (&destination.broadcast, destination.route) {
        (Some(broadcast), Some(route)) => Err(Error::Config(format!(
            "task `{}` is a canvas step (of a chain, group, chord, link or errback), and routes[{route}] sends it \
             to broadcast {broadcast:?}: a canvas step cannot be copied; route it to a queue, or enqueue it on its own",
            envelope.task
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Payload;

    const FILE: &str = r#"
        [queues.emails]
        aliases = ["mail"]
        priority = [2, 5]
        [queues.cache-a]
        [queues.cache-b]
        priority = [0, 1]
        [broadcasts.refresh]
        queues = ["cache-a", "cache-b"]
        [[routes]]
        task = "reports.*"
        queue = "mail"
        priority = 3
        [[routes]]
        task = "reports.weekly"
        queue = "cache-a"
        [[routes]]
        task = "cache.refresh"
        broadcast = "refresh"
        priority = 4
    "#;

    fn routing() -> Routing {
        Routing::from_toml(FILE).expect("a valid file")
    }

    fn call(task: &str, options: EnqueueOptions) -> Envelope {
        let defaults = TaskOptions { queue: "own", ..TaskOptions::DEFAULT };
        options.envelope(task, &defaults, Payload::new("json", b"null".to_vec())).expect("an envelope")
    }

    fn placed(envelopes: &[Envelope]) -> Vec<(&str, u8)> {
        envelopes.iter().map(|e| (e.queue.as_str(), e.priority)).collect()
    }

    /// `apply`, the first and the copies in one list.
    fn apply(routing: &Routing, envelope: Envelope) -> Result<Vec<Envelope>> {
        routing.apply_all(vec![envelope])
    }

    #[test]
    fn the_first_matching_route_places_a_call_that_named_nothing() {
        let routing = routing();
        let routed = apply(&routing, call("reports.weekly", EnqueueOptions::default())).expect("routed");
        assert_eq!(placed(&routed), [("emails", 3)], "file order: reports.* comes first");
        let unmatched = apply(&routing, call("billing.run", EnqueueOptions::default())).expect("routed");
        assert_eq!(placed(&unmatched), [("own", 0)], "no route: the task's own queue");
    }

    #[test]
    fn what_the_call_names_wins_and_aliases_resolve_and_priorities_clamp() {
        let routing = routing();
        let named = EnqueueOptions { queue: Some("elsewhere".into()), ..EnqueueOptions::default() };
        assert_eq!(placed(&apply(&routing, call("reports.x", named)).expect("routed")), [("elsewhere", 3)]);
        let alias = EnqueueOptions { queue: Some("mail".into()), priority: Some(9), ..EnqueueOptions::default() };
        assert_eq!(placed(&apply(&routing, call("other", alias)).expect("routed")), [("emails", 5)]);
        let low = EnqueueOptions { priority: Some(0), ..EnqueueOptions::default() };
        assert_eq!(placed(&apply(&routing, call("reports.x", low)).expect("routed")), [("emails", 2)]);
    }

    #[test]
    fn a_broadcast_is_one_copy_per_queue_the_first_keeping_the_id() {
        let routing = routing();
        let envelope = call("cache.refresh", EnqueueOptions { task_id: Some(TaskId::new()), ..Default::default() });
        let id = envelope.id;
        let copies = apply(&routing, envelope).expect("routed");
        assert_eq!(placed(&copies), [("cache-a", 4), ("cache-b", 1)]);
        assert_eq!(copies[0].id, id);
        assert_ne!(copies[1].id, id);
        assert!(copies[0].run().is_some() && copies[1].run().is_none(), "the run marker is the call's id's");
        let destination = routing.destination("cache.refresh", &TaskOptions::DEFAULT, &EnqueueOptions::default());
        assert_eq!((destination.route, destination.broadcast.as_deref()), (Some(2), Some("refresh")));
    }

    #[test]
    fn what_is_not_a_new_call_is_published_as_it_is() {
        let routing = routing();
        let mut decoded = call("reports.x", EnqueueOptions::default());
        decoded.call = Call::Placed;
        assert_eq!(placed(&apply(&routing, decoded).expect("as it is")), [("own", 0)]);
        let once = apply(&routing, call("reports.x", EnqueueOptions::default())).expect("routed");
        let twice = apply(&routing, once.into_iter().next().expect("one")).expect("as it is");
        assert!(matches!(twice[0].call, Call::Placed));
    }

    #[test]
    fn canvas_steps_are_routed_and_cannot_be_broadcast() {
        let routing = routing();
        let mut first = call("billing.run", EnqueueOptions::default());
        let step = call("reports.x", EnqueueOptions::default());
        first.canvas = Some(Box::new(Plan { rest: vec![Next::Task(Box::new(step))], ..Plan::default() }));
        let routed = apply(&routing, first).expect("routed");
        let plan = routed[0].canvas.as_deref().expect("a plan");
        let Next::Task(step) = &plan.rest[0] else { panic!("a task step") };
        assert_eq!((step.queue.as_str(), step.priority), ("emails", 3));

        let mut first = call("billing.run", EnqueueOptions::default());
        let copied = call("cache.refresh", EnqueueOptions::default());
        first.canvas = Some(Box::new(Plan { on_error: vec![copied], ..Plan::default() }));
        let message = apply(&routing, first).expect_err("refused").to_string();
        assert!(message.contains("routes[2]") && message.contains("cannot be copied"), "{message}");
    }

    #[test]
    fn load_names_the_file() {
        let missing = Routing::load("/nonexistent/routing.toml").expect_err("no file").to_string();
        assert!(missing.contains("routing file /nonexistent/routing.toml: cannot be read"), "{missing}");
        let path = std::env::temp_dir().join(format!("stem-routing-{:08x}.toml", fastrand::u32(..)));
        std::fs::write(&path, "[[routes]]\ntask = \"x\"\nqueue = \"nowhere\"\n").expect("write");
        let bad = Routing::load(&path).expect_err("refused").to_string();
        let _ = std::fs::remove_file(&path);
        assert_eq!(
            bad,
            format!(
                "invalid configuration: routing file {}: routes[0] (task \"x\"): queue \"nowhere\" is neither a queue nor an alias of one",
                path.display()
            )
        );
    }
}
