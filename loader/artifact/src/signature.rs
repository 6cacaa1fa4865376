//! What an artifact signature covers and how `.wasmc.sig` holds it (no
//! cryptography here: the compiler signs with Ed25519, the loader
//! verifies).
//!
//! The signature section is [`SIGNATURE_LEN`] bytes: all zero when the
//! artifact is unsigned; otherwise the signer's [`KeyId`], the Ed25519
//! signature of [`signed_message`], and reserved bytes that must be zero.

use std::ops::Range;

use wasmc_abi::artifact::{ED25519_SIGNATURE_LEN, KEY_ID_LEN, SIGNATURE_LEN};

use crate::keys::KeyId;
use crate::sections::FormatError;

/// The message a signature covers: `file` with the contents of the checksum
/// section (`sum`) and of the signature section (`sig`) zeroed. So signing
/// changes neither, and the checksum is computed after signing.
///
/// # Panics
/// If either range is not inside `file` (ranges from
/// [`ArtifactFile::section`](crate::sections::ArtifactFile::section) are).
pub fn signed_message(file: &[u8], sum: Range<usize>, sig: Range<usize>) -> Vec<u8> {
    let mut message = file.to_vec();
    message[sum].fill(0);
    message[sig].fill(0);
    message
}

/// The contents of a signed artifact's signature section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignatureSection {
    /// The id of the public key that verifies the signature.
    pub key_id: KeyId,
    /// The Ed25519 signature of [`signed_message`].
    pub signature: [u8; ED25519_SIGNATURE_LEN],
}

impl SignatureSection {
    /// The section's bytes.
    pub fn encode(&self) -> [u8; SIGNATURE_LEN] {
        let mut bytes = [0u8; SIGNATURE_LEN];
        bytes[..KEY_ID_LEN].copy_from_slice(&self.key_id.0);
        bytes[KEY_ID_LEN..KEY_ID_LEN + ED25519_SIGNATURE_LEN].copy_from_slice(&self.signature);
        bytes
    }

    /// Reads a signature section's `contents`: `None` when the artifact is
    /// unsigned (all zero).
    ///
    /// # Errors
    /// [`FormatError::Corrupt`] for a section of the wrong size or with
    /// reserved bytes that are not zero.
    pub fn decode(contents: &[u8]) -> Result<Option<SignatureSection>, FormatError> {
        if contents.len() != SIGNATURE_LEN {
            return Err(FormatError::Corrupt(format!(
                "signature section is {} bytes, expected {SIGNATURE_LEN}",
                contents.len()
            )));
        }
        if contents.iter().all(|&b| b == 0) {
            return Ok(None);
        }
        if contents[KEY_ID_LEN + ED25519_SIGNATURE_LEN..].iter().any(|&b| b != 0) {
            return Err(FormatError::Corrupt("the signature section's reserved bytes are not zero".into()));
        }
        let mut key_id = [0u8; KEY_ID_LEN];
        key_id.copy_from_slice(&contents[..KEY_ID_LEN]);
        let mut signature = [0u8; ED25519_SIGNATURE_LEN];
        signature.copy_from_slice(&contents[KEY_ID_LEN..KEY_ID_LEN + ED25519_SIGNATURE_LEN]);
        Ok(Some(SignatureSection { key_id: KeyId(key_id), signature }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_round_trips_and_malformed_ones_are_refused() {
        assert_eq!(SignatureSection::decode(&[0; SIGNATURE_LEN]), Ok(None));
        let section =
            SignatureSection { key_id: KeyId([7, 0, 0, 0, 0, 0, 0, 1]), signature: [3; ED25519_SIGNATURE_LEN] };
        let mut bytes = section.encode();
        assert_eq!(SignatureSection::decode(&bytes), Ok(Some(section)));
        bytes[SIGNATURE_LEN - 1] = 1;
        assert!(matches!(SignatureSection::decode(&bytes), Err(FormatError::Corrupt(_))));
        assert!(matches!(SignatureSection::decode(&bytes[..10]), Err(FormatError::Corrupt(_))));
    }

    #[test]
    fn the_signed_message_zeroes_both_sections_only() {
        let file = [1u8; 12];
        assert_eq!(signed_message(&file, 2..4, 8..10), [1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1]);
    }
}
