//! The stylesheet and the one small script, embedded in the binary (no Node
//! build, nothing fetched from elsewhere): `stem-cli/assets/`.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use super::state::Shared;

const CSS: &str = include_str!("../../assets/dashboard.css");
/// Refreshes the overview's live fragment; nothing else runs in the page.
const JS: &str = include_str!("../../assets/dashboard.js");

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/assets/dashboard.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS).into_response() }),
        )
        .route(
            "/assets/dashboard.js",
            get(|| async { ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], JS).into_response() }),
        )
}
