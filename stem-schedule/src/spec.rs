//! [`Spec`]: a schedule's text, parsed.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::cron::Cron;
use crate::solar::{self, SolarEvent};

/// A parsed schedule (see the crate docs for its text form).
///
/// Cron expressions take standard 5 fields (minute hour day-of-month month
/// day-of-week, Sunday 0 or 7), 6 with seconds first, or `@yearly`,
/// `@monthly`, `@weekly`, `@daily`, `@hourly`. Daylight saving: a local
/// time that does not exist (the hour skipped in spring) fires once, at the
/// instant the clocks jump; a local time that occurs twice fires once, at
/// its first occurrence.
#[derive(Debug, Clone)]
pub struct Spec {
    kind: Kind,
    text: String,
}

#[derive(Debug, Clone)]
enum Kind {
    Every {
        every: Duration,
        from: Option<DateTime<Utc>>,
    },
    /// A cron expression; `named` when the text names its zone.
    Cron {
        cron: Box<Cron>,
        named: bool,
    },
    At(DateTime<Utc>),
    Solar {
        event: SolarEvent,
        latitude: f64,
        longitude: f64,
    },
}

impl Spec {
    /// Once, at `at`.
    pub fn at(at: DateTime<Utc>) -> Self {
        Self { kind: Kind::At(at), text: format!("at: {}", at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)) }
    }

    /// The first fire strictly after `after`; `None` once it never fires
    /// again. An interval with no start counts from `anchor`.
    pub fn next_after(&self, after: DateTime<Utc>, anchor: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.kind {
            Kind::Every { every, from } => {
                let start = from.unwrap_or(anchor);
                if after < start {
                    return Some(start);
                }
                let step = i64::try_from(every.as_micros()).ok()?.max(1);
                let since = (after - start).num_microseconds()?;
                let n = since / step + 1;
                Some(start + chrono::Duration::microseconds(n.checked_mul(step)?))
            }
            Kind::Cron { cron, .. } => cron.next_after(after),
            Kind::At(at) => (*at > after).then_some(*at),
            Kind::Solar { event, latitude, longitude } => solar::next_after(*event, *latitude, *longitude, after),
        }
    }

    /// The time zone a cron schedule names, if it names one.
    pub fn zone(&self) -> Option<Tz> {
        match &self.kind {
            Kind::Cron { cron, named: true } => Some(cron.zone()),
            _ => None,
        }
    }

    /// Whether it fires once only.
    pub fn is_once(&self) -> bool {
        matches!(self.kind, Kind::At(_))
    }
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialEq for Spec {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl FromStr for Spec {
    type Err = String;

    /// Parses a schedule; the error names the schedule and the fix.
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let bad = |why: String| format!("schedule `{text}`: {why}");
        let kind = if let Some(rest) = text.strip_prefix("every ") {
            let (every, from) = match rest.split_once(" from ") {
                Some((every, from)) => (every, Some(from)),
                None => (rest, None),
            };
            let every = humantime::parse_duration(every.trim())
                .map_err(|e| bad(format!("the interval `{}`: {e} (write `30s`, `5m`, `1h30m`)", every.trim())))?;
            if every.is_zero() {
                return Err(bad("the interval must be longer than zero".to_owned()));
            }
            let from = from
                .map(|f| f.trim().parse::<DateTime<Utc>>().map_err(|e| bad(format!("the start `{f}`: {e} (RFC 3339)"))))
                .transpose()?;
            Kind::Every { every, from }
        } else if let Some(rest) = text.strip_prefix("cron:") {
            let (cron, named) = cron_and_zone(rest.trim()).map_err(bad)?;
            Kind::Cron { cron: Box::new(cron), named }
        } else if let Some(rest) = text.strip_prefix("at:") {
            let at = rest.trim().parse::<DateTime<Utc>>().map_err(|e| bad(format!("{e} (an RFC 3339 time)")))?;
            Kind::At(at)
        } else if let Some(rest) = text.strip_prefix("solar:") {
            let parts: Vec<&str> = rest.split_whitespace().collect();
            let [event, latitude, longitude] = parts.as_slice() else {
                return Err(bad("write `solar: EVENT LATITUDE LONGITUDE`".to_owned()));
            };
            let event: SolarEvent = event.parse().map_err(bad)?;
            let latitude: f64 = latitude.parse().map_err(|_| bad(format!("latitude `{latitude}` is not a number")))?;
            let longitude: f64 =
                longitude.parse().map_err(|_| bad(format!("longitude `{longitude}` is not a number")))?;
            if !(-90.0..=90.0).contains(&latitude) || !(-180.0..=180.0).contains(&longitude) {
                return Err(bad("latitude is -90 to 90 and longitude -180 to 180".to_owned()));
            }
            Kind::Solar { event, latitude, longitude }
        } else {
            return Err(bad("write `every 30s`, `cron: 0 8 * * * Europe/Paris`, `at: 2026-12-24T18:00:00Z` or `solar: sunrise 48.85 2.35`".to_owned()));
        };
        Ok(Self { kind, text: text.to_owned() })
    }
}

