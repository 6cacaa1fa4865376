//! Damaged, truncated and foreign artifacts are refused with an error that
//! names the cause, never a crash.

mod common;

use wasmc::{compile, CompileOptions};
use wasmc_abi::artifact::SECTION_META;
use wasmc_loader::{BoundsChecks, LoadError, Module};

const WAT: &str = r#"(module (memory 1) (data (i32.const 0) "abc")
  (func (export "f") (param i32) (result i32) (i32.add (local.get 0) (i32.load8_u (i32.const 1)))))"#;

#[test]
fn a_good_artifact_loads_from_bytes_and_from_a_file() {
    let bytes = common::artifact(WAT, BoundsChecks::Guard);
    common::load(&bytes).unwrap();
    let dir = std::env::temp_dir().join(format!("wasmc-artifact-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("f.cwasm");
    std::fs::write(&path, &bytes).unwrap();
    // SAFETY: the test compiled this artifact itself.
    let module = unsafe { Module::from_file(&path) }.unwrap();
    assert_eq!(module.exports().count(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_truncation_is_refused() {
    let bytes = common::artifact(WAT, BoundsChecks::Guard);
    let step = (bytes.len() / 200).max(1);
    for len in (0..bytes.len()).step_by(step).chain([bytes.len() - 1]) {
        assert!(common::load(&bytes[..len]).is_err(), "a {len}-byte prefix loaded");
    }
}

#[test]
fn flipped_bytes_are_caught_by_the_checksum() {
    let bytes = common::artifact(WAT, BoundsChecks::Guard);
    let step = (bytes.len() / 300).max(1);
    for i in (0..bytes.len()).step_by(step) {
        let mut damaged = bytes.clone();
        damaged[i] ^= 0x5a;
        match common::load(&damaged) {
            Err(_) => {}
            Ok(_) => panic!("flipping byte {i} went unnoticed"),
        }
    }
    // A flip in the code itself is reported as a checksum mismatch.
    let elf = object::read::File::parse(&*bytes).unwrap();
    let text = object::Object::section_by_name(&elf, ".text").unwrap();
    let (offset, _) = object::ObjectSection::file_range(&text).unwrap();
    let mut damaged = bytes.clone();
    damaged[offset as usize] ^= 1;
    assert!(matches!(common::load(&damaged), Err(LoadError::Checksum { .. })));
}

#[test]
fn random_files_are_refused() {
    assert!(common::load(b"").is_err());
    assert!(common::load(b"\0asm\x01\0\0\0").is_err());
    assert!(common::load(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]).is_err());
    let mut noise = vec![0u8; 4096];
    let mut x = 12345u32;
    for b in noise.iter_mut() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    assert!(common::load(&noise).is_err());
}

#[test]
fn an_artifact_for_another_architecture_is_refused() {
    let foreign = match wasmc_targets::host_arch() {
        wasmc_targets::Arch::X86_64 => "graviton2",
        wasmc_targets::Arch::Aarch64 => "x86_64",
    };
    let options =
        CompileOptions { target: wasmc_targets::resolve(Some(foreign)).unwrap(), ..CompileOptions::default() };
    let bytes = compile(&wat::parse_str(WAT).unwrap(), &options).unwrap();
    match common::load(&bytes) {
        Err(e @ LoadError::WrongArchitecture { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("aarch64") || msg.contains("x86_64"), "{msg}");
        }
        other => panic!("expected a wrong-architecture error, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn metadata_section_exists_under_its_contract_name() {
    let bytes = common::artifact(WAT, BoundsChecks::Explicit);
    let elf = object::read::File::parse(&*bytes).unwrap();
    assert!(object::Object::section_by_name(&elf, SECTION_META).is_some());
}
