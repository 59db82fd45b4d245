//! Who is asking and what they may do: roles, sessions, the login form, the
//! guard every request passes, and the CSRF check of every action.
//!
//! A request is authenticated by `Authorization: Bearer TOKEN`, by
//! `Authorization: Basic` with the operator's credentials, or by the
//! session cookie the login form sets; with no credential configured (a
//! loopback address only) everyone is an operator. Every authenticated
//! visitor has a server-side session holding a random CSRF token, which
//! every action form carries and [`authorize`] checks in constant time.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{Form, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use base64::Engine as _;
use maud::html;

use super::config::Config;
use super::layout;
use super::problem::Problem;
pub(crate) use super::sessions::{Principal, Role};
use super::sessions::{SESSION_LIFE, same};
use super::state::Shared;

/// The session cookie's name.
const COOKIE: &str = "stem_session";

/// The role a presented token or basic credential gives, if any.
fn role_of_token(config: &Config, token: &str) -> Option<Role> {
    if config.operator_token.as_ref().is_some_and(|t| same(&t.0, token)) {
        return Some(Role::Operator);
    }
    config.viewer_token.as_ref().is_some_and(|t| same(&t.0, token)).then_some(Role::Viewer)
}

fn role_of_basic(config: &Config, user: &str, password: &str) -> Option<Role> {
    let (u, p) = config.basic.as_ref()?;
    // Both compared, always, so that timing does not tell which was wrong.
    let ok = same(u, user) & same(&p.0, password);
    ok.then_some(Role::Operator)
}

/// What the `Authorization` header says: `None` without one, `Some(None)`
/// for a credential that is wrong.
fn header_role(config: &Config, headers: &HeaderMap) -> Option<Option<Role>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok().unwrap_or_default();
    if let Some(token) = value.strip_prefix("Bearer ") {
        return Some(role_of_token(config, token.trim()));
    }
    if let Some(encoded) = value.strip_prefix("Basic ") {
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok();
        let text = decoded.and_then(|d| String::from_utf8(d).ok()).unwrap_or_default();
        let (user, password) = text.split_once(':').unwrap_or_default();
        return Some(role_of_basic(config, user, password));
    }
    Some(None)
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('=').map(str::to_owned))
}

fn set_cookie(id: &str) -> HeaderValue {
    let cookie = format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}", SESSION_LIFE.as_secs());
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Whether the request names a loopback host (`localhost`, `127.0.0.1`,
/// `[::1]`, with any port): without credentials the dashboard answers only
/// those, so that a page of another site cannot reach it by DNS rebinding.
fn loopback_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else { return false };
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The guard in front of every page and action (the login form and the
/// assets excepted): finds the visitor's role, opens a session for a new
/// visitor, and refuses everyone else (a login redirect for a page, 401
/// otherwise).
pub(crate) async fn guard(State(app): State<Shared>, mut request: Request, next: Next) -> Response {
    let config = &app.config;
    let headers = request.headers();
    if !config.protected() && !loopback_host(headers) {
        return Problem::forbidden(
            "this dashboard has no credentials configured, so it answers only requests for a loopback host",
        )
        .into_response();
    }
    let from_header = header_role(config, headers);
    if from_header == Some(None) {
        return unauthorized(config, "wrong credentials");
    }
    let session = session_cookie(headers).and_then(|id| app.sessions.get(&id).map(|found| (id, found)));
    let role = match (from_header.flatten(), &session) {
        (Some(role), _) => role,
        (None, Some((_, (role, _)))) => *role,
        (None, None) if !config.protected() => Role::Operator,
        (None, None) => {
            return if request.method() == Method::GET {
                Redirect::to("/login").into_response()
            } else {
                unauthorized(config, "log in first")
            };
        }
    };
    let (csrf, new_cookie) = match session {
        Some((_, (_, csrf))) => (csrf, None),
        None => {
            let (id, csrf) = app.sessions.open(role);
            (csrf, Some(id))
        }
    };
    let can_log_out = config.protected() && from_header.is_none();
    request.extensions_mut().insert(Principal { role, csrf, can_log_out });
    let mut response = next.run(request).await;
    if let Some(id) = new_cookie {
        response.headers_mut().append(header::SET_COOKIE, set_cookie(&id));
    }
    response
}

fn unauthorized(config: &Config, why: &str) -> Response {
    let mut response = (StatusCode::UNAUTHORIZED, format!("unauthorized: {why}\n")).into_response();
    if config.basic.is_some() {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"stem\""));
    }
    response
}

