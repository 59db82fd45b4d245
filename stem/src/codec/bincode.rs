use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Codec, codec_error};
use crate::error::Result;

/// bincode 2 with its standard configuration: compact, not human readable.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bincode;

impl Codec for Bincode {
    const ID: &'static str = "bincode";

    fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
        bincode::serde::encode_to_vec(value, bincode::config::standard()).map_err(|e| codec_error(Self::ID, e))
    }

    fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
        let (value, read) = bincode::serde::decode_from_slice(bytes, bincode::config::standard())
            .map_err(|e| codec_error(Self::ID, e))?;
        if read != bytes.len() {
            return Err(codec_error(Self::ID, format!("{} trailing bytes", bytes.len() - read)));
        }
        Ok(value)
    }
}
