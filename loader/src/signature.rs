//! Artifact signatures: trusted keys, key files, and checking the
//! [`SECTION_SIGNATURE`](wasmc_abi::artifact::SECTION_SIGNATURE) of an
//! artifact (no unsafe code).
//!
//! A signature is Ed25519 over the whole file with the contents of the
//! checksum and signature sections zeroed. The compiler signs
//! (`wasmc compile --sign`); the loader verifies against a set of
//! [`TrustedKeys`] and refuses unsigned files, files signed by other keys,
//! and files changed after signing, each with its own [`LoadError`].
//!
//! Key files are one line of text: a header word, a space, and the 32 key
//! bytes as 64 lowercase hex digits: `wasmc-ed25519-public <hex>` for a
//! public key (`NAME.pub`), `wasmc-ed25519-secret <hex>` for a secret key
//! (`NAME.key`, written mode 0600 by `wasmc keygen`).

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};
use wasmc_abi::artifact::{ED25519_SIGNATURE_LEN, KEY_ID_LEN, SIGNATURE_LEN};

use crate::artifact::FileRange;
use crate::error::LoadError;

/// First word of a public key file.
pub const PUBLIC_KEY_HEADER: &str = "wasmc-ed25519-public";
/// First word of a secret key file.
pub const SECRET_KEY_HEADER: &str = "wasmc-ed25519-secret";

/// The short id of a public key stored in a signature: the first
/// [`KEY_ID_LEN`] bytes of SHA-256 of the 32 key bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; KEY_ID_LEN]);

impl KeyId {
    /// The id of the public key `key`.
    pub fn of(key: &[u8; 32]) -> KeyId {
        let digest = Sha256::digest(key);
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        KeyId(id)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// Why a key file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The file could not be read.
    #[error("cannot read key file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file is not a key file of the expected kind.
    #[error("{}: not a wasmc key file: expected one line `{header} <64 hex digits>`", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// The header word expected.
        header: &'static str,
    },
    /// The bytes are not a valid Ed25519 public key.
    #[error("{}: not a valid Ed25519 public key", path.display())]
    InvalidKey {
        /// The file.
        path: PathBuf,
    },
}

/// Parses the text of a key file whose first word is `header`.
pub fn parse_key_text(text: &str, header: &str) -> Option<[u8; 32]> {
    let (word, hex) = text.trim_end().split_once(' ')?;
    if word != header || hex.len() != 64 {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(key)
}

/// The text of a key file: `header`, a space, the key in hex, a newline.
pub fn key_text(header: &str, key: &[u8; 32]) -> String {
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    format!("{header} {hex}\n")
}

/// Reads the key file at `path`, whose first word must be `header`.
pub fn read_key_file(path: &Path, header: &'static str) -> Result<[u8; 32], KeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io { path: path.to_path_buf(), source })?;
    parse_key_text(&text, header).ok_or_else(|| KeyError::Format { path: path.to_path_buf(), header })
}

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

/// The key id in a signature section's contents, or `None` when the
/// artifact is unsigned (all zero). Malformed contents are an error.
pub(crate) fn signer(contents: &[u8]) -> Result<Option<KeyId>, LoadError> {
    if contents.len() != SIGNATURE_LEN {
        return Err(LoadError::Corrupt(format!(
            "signature section is {} bytes, expected {SIGNATURE_LEN}",
            contents.len()
        )));
    }
    if contents.iter().all(|&b| b == 0) {
        return Ok(None);
    }
    if contents[KEY_ID_LEN + ED25519_SIGNATURE_LEN..].iter().any(|&b| b != 0) {
        return Err(LoadError::Corrupt("the signature section's reserved bytes are not zero".into()));
    }
    let mut id = [0u8; KEY_ID_LEN];
    id.copy_from_slice(&contents[..KEY_ID_LEN]);
    Ok(Some(KeyId(id)))
}

/// The message a signature covers: `file` with the contents of the checksum
/// section (`sum`) and of the signature section (`sig`) zeroed. Both ranges
/// must lie inside `file`.
pub fn signed_message(file: &[u8], sum: Range<usize>, sig: Range<usize>) -> Vec<u8> {
    let mut message = file.to_vec();
    message[sum].fill(0);
    message[sig].fill(0);
    message
}

/// Checks the signature of `file` (whose checksum and signature sections lie
/// at `sum` and `sig`, inside the file) against `keys`.
pub(crate) fn verify(file: &[u8], sum: FileRange, sig: FileRange, keys: &TrustedKeys) -> Result<KeyId, LoadError> {
    let contents = &file[sig.offset..sig.end()];
    let id = signer(contents)?.ok_or(LoadError::Unsigned)?;
    let key = keys.get(id).ok_or(LoadError::UntrustedKey { key_id: id })?;
    let mut bytes = [0u8; ED25519_SIGNATURE_LEN];
    bytes.copy_from_slice(&contents[KEY_ID_LEN..KEY_ID_LEN + ED25519_SIGNATURE_LEN]);
    let signature = Signature::from_bytes(&bytes);
    key.verify_strict(&signed_message(file, sum.offset..sum.end(), sig.offset..sig.end()), &signature)
        .map_err(|_| LoadError::BadSignature { key_id: id })?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_text_round_trips_and_rejects_garbage() {
        let key = [0xa5u8; 32];
        let text = key_text(PUBLIC_KEY_HEADER, &key);
        assert_eq!(parse_key_text(&text, PUBLIC_KEY_HEADER), Some(key));
        assert_eq!(parse_key_text(&text, SECRET_KEY_HEADER), None);
        assert_eq!(parse_key_text(&text[..text.len() - 3], PUBLIC_KEY_HEADER), None);
        assert_eq!(parse_key_text("wasmc-ed25519-public zz", PUBLIC_KEY_HEADER), None);
        let non_ascii = format!("{PUBLIC_KEY_HEADER} {}é", "0".repeat(62));
        assert_eq!(parse_key_text(&non_ascii, PUBLIC_KEY_HEADER), None);
    }

    #[test]
    fn signer_reads_the_key_id_and_refuses_malformed_sections() {
        assert!(matches!(signer(&[0; SIGNATURE_LEN]), Ok(None)));
        let mut s = [0u8; SIGNATURE_LEN];
        s[0] = 7;
        assert_eq!(signer(&s).unwrap(), Some(KeyId([7, 0, 0, 0, 0, 0, 0, 0])));
        s[SIGNATURE_LEN - 1] = 1;
        assert!(matches!(signer(&s), Err(LoadError::Corrupt(_))));
        assert!(matches!(signer(&s[..10]), Err(LoadError::Corrupt(_))));
    }
}
