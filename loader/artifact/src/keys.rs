//! Key ids and key files.
//!
//! Key files are one line of text: a header word, a space, and the 32 key
//! bytes as 64 lowercase hex digits: `wasmc-ed25519-public <hex>` for a
//! public key (`NAME.pub`), `wasmc-ed25519-secret <hex>` for a secret key
//! (`NAME.key`, written mode 0600 by `wasmc keygen`).

use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmc_abi::artifact::KEY_ID_LEN;

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
///
/// # Errors
/// [`KeyError::Io`] when it cannot be read, [`KeyError::Format`] when it is
/// not a key file with that header.
pub fn read_key_file(path: &Path, header: &'static str) -> Result<[u8; 32], KeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io { path: path.to_path_buf(), source })?;
    parse_key_text(&text, header).ok_or_else(|| KeyError::Format { path: path.to_path_buf(), header })
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
}
