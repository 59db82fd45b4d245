//! Arguments from outside the type system: what a front end (the CLI, a
//! dashboard) knows of a task's, a workflow's or an event's arguments, and
//! JSON checked against their own Rust types before anything is stored.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// One argument of a task or workflow fn: its name and its Rust type as
/// written (`to: String`), recorded by the macros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Arg {
    /// The parameter's name.
    pub name: &'static str,
    /// Its type, as written in the fn.
    #[serde(rename = "type")]
    pub ty: &'static str,
}

impl Arg {
    /// The argument `name` of type `ty`.
    pub const fn new(name: &'static str, ty: &'static str) -> Self {
        Self { name, ty }
    }
}

/// JSON that does not decode into a task's (a workflow's, an event's) own
/// argument type: the field that failed, if it is one, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", field.as_ref().map(|f| format!("`{f}`: ")).unwrap_or_default())]
#[non_exhaustive]
pub struct ArgsError {
    /// The path of the field that did not decode (`to`, `order.id`, `items[2]`);
    /// `None` when the value as a whole did not.
    pub field: Option<String>,
    /// What serde reported (the expected type, a missing field ...).
    pub message: String,
}

/// `value` decoded as `A`, or the field that did not decode and why.
pub(crate) fn decode<A: DeserializeOwned>(value: &Value) -> Result<A, ArgsError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let field = (path != ".").then_some(path);
        ArgsError { field, message: error.into_inner().to_string() }
    })
}

/// `value` decoded as `A` and encoded again: the canonical JSON of `A`.
pub(crate) fn check<A: DeserializeOwned + Serialize>(value: &Value) -> Result<Value, ArgsError> {
    let decoded: A = decode(value)?;
    serde_json::to_value(&decoded).map_err(|e| ArgsError { field: None, message: e.to_string() })
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Email {
        to: String,
        attempts: u32,
    }

    #[test]
    fn the_failing_field_is_named_with_serdes_reason() {
        let error = decode::<Email>(&json!({ "to": "ada", "attempts": "three" })).expect_err("a string for a u32");
        assert_eq!(error.field.as_deref(), Some("attempts"));
        assert!(error.message.contains("expected u32"), "{error}");
        assert!(error.to_string().starts_with("`attempts`: invalid type"), "{error}");
        let error = decode::<Email>(&json!({ "to": "ada" })).expect_err("missing");
        assert_eq!((error.field, error.message.contains("missing field `attempts`")), (None, true));
        let error = decode::<u64>(&json!("x")).expect_err("the whole value");
        assert_eq!(error.field, None);
        assert_eq!(check::<Email>(&json!({ "attempts": 2, "to": "b" })), Ok(json!({ "to": "b", "attempts": 2 })));
    }
}
