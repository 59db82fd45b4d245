//! `routing dump`: the effective routing (the file `--routing` or
//! `STEM_ROUTING_CONFIG` names): its queues with their aliases and priority
//! ranges, its broadcasts, its routes in order, and where an enqueue of each
//! linked task goes. Nothing is connected to.

use clap::Command;
use serde_json::{Value, json};
use stem::routing::{Destination, Queue, Route, Routing, Target};
use stem::task::{EnqueueOptions, TaskRegistration};

use crate::context::Context;
use crate::error::Outcome;
use crate::output::table;

pub(super) fn command() -> Command {
    Command::new("routing")
        .about("Shows the routing file's queues, aliases, broadcasts and routes, and where each task goes")
        .subcommand_required(true)
        .subcommand(Command::new("dump").about(
            "Prints the effective routing: queues with aliases and priority ranges, broadcasts, routes in order, \
             and the queue and priority an enqueue of each linked task resolves to",
        ))
}

pub(super) fn run(ctx: &Context) -> Outcome {
    let found = ctx.routing();
    // Without a file, routing with nothing in it: every call goes where its task says.
    let none = Routing::default();
    let routing = found.map_or(&none, |(_, routing)| routing);
    let options = EnqueueOptions::default();
    let tasks: Vec<(&TaskRegistration, Destination)> =
        ctx.catalog.tasks().map(|task| (task, routing.destination(task.name(), task.options(), &options))).collect();
    let queues: Vec<Value> = routing.queues().map(queue_json).collect();
    let broadcasts: Vec<Value> =
        routing.broadcasts().map(|b| json!({ "name": b.name(), "queues": b.queues() })).collect();
    let routes: Vec<Value> = routing.routes().iter().enumerate().map(|(i, route)| route_json(i, route)).collect();
    let document = json!({
        "file": found.and_then(|(path, _)| path).map(|p| p.display().to_string()),
        "routing": found.is_some(),
        "queues": queues,
        "broadcasts": broadcasts,
        "routes": routes,
        "tasks": tasks.iter().map(|(task, d)| task_json(task, d)).collect::<Vec<Value>>(),
    });
    ctx.out.either(&document, || match found {
        Some((path, routing)) => {
            let from = path.map_or_else(
                || "routing: the application's Stem's".to_owned(),
                |p| format!("routing file {}", p.display()),
            );
            format!("{from}\n\n{}\n\n{}", shown(routing), shown_tasks(&tasks))
        }
        None => format!(
            "no routing file (set STEM_ROUTING_CONFIG or pass --routing FILE): each task goes to its own queue\n\n{}",
            shown_tasks(&tasks)
        ),
    })
}

fn queue_json(queue: &Queue) -> Value {
    let range = queue.priority_range();
    json!({ "name": queue.name(), "aliases": queue.aliases(), "priority": [range.start(), range.end()] })
}

fn route_json(index: usize, route: &Route) -> Value {
    let (queue, broadcast) = match route.target() {
        Target::Queue(queue) => (Some(queue.as_str()), None),
        Target::Broadcast(name) => (None, Some(name.as_str())),
        _ => (None, None),
    };
    json!({
        "index": index,
        "task": route.pattern().as_str(),
        "queue": queue,
        "alias": route.written_queue().filter(|w| Some(*w) != queue),
        "broadcast": broadcast,
        "priority": route.priority(),
    })
}

fn task_json(task: &TaskRegistration, destination: &Destination) -> Value {
    json!({
        "name": task.name(),
        "route": destination.route,
        "broadcast": destination.broadcast,
        "targets": destination.targets.iter().map(|(queue, priority)| json!({ "queue": queue, "priority": priority }))
            .collect::<Vec<Value>>(),
    })
}

/// The queues, broadcasts and routes, as tables.
fn shown(routing: &Routing) -> String {
    let mut parts = Vec::new();
    if routing.queues().next().is_none() {
        parts.push("no queues declared".to_owned());
    } else {
        let mut t = table(["QUEUE", "ALIASES", "PRIORITIES"]);
        for queue in routing.queues() {
            let range = queue.priority_range();
            t.add_row([
                queue.name().to_owned(),
                queue.aliases().join(", "),
                format!("{} to {}", range.start(), range.end()),
            ]);
        }
        parts.push(t.to_string());
    }
    if routing.broadcasts().next().is_none() {
        parts.push("no broadcasts".to_owned());
    } else {
        let mut t = table(["BROADCAST", "QUEUES"]);
        for broadcast in routing.broadcasts() {
            t.add_row([broadcast.name().to_owned(), broadcast.queues().join(", ")]);
        }
        parts.push(t.to_string());
    }
    if routing.routes().is_empty() {
        parts.push("no routes".to_owned());
    } else {
        let mut t = table(["ROUTE", "TASK", "TO", "PRIORITY"]);
        for (index, route) in routing.routes().iter().enumerate() {
            let to = match (route.target(), route.written_queue()) {
                (Target::Queue(queue), Some(written)) if written != queue => format!("queue {queue} (as {written})"),
                (Target::Broadcast(name), _) => format!("broadcast {name}"),
                (Target::Queue(queue), _) => format!("queue {queue}"),
                _ => String::new(),
            };
            let priority = route.priority().map_or_else(|| "-".to_owned(), |p| p.to_string());
            t.add_row([format!("routes[{index}]"), route.pattern().to_string(), to, priority]);
        }
        parts.push(t.to_string());
    }
    parts.join("\n\n")
}

/// Each linked task with the queue and priority its enqueue resolves to.
fn shown_tasks(tasks: &[(&TaskRegistration, Destination)]) -> String {
    if tasks.is_empty() {
        return "no tasks are linked into this binary (the `stem` binary links none: run your application's own \
                binary, whose main calls stem_cli::run())"
            .to_owned();
    }
    let mut t = table(["TASK", "QUEUE", "PRIORITY", "BY"]);
    for (task, destination) in tasks {
        let queues: Vec<&str> = destination.targets.iter().map(|(queue, _)| queue.as_str()).collect();
        let mut priorities: Vec<String> = destination.targets.iter().map(|(_, p)| p.to_string()).collect();
        priorities.dedup();
        let by = match (destination.route, &destination.broadcast) {
            (Some(route), Some(name)) => format!("routes[{route}], broadcast {name}"),
            (Some(route), None) => format!("routes[{route}]"),
            (None, _) => "the task's own queue".to_owned(),
        };
        t.add_row([task.name().to_owned(), queues.join(", "), priorities.join(", "), by]);
    }
    t.to_string()
}
