//! Artifact signatures: trusted keys and checking the
//! [`SECTION_SIGNATURE`](wasmc_abi::artifact::SECTION_SIGNATURE) of an
//! artifact (no unsafe code).
//!
//! A signature is Ed25519 over the whole file with the contents of the
//! checksum and signature sections zeroed. The compiler signs
//! (`wasmc compile --sign`); the loader verifies against a set of
//! [`TrustedKeys`] and refuses unsigned files, files signed by other keys,
//! and files changed after signing, each with its own [`LoadError`].
//!
//! The signed message, the section's layout, key ids and the key-file
//! format are [`wasmc_artifact`]'s, shared with the compiler.

use std::path::Path;

use ed25519_dalek::{Signature, VerifyingKey};
use wasmc_artifact::keys::{read_key_file, PUBLIC_KEY_HEADER};
use wasmc_artifact::signature::{signed_message, SignatureSection};
pub use wasmc_artifact::{KeyError, KeyId};

use crate::artifact::{format_error, FileRange};
use crate::error::LoadError;

/// The public keys whose signatures a signed load accepts.
#[derive(Clone, Debug, Default)]
pub struct TrustedKeys {
    keys: Vec<(KeyId, VerifyingKey)>,
}

impl TrustedKeys {
    /// An empty set: every artifact is refused.
    pub fn new() -> TrustedKeys {
        TrustedKeys::default()
    }

    /// Adds a public key given as its 32 bytes; `None` if they are not a
    /// valid Ed25519 point.
    pub fn add(&mut self, key: [u8; 32]) -> Option<KeyId> {
        let verifying = VerifyingKey::from_bytes(&key).ok()?;
        let id = KeyId::of(&key);
        if !self.keys.iter().any(|(k, _)| *k == id) {
            self.keys.push((id, verifying));
        }
        Some(id)
    }

    /// Reads public key files (`NAME.pub`, as written by `wasmc keygen`).
    pub fn from_pub_files<P: AsRef<Path>>(paths: impl IntoIterator<Item = P>) -> Result<TrustedKeys, KeyError> {
        let mut keys = TrustedKeys::new();
        for path in paths {
            let path = path.as_ref();
            let key = read_key_file(path, PUBLIC_KEY_HEADER)?;
            keys.add(key).ok_or_else(|| KeyError::InvalidKey { path: path.to_path_buf() })?;
        }
        Ok(keys)
    }

    /// The ids of the trusted keys.
    pub fn ids(&self) -> impl Iterator<Item = KeyId> + '_ {
        self.keys.iter().map(|(id, _)| *id)
    }

    fn get(&self, id: KeyId) -> Option<&VerifyingKey> {
        self.keys.iter().find(|(k, _)| *k == id).map(|(_, v)| v)
    }
}

/// Checks the signature of `file` (whose checksum and signature sections lie
/// at `sum` and `sig`, inside the file) against `keys`.
pub(crate) fn verify(file: &[u8], sum: FileRange, sig: FileRange, keys: &TrustedKeys) -> Result<KeyId, LoadError> {
    let section = SignatureSection::decode(&file[sig.range()]).map_err(format_error)?.ok_or(LoadError::Unsigned)?;
    let id = section.key_id;
    let key = keys.get(id).ok_or(LoadError::UntrustedKey { key_id: id })?;
    let signature = Signature::from_bytes(&section.signature);
    key.verify_strict(&signed_message(file, sum.range(), sig.range()), &signature)
        .map_err(|_| LoadError::BadSignature { key_id: id })?;
    Ok(id)
}
