//! [`Config`]: where the dashboard listens, who may use it (tokens and basic
//! credentials, from the `STEM_DASHBOARD_*` variables or set in code), and
//! which tasks' values it hides.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use super::error::Error;

/// The operator's bearer token (log in with it, or send `Authorization: Bearer`).
pub const TOKEN_VAR: &str = "STEM_DASHBOARD_TOKEN";
/// A read-only token.
pub const VIEWER_TOKEN_VAR: &str = "STEM_DASHBOARD_VIEWER_TOKEN";
/// The operator's basic-auth user name (with [`PASSWORD_VAR`]).
pub const USER_VAR: &str = "STEM_DASHBOARD_USER";
/// The operator's basic-auth password (with [`USER_VAR`]).
pub const PASSWORD_VAR: &str = "STEM_DASHBOARD_PASSWORD";
/// Comma-separated task or workflow name patterns (`*` matches anything)
/// whose argument and result values are shown as "hidden".
pub const HIDE_VAR: &str = "STEM_DASHBOARD_HIDE";

/// A secret: compared, never printed (`Debug` shows `***`).
#[derive(Clone)]
pub(crate) struct Secret(pub(crate) String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How the dashboard runs: its address, its credentials, the tasks whose
/// values it hides, how often it samples the stores for its charts.
///
/// ```
/// let config = stem_cli::dashboard::Config::new("127.0.0.1:8080".parse().unwrap())
///     .operator_token("a long random operator token")
///     .hide(["app::billing::*"]);
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) addr: SocketAddr,
    pub(crate) operator_token: Option<Secret>,
    pub(crate) viewer_token: Option<Secret>,
    pub(crate) basic: Option<(String, Secret)>,
    pub(crate) hide: Vec<String>,
    pub(crate) sample_every: Duration,
}

impl Config {
    /// Listens on `addr`, with no credentials: allowed on a loopback address
    /// only, where every visitor is an operator.
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            operator_token: None,
            viewer_token: None,
            basic: None,
            hide: Vec::new(),
            sample_every: Duration::from_secs(5),
        }
    }

    /// Listens on `addr` with the credentials and hidden tasks of the
    /// `STEM_DASHBOARD_*` variables ([`TOKEN_VAR`], [`VIEWER_TOKEN_VAR`],
    /// [`USER_VAR`] and [`PASSWORD_VAR`], [`HIDE_VAR`]). An empty variable
    /// counts as unset.
    ///
    /// # Errors
    ///
    /// A user without a password or the reverse, or a viewer token equal to
    /// the operator's.
    pub fn from_env(addr: SocketAddr) -> Result<Self, Error> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let mut config = Self::new(addr);
        if let Some(token) = var(TOKEN_VAR) {
            config = config.operator_token(token);
        }
        if let Some(token) = var(VIEWER_TOKEN_VAR) {
            config = config.viewer_token(token);
        }
        match (var(USER_VAR), var(PASSWORD_VAR)) {
            (Some(user), Some(password)) => config = config.basic(user, password),
            (None, None) => {}
            (Some(_), None) => {
                return Err(Error::Setting {
                    variable: PASSWORD_VAR,
                    problem: format!("is unset but {USER_VAR} is set: set both or neither"),
                });
            }
            (None, Some(_)) => {
                return Err(Error::Setting {
                    variable: USER_VAR,
                    problem: format!("is unset but {PASSWORD_VAR} is set: set both or neither"),
                });
            }
        }
        if let Some(hide) = var(HIDE_VAR) {
            config = config.hide(hide.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned));
        }
        config.check()?;
        Ok(config)
    }

    /// The operator's token: with it, every page and every action.
    #[must_use]
    pub fn operator_token(mut self, token: impl Into<String>) -> Self {
        self.operator_token = Some(Secret(token.into()));
        self
    }

    /// A viewer's token: every page, no action.
    #[must_use]
    pub fn viewer_token(mut self, token: impl Into<String>) -> Self {
        self.viewer_token = Some(Secret(token.into()));
        self
    }

    /// The operator's basic-auth credentials (also accepted by the login form).
    #[must_use]
    pub fn basic(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.basic = Some((user.into(), Secret(password.into())));
        self
    }

    /// Task and workflow name patterns (`*` matches any run of characters)
    /// whose argument and result values are shown as "hidden".
    #[must_use]
    pub fn hide(mut self, patterns: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.hide.extend(patterns.into_iter().map(Into::into));
        self
    }

    /// How often the overview's charts sample the stores (5 s by default).
    #[must_use]
    pub fn sample_every(mut self, every: Duration) -> Self {
        self.sample_every = every.max(Duration::from_millis(50));
        self
    }

    /// Whether any credential is configured.
    pub(crate) fn protected(&self) -> bool {
        self.operator_token.is_some() || self.viewer_token.is_some() || self.basic.is_some()
    }

    /// Refuses settings that cannot work: an empty or shared token, and an
    /// address other machines can reach without any credential.
    pub(crate) fn check(&self) -> Result<(), Error> {
        if let (Some(operator), Some(viewer)) = (&self.operator_token, &self.viewer_token)
            && operator.0 == viewer.0
        {
            return Err(Error::Setting {
                variable: VIEWER_TOKEN_VAR,
                problem: format!("equals {TOKEN_VAR}: a viewer would be an operator"),
            });
        }
        let empty = [(&self.operator_token, TOKEN_VAR), (&self.viewer_token, VIEWER_TOKEN_VAR)]
            .into_iter()
            .find(|(token, _)| token.as_ref().is_some_and(|t| t.0.is_empty()));
        if let Some((_, variable)) = empty {
            return Err(Error::Setting { variable, problem: "is empty".to_owned() });
        }
        if !self.addr.ip().is_loopback() && !self.protected() {
            return Err(Error::Unprotected { addr: self.addr });
        }
        Ok(())
    }

    /// Whether `name`'s argument and result values are hidden.
    pub(crate) fn hides(&self, name: &str) -> bool {
        self.hide.iter().any(|pattern| glob(pattern, name))
    }
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else { return rest.is_empty() };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_names() {
        assert!(glob("app::billing::*", "app::billing::charge"));
        assert!(glob("*secret*", "app::secret_thing"));
        assert!(glob("app::pay", "app::pay"));
        assert!(!glob("app::pay", "app::payout"));
        assert!(!glob("a*b*c", "a_c_b"));
        assert!(glob("a*b*c", "a_b_c"));
        assert!(!glob("ab*ba", "aba"));
    }

    #[test]
    fn a_public_address_without_credentials_is_refused() {
        let open = Config::new("0.0.0.0:8080".parse().unwrap());
        let message = open.check().unwrap_err().to_string();
        assert!(message.contains(TOKEN_VAR) && message.contains(USER_VAR), "{message}");
        assert!(open.operator_token("t").check().is_ok());
        assert!(Config::new("127.0.0.1:8080".parse().unwrap()).check().is_ok());
    }
}
