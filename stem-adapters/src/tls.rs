//! TLS settings for the networked adapters (`rediss://`, Postgres): a custom
//! CA, a client certificate for mutual TLS, and an escape hatch that skips
//! verification, named after the reference's `STEM_TLS_*` variables.

use std::path::{Path, PathBuf};

use stem::Error;

/// The variable naming a PEM file of CA certificates to trust (instead of the
/// system's roots).
pub const CA_CERT_VAR: &str = "STEM_TLS_CA_CERT";
/// The variable naming the PEM client certificate, for mutual TLS.
pub const CLIENT_CERT_VAR: &str = "STEM_TLS_CLIENT_CERT";
/// The variable naming the PEM client key, for mutual TLS.
pub const CLIENT_KEY_VAR: &str = "STEM_TLS_CLIENT_KEY";
/// The variable that, set to `true`, skips certificate verification (debugging only).
pub const ALLOW_INSECURE_VAR: &str = "STEM_TLS_ALLOW_INSECURE";

/// TLS settings of a `rediss://` or Postgres connection.
///
/// ```
/// use stem_adapters::TlsOptions;
///
/// let tls = TlsOptions::default().with_ca_cert("/certs/ca.crt").with_client("/certs/client.crt", "/certs/client.key");
/// assert!(!tls.allow_insecure);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM CA certificates to trust instead of the system's roots.
    pub ca_cert: Option<PathBuf>,
    /// PEM client certificate (with `client_key`), for mutual TLS.
    pub client_cert: Option<PathBuf>,
    /// PEM client key (with `client_cert`).
    pub client_key: Option<PathBuf>,
    /// Skip verifying the server's certificate. For debugging only.
    pub allow_insecure: bool,
}

impl TlsOptions {
    /// Reads `STEM_TLS_CA_CERT`, `STEM_TLS_CLIENT_CERT`, `STEM_TLS_CLIENT_KEY`
    /// and `STEM_TLS_ALLOW_INSECURE` (`true` or `false`).
    pub fn from_env() -> stem::Result<Self> {
        let path = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let allow_insecure = match std::env::var(ALLOW_INSECURE_VAR).unwrap_or_default().trim() {
            "" | "false" | "0" => false,
            "true" | "1" => true,
            other => {
                return Err(Error::Config(format!("{ALLOW_INSECURE_VAR}={other} is not valid; use true or false")));
            }
        };
        Ok(Self {
            ca_cert: path(CA_CERT_VAR),
            client_cert: path(CLIENT_CERT_VAR),
            client_key: path(CLIENT_KEY_VAR),
            allow_insecure,
        })
    }

    /// Trusts the CA certificates in this PEM file.
    pub fn with_ca_cert(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_cert = Some(path.into());
        self
    }

    /// Presents this client certificate and key (PEM files) for mutual TLS.
    pub fn with_client(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.client_cert = Some(cert.into());
        self.client_key = Some(key.into());
        self
    }

    /// Skips verifying the server's certificate (debugging only).
    pub fn with_allow_insecure(mut self, allow: bool) -> Self {
        self.allow_insecure = allow;
        self
    }

    /// Whether any setting differs from the defaults.
    pub fn is_set(&self) -> bool {
        *self != Self::default()
    }

    /// Checks that the client identity is whole (both files or neither).
    pub(crate) fn client_pair(&self) -> stem::Result<Option<(&Path, &Path)>> {
        match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => Ok(Some((cert, key))),
            (None, None) => Ok(None),
            _ => Err(Error::Config(format!(
                "mutual TLS needs both {CLIENT_CERT_VAR} and {CLIENT_KEY_VAR}; only one is set"
            ))),
        }
    }

    /// The certificates for the `redis` crate, read from their files.
    #[cfg(feature = "redis")]
    pub(crate) fn certificates(&self) -> stem::Result<redis::TlsCertificates> {
        let client_tls = match self.client_pair()? {
            Some((cert, key)) => Some(redis::ClientTlsConfig {
                client_cert: read(cert, CLIENT_CERT_VAR)?,
                client_key: read(key, CLIENT_KEY_VAR)?,
            }),
            None => None,
        };
        let root_cert = self.ca_cert.as_deref().map(|p| read(p, CA_CERT_VAR)).transpose()?;
        Ok(redis::TlsCertificates { client_tls, root_cert })
    }
}

#[cfg(feature = "redis")]
fn read(path: &Path, var: &str) -> stem::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        Error::Config(format!("cannot read the TLS file {} (from {var} or TlsOptions): {e}", path.display()))
    })
}
