//! The routing file: its TOML shape, and its validation into a [`Routing`].
//! Everything is checked at load, and every mistake is reported at once,
//! each naming its entry and field; a file with any mistake gives no routing.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::pattern::Pattern;
use super::{Broadcast, Queue, Route, Routing, Target};
use crate::envelope::MAX_PRIORITY;

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    queues: BTreeMap<String, QueueEntry>,
    #[serde(default)]
    broadcasts: BTreeMap<String, BroadcastEntry>,
    #[serde(default)]
    routes: Vec<RouteEntry>,
}

/// `[queues.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueEntry {
    #[serde(default)]
    aliases: Vec<String>,
    /// `[lowest, highest]`, read as any integers so that the check below
    /// names the entry and says what is allowed.
    priority: Option<Vec<i64>>,
}

/// `[broadcasts.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BroadcastEntry {
    queues: Vec<String>,
}

/// One `[[routes]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteEntry {
    task: String,
    queue: Option<String>,
    broadcast: Option<String>,
    priority: Option<i64>,
}

/// The routing `text` describes, or every mistake in it, joined with `; `
/// (the caller says where the text came from).
pub(super) fn parse(text: &str) -> Result<Routing, String> {
    let file: File = crate::toml_file::decode(text)?;
    let mut errors = Vec::new();
    let routing = validate(file, &mut errors);
    if errors.is_empty() { Ok(routing) } else { Err(errors.join("; ")) }
}

/// The routing of `file`, its mistakes added to `errors`.
fn validate(file: File, errors: &mut Vec<String>) -> Routing {
    let mut routing = Routing::default();
    let names: Vec<String> = file.queues.keys().cloned().collect();
    for (name, entry) in file.queues {
        let at = format!("queues.{}", key(&name));
        if !crate::queue::is_valid(&name) {
            errors.push(format!("{at}: the queue name {name:?} is not valid: {}", crate::queue::RULE));
        }
        for alias in &entry.aliases {
            if !crate::queue::is_valid(alias) {
                errors.push(format!("{at}: aliases: {alias:?} is not valid: {}", crate::queue::RULE));
            } else if names.contains(alias) {
                errors.push(format!("{at}: aliases: {alias:?} is also the name of a queue"));
            } else if let Some(other) = routing.aliases.get(alias) {
                let whose = if *other == name { "this queue's".to_owned() } else { format!("queue {other:?}'s") };
                errors.push(format!("{at}: aliases: {alias:?} is also {whose} alias"));
            } else {
                routing.aliases.insert(alias.clone(), name.clone());
            }
        }
        let priority = match entry.priority.as_deref() {
            None => 0..=MAX_PRIORITY,
            Some(range) => priority_range(range).unwrap_or_else(|why| {
                errors.push(format!("{at}: priority {range:?}: {why}"));
                0..=MAX_PRIORITY
            }),
        };
        routing.queues.insert(name.clone(), Queue { name, aliases: entry.aliases, priority });
    }
    for (name, entry) in file.broadcasts {
        let at = format!("broadcasts.{}", key(&name));
        if !crate::queue::is_valid(&name) {
            errors.push(format!(
                "{at}: the broadcast name {name:?} is not valid: a broadcast is named as a queue is ({})",
                crate::queue::RULE
            ));
        }
        if entry.queues.is_empty() {
            errors.push(format!("{at}: queues is empty: list the queues a call is copied to"));
        }
        let mut queues: Vec<String> = Vec::with_capacity(entry.queues.len());
        for written in &entry.queues {
            match routing.queue(written) {
                None => errors.push(format!("{at}: queues: {written:?} is neither a queue nor an alias of one")),
                Some(queue) if queues.iter().any(|q| q == queue.name()) => {
                    errors.push(format!("{at}: queues: queue {:?} is listed twice", queue.name()));
                }
                Some(queue) => queues.push(queue.name().to_owned()),
            }
        }
        routing.broadcasts.insert(name.clone(), Broadcast { name, queues });
    }
    for (index, entry) in file.routes.into_iter().enumerate() {
        if let Some(route) = route(&routing, index, entry, errors) {
            routing.routes.push(route);
        }
    }
    routing
}

