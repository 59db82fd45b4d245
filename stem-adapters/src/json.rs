//! JSON for the networked adapters' stored records (envelopes, statuses,
//! heartbeats), with errors that name the store and what did not decode.

use serde::Serialize;
use serde::de::DeserializeOwned;
use stem::{Error, Result};

/// `value` as JSON for `store` ("Redis", "Postgres").
pub(crate) fn encode<T: Serialize>(value: &T, store: &str) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::adapter(format!("encoding a record for {store}"), e))
}

/// A stored `what` read back from `store`.
pub(crate) fn decode<T: DeserializeOwned>(text: &str, what: &str, store: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::adapter(format!("a stored {what} in {store} does not decode"), e))
}
