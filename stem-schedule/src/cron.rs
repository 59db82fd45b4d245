//! Cron expressions in a time zone: standard 5 fields (minute hour
//! day-of-month month day-of-week), 6 with seconds first, or `@yearly`,
//! `@monthly`, `@weekly`, `@daily`, `@hourly`; evaluated by the `cron` crate
//! on local wall-clock times, then placed in the zone.
//!
//! Daylight saving: a local time that does not exist (the hour skipped in
//! spring) fires once, at the instant the clocks jump (the next valid
//! instant); a local time that occurs twice (the hour repeated in autumn)
//! fires once, at its first occurrence.

use std::str::FromStr;

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Timelike as _, Utc};
use chrono_tz::Tz;

/// A parsed cron expression and its zone.
#[derive(Debug, Clone)]
pub(crate) struct Cron {
    schedule: cron::Schedule,
    zone: Tz,
}

impl Cron {
    /// Parses `expression` (5 or 6 fields, or an `@` name) in `zone`.
    pub(crate) fn parse(expression: &str, zone: Tz) -> Result<Self, String> {
        let fields: Vec<&str> = expression.split_whitespace().collect();
        let text = match fields.as_slice() {
            [name] if name.starts_with('@') => match *name {
                "@yearly" | "@annually" => "0 0 0 1 1 *".to_owned(),
                "@monthly" => "0 0 0 1 * *".to_owned(),
                "@weekly" => "0 0 0 * * SUN".to_owned(),
                "@daily" | "@midnight" => "0 0 0 * * *".to_owned(),
                "@hourly" => "0 0 * * * *".to_owned(),
                other => {
                    return Err(format!(
                        "unknown cron name `{other}`; use @yearly, @monthly, @weekly, @daily or @hourly"
                    ));
                }
            },
            [minute, hour, dom, month, dow] => format!("0 {minute} {hour} {dom} {month} {}", weekdays(dow)?),
            [second, minute, hour, dom, month, dow] => {
                format!("{second} {minute} {hour} {dom} {month} {}", weekdays(dow)?)
            }
            _ => {
                return Err(format!(
                    "cron `{expression}` has {} fields; write 5 (minute hour day month weekday), 6 (seconds first) or an @ name",
                    fields.len()
                ));
            }
        };
        let schedule = cron::Schedule::from_str(&text).map_err(|e| {
            // The crate's message repeats the expression with a caret; its last line says why.
            let message = e.to_string();
            let why = message.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or_default().to_owned();
            format!("cron `{expression}`: {why}")
        })?;
        if schedule.after(&Utc::now()).next().is_none() {
            return Err(format!("cron `{expression}` never fires"));
        }
        Ok(Self { schedule, zone })
    }

    /// The zone it is read in.
    pub(crate) fn zone(&self) -> Tz {
        self.zone
    }

    /// The first fire strictly after `after`.
    pub(crate) fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Wall-clock times are walked as if they were UTC (no daylight
        // saving there), starting a little before `after`'s local time so
        // that a skipped local time just before it is not missed.
        let local = after.with_timezone(&self.zone).naive_local();
        let start = Utc.from_utc_datetime(&(local - chrono::Duration::hours(3)));
        for wall in self.schedule.after(&start).take(10_000) {
            let Some(instant) = self.place(wall.naive_utc()) else { continue };
            if instant > after {
                return Some(instant);
            }
        }
        None
    }

    /// The instant of the local time `wall`: its only one, the first of two,
    /// or, in a gap, the instant the gap ends.
    fn place(&self, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
        match self.zone.from_local_datetime(&wall) {
            LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
            LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
            LocalResult::None => {
                // Gaps are at most a few hours: the first local minute after
                // it that exists is the instant the clocks jumped to.
                let minute = wall.with_second(0).unwrap_or(wall);
                (1..=24 * 60)
                    .find_map(|m| self.zone.from_local_datetime(&(minute + chrono::Duration::minutes(m))).earliest())
                    .map(|t| t.with_timezone(&Utc))
            }
        }
    }
}

