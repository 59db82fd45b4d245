use std::borrow::Cow;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Encoded bytes and the id of the codec that made them.
///
/// Serialized as `{"codec": "json", "data": "<the JSON text>"}`; bytes of other
/// codecs are written as base64, so a stored envelope stays valid JSON.
#[derive(Clone, PartialEq, Eq)]
pub struct Payload {
    codec: Cow<'static, str>,
    bytes: Vec<u8>,
}

impl Payload {
    /// Wraps bytes made by the codec `codec`.
    pub fn new(codec: impl Into<Cow<'static, str>>, bytes: Vec<u8>) -> Self {
        Self { codec: codec.into(), bytes }
    }

    /// The codec's id.
    pub fn codec(&self) -> &str {
        &self.codec
    }

    /// The encoded bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(&self.bytes) {
            Ok(text) => write!(f, "Payload({}: {text})", self.codec),
            Err(_) => write!(f, "Payload({}: {} bytes)", self.codec, self.bytes.len()),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Repr<'a> {
    codec: Cow<'a, str>,
    data: Cow<'a, str>,
}

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let data = match (self.codec.as_ref(), std::str::from_utf8(&self.bytes)) {
            ("json", Ok(text)) => Cow::Borrowed(text),
            _ => Cow::Owned(STANDARD.encode(&self.bytes)),
        };
        Repr { codec: Cow::Borrowed(&self.codec), data }.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let repr = Repr::deserialize(deserializer)?;
        let bytes = if repr.codec == "json" {
            repr.data.into_owned().into_bytes()
        } else {
            STANDARD.decode(repr.data.as_bytes()).map_err(serde::de::Error::custom)?
        };
        Ok(Self { codec: Cow::Owned(repr.codec.into_owned()), bytes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_payload_stays_readable() {
        let p = Payload::new("json", br#"{"a":1}"#.to_vec());
        let text = serde_json::to_string(&p).expect("serialize");
        assert_eq!(text, r#"{"codec":"json","data":"{\"a\":1}"}"#);
        assert_eq!(serde_json::from_str::<Payload>(&text).expect("deserialize"), p);
    }

    #[test]
    fn binary_payload_is_base64() {
        let p = Payload::new("bincode", vec![0, 159, 146, 150]);
        let text = serde_json::to_string(&p).expect("serialize");
        assert_eq!(text, r#"{"codec":"bincode","data":"AJ+Slg=="}"#);
        assert_eq!(serde_json::from_str::<Payload>(&text).expect("deserialize"), p);
    }
}
