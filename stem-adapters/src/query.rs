//! URL query options: each adapter's `Options::from_url` takes Stem's own
//! options out of a URL's query and passes the rest to its driver.

use std::time::Duration;

use stem::Error;

use crate::redact::{is_secret_option, redact_url};

/// A URL's query, read one option at a time.
pub(crate) struct Query<'a> {
    base: &'a str,
    /// The driver's options (SQLite refuses those it does not know, so it has none).
    #[cfg_attr(not(any(feature = "redis", feature = "postgres")), allow(dead_code))]
    passed: Vec<&'a str>,
}

/// One `key=value` option of a URL.
pub(crate) struct Opt<'a> {
    url: &'a str,
    /// The option's name.
    pub(crate) key: &'a str,
    /// Its value (empty when the option has no `=`).
    pub(crate) value: &'a str,
}

impl<'a> Query<'a> {
    /// Reads the options of `url` (what follows `?`) in order: `take` says of
    /// each whether it is Stem's (`true`, taken out) or the driver's
    /// (`false`, passed on in [`rest`](Self::rest)).
    pub(crate) fn read(url: &'a str, mut take: impl FnMut(&Opt<'a>) -> stem::Result<bool>) -> stem::Result<Self> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut passed = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if !take(&Opt { url, key, value })? {
                passed.push(pair);
            }
        }
        Ok(Self { base, passed })
    }

    /// The URL without its query.
    pub(crate) fn base(&self) -> &'a str {
        self.base
    }

    /// The URL with only the options passed on.
    #[cfg_attr(not(any(feature = "redis", feature = "postgres")), allow(dead_code))]
    pub(crate) fn rest(&self) -> String {
        if self.passed.is_empty() { self.base.to_owned() } else { format!("{}?{}", self.base, self.passed.join("&")) }
    }
}

impl Opt<'_> {
    /// The error for a value that is not valid: it names the URL, the option
    /// and what the option takes.
    pub(crate) fn invalid(&self, takes: &str) -> Error {
        let value = if is_secret_option(self.key) { "***" } else { self.value };
        Error::Config(format!(
            "`{}`: `{}={value}` is not valid; {} takes {takes}",
            redact_url(self.url),
            self.key,
            self.key
        ))
    }

    /// The value as a whole number of seconds.
    pub(crate) fn seconds(&self) -> stem::Result<Duration> {
        self.number("a whole number of seconds").map(Duration::from_secs)
    }

    /// The value as a whole number of milliseconds.
    pub(crate) fn millis(&self) -> stem::Result<Duration> {
        self.number("a whole number of milliseconds").map(Duration::from_millis)
    }

    /// The value as a number; `takes` says what the option takes.
    pub(crate) fn number<T: std::str::FromStr>(&self, takes: &str) -> stem::Result<T> {
        self.value.parse().map_err(|_| self.invalid(takes))
    }

    /// The error for an option the adapter does not know, listing those it does.
    pub(crate) fn unknown(&self, adapter: &str, known: &[&str]) -> Error {
        Error::Config(format!(
            "`{}`: unknown {adapter} option `{}`; known options: {}",
            redact_url(self.url),
            self.key,
            known.join(", ")
        ))
    }
}

/// Fails unless `url` starts with one of `schemes` (each as `name://`),
/// naming what the adapter takes.
pub(crate) fn check_scheme(url: &str, schemes: &[&str], adapter: &str) -> stem::Result<()> {
    let lower = url.to_ascii_lowercase();
    if schemes.iter().any(|s| lower.starts_with(&format!("{s}://"))) {
        return Ok(());
    }
    let takes: Vec<String> = schemes.iter().map(|s| format!("{s}://")).collect();
    let url = redact_url(url);
    Err(Error::Config(format!("`{url}` is not a {adapter} URL; the {adapter} adapter takes {}", takes.join(" or "))))
}
