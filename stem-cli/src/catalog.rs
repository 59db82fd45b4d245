//! What the binary knows: the tasks, workflows and event topics linked into
//! it with their arguments' names and Rust types, the command-line flags
//! those arguments become, and the JSON built from the flags.

use clap::{Arg as Flag, ArgAction, ArgMatches};
use serde_json::Value;
use stem::Registry;
use stem::args::{Arg, ArgsError};
use stem::task::TaskRegistration;
use stem::workflow::{EventRegistration, WorkflowRegistration};

/// The tasks, workflows and event topics of this binary.
#[derive(Debug)]
pub(crate) struct Catalog {
    tasks: Registry,
    workflows: Vec<&'static WorkflowRegistration>,
    events: Vec<&'static EventRegistration>,
}

impl Catalog {
    /// Everything linked into the binary.
    pub(crate) fn linked() -> Self {
        Self {
            tasks: Registry::linked(),
            workflows: stem::workflow::linked_workflows().collect(),
            events: stem::workflow::linked_events().collect(),
        }
    }

    pub(crate) fn tasks(&self) -> impl Iterator<Item = &TaskRegistration> {
        self.tasks.iter()
    }

    pub(crate) fn task(&self, name: &str) -> Option<&TaskRegistration> {
        self.tasks.get(name)
    }

    /// The linked tasks, as the registry schedule files are checked against.
    pub(crate) fn registry(&self) -> &Registry {
        &self.tasks
    }

    pub(crate) fn workflows(&self) -> &[&'static WorkflowRegistration] {
        &self.workflows
    }

    pub(crate) fn workflow(&self, name: &str) -> Option<&'static WorkflowRegistration> {
        self.workflows.iter().copied().find(|w| w.name() == name)
    }

    pub(crate) fn event(&self, name: &str) -> Option<&'static EventRegistration> {
        self.events.iter().copied().find(|e| e.name() == name)
    }

    pub(crate) fn events(&self) -> &[&'static EventRegistration] {
        &self.events
    }
}

/// The names among `known` that look like `name`, closest first.
/// A name given without its module path (`send_email`) is compared with the
/// last part of each known name.
pub(crate) fn close<'a>(name: &str, known: &[&'a str]) -> Vec<&'a str> {
    let last = |n: &'a str| if name.contains("::") { n } else { n.rsplit("::").next().unwrap_or(n) };
    let mut scored: Vec<(f64, &str)> = known
        .iter()
        .map(|&k| (strsim::normalized_damerau_levenshtein(name, last(k)), k))
        .filter(|(score, _)| *score > 0.7)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().map(|(_, k)| k).take(5).collect()
}

/// The message for a name that is not among `known` (`what`: "task", ...).
pub(crate) fn unknown<'a>(what: &str, name: &str, known: impl Iterator<Item = &'a str>) -> String {
    let all: Vec<&str> = known.collect();
    let near = close(name, &all);
    if !near.is_empty() {
        format!("no {what} is named `{name}`; did you mean {}?", quoted(&near))
    } else if all.is_empty() {
        format!("no {what} is named `{name}`, and this binary links none")
    } else {
        format!("no {what} is named `{name}`; the {what}s are {}", quoted(&all))
    }
}

fn quoted(names: &[&str]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// The flag of argument `name`: `--to`, `--user-id`.
pub(crate) fn flag(name: &str) -> String {
    name.replace('_', "-")
}

/// One flag per argument, `--<arg> <TYPE>`, required unless `whole` (the
/// flag that gives all of them as JSON) is given, or the type is an `Option`.
pub(crate) fn arg_flags(args: &[Arg], whole: &'static str) -> Vec<Flag> {
    args.iter()
        .map(|arg| {
            let long = flag(arg.name);
            let mut f = Flag::new(arg.name)
                .long(long.clone())
                .value_name(arg.ty.to_owned())
                .help(format!("The `{}` argument ({}): JSON, or plain text for a string", arg.name, arg.ty))
                .action(ArgAction::Set)
                .help_heading("Arguments")
                .conflicts_with(whole);
            if long != arg.name {
                f = f.alias(arg.name);
            }
            if !arg.ty.starts_with("Option<") {
                f = f.required_unless_present(whole);
            }
            f
        })
        .collect()
}

/// The arguments as one JSON value, from their flags: the value itself for
/// one argument (a fn of one argument takes it as it is), an object for
/// several, null for none.
pub(crate) fn json_from_flags(args: &[Arg], matches: &ArgMatches) -> Value {
    let value = |arg: &Arg| matches.get_one::<String>(arg.name).map(|raw| value_of(arg.ty, raw));
    match args {
        [] => Value::Null,
        [one] => value(one).unwrap_or(Value::Null),
        many => Value::Object(many.iter().filter_map(|a| Some((a.name.to_owned(), value(a)?))).collect()),
    }
}

/// A flag's text as JSON: for a string argument the text itself (unless it
/// is a quoted JSON string); otherwise the text parsed as JSON, or the text
/// as a string when it is not JSON (decoding then says what was expected).
pub(crate) fn value_of(ty: &str, raw: &str) -> Value {
    let stringy = matches!(ty, "String" | "std::string::String" | "Option<String>" | "PathBuf" | "std::path::PathBuf");
    if stringy && !raw.starts_with('"') {
        return Value::String(raw.to_owned());
    }
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned()))
}

/// What a decode error says about the flags: the flag that failed, its
/// type and serde's reason.
pub(crate) fn explain(args: &[Arg], name: &str, error: &ArgsError) -> String {
    let field = error.field.as_deref().map(|f| f.split(['.', '[']).next().unwrap_or(f));
    let arg = match (args, field) {
        ([one], _) => Some(one),
        (_, Some(field)) => args.iter().find(|a| a.name == field),
        _ => None,
    };
    match arg {
        Some(arg) => format!("--{}: expected {} ({})", flag(arg.name), arg.ty, error.message),
        None => format!("the arguments of `{name}` do not decode: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_become_the_tasks_json() {
        assert_eq!(value_of("String", "42"), Value::String("42".into()), "a string argument takes the text");
        assert_eq!(value_of("String", "\"q\""), Value::String("q".into()));
        assert_eq!(value_of("u32", "42"), serde_json::json!(42));
        assert_eq!(value_of("u32", "x"), Value::String("x".into()), "decoding says a number was expected");
        assert_eq!(value_of("Vec<u8>", "[1,2]"), serde_json::json!([1, 2]));
        assert_eq!(flag("user_id"), "user-id");
    }

    #[test]
    fn close_names_come_first() {
        let known = ["app::emails::send_email", "app::math::add", "app::reports::render"];
        assert_eq!(close("send_emial", &known), ["app::emails::send_email"]);
        assert_eq!(close("app::math::ad", &known), ["app::math::add"]);
        let message = unknown("task", "zzz", known.iter().copied());
        assert!(message.contains("the tasks are `app::emails::send_email`"), "{message}");
    }
}
