//! Who is asking: roles, the visitor of a request, and the server-side
//! sessions with their CSRF tokens.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use subtle::ConstantTimeEq;

/// How long a session lasts.
pub(super) const SESSION_LIFE: Duration = Duration::from_secs(12 * 3600);
/// How many sessions are kept at most (the oldest goes first).
const MAX_SESSIONS: usize = 4096;

/// What a visitor may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Reads every page.
    Viewer,
    /// Reads every page and acts: replay, purge, cancel, shutdown ...
    Operator,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
        })
    }
}

/// The visitor of one request: their role, their session's CSRF token, and
/// whether they can log out (a login-form session).
#[derive(Debug, Clone)]
pub(crate) struct Principal {
    pub(crate) role: Role,
    pub(crate) csrf: String,
    pub(crate) can_log_out: bool,
}

#[derive(Debug)]
struct Session {
    role: Role,
    csrf: String,
    created: Instant,
}

/// The live sessions, by cookie value.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    pub(super) fn get(&self, id: &str) -> Option<(Role, String)> {
        let map = self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(id).filter(|s| s.created.elapsed() < SESSION_LIFE).map(|s| (s.role, s.csrf.clone()))
    }

    /// A new session for `role`: its cookie value and CSRF token.
    pub(super) fn open(&self, role: Role) -> (String, String) {
        let (id, csrf) = (random_token(), random_token());
        let mut map = self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.retain(|_, s| s.created.elapsed() < SESSION_LIFE);
        if map.len() >= MAX_SESSIONS {
            let oldest = map.iter().min_by_key(|(_, s)| s.created).map(|(id, _)| id.clone());
            if let Some(oldest) = oldest {
                map.remove(&oldest);
            }
        }
        map.insert(id.clone(), Session { role, csrf: csrf.clone(), created: Instant::now() });
        (id, csrf)
    }

    pub(super) fn close(&self, id: &str) {
        self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(id);
    }
}

/// 32 random bytes from the operating system, as hex.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    // The OS generator failing is not something a dashboard can work around.
    getrandom::fill(&mut bytes).unwrap_or_else(|e| panic!("the operating system's random generator failed: {e}"));
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether two secrets are equal, in time independent of where they differ.
pub(super) fn same(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_long() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(same(&a, &a.clone()) && !same(&a, &b));
    }
}
