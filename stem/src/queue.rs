//! Queue names: 1 to 64 ASCII letters, digits, `_`, `-` and `.`. Every store
//! puts the name into keys or rows, and a name is what operators type, so
//! one rule holds everywhere: checked at enqueue, when a worker is built,
//! and by the macros at compile time (through [`assert_valid`]).

use crate::error::{Error, Result};

/// The longest queue name.
pub const MAX_LEN: usize = 64;

/// The rule, as errors state it.
pub const RULE: &str = "a queue name is 1 to 64 ASCII letters, digits, `_`, `-` or `.`";

/// Whether `name` follows the rule.
pub const fn is_valid(name: &str) -> bool {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_LEN {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !(b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.') {
            return false;
        }
        i += 1;
    }
    true
}

/// Fails, naming `name` and the rule, unless `name` follows it.
pub fn check(name: &str) -> Result<()> {
    check_for("", name)
}

/// [`check`], the message starting with `whose` (`task `x`: `), naming
/// what the queue is for.
pub(crate) fn check_for(whose: &str, name: &str) -> Result<()> {
    if is_valid(name) {
        Ok(())
    } else {
        Err(Error::Config(format!("{whose}the queue name `{}` is not valid: {RULE}", name.escape_debug())))
    }
}

/// Fails to compile a `const` that checks an invalid name: what
/// `#[stem::task(queue = "..")]` and `#[stem::workflow(queue = "..")]` emit.
#[doc(hidden)]
pub const fn assert_valid(name: &str) {
    assert!(is_valid(name), "{}", RULE);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_one_rule() {
        for good in ["default", "emails", "high-priority", "billing.v2", "q_1", &"x".repeat(64)] {
            assert!(is_valid(good), "{good}");
        }
        for bad in ["", "with space", "a/b", "{tag}", "ünï", "new\nline", &"x".repeat(65)] {
            let message = check(bad).expect_err(bad).to_string();
            assert!(message.contains("is not valid") && message.contains(RULE), "{message}");
        }
    }
}
