//! Artifact parsing and signature checks on hand-built ELF bytes: pure
//! Rust, no mapping, so these also run under Miri (`scripts/miri`).

#[path = "../tests/common/mod.rs"]
mod common;

use ed25519_dalek::{Signer, SigningKey};
use wasmc_abi::artifact::{SECTION_CHECKSUM, SECTION_SIGNATURE, SECTION_TEXT};
use wasmc_artifact::checksum;
use wasmc_artifact::sections::ArtifactFile;
use wasmc_artifact::signature::{signed_message, SignatureSection};

use super::{read, Checksum};
use crate::error::LoadError;
use crate::signature::{KeyId, TrustedKeys};

fn artifact() -> Vec<u8> {
    let (meta, text, data) = common::tiny_module();
    common::Parts::new(meta, text, data).build()
}

fn range(bytes: &[u8], name: &'static str) -> std::ops::Range<usize> {
    ArtifactFile::parse(bytes).unwrap().section(name).unwrap()
}

fn sign(bytes: &[u8], key: &SigningKey) -> Vec<u8> {
    let (sum, sig) = (range(bytes, SECTION_CHECKSUM), range(bytes, SECTION_SIGNATURE));
    let signature = key.sign(&signed_message(bytes, sum, sig.clone()));
    let section =
        SignatureSection { key_id: KeyId::of(&key.verifying_key().to_bytes()), signature: signature.to_bytes() };
    let mut out = bytes.to_vec();
    out[sig].copy_from_slice(&section.encode());
    checksum::fill(&mut out).unwrap();
    out
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
        if checksum::fill(&mut damaged).is_ok() {
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
    let text = range(&tampered, SECTION_TEXT);
    tampered[text.start] ^= 1;
    checksum::fill(&mut tampered).unwrap();
    assert!(matches!(read(&tampered, Checksum::Signed(&trusted)), Err(LoadError::BadSignature { .. })));
}

#[test]
fn a_malformed_signature_section_is_corrupt_even_unsigned_loads() {
    let mut bytes = artifact();
    let sig = range(&bytes, SECTION_SIGNATURE);
    bytes[sig.start] = 7;
    bytes[sig.end - 1] = 1; // a reserved byte
    checksum::fill(&mut bytes).unwrap();
    assert!(matches!(read(&bytes, Checksum::Verify), Err(LoadError::Corrupt(_))));
}
