//! Secrets kept out of what Stem prints: every error message, log line and
//! `Debug` output that shows a store's URL shows it through [`redact_url`],
//! and driver errors that may quote the URL pass through [`scrub_secrets`].

/// What a secret is replaced with.
const HIDDEN: &str = "***";

/// The URL query options that hold secrets (Postgres's `password` and
/// `sslpassword`, the Redis driver's `pass`).
const SECRET_OPTIONS: &[&str] = &["password", "sslpassword", "pass"];

/// Whether the URL query option `key` holds a secret.
pub(crate) fn is_secret_option(key: &str) -> bool {
    SECRET_OPTIONS.contains(&key.to_ascii_lowercase().as_str())
}

/// `url` with its password hidden: the `password` of
/// `scheme://user:password@host`, and the values of the `password`,
/// `sslpassword` and `pass` query options, each become `***`.
///
/// ```
/// use stem_adapters::redact_url;
///
/// assert_eq!(redact_url("redis://app:hunter2@cache:6379/0"), "redis://app:***@cache:6379/0");
/// assert_eq!(redact_url("postgres://db/app?password=hunter2&sslmode=require"), "postgres://db/app?password=***&sslmode=require");
/// assert_eq!(redact_url("sqlite://stem.db"), "sqlite://stem.db");
/// ```
pub fn redact_url(url: &str) -> String {
    let (before_query, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut out = redact_authority(before_query);
    if let Some(query) = query {
        out.push('?');
        let options: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if is_secret_option(key) => {
                    format!("{key}={HIDDEN}")
                }
                _ => pair.to_owned(),
            })
            .collect();
        out.push_str(&options.join("&"));
    }
    out
}

/// The part of a URL before its query, with the password of its user info
/// hidden (a string without a scheme is read as `user:password@host`).
fn redact_authority(url: &str) -> String {
    match password_at(url) {
        Some(range) => format!("{}{HIDDEN}{}", &url[..range.start], &url[range.end..]),
        None => url.to_owned(),
    }
}

/// Where the password of the user info of `url` (before its query) lies.
fn password_at(url: &str) -> Option<std::ops::Range<usize>> {
    let start = url.find("://").map_or(0, |at| at + 3);
    let rest = &url[start..];
    let authority = &rest[..rest.find(['/', '#']).unwrap_or(rest.len())];
    // The last `@`: a password may hold a raw `@`, a host never does.
    let (user_info, _) = authority.rsplit_once('@')?;
    let colon = user_info.find(':')?;
    Some(start + colon + 1..start + user_info.len())
}

/// The secrets `url` holds: its user info's password and the values of its
/// secret query options, percent-decoded as well as raw.
fn secrets(url: &str) -> Vec<String> {
    let mut found = Vec::new();
    let (before_query, query) = url.split_once('?').unwrap_or((url, ""));
    if let Some(range) = password_at(before_query) {
        found.push(before_query[range].to_owned());
    }
    for pair in query.split('&') {
        if let Some((key, value)) = pair.split_once('=')
            && is_secret_option(key)
        {
            found.push(value.to_owned());
        }
    }
    let decoded: Vec<String> = found.iter().filter_map(|s| percent_decode(s)).collect();
    found.extend(decoded);
    found.retain(|s| !s.is_empty());
    found.sort_by_key(|s| std::cmp::Reverse(s.len()));
    found.dedup();
    found
}

/// `text` percent-decoded, if it holds an escape and decodes to UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    if !text.contains('%') {
        return None;
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `message` with the URL written through [`redact_url`] and every secret of
/// `url` that still appears in it (a driver's error may quote the password,
/// raw or decoded) replaced by `***`.
pub fn scrub_secrets(message: &str, url: &str) -> String {
    let mut out = message.replace(url, &redact_url(url));
    for secret in secrets(url) {
        out = out.replace(&secret, HIDDEN);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_wherever_the_url_puts_them() {
        let cases = [
            ("redis://:pw@h:6379", "redis://:***@h:6379"),
            ("rediss://user:p@ss:w@h/2?protocol=resp3#insecure", "rediss://user:***@h/2?protocol=resp3#insecure"),
            ("postgres://u:pw@h/db?sslmode=require&password=pw2", "postgres://u:***@h/db?sslmode=require&password=***"),
            ("redis+unix:///run/redis.sock?db=1&pass=pw", "redis+unix:///run/redis.sock?db=1&pass=***"),
            ("postgres://u@h/db", "postgres://u@h/db"),
            ("memory://", "memory://"),
            ("not a url", "not a url"),
            ("u:pw@h", "u:***@h"),
        ];
        for (url, redacted) in cases {
            assert_eq!(redact_url(url), redacted, "{url}");
        }
    }

    #[test]
    fn scrubbing_hides_raw_and_decoded_passwords() {
        let url = "postgres://u:p%40ss@h/db";
        let message = format!("could not reach {url}: password p@ss refused; the raw form p%40ss too");
        let scrubbed = scrub_secrets(&message, url);
        assert!(!scrubbed.contains("p@ss") && !scrubbed.contains("p%40ss"), "{scrubbed}");
        assert!(scrubbed.contains("postgres://u:***@h/db"), "{scrubbed}");
    }
}
