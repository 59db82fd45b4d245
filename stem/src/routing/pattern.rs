//! [`Pattern`]: the glob a route matches task names with: `*` matches any
//! run of characters (none included), `?` exactly one, anything else itself.

use std::fmt;

/// A task name pattern of a route (`reports.*`, `app::emails::send_?`).
#[derive(Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    /// The pattern as characters, for the match; `None` when it has no
    /// wildcard (a plain comparison then).
    glob: Option<Vec<char>>,
}

impl Pattern {
    /// The pattern `text`: `*` any run of characters, `?` one character.
    pub fn new(text: impl Into<String>) -> Self {
        let text = text.into();
        let glob = text.contains(['*', '?']).then(|| text.chars().collect());
        Self { text, glob }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `name` matches the whole pattern.
    pub fn matches(&self, name: &str) -> bool {
        match &self.glob {
            None => self.text == name,
            Some(glob) => glob_matches(glob, name),
        }
    }
}

/// The classic linear wildcard match: on a mismatch after a `*`, the star
/// takes one more character and the match resumes from just after it (only
/// the last star is ever retried, which is enough for `*` and `?`).
fn glob_matches(glob: &[char], name: &str) -> bool {
    let name: Vec<char> = name.chars().collect();
    let (mut p, mut n) = (0, 0);
    // The position after the last `*` seen, and the name position it was
    // tried at.
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match glob.get(p) {
            Some('*') => {
                star = Some((p + 1, n));
                p += 1;
            }
            Some(&c) if c == '?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((after, tried)) => {
                    p = after;
                    n = tried + 1;
                    star = Some((after, tried + 1));
                }
                None => return false,
            },
        }
    }
    glob[p..].iter().all(|&c| c == '*')
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    fn matches(pattern: &str, name: &str) -> bool {
        Pattern::new(pattern).matches(name)
    }

    #[test]
    fn a_plain_pattern_is_the_name_itself() {
        assert!(matches("reports.daily", "reports.daily"));
        assert!(!matches("reports.daily", "reports.daily2"));
        assert!(!matches("reports.daily", "reports"));
        assert!(!matches("a.b", "axb"), "`.` is not a wildcard");
    }

    #[test]
    fn a_star_matches_any_run_of_characters() {
        assert!(matches("reports.*", "reports.daily"));
        assert!(matches("reports.*", "reports."), "a star matches nothing too");
        assert!(!matches("reports.*", "reports"));
        assert!(!matches("reports.*", "billing.reports.daily"));
        assert!(matches("*", "anything::at::all"));
        assert!(matches("*", ""));
        assert!(matches("app::*::send", "app::emails::send"));
        assert!(matches("app::*::send", "app::a::b::send"), "a star crosses `::`");
        assert!(!matches("app::*::send", "app::emails::send_all"));
        assert!(matches("*.daily", "reports.daily"));
        assert!(matches("a*b*c", "aXbYbZc"));
        assert!(!matches("a*b*c", "aXbYbZ"));
        assert!(matches("**x", "yyx"));
        assert!(matches("*aab", "aaaab"), "the star retries after a partial match");
    }

    #[test]
    fn a_question_mark_matches_one_character() {
        assert!(matches("send_?", "send_a"));
        assert!(!matches("send_?", "send_"));
        assert!(!matches("send_?", "send_ab"));
        assert!(matches("send_?", "send_é"), "one character, not one byte");
        assert!(matches("?*", "x"));
        assert!(!matches("?*", ""));
    }

    #[test]
    fn it_shows_as_written() {
        let pattern = Pattern::new("reports.*");
        assert_eq!((pattern.as_str(), pattern.to_string()), ("reports.*", "reports.*".to_owned()));
        assert_eq!(format!("{pattern:?}"), r#""reports.*""#);
    }
}
