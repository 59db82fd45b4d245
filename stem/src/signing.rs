//! Signed envelopes: producers sign what they publish, workers verify before
//! they decode anything, so that someone who can write to the broker cannot
//! make a worker run a task of their choosing.
//!
//! HMAC-SHA256 (a shared secret) or Ed25519 (producers hold private keys,
//! workers need only the public ones). Keys have ids; one is active for new
//! signatures, and every listed one is accepted, so a rotation lists the old
//! and the new key, moves the active id to the new one, and drops the old one
//! once nothing signed with it is left in the queues.
//!
//! The signature covers the whole envelope but for what a broker changes on
//! its way (the attempt and the not-before time of a retry, the rate-limit
//! slot a worker marks a delivery it puts back with, which a worker believes
//! only when the store holds the slot's record: see
//! [`SLOT_HEADER`](crate::rate::SLOT_HEADER)) and the two
//! signature headers: `stem-signature` (base64) and `stem-signature-key`
//! (the key id). A worker that finds it missing, unknown or wrong dead-letters
//! the delivery with the reason `signature-invalid` and the key id; nothing of
//! it runs.
//!
//! The configuration follows the reference's variables (see
//! [`Signing::from_env`]); a key that does not parse or has the wrong length,
//! or an active id that is not listed, is an error naming the one variable
//! at fault. `stem_adapters::connect_env()` and the command line read them;
//! a `Stem` made otherwise signs only with [`Stem::with_signing`](crate::Stem::with_signing).

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use hmac::{KeyInit as _, Mac as _};

use crate::envelope::Envelope;
use crate::error::{Error, Result};

/// The header of an envelope's signature (base64).
pub const SIGNATURE_HEADER: &str = "stem-signature";
/// The header of the id of the key that made it.
pub const KEY_HEADER: &str = "stem-signature-key";

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// One key.
#[derive(Clone)]
enum Key {
    Hmac(Vec<u8>),
    Ed25519 { public: VerifyingKey, private: Option<Box<SigningKey>> },
}

/// The keys that sign and verify envelopes. Its `Debug` shows key ids only.
#[derive(Clone)]
pub struct Signing {
    keys: BTreeMap<String, Key>,
    active: Option<String>,
}

impl fmt::Debug for Signing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signing")
            .field("keys", &self.keys.keys().collect::<Vec<_>>())
            .field("active", &self.active)
            .finish()
    }
}

impl Signing {
    /// HMAC-SHA256 with `keys` (id, secret); new signatures with `active`.
    pub fn hmac<I, S>(keys: I, active: &str) -> Result<Self>
    where
        I: IntoIterator<Item = (S, Vec<u8>)>,
        S: Into<String>,
    {
        let keys = keys.into_iter().map(|(id, secret)| (id.into(), Key::Hmac(secret))).collect();
        Self::checked(keys, Some(active.to_owned()))
    }

    /// Ed25519: `public` keys (id, 32 bytes) verify; `private` ones (id, 32
    /// bytes of secret key) sign, and must belong to the public key of their
    /// id where one is listed; new signatures with `active`, if any (a worker
    /// that only verifies needs none).
    pub fn ed25519<I, J, S>(public: I, private: J, active: Option<&str>) -> Result<Self>
    where
        I: IntoIterator<Item = (S, Vec<u8>)>,
        J: IntoIterator<Item = (S, Vec<u8>)>,
        S: Into<String>,
    {
        let mut keys = BTreeMap::new();
        for (id, bytes) in public {
            let id = id.into();
            keys.insert(id.clone(), ed_public_key(&id, &bytes)?);
        }
        for (id, bytes) in private {
            let id = id.into();
            let key = ed_private_key(&id, &bytes, keys.get(&id))?;
            keys.insert(id, key);
        }
        Self::checked(keys, active.map(str::to_owned))
    }

    /// Checks that the active key, if any, is listed and can sign.
    fn checked(keys: BTreeMap<String, Key>, active: Option<String>) -> Result<Self> {
        if let Some(id) = &active {
            match keys.get(id) {
                None => {
                    let known: Vec<&String> = keys.keys().collect();
                    return Err(Error::Config(format!("the active key `{id}` is not among the keys {known:?}")));
                }
                Some(Key::Ed25519 { private: None, .. }) => {
                    return Err(Error::Config(format!("the active key `{id}` has no private key to sign with")));
                }
                Some(_) => {}
            }
        }
        Ok(Self { keys, active })
    }

