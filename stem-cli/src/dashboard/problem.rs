//! [`Problem`]: a request that could not be served, as a status and one
//! sentence for people.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::html;

/// A refusal or a failure, rendered as a small page.
#[derive(Debug)]
pub(crate) struct Problem {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl Problem {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
}

impl From<stem::Error> for Problem {
    fn from(error: stem::Error) -> Self {
        let status = match error {
            stem::Error::Unsupported(_) => StatusCode::NOT_IMPLEMENTED,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, format!("the store failed: {error}"))
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = html! {
            (maud::DOCTYPE)
            html lang="en" {
                head { meta charset="utf-8"; title { "Stem: " (self.status) } link rel="stylesheet" href="/assets/dashboard.css"; }
                body { main {
                    h1 { (self.status) }
                    p.problem { (self.message) }
                    p { a href="/" { "Back to the overview" } }
                } }
            }
        };
        (self.status, Html(body.into_string())).into_response()
    }
}
