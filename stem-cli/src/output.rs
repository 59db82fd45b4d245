//! What commands print: aligned tables with humanised times for people, or
//! one JSON document for scripts (`--json`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use comfy_table::{Table, presets};
use serde::Serialize;

use crate::error::{Failure, Outcome};

/// Where a command's results go, and in which form.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output {
    json: bool,
}

impl Output {
    pub(crate) fn new(json: bool) -> Self {
        Self { json }
    }

    /// Whether scripts asked for JSON.
    pub(crate) fn json(self) -> bool {
        self.json
    }

    /// Prints `value` as one JSON document.
    pub(crate) fn document<T: Serialize + ?Sized>(self, value: &T) -> Outcome {
        let text = serde_json::to_string_pretty(value).map_err(|e| Failure::failed(format!("encoding JSON: {e}")))?;
        println!("{text}");
        Ok(())
    }

    /// Prints `value` as JSON with `--json`, and `human` otherwise.
    pub(crate) fn either<T: Serialize + ?Sized>(self, value: &T, human: impl FnOnce() -> String) -> Outcome {
        if self.json {
            self.document(value)
        } else {
            println!("{}", human());
            Ok(())
        }
    }
}

/// An aligned table with `header`, no borders.
pub(crate) fn table<const N: usize>(header: [&str; N]) -> Table {
    let mut table = Table::new();
    table.load_style(presets::NOTHING).set_header(header);
    table
}

/// `at` relative to now, roughly: `12s ago`, `3m ago`, `in 2h`.
pub(crate) fn ago(at: DateTime<Utc>) -> String {
    let delta = Utc::now() - at;
    let (past, span) = if delta >= chrono::Duration::zero() { (true, delta) } else { (false, -delta) };
    let text = rough(span.to_std().unwrap_or_default());
    if past { format!("{text} ago") } else { format!("in {text}") }
}

/// A duration to one unit: `850ms`, `12s`, `3m`, `2h`, `5d`.
pub(crate) fn rough(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0 => format!("{}ms", d.as_millis()),
        1..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m", secs / 60),
        3600..=86_399 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

/// A duration read the way people write it: `30s`, `5m`, `1h30m`, `250ms`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("`{text}` is not a duration ({e}); write it like 30s, 5m or 1h30m"))
}

/// An instant written in ISO 8601 / RFC 3339 (`2026-12-07T09:00:00Z`).
pub(crate) fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("`{text}` is not a time ({e}); write it like 2026-12-07T09:00:00Z"))
}

/// `text` cut to `max` characters, with `…` when cut.
pub(crate) fn cut(text: &str, max: usize) -> String {
    let one_line = text.replace('\n', " ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let mut out: String = one_line.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_and_print_as_people_write_them() {
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("soon").is_err());
        assert_eq!(
            (rough(Duration::from_millis(850)), rough(Duration::from_secs(7300))),
            ("850ms".into(), "2h".into())
        );
        assert_eq!(cut("abcdef", 4), "abc…");
    }
}