    /// The configuration of the environment, as the reference names it;
    /// `None` when `STEM_SIGNING_KEYS` and `STEM_SIGNING_PUBLIC_KEYS` are both
    /// unset (no signing). `STEM_SIGNING_ALGORITHM`: `hmac-sha256` (default)
    /// or `ed25519`; `STEM_SIGNING_KEYS` (HMAC) / `STEM_SIGNING_PUBLIC_KEYS`
    /// and `STEM_SIGNING_PRIVATE_KEYS` (Ed25519): `id:base64,id:base64`;
    /// `STEM_SIGNING_ACTIVE_KEY`: the id new signatures use (required for
    /// HMAC, and for Ed25519 where private keys are given).
    pub fn from_env() -> Result<Option<Self>> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) with the variables `var` gives.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Option<Self>> {
        let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let algorithm = get("STEM_SIGNING_ALGORITHM").unwrap_or_else(|| "hmac-sha256".to_owned());
        let active = get("STEM_SIGNING_ACTIVE_KEY");
        match algorithm.as_str() {
            "hmac-sha256" => {
                let Some(keys) = get("STEM_SIGNING_KEYS") else { return Ok(None) };
                let keys = parse_keys("STEM_SIGNING_KEYS", &keys)?;
                let active = active.ok_or_else(|| {
                    Error::Config("STEM_SIGNING_ACTIVE_KEY is not set: name the key id new signatures use".to_owned())
                })?;
                Self::hmac(keys, &active).map_err(|e| named("STEM_SIGNING_ACTIVE_KEY", e)).map(Some)
            }
            "ed25519" => {
                let Some(public) = get("STEM_SIGNING_PUBLIC_KEYS") else { return Ok(None) };
                let mut keys = BTreeMap::new();
                for (id, bytes) in parse_keys("STEM_SIGNING_PUBLIC_KEYS", &public)? {
                    let key = ed_public_key(&id, &bytes).map_err(|e| named("STEM_SIGNING_PUBLIC_KEYS", e))?;
                    keys.insert(id, key);
                }
                let private = match get("STEM_SIGNING_PRIVATE_KEYS") {
                    Some(private) => parse_keys("STEM_SIGNING_PRIVATE_KEYS", &private)?,
                    None => Vec::new(),
                };
                for (id, bytes) in &private {
                    let key =
                        ed_private_key(id, bytes, keys.get(id)).map_err(|e| named("STEM_SIGNING_PRIVATE_KEYS", e))?;
                    keys.insert(id.clone(), key);
                }
                // A worker that only verifies needs no active key, and one
                // shared with producers in its environment is not its business.
                let active = if private.is_empty() {
                    None
                } else {
                    Some(active.ok_or_else(|| {
                        Error::Config(
                            "STEM_SIGNING_ACTIVE_KEY is not set: name the key id new signatures use (private keys \
                             are given)"
                                .to_owned(),
                        )
                    })?)
                };
                Self::checked(keys, active).map_err(|e| named("STEM_SIGNING_ACTIVE_KEY", e)).map(Some)
            }
            other => Err(Error::Config(format!("STEM_SIGNING_ALGORITHM is `{other}`: use `hmac-sha256` or `ed25519`"))),
        }
    }

    /// Whether it can sign (it has an active key).
    pub fn signs(&self) -> bool {
        self.active.is_some()
    }

    /// Signs `envelope` with the active key (replacing any signature); an
    /// error without one.
    pub fn sign(&self, envelope: &mut Envelope) -> Result<()> {
        let Some(id) = &self.active else {
            return Err(Error::Config("this Stem verifies signatures but has no active key to sign with".to_owned()));
        };
        let content = signed_content(envelope)?;
        let signature = match &self.keys[id] {
            Key::Hmac(secret) => {
                let mut mac =
                    HmacSha256::new_from_slice(secret).map_err(|e| Error::Config(format!("key `{id}`: {e}")))?;
                mac.update(&content);
                mac.finalize().into_bytes().to_vec()
            }
            Key::Ed25519 { private: Some(key), .. } => key.sign(&content).to_bytes().to_vec(),
            Key::Ed25519 { private: None, .. } => {
                return Err(Error::Config(format!("key `{id}` has no private key to sign with")));
            }
        };
        envelope.headers.insert(SIGNATURE_HEADER.to_owned(), BASE64.encode(signature));
        envelope.headers.insert(KEY_HEADER.to_owned(), id.clone());
        Ok(())
    }

    /// Checks `envelope`'s signature; why not, naming the key id, if it fails.
    pub fn verify(&self, envelope: &Envelope) -> std::result::Result<(), String> {
        let Some(id) = envelope.headers.get(KEY_HEADER) else {
            return Err("signature-invalid: the envelope is not signed".to_owned());
        };
        let Some(key) = self.keys.get(id) else {
            return Err(format!("signature-invalid: key `{id}` is not among the accepted keys"));
        };
        let signature = envelope
            .headers
            .get(SIGNATURE_HEADER)
            .and_then(|s| BASE64.decode(s).ok())
            .ok_or_else(|| format!("signature-invalid: key `{id}`: the signature is missing or not base64"))?;
        let content = signed_content(envelope).map_err(|e| format!("signature-invalid: key `{id}`: {e}"))?;
        let valid = match key {
            Key::Hmac(secret) => HmacSha256::new_from_slice(secret)
                .map(|mut mac| {
                    mac.update(&content);
                    mac.verify_slice(&signature).is_ok()
                })
                .unwrap_or(false),
            Key::Ed25519 { public, .. } => ed25519_dalek::Signature::from_slice(&signature)
                .map(|signature| public.verify_strict(&content, &signature).is_ok())
                .unwrap_or(false),
        };
        if valid { Ok(()) } else { Err(format!("signature-invalid: key `{id}`: the signature does not match")) }
    }
}