/// The day-of-week field in the `cron` crate's numbering: standard cron
/// counts 0 (or 7) = Sunday to 6 = Saturday, the crate 1 = Sunday to 7 =
/// Saturday; names are the same in both, so numbers become names.
fn weekdays(field: &str) -> Result<String, String> {
    const NAMES: [&str; 8] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];
    let name = |n: &str| -> Result<String, String> {
        match n.parse::<usize>() {
            Ok(d) if d < NAMES.len() => Ok(NAMES[d].to_owned()),
            Ok(d) => Err(format!("day of week {d} is not 0 to 7")),
            Err(_) => Ok(n.to_owned()),
        }
    };
    field
        .split(',')
        .map(|part| {
            let (range, step) = match part.split_once('/') {
                Some((range, step)) => (range, Some(step)),
                None => (part, None),
            };
            let range = match range.split_once('-') {
                // `5-7` (Friday to Sunday) would run backwards as names.
                Some((a, b)) if b == "7" && a != "0" => format!("{}-SAT,SUN", name(a)?),
                Some((a, b)) => format!("{}-{}", name(a)?, name(b)?),
                None => name(range)?,
            };
            Ok(match step {
                Some(step) => format!("{range}/{step}"),
                None => range,
            })
        })
        .collect::<Result<Vec<_>, String>>()
        .map(|parts| parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("a time")
    }

    fn paris(expr: &str) -> Cron {
        Cron::parse(expr, "Europe/Paris".parse().expect("zone")).expect(expr)
    }

    #[test]
    fn five_and_six_fields_and_names() {
        let c = Cron::parse("30 8 * * 1-5", Tz::UTC).expect("parses");
        // Saturday 2026-12-05 -> Monday 08:30.
        assert_eq!(c.next_after(at("2026-12-05T09:00:00Z")), Some(at("2026-12-07T08:30:00Z")));
        let s = Cron::parse("*/20 * * * * *", Tz::UTC).expect("parses");
        assert_eq!(s.next_after(at("2026-12-05T09:00:00Z")), Some(at("2026-12-05T09:00:20Z")));
        let d = Cron::parse("@daily", Tz::UTC).expect("parses");
        assert_eq!(d.next_after(at("2026-12-05T09:00:00Z")), Some(at("2026-12-06T00:00:00Z")));
        // 0 and 7 are both Sunday.
        for sunday in ["0 12 * * 0", "0 12 * * 7", "0 12 * * SUN"] {
            let c = Cron::parse(sunday, Tz::UTC).expect(sunday);
            assert_eq!(c.next_after(at("2026-12-05T09:00:00Z")), Some(at("2026-12-06T12:00:00Z")), "{sunday}");
        }
        let weekend = Cron::parse("0 12 * * 5-7", Tz::UTC).expect("parses");
        assert_eq!(weekend.next_after(at("2026-12-06T13:00:00Z")), Some(at("2026-12-11T12:00:00Z")));
    }

    #[test]
    fn mistakes_name_themselves() {
        for (bad, says) in [
            ("* * *", "3 fields"),
            ("61 * * * *", "61"),
            ("0 0 30 2 *", "never fires"),
            ("@often", "@often"),
            ("0 0 * * 9", "9"),
        ] {
            let error = Cron::parse(bad, Tz::UTC).expect_err(bad);
            assert!(error.contains(says), "{bad}: {error}");
        }
    }

    #[test]
    fn a_zone_places_local_times() {
        // 08:00 in Paris is 07:00 UTC in winter, 06:00 in summer.
        let c = paris("0 8 * * *");
        assert_eq!(c.next_after(at("2026-12-05T09:00:00Z")), Some(at("2026-12-06T07:00:00Z")));
        assert_eq!(c.next_after(at("2026-07-05T09:00:00Z")), Some(at("2026-07-06T06:00:00Z")));
    }

    #[test]
    fn a_skipped_local_time_fires_once_when_the_clocks_jump() {
        // 2026-03-29 in Paris: 02:00 CET becomes 03:00 CEST (01:00 UTC).
        let c = paris("30 2 * * *");
        assert_eq!(c.next_after(at("2026-03-28T12:00:00Z")), Some(at("2026-03-29T01:00:00Z")));
        // And on the day after, 02:30 CEST as usual.
        assert_eq!(c.next_after(at("2026-03-29T01:00:00Z")), Some(at("2026-03-30T00:30:00Z")));
        // Every minute of the skipped hour: one fire, at the jump, then 03:00 on.
        let m = paris("* 2-3 * * *");
        let first = m.next_after(at("2026-03-29T00:30:00Z")).expect("a fire");
        assert_eq!(first, at("2026-03-29T01:00:00Z"));
        assert_eq!(m.next_after(first), Some(at("2026-03-29T01:01:00Z")));
    }

    #[test]
    fn a_repeated_local_time_fires_once() {
        // 2026-10-25 in Paris: 03:00 CEST becomes 02:00 CET; 02:30 happens twice.
        let c = paris("30 2 * * *");
        let first = c.next_after(at("2026-10-24T12:00:00Z")).expect("a fire");
        assert_eq!(first, at("2026-10-25T00:30:00Z"), "the first 02:30 (CEST)");
        assert_eq!(c.next_after(first), Some(at("2026-10-26T01:30:00Z")), "not the second 02:30 (CET)");
    }
}
