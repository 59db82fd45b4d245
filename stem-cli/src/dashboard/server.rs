//! [`serve`]: binds the address, assembles the router (assets and the login
//! form in front, every page and action behind the guard), adds the
//! security headers, and runs the server and the chart sampler until
//! [`Dashboard::stop`].

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use stem::Stem;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::auth;
use super::config::Config;
use super::error::Error;
use super::sampler;
use super::sessions::Sessions;
use super::state::App;
use super::{assets, pages};
use crate::catalog::Catalog;

/// A running dashboard.
#[derive(Debug)]
pub struct Dashboard {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
    sampler: JoinHandle<()>,
}

impl Dashboard {
    /// The address it listens on (the port chosen when asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops taking connections, lets requests in progress finish, and returns.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.sampler.abort();
        let _ = (&mut self.server).await;
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        self.sampler.abort();
        self.server.abort();
    }
}

/// Serves the dashboard of `stem` as `config` says, in the background.
///
/// # Errors
///
/// A non-loopback address without credentials ([`Error::Unprotected`], whose
/// message says how to configure them), settings that cannot work, or an
/// address that cannot be bound.
pub async fn serve(stem: Stem, config: Config) -> Result<Dashboard, Error> {
    config.check()?;
    let listener =
        tokio::net::TcpListener::bind(config.addr).await.map_err(|source| Error::Bind { addr: config.addr, source })?;
    let addr = listener.local_addr().map_err(|source| Error::Bind { addr: config.addr, source })?;
    let every = config.sample_every;
    let app = Arc::new(App {
        stem,
        config,
        sessions: Sessions::default(),
        samples: Arc::default(),
        catalog: Catalog::linked(),
    });
    let guarded = pages::routes().route_layer(middleware::from_fn_with_state(app.clone(), auth::guard));
    let router = Router::new()
        .merge(guarded)
        .route("/logout", post(auth::logout).route_layer(middleware::from_fn_with_state(app.clone(), auth::guard)))
        .route("/login", get(auth::login_form).post(auth::login))
        .merge(assets::routes())
        .layer(middleware::from_fn(security_headers))
        .with_state(app.clone());
    let sampler = tokio::spawn(sampler::run(app.stem.clone(), Arc::clone(&app.samples), every));
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    Ok(Dashboard { addr, stop: Some(stop), server, sampler })
}

/// No framing, no sniffing, no referrer, no caching; scripts and styles
/// from this server only, forms posting only to it.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let set = [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}
