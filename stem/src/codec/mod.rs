//! Codecs turn task arguments and results into bytes and back.
//!
//! JSON is the default, so that `redis-cli`, `psql` and the CLI can read what is
//! stored; the `bincode` feature adds the compact bincode 2 codec. A task picks its
//! codec at compile time; a worker decodes by the codec id stored beside the bytes,
//! so producers and workers of different versions agree as long as both know it.

mod json;
pub(crate) mod payload;

#[cfg(feature = "bincode")]
mod bincode;

use serde::Serialize;
use serde::de::DeserializeOwned;

#[cfg(feature = "bincode")]
pub use self::bincode::Bincode;
pub use self::json::Json;
pub use self::payload::Payload;
use crate::error::{Error, Result};

/// A serialization format for arguments and results.
pub trait Codec: Send + Sync + 'static {
    /// The id stored beside encoded bytes (`json`, `bincode`).
    const ID: &'static str;

    /// Encodes a value.
    fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>>;

    /// Decodes a value.
    fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T>;
}

/// Encodes `value` with the codec named `codec`.
pub fn encode<T: Serialize + ?Sized>(codec: &str, value: &T) -> Result<Payload> {
    let (id, bytes) = match codec {
        Json::ID => (Json::ID, Json::encode(value)?),
        #[cfg(feature = "bincode")]
        Bincode::ID => (Bincode::ID, Bincode::encode(value)?),
        other => return Err(unknown(other)),
    };
    Ok(Payload::new(id, bytes))
}

/// Decodes a payload with the codec it names.
pub fn decode<T: DeserializeOwned>(payload: &Payload) -> Result<T> {
    match payload.codec() {
        Json::ID => Json::decode(payload.bytes()),
        #[cfg(feature = "bincode")]
        Bincode::ID => Bincode::decode(payload.bytes()),
        other => Err(unknown(other)),
    }
}

/// The ids of the codecs compiled into this build, for error messages.
/// The error for a payload of a codec this build does not know, with the
/// codecs it knows.
fn unknown(codec: &str) -> Error {
    let known = if cfg!(feature = "bincode") {
        "`json`, `bincode`"
    } else {
        "`json` (enable the `bincode` feature of `stem` for `bincode`)"
    };
    Error::UnknownCodec { codec: codec.to_owned(), known: known.to_owned() }
}

pub(crate) fn codec_error(codec: &str, err: impl std::fmt::Display) -> Error {
    Error::Codec { codec: codec.to_owned(), message: err.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trips() {
        let p = encode("json", &("a", 1u32)).expect("encode");
        assert_eq!(p.codec(), "json");
        assert_eq!(p.bytes(), br#"["a",1]"#);
        let back: (String, u32) = decode(&p).expect("decode");
        assert_eq!(back, ("a".to_owned(), 1));
    }

    #[test]
    fn unknown_codec_names_the_known_ones() {
        let err = encode("yaml", &1).expect_err("yaml is not a codec");
        assert!(err.to_string().contains("unknown codec `yaml`"), "{err}");
        assert!(err.to_string().contains("`json`"), "{err}");
    }

    #[test]
    fn decoding_the_wrong_shape_is_a_codec_error() {
        let p = encode("json", &"text").expect("encode");
        let err = decode::<u32>(&p).expect_err("a string is not a u32");
        assert!(matches!(err, Error::Codec { .. }), "{err:?}");
    }

    #[cfg(feature = "bincode")]
    #[test]
    fn bincode_round_trips() {
        let p = encode("bincode", &("a", 1u32)).expect("encode");
        let back: (String, u32) = decode(&p).expect("decode");
        assert_eq!(back, ("a".to_owned(), 1));
    }
}
