//! The page frame (navigation, role, log out) and the small pieces every
//! page uses: times, JSON blocks, hidden values, the CSRF field, a chart.

use axum::response::Html;
use chrono::{DateTime, SecondsFormat, Utc};
use maud::{DOCTYPE, Markup, html};
use serde_json::Value;

use super::sessions::{Principal, Role};
use crate::output::ago;

/// The navigation: path and label.
const NAV: [(&str, &str); 6] = [
    ("/", "Overview"),
    ("/tasks", "Tasks"),
    ("/dead-letters", "Dead letters"),
    ("/workers", "Workers"),
    ("/workflows", "Workflows"),
    ("/schedules", "Schedules"),
];

/// A whole page for `principal`, with `title` and `body`.
pub(crate) fn page(principal: &Principal, title: &str, body: Markup) -> Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                header {
                    nav {
                        strong { "Stem" }
                        @for (path, label) in NAV { a href=(path) { (label) } }
                    }
                    span.role {
                        (principal.role)
                        @if principal.role == Role::Viewer { " (read only)" }
                        @if principal.can_log_out {
                            form.inline method="post" action="/logout" {
                                (csrf(principal))
                                button type="submit" { "Log out" }
                            }
                        }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    };
    Html(markup.into_string())
}

/// A page without navigation (the login form).
pub(crate) fn bare(title: &str, body: Markup) -> Html<String> {
    let markup = html! { (DOCTYPE) html lang="en" { (head(title)) body { main { (body) } } } };
    Html(markup.into_string())
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { "Stem: " (title) }
            link rel="stylesheet" href="/assets/dashboard.css";
            script src="/assets/dashboard.js" defer {}
        }
    }
}

/// The hidden CSRF field every action form carries.
pub(crate) fn csrf(principal: &Principal) -> Markup {
    html! { input type="hidden" name="csrf" value=(principal.csrf); }
}

/// A time: how long ago, with the exact time on hover.
pub(crate) fn when(at: DateTime<Utc>) -> Markup {
    html! { time datetime=(stamp(at)) title=(stamp(at)) { (ago(at)) } }
}

/// An optional time, or a dash.
pub(crate) fn maybe_when(at: Option<DateTime<Utc>>) -> Markup {
    match at {
        Some(at) => when(at),
        None => html! { "–" },
    }
}

/// RFC 3339 in UTC, to the second.
pub(crate) fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A JSON value, pretty, or "hidden" when `hide`.
pub(crate) fn value(json: &Value, hide: bool) -> Markup {
    if hide {
        return hidden();
    }
    let text = serde_json::to_string_pretty(json).unwrap_or_default();
    html! { pre.json { (text) } }
}

/// What a hidden value shows.
pub(crate) fn hidden() -> Markup {
    html! { em.hidden title="hidden by STEM_DASHBOARD_HIDE" { "hidden" } }
}

/// A note for viewers where operators have buttons.
pub(crate) fn operators_only() -> Markup {
    html! { p.note { "Actions need the operator role." } }
}

/// A small line chart of `values` (oldest first), scaled to its largest.
pub(crate) fn chart(label: &str, values: &[f64], unit: &str) -> Markup {
    const W: f64 = 360.0;
    const H: f64 = 60.0;
    let top = values.iter().copied().fold(0.0_f64, f64::max);
    let scale = if top > 0.0 { top } else { 1.0 };
    let step = if values.len() > 1 { W / (values.len() - 1) as f64 } else { W };
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{:.1},{:.1}", i as f64 * step, H - v / scale * (H - 4.0)))
        .collect();
    let last = values.last().copied().unwrap_or_default();
    html! {
        figure.chart {
            figcaption { (label) ": " strong { (format!("{last:.1}")) } " " (unit) " now, " (format!("{top:.1}")) " at most" }
            svg viewBox=(format!("0 0 {W} {H}")) width=(W) height=(H) role="img" aria-label=(label) {
                line x1="0" y1=(H) x2=(W) y2=(H) stroke="#bbb" {}
                @if points.len() > 1 { polyline fill="none" stroke="#2a6" stroke-width="2" points=(points.join(" ")) {} }
            }
        }
    }
}

/// `text` percent-encoded for one path segment or query value.
pub(crate) fn enc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