/// The route of `entry`, the `index`th; `None` (its mistakes added to
/// `errors`) if it has any.
fn route(routing: &Routing, index: usize, entry: RouteEntry, errors: &mut Vec<String>) -> Option<Route> {
    let at = format!("routes[{index}] (task {:?})", entry.task);
    let before = errors.len();
    if entry.task.is_empty() {
        errors
            .push(format!("{at}: task is empty: write a task name or a pattern (`*` any run of characters, `?` one)"));
    }
    let target = match (&entry.queue, &entry.broadcast) {
        (Some(_), Some(_)) => {
            errors.push(format!("{at}: has both queue and broadcast: give one of them"));
            None
        }
        (None, None) => {
            errors.push(format!("{at}: has neither queue nor broadcast: give one of them"));
            None
        }
        (Some(queue), None) => match routing.queue(queue) {
            Some(found) => Some(Target::Queue(found.name().to_owned())),
            None => {
                errors.push(format!("{at}: queue {queue:?} is neither a queue nor an alias of one"));
                None
            }
        },
        (None, Some(broadcast)) if routing.broadcasts.contains_key(broadcast) => {
            Some(Target::Broadcast(broadcast.clone()))
        }
        (None, Some(broadcast)) => {
            errors.push(format!("{at}: broadcast {broadcast:?} is not one of the [broadcasts]"));
            None
        }
    };
    let priority = entry.priority.and_then(|p| {
        let checked = priority(p);
        if checked.is_none() {
            errors.push(format!("{at}: priority {p} is not a priority (0 to {MAX_PRIORITY})"));
        }
        checked
    });
    match target {
        Some(target) if errors.len() == before => {
            Some(Route { pattern: Pattern::new(entry.task), target, written: entry.queue, priority })
        }
        _ => None,
    }
}

/// `[lowest, highest]` as a range, or why not.
fn priority_range(range: &[i64]) -> Result<std::ops::RangeInclusive<u8>, String> {
    let [lowest, highest] = range else {
        return Err(format!("write it as [lowest, highest], two priorities from 0 to {MAX_PRIORITY}"));
    };
    match (priority(*lowest), priority(*highest)) {
        (Some(lowest), Some(highest)) if lowest <= highest => Ok(lowest..=highest),
        (Some(lowest), Some(highest)) => Err(format!("the lowest, {lowest}, is above the highest, {highest}")),
        (None, _) => Err(format!("{lowest} is not a priority (0 to {MAX_PRIORITY})")),
        (_, None) => Err(format!("{highest} is not a priority (0 to {MAX_PRIORITY})")),
    }
}

/// `value` as a priority, if it is one.
fn priority(value: i64) -> Option<u8> {
    u8::try_from(value).ok().filter(|p| *p <= MAX_PRIORITY)
}

/// `name` as a TOML key: bare when it can be, quoted otherwise.
fn key(name: &str) -> String {
    let bare = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare { name.to_owned() } else { format!("{name:?}") }
}

#[cfg(test)]
mod tests {
    use super::parse;
    use crate::routing::Target;

    /// The message of a file that must be refused.
    fn refused(text: &str) -> String {
        match parse(text) {
            Ok(routing) => panic!("accepted: {routing:?}"),
            Err(message) => message,
        }
    }

    const QUEUES: &str = r#"
        [queues.emails]
        aliases = ["mail"]
        priority = [2, 5]
        [queues.reports]
        [queues.cache-a]
        [queues.cache-b]
        [broadcasts.refresh]
        queues = ["cache-a", "cache-b"]
    "#;

    #[test]
    fn a_whole_file_is_read() {
        let text = format!(
            "{QUEUES}\n{}",
            r#"
            [[routes]]
            task = "reports.*"
            queue = "mail"
            priority = 3
            [[routes]]
            task = "cache.refresh"
            broadcast = "refresh"
            "#
        );
        let routing = parse(&text).expect("a valid file");
        let names: Vec<&str> = routing.queues().map(|q| q.name()).collect();
        assert_eq!(names, ["cache-a", "cache-b", "emails", "reports"]);
        let emails = routing.queues().find(|q| q.name() == "emails").expect("emails");
        assert_eq!((emails.aliases(), emails.priority_range()), (&["mail".to_owned()][..], 2..=5));
        assert_eq!(routing.queue("mail").map(|q| q.name()), Some("emails"));
        let routes = routing.routes();
        assert_eq!(routes.len(), 2);
        assert_eq!(
            (routes[0].pattern().as_str(), routes[0].target(), routes[0].written_queue(), routes[0].priority()),
            ("reports.*", &Target::Queue("emails".into()), Some("mail"), Some(3))
        );
        assert_eq!(routes[1].target(), &Target::Broadcast("refresh".into()));
        let refresh = routing.broadcasts().next().expect("a broadcast");
        assert_eq!((refresh.name(), refresh.queues()), ("refresh", &["cache-a".to_owned(), "cache-b".to_owned()][..]));
    }

    #[test]
    fn an_empty_file_routes_nothing() {
        let routing = parse("").expect("valid");
        assert!(routing.routes().is_empty() && routing.queues().next().is_none());
    }

    #[test]
    fn a_route_to_an_unknown_queue_names_its_entry() {
        let text = format!(
            "{QUEUES}\n[[routes]]\ntask = \"a\"\nqueue = \"emails\"\n[[routes]]\ntask = \"b\"\nqueue = \"mail\"\n[[routes]]\ntask = \"reports.*\"\nqueue = \"rep\"\n"
        );
        assert_eq!(
            refused(&text),
            r#"routes[2] (task "reports.*"): queue "rep" is neither a queue nor an alias of one"#
        );
    }

