//! Compile-time parsing of durations (`"30s"`, `"1m30s"`) and rates (`"10/s"`).

use std::time::Duration;

/// Parses `"500ms"`, `"30s"`, `"5m"`, `"2h"`, `"1d"` and sums like `"1m30s"`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration; write it like \"30s\", \"500ms\", \"5m\", \"2h\" or \"1m30s\"".to_owned());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "invalid duration \"{text}\": expected a number at \"{rest}\"; write it like \"30s\" or \"1m30s\""
            ));
        }
        let number: u64 =
            rest[..digits].parse().map_err(|_| format!("invalid duration \"{text}\": number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let part = match unit {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => Duration::from_secs(number.saturating_mul(60)),
            "h" => Duration::from_secs(number.saturating_mul(3600)),
            "d" => Duration::from_secs(number.saturating_mul(86_400)),
            "" => {
                return Err(format!("invalid duration \"{text}\": `{number}` has no unit; add one of ms, s, m, h, d"));
            }
            other => return Err(format!("invalid duration \"{text}\": unknown unit `{other}`; use ms, s, m, h or d")),
        };
        total = total.saturating_add(part);
    }
    if total.is_zero() {
        return Err(format!("invalid duration \"{text}\": it must be longer than zero"));
    }
    Ok(total)
}

/// Parses `"10/s"`, `"100/m"`, `"5/h"`, `"1/d"` or `"5/10s"` into a count and a period.
pub(crate) fn parse_rate(text: &str) -> Result<(u32, Duration), String> {
    let hint = "write it like \"10/s\", \"100/m\", \"5/h\" or \"5/10s\"";
    let (count, per) = text.trim().split_once('/').ok_or_else(|| format!("invalid rate \"{text}\": {hint}"))?;
    let count: u32 = count
        .trim()
        .parse()
        .map_err(|_| format!("invalid rate \"{text}\": `{}` is not a whole number; {hint}", count.trim()))?;
    if count == 0 {
        return Err(format!("invalid rate \"{text}\": the count must be at least 1"));
    }
    let per = per.trim();
    let per = match per {
        "s" | "m" | "h" | "d" => parse_duration(&format!("1{per}")),
        _ => parse_duration(per),
    }
    .map_err(|e| format!("invalid rate \"{text}\": {e}"))?;
    Ok((count, per))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        for bad in ["", "30", "s", "3x", "0s", "1.5s", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("10/s"), Ok((10, Duration::from_secs(1))));
        assert_eq!(parse_rate("100/m"), Ok((100, Duration::from_secs(60))));
        assert_eq!(parse_rate("5/10s"), Ok((5, Duration::from_secs(10))));
        for bad in ["10", "x/s", "0/s", "10/y", "/s"] {
            assert!(parse_rate(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
