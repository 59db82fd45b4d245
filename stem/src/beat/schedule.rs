//! [`Schedule`]: when a schedule fires, written as one line of text (see
//! [`stem_schedule`] for the forms: `every 30s`, `cron: 0 8 * * 1-5
//! Europe/Paris`, `at: 2026-12-24T18:00:00Z`, `solar: sunrise 48.85 2.35`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use stem_schedule::Spec;
use stem_schedule::solar::SolarEvent;

use crate::error::{Error, Result};

/// When a schedule fires (see the module docs for its text form).
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule(Spec);

impl Schedule {
    /// Every `every`, counted from when it is put.
    pub fn every(every: Duration) -> Result<Self> {
        format!("every {}", humantime::format_duration(every)).parse()
    }

    /// A cron expression in `zone` (an IANA name, or `UTC`).
    pub fn cron(expression: &str, zone: &str) -> Result<Self> {
        format!("cron: {expression} {zone}").parse()
    }

    /// Once, at `at`.
    pub fn at(at: DateTime<Utc>) -> Self {
        Self(Spec::at(at))
    }

    /// A solar event at a latitude and longitude (degrees, north and east positive).
    pub fn solar(event: SolarEvent, latitude: f64, longitude: f64) -> Result<Self> {
        format!("solar: {} {latitude} {longitude}", event.name()).parse()
    }

    /// The first fire strictly after `after`; `None` once it never fires
    /// again. An interval with no start counts from `anchor`.
    pub fn next_after(&self, after: DateTime<Utc>, anchor: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.0.next_after(after, anchor)
    }

    /// Whether it fires once only.
    pub fn is_once(&self) -> bool {
        self.0.is_once()
    }

    /// The time zone a cron schedule names, if it names one.
    pub fn zone(&self) -> Option<stem_schedule::Tz> {
        self.0.zone()
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for Schedule {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        text.parse().map(Self).map_err(Error::Config)
    }
}

impl Serialize for Schedule {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Schedule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_round_trip_through_json_and_name_their_mistakes() {
        for text in
            ["every 5m", "cron: 0 8 * * * Europe/Paris", "at: 2026-12-24T18:00:00Z", "solar: sunrise 48.85 2.35"]
        {
            let s: Schedule = text.parse().expect(text);
            let json = serde_json::to_string(&s).expect("encodes");
            assert_eq!(serde_json::from_str::<Schedule>(&json).expect("decodes"), s);
        }
        let error = "every 0s".parse::<Schedule>().expect_err("zero").to_string();
        assert!(error.contains("every 0s") && error.contains("longer than zero"), "{error}");
        assert_eq!(Schedule::every(Duration::from_secs(90)).expect("every").to_string(), "every 1m 30s");
    }
}