    #[test]
    fn each_mistake_in_a_route_names_its_entry_and_field() {
        let cases = [
            ("task = \"\"\nqueue = \"emails\"", r#"routes[0] (task ""): task is empty"#),
            (
                "task = \"x\"\nqueue = \"emails\"\nbroadcast = \"refresh\"",
                r#"routes[0] (task "x"): has both queue and broadcast"#,
            ),
            ("task = \"x\"", r#"routes[0] (task "x"): has neither queue nor broadcast"#),
            (
                "task = \"x\"\nbroadcast = \"all\"",
                r#"routes[0] (task "x"): broadcast "all" is not one of the [broadcasts]"#,
            ),
            (
                "task = \"x\"\nqueue = \"emails\"\npriority = 10",
                r#"routes[0] (task "x"): priority 10 is not a priority (0 to 9)"#,
            ),
            (
                "task = \"x\"\nqueue = \"emails\"\npriority = -1",
                r#"routes[0] (task "x"): priority -1 is not a priority"#,
            ),
        ];
        for (route, expected) in cases {
            let message = refused(&format!("{QUEUES}\n[[routes]]\n{route}\n"));
            assert!(message.starts_with(expected), "{route:?}: {message}");
        }
    }

    #[test]
    fn each_mistake_in_a_queue_names_its_entry_and_field() {
        let cases = [
            ("[queues.\"bad name\"]", r#"queues."bad name": the queue name "bad name" is not valid"#),
            ("[queues.a]\naliases = [\"b c\"]", r#"queues.a: aliases: "b c" is not valid"#),
            ("[queues.a]\n[queues.b]\naliases = [\"a\"]", r#"queues.b: aliases: "a" is also the name of a queue"#),
            (
                "[queues.a]\naliases = [\"x\"]\n[queues.b]\naliases = [\"x\"]",
                r#"queues.b: aliases: "x" is also queue "a"'s alias"#,
            ),
            ("[queues.a]\naliases = [\"x\", \"x\"]", r#"queues.a: aliases: "x" is also this queue's alias"#),
            ("[queues.a]\npriority = [0, 10]", "queues.a: priority [0, 10]: 10 is not a priority (0 to 9)"),
            ("[queues.a]\npriority = [-1, 3]", "queues.a: priority [-1, 3]: -1 is not a priority"),
            ("[queues.a]\npriority = [5, 2]", "queues.a: priority [5, 2]: the lowest, 5, is above the highest, 2"),
            ("[queues.a]\npriority = [5]", "queues.a: priority [5]: write it as [lowest, highest]"),
        ];
        for (queue, expected) in cases {
            let message = refused(queue);
            assert!(message.starts_with(expected), "{queue:?}: {message}");
        }
    }

    #[test]
    fn each_mistake_in_a_broadcast_names_its_entry_and_field() {
        let cases = [
            ("[broadcasts.all]\nqueues = []", "broadcasts.all: queues is empty"),
            (
                "[queues.a]\n[broadcasts.all]\nqueues = [\"a\", \"b\"]",
                r#"broadcasts.all: queues: "b" is neither a queue nor an alias of one"#,
            ),
            (
                "[queues.a]\naliases = [\"x\"]\n[broadcasts.all]\nqueues = [\"a\", \"x\"]",
                r#"broadcasts.all: queues: queue "a" is listed twice"#,
            ),
            (
                "[queues.a]\n[broadcasts.\"a b\"]\nqueues = [\"a\"]",
                r#"broadcasts."a b": the broadcast name "a b" is not valid"#,
            ),
        ];
        for (broadcast, expected) in cases {
            let message = refused(broadcast);
            assert!(message.starts_with(expected), "{broadcast:?}: {message}");
        }
    }

    #[test]
    fn unknown_fields_and_wrong_types_name_their_path_and_line() {
        let unknown = refused("[queues.a]\n\n[[routes]]\ntask = \"x\"\nquue = \"a\"\n");
        assert!(unknown.starts_with("line 5: routes[0].quue: unknown field `quue`, expected one of"), "{unknown}");
        let top = refused("[queue.a]\n");
        assert!(top.contains("unknown field `queue`"), "{top}");
        let typed = refused("[queues.a]\naliases = \"b\"\n");
        assert!(typed.starts_with("line 2: queues.a.aliases: invalid type"), "{typed}");
        let missing = refused("[broadcasts.all]\n");
        assert!(missing.contains("broadcasts.all") && missing.contains("missing field `queues`"), "{missing}");
        let syntax = refused("[[routes]\n");
        assert!(syntax.starts_with("line 1: ") && !syntax.contains('\n'), "{syntax}");
    }

    #[test]
    fn every_mistake_is_reported_at_once() {
        let message = refused(
            "[queues.a]\npriority = [3, 1]\n[[routes]]\ntask = \"x\"\nqueue = \"b\"\n[[routes]]\ntask = \"\"\nqueue = \"a\"\n",
        );
        let parts: Vec<&str> = message.split("; ").collect();
        assert_eq!(parts.len(), 3, "{message}");
        assert!(
            parts[0].starts_with("queues.a: priority")
                && parts[1].starts_with("routes[0]")
                && parts[2].starts_with("routes[1]"),
            "{message}"
        );
    }
}