/// A cron expression and the zone its last word may name; whether it names
/// one.
///
/// The last word is a zone when it is one (an IANA name, `UTC`); otherwise
/// the whole text is the expression (`0 8 * * MON-FRI`, `0 8 * * SAT,SUN`).
/// A last word that is neither a cron field nor a known zone, after an
/// expression that is whole without it (`0 8 * * * Mars/Olympus`), is
/// reported as an unknown zone rather than as a bad field.
fn cron_and_zone(text: &str) -> Result<(Cron, bool), String> {
    if let Some((expression, last)) = text.rsplit_once(char::is_whitespace)
        && let Ok(zone) = last.parse::<Tz>()
    {
        return Ok((Cron::parse(expression.trim(), zone)?, true));
    }
    let whole = Cron::parse(text, Tz::UTC);
    if whole.is_err()
        && let Some((expression, last)) = text.rsplit_once(char::is_whitespace)
        && names_a_place(last)
        && Cron::parse(expression.trim(), Tz::UTC).is_ok()
    {
        return Err(format!("unknown time zone `{last}` (an IANA name like Europe/Paris)"));
    }
    whole.map(|cron| (cron, false))
}

/// Whether `word` reads as a place rather than a cron field: `Area/City`, or
/// a word of letters longer than a day or month name (`Paris`).
fn names_a_place(word: &str) -> bool {
    let letters = |w: &str| w.chars().all(|c| c.is_ascii_alphabetic() || c == '_');
    match word.split_once('/') {
        Some((area, _)) => !area.is_empty() && letters(area),
        None => word.len() > 3 && letters(word),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("a time")
    }

    #[test]
    fn every_counts_from_its_start() {
        let s: Spec = "every 30s from 2026-12-07T00:00:00Z".parse().expect("parses");
        let anchor = at("2020-01-01T00:00:00Z");
        assert_eq!(s.next_after(at("2026-12-06T00:00:00Z"), anchor), Some(at("2026-12-07T00:00:00Z")));
        assert_eq!(s.next_after(at("2026-12-07T00:00:00Z"), anchor), Some(at("2026-12-07T00:00:30Z")));
        assert_eq!(s.next_after(at("2026-12-07T00:00:45Z"), anchor), Some(at("2026-12-07T00:01:00Z")));
        let plain: Spec = "every 1h30m".parse().expect("parses");
        assert_eq!(
            plain.next_after(at("2026-12-07T00:10:00Z"), at("2026-12-07T00:00:00Z")),
            Some(at("2026-12-07T01:30:00Z"))
        );
    }

    #[test]
    fn each_kind_parses_and_prints_itself() {
        for text in [
            "every 5m",
            "cron: 0 8 * * * Europe/Paris",
            "cron: */5 * * * *",
            "at: 2026-12-24T18:00:00Z",
            "solar: sunrise 48.85 2.35",
        ] {
            let s: Spec = text.parse().expect(text);
            assert_eq!(s.to_string(), text);
        }
        let once = Spec::at(at("2026-12-24T18:00:00Z"));
        assert!(once.is_once());
        assert_eq!(
            once.next_after(at("2026-12-01T00:00:00Z"), at("2026-12-01T00:00:00Z")),
            Some(at("2026-12-24T18:00:00Z"))
        );
        assert_eq!(once.next_after(at("2026-12-24T18:00:00Z"), at("2026-12-01T00:00:00Z")), None);
    }

    #[test]
    fn named_days_without_a_zone_are_fields() {
        let anchor = at("2026-01-01T00:00:00Z");
        // Saturday 2026-12-05, 09:00 UTC.
        let saturday = at("2026-12-05T09:00:00Z");
        for (text, next, zone) in [
            ("cron: 0 8 * * MON-FRI", "2026-12-07T08:00:00Z", None),
            ("cron: 0 8 * * SAT,SUN", "2026-12-06T08:00:00Z", None),
            ("cron: 0 8 * * MON,WED,FRI", "2026-12-07T08:00:00Z", None),
            ("cron: 0 0 8 * * MON-FRI", "2026-12-07T08:00:00Z", None),
            ("cron: 0 8 * * MON-FRI Europe/Paris", "2026-12-07T07:00:00Z", Some(chrono_tz::Europe::Paris)),
            ("cron: 0 8 * * SAT,SUN UTC", "2026-12-06T08:00:00Z", Some(Tz::UTC)),
        ] {
            let spec: Spec = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(spec.next_after(saturday, anchor), Some(at(next)), "{text}");
            assert_eq!(spec.zone(), zone, "{text}");
        }
    }

    #[test]
    fn cron_names_fire_exactly_when_they_say() {
        let anchor = at("2026-01-01T00:00:00Z");
        // Saturday 2026-12-05, 09:10 UTC.
        let after = at("2026-12-05T09:10:00Z");
        for (text, next) in [
            ("cron: @hourly", "2026-12-05T10:00:00Z"),
            ("cron: @daily", "2026-12-06T00:00:00Z"),
            ("cron: @weekly", "2026-12-06T00:00:00Z"),
            ("cron: @monthly", "2027-01-01T00:00:00Z"),
            ("cron: @yearly", "2027-01-01T00:00:00Z"),
            ("cron: @annually", "2027-01-01T00:00:00Z"),
            // Half an hour off UTC: the zone's whole hours.
            ("cron: @hourly Asia/Kolkata", "2026-12-05T09:30:00Z"),
            ("cron: @daily America/New_York", "2026-12-06T05:00:00Z"),
            ("cron: @weekly Europe/Paris", "2026-12-05T23:00:00Z"),
            ("cron: @monthly Asia/Tokyo", "2026-12-31T15:00:00Z"),
        ] {
            let spec: Spec = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(spec.next_after(after, anchor), Some(at(next)), "{text}");
        }
        // Exactly on a fire: the next one.
        let hourly: Spec = "cron: @hourly".parse().expect("parses");
        assert_eq!(hourly.next_after(at("2026-12-05T10:00:00Z"), anchor), Some(at("2026-12-05T11:00:00Z")));
    }

    #[test]
    fn mistakes_name_the_schedule_and_the_fix() {
        for (bad, says) in [
            ("every 0s", "longer than zero"),
            ("every soon", "30s"),
            ("cron: 0 8 * * * Mars/Olympus", "unknown time zone `Mars/Olympus`"),
            ("cron: 0 8 * * * Europe/Pariss", "unknown time zone `Europe/Pariss`"),
            ("cron: @daily Atlantis", "unknown time zone `Atlantis`"),
            ("cron: 0 0 25 * * *", "Hours"),
            ("cron: 0 8 * * MON-FRY", "FRY"),
            ("cron: 0 8 * *", "fields"),
            ("at: tomorrow", "RFC 3339"),
            ("solar: moonrise 1 2", "sunrise"),
            ("solar: sunrise 91 2", "latitude"),
            ("hourly", "every 30s"),
        ] {
            let error = bad.parse::<Spec>().expect_err(bad);
            assert!(error.contains(bad) && error.contains(says), "{bad}: {error}");
        }
    }
}
