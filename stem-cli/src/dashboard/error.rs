//! [`Error`]: why the dashboard did not start.

use std::net::SocketAddr;

/// Why the dashboard did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A non-loopback address without any credential configured.
    #[error(
        "refusing to serve the dashboard on {addr} without authentication: anyone who reaches it could replay, \
         purge and shut workers down. Set STEM_DASHBOARD_TOKEN (an operator token; STEM_DASHBOARD_VIEWER_TOKEN \
         adds a read-only one), or STEM_DASHBOARD_USER and STEM_DASHBOARD_PASSWORD, or listen on a loopback \
         address (--addr 127.0.0.1:8080)"
    )]
    Unprotected {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// A setting that cannot work.
    #[error("{variable} {problem}")]
    Setting {
        /// The variable (or the builder method's variable) at fault.
        variable: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}