/// Lets an action run: an operator whose form carries their session's CSRF
/// token. Anything else is refused with 403, before anything is changed.
pub(crate) fn authorize(principal: &Principal, form: &HashMap<String, String>) -> Result<(), Problem> {
    if principal.role != Role::Operator {
        return Err(Problem::forbidden("only an operator may do this; you are a viewer"));
    }
    match form.get("csrf") {
        Some(token) if same(token, &principal.csrf) => Ok(()),
        _ => Err(Problem::forbidden("the form's CSRF token is missing or wrong: reload the page and try again")),
    }
}

/// `GET /login`: the login form.
pub(crate) async fn login_form(State(app): State<Shared>) -> Html<String> {
    login_page(&app.config, None)
}

fn login_page(config: &Config, error: Option<&str>) -> Html<String> {
    let token = config.operator_token.is_some() || config.viewer_token.is_some();
    let body = html! {
        h1 { "Log in" }
        @if let Some(error) = error { p.problem { (error) } }
        @if !config.protected() { p { "No credentials are configured: every visitor is an operator. " a href="/" { "Go to the overview" } } }
        form method="post" action="/login" {
            @if token { label { "Token " input type="password" name="token" autocomplete="current-password"; } }
            @if config.basic.is_some() {
                label { "User " input type="text" name="user" autocomplete="username"; }
                label { "Password " input type="password" name="password" autocomplete="current-password"; }
            }
            button type="submit" { "Log in" }
        }
    };
    layout::bare("Log in", body)
}

/// `POST /login`: a token, or the operator's user and password, opens a
/// session (a fresh cookie, HttpOnly and SameSite=Strict).
pub(crate) async fn login(State(app): State<Shared>, Form(form): Form<HashMap<String, String>>) -> Response {
    let config = &app.config;
    let role = match (form.get("token").filter(|t| !t.is_empty()), form.get("user")) {
        (Some(token), _) => role_of_token(config, token),
        (None, Some(user)) => role_of_basic(config, user, form.get("password").map_or("", String::as_str)),
        (None, None) => None,
    };
    let Some(role) = role else {
        // A little slower for wrong guesses.
        tokio::time::sleep(Duration::from_millis(300)).await;
        return (StatusCode::UNAUTHORIZED, login_page(config, Some("Wrong credentials."))).into_response();
    };
    let (id, _) = app.sessions.open(role);
    let mut response = Redirect::to("/").into_response();
    response.headers_mut().append(header::SET_COOKIE, set_cookie(&id));
    response
}

/// `POST /logout`: closes the session (with the CSRF token, like any action).
pub(crate) async fn logout(
    State(app): State<Shared>,
    headers: HeaderMap,
    axum::Extension(principal): axum::Extension<Principal>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, Problem> {
    match form.get("csrf") {
        Some(token) if same(token, &principal.csrf) => {}
        _ => return Err(Problem::forbidden("the form's CSRF token is missing or wrong")),
    }
    if let Some(id) = session_cookie(&headers) {
        app.sessions.close(&id);
    }
    let mut response = Redirect::to("/login").into_response();
    let expired = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    if let Ok(value) = HeaderValue::from_str(&expired) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_pass_without_credentials() {
        let host = |h: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, HeaderValue::from_str(h).unwrap());
            loopback_host(&headers)
        };
        assert!(host("127.0.0.1:8080") && host("localhost:1") && host("[::1]:80") && host("localhost"));
        assert!(!host("evil.example:8080") && !host("10.0.0.1") && !host("127.0.0.1.evil.example"));
    }
}
