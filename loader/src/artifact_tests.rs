//! Artifact parsing and signature checks on hand-built ELF bytes: pure
//! Rust, no mapping, so these also run under Miri (`scripts/miri`).

#[path = "../tests/common/mod.rs"]
mod common;

use ed25519_dalek::{Signer, SigningKey};
use object::{Object as _, ObjectSection as _};
use wasmc_abi::artifact::{KEY_ID_LEN, SECTION_CHECKSUM, SECTION_SIGNATURE};

use super::{read, Checksum};
use crate::error::LoadError;
use crate::signature::{signed_message, KeyId, TrustedKeys};

fn artifact() -> Vec<u8> {
    let (meta, text, data) = common::tiny_module();
    common::Parts::new(meta, text, data).build()
}

fn range(bytes: &[u8], name: &str) -> std::ops::Range<usize> {
    let file = object::File::parse(bytes).unwrap();
    let (start, len) = file.section_by_name(name).unwrap().file_range().unwrap();
    start as usize..(start + len) as usize
}

fn sign(bytes: &[u8], key: &SigningKey) -> Vec<u8> {
    let (sum, sig) = (range(bytes, SECTION_CHECKSUM), range(bytes, SECTION_SIGNATURE));
    let signature = key.sign(&signed_message(bytes, sum, sig.clone()));
    let mut out = bytes.to_vec();
    out[sig.start..sig.start + KEY_ID_LEN].copy_from_slice(&KeyId::of(&key.verifying_key().to_bytes()).0);
    out[sig.start + KEY_ID_LEN..sig.start + KEY_ID_LEN + 64].copy_from_slice(&signature.to_bytes());
    common::fill_checksum(&mut out);
    out
}

/// Stores a correct checksum if the section can still be found.
fn try_fill_checksum(bytes: &mut [u8]) -> bool {
    let Ok(file) = object::File::parse(&*bytes) else { return false };
    let Some((start, 8)) = file.section_by_name(SECTION_CHECKSUM).and_then(|s| s.file_range()) else { return false };
    let Some(sum) = usize::try_from(start).ok().filter(|&s| s + 8 <= bytes.len()) else { return false };
    bytes[sum..sum + 8].fill(0);
    let crc = crc32fast::hash(bytes);
    bytes[sum..sum + 4].copy_from_slice(&crc.to_le_bytes());
    true
}

/// Every `step`-th prefix; all of them outside Miri.
fn step() -> usize {
    if cfg!(miri) {
        4099
    } else {
        1
    }
}

#[test]
fn truncated_and_flipped_artifacts_are_errors() {
    let bytes = artifact();
    assert!(read(&bytes, Checksum::Verify).is_ok());
    for len in (0..bytes.len()).step_by(step()) {
        assert!(read(&bytes[..len], Checksum::Verify).is_err(), "a {len}-byte prefix was accepted");
        let _ = read(&bytes[..len], Checksum::Skip);
    }
    for at in (0..bytes.len()).step_by(step() * 7 + 13) {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x55;
        assert!(read(&damaged, Checksum::Verify).is_err(), "a flip at {at} was accepted");
        // With a forged checksum, structural checks alone must hold (no panic).
        if try_fill_checksum(&mut damaged) {
            let _ = read(&damaged, Checksum::Verify);
        }
    }
}

#[test]
#[cfg_attr(miri, ignore = "Ed25519 interpreted takes minutes; covered natively")]
fn signatures_are_checked_against_trusted_keys() {
    let key = SigningKey::from_bytes(&[7; 32]);
    let other = SigningKey::from_bytes(&[9; 32]);
    let mut trusted = TrustedKeys::new();
    trusted.add(key.verifying_key().to_bytes()).unwrap();
    let unsigned = artifact();
    let signed = sign(&unsigned, &key);
    assert!(read(&signed, Checksum::Signed(&trusted)).is_ok());
    assert!(matches!(read(&unsigned, Checksum::Signed(&trusted)), Err(LoadError::Unsigned)));
    assert!(matches!(read(&sign(&unsigned, &other), Checksum::Signed(&trusted)), Err(LoadError::UntrustedKey { .. })));
    let mut tampered = signed.clone();
    let text = range(&tampered, ".text");
    tampered[text.start] ^= 1;
    common::fill_checksum(&mut tampered);
    assert!(matches!(read(&tampered, Checksum::Signed(&trusted)), Err(LoadError::BadSignature { .. })));
}