/// The bytes a signature covers: the envelope as JSON, with the fields a
/// broker changes on a retry reset and the signature headers left out.
fn signed_content(envelope: &Envelope) -> Result<Vec<u8>> {
    let mut covered = envelope.clone();
    covered.attempt = 0;
    covered.not_before = None;
    covered.headers.remove(SIGNATURE_HEADER);
    covered.headers.remove(KEY_HEADER);
    covered.headers.remove(crate::rate::SLOT_HEADER);
    serde_json::to_vec(&covered).map_err(|e| Error::Config(format!("the envelope does not encode: {e}")))
}

/// The Ed25519 public key `id`, from its 32 bytes.
fn ed_public_key(id: &str, bytes: &[u8]) -> Result<Key> {
    let bytes: [u8; 32] =
        bytes.try_into().map_err(|_| Error::Config(format!("public key `{id}`: {} bytes, not 32", bytes.len())))?;
    let public = VerifyingKey::from_bytes(&bytes)
        .map_err(|_| Error::Config(format!("public key `{id}`: not a point of the Ed25519 curve")))?;
    Ok(Key::Ed25519 { public, private: None })
}

/// The Ed25519 private key `id`, from its 32 bytes of secret key; it must
/// belong to `listed`, the public key of that id, if one is listed.
fn ed_private_key(id: &str, bytes: &[u8], listed: Option<&Key>) -> Result<Key> {
    let secret: [u8; 32] =
        bytes.try_into().map_err(|_| Error::Config(format!("private key `{id}`: {} bytes, not 32", bytes.len())))?;
    let signing = SigningKey::from_bytes(&secret);
    let public = signing.verifying_key();
    if let Some(Key::Ed25519 { public: listed, .. }) = listed
        && *listed != public
    {
        return Err(Error::Config(format!(
            "private key `{id}` does not belong to the public key listed under that id: workers would refuse \
             its signatures"
        )));
    }
    Ok(Key::Ed25519 { public, private: Some(Box::new(signing)) })
}

/// `id:base64,id:base64` of variable `name`.
fn parse_keys(name: &str, value: &str) -> Result<Vec<(String, Vec<u8>)>> {
    value
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (id, key) = entry
                .split_once(':')
                .ok_or_else(|| Error::Config(format!("{name}: an entry is not `id:base64` (its id is missing)")))?;
            let bytes = BASE64
                .decode(key.trim())
                .map_err(|_| Error::Config(format!("{name}: the key of `{}` is not base64", id.trim())))?;
            Ok((id.trim().to_owned(), bytes))
        })
        .collect()
}

/// `error` with the variable(s) it came from.
fn named(variable: &str, error: Error) -> Error {
    match error {
        Error::Config(why) => Error::Config(format!("{variable}: {why}")),
        other => other,
    }
}
