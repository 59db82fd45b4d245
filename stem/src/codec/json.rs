use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Codec, codec_error};
use crate::error::Result;

/// JSON through `serde_json`: the default codec, readable in every store.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

impl Codec for Json {
    const ID: &'static str = "json";

    fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
        serde_json::to_vec(value).map_err(|e| codec_error(Self::ID, e))
    }

    fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
        serde_json::from_slice(bytes).map_err(|e| codec_error(Self::ID, e))
    }
}
