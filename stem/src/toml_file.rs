//! The TOML files Stem reads (routing, schedules): decoded with every
//! mistake located.

use serde::de::DeserializeOwned;

/// `text` decoded: a TOML syntax error, an unknown field or a value of the
/// wrong type names its line and the path of the value
/// (`line 4: routes[1].queue: invalid type ...`).
pub(crate) fn decode<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    let deserializer = toml::Deserializer::parse(text).map_err(|e| located(text, &e, ""))?;
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { format!("{path}: ") };
        located(text, e.inner(), &path)
    })
}

/// `line N: PATH: message`, on one line.
fn located(text: &str, error: &toml::de::Error, path: &str) -> String {
    let message = error.message().trim().replace('\n', " ");
    match error.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {path}{message}")
        }
        None => format!("{path}{message}"),
    }
}
