//! Artifact signatures: keygen, signing, and signed loads that accept only
//! artifacts signed by trusted keys, through the API (the binaries:
//! compiler/cli/tests/signing.rs).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use common::{code_byte, fix_checksum};
use wasmc::sign::{generate, read_secret_key, sign_artifact, write_key_pair, SecretKey, SignError};
use wasmc::BoundsChecks;
use wasmc_loader::{Instance, Linker, LoadError, Module, Store, TrustedKeys};

const ADD: &str = r#"(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))"#;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wasmc-sign-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn trusting(key: &SecretKey) -> TrustedKeys {
    let mut keys = TrustedKeys::new();
    keys.add(key.public_bytes()).expect("a generated key is a valid point");
    keys
}

fn call_add(module: &Module) -> i32 {
    let mut store = Store::default();
    let instance = Instance::new(&mut store, module, &Linker::new()).unwrap();
    instance.get_typed_func::<(i32, i32), i32>(&store, "add").unwrap().call(&mut store, (20, 22)).unwrap()
}

#[test]
fn a_signed_artifact_loads_and_runs_in_both_modes() {
    let key = generate().unwrap();
    for mode in common::MODES {
        let signed = sign_artifact(&common::artifact(ADD, mode), &key).unwrap();
        let module = Module::from_bytes_signed(&signed, &trusting(&key)).unwrap();
        assert_eq!(call_add(&module), 42);
        // A signed artifact is still an ordinary artifact for unsigned loads.
        assert_eq!(call_add(&common::load(&signed).unwrap()), 42);
        // Deterministic: the same artifact and key give the same bytes.
        assert_eq!(sign_artifact(&common::artifact(ADD, mode), &key).unwrap(), signed);
    }
}

#[test]
fn each_refusal_has_its_own_error() {
    let key = generate().unwrap();
    let other = generate().unwrap();
    let unsigned = common::artifact(ADD, BoundsChecks::Explicit);
    let signed = sign_artifact(&unsigned, &key).unwrap();

    let err = Module::from_bytes_signed(&unsigned, &trusting(&key)).unwrap_err();
    assert!(matches!(err, LoadError::Unsigned), "{err}");
    assert!(err.to_string().contains("not signed"), "{err}");

    let err = Module::from_bytes_signed(&signed, &trusting(&other)).unwrap_err();
    assert!(matches!(err, LoadError::UntrustedKey { key_id } if key_id == key.key_id()), "{err}");
    assert!(err.to_string().contains(&key.key_id().to_string()), "{err}");
    let err = Module::from_bytes_signed(&signed, &TrustedKeys::new()).unwrap_err();
    assert!(matches!(err, LoadError::UntrustedKey { .. }), "{err}");

    // Tampered code with a recomputed CRC: only the signature catches it.
    let mut forged = signed.clone();
    let at = code_byte(&forged);
    forged[at] ^= 0x40;
    fix_checksum(&mut forged);
    let err = Module::from_bytes_signed(&forged, &trusting(&key)).unwrap_err();
    assert!(matches!(err, LoadError::BadSignature { key_id } if key_id == key.key_id()), "{err}");
    assert!(err.to_string().contains("altered after signing"), "{err}");

    // A flipped bit in the signature itself.
    let mut bad_sig = signed.clone();
    {
        use object::{Object as _, ObjectSection as _};
        let file = object::File::parse(&*signed).unwrap();
        let (offset, _) = file.section_by_name(".wasmc.sig").unwrap().file_range().unwrap();
        bad_sig[offset as usize + 20] ^= 1;
    }
    fix_checksum(&mut bad_sig);
    let err = Module::from_bytes_signed(&bad_sig, &trusting(&key)).unwrap_err();
    assert!(matches!(err, LoadError::BadSignature { .. }), "{err}");

    // Damage without a fixed CRC is still reported as damage first.
    let mut damaged = signed.clone();
    let at = code_byte(&damaged);
    damaged[at] ^= 0x40;
    let err = Module::from_bytes_signed(&damaged, &trusting(&key)).unwrap_err();
    assert!(matches!(err, LoadError::Checksum { .. }), "{err}");
}

#[test]
fn key_files_round_trip_and_the_secret_is_private() {
    let dir = scratch("keys");
    let key = generate().unwrap();
    let (secret, public) = write_key_pair(&dir.join("ci"), &key).unwrap();
    assert_eq!(secret, dir.join("ci.key"));
    assert_eq!(std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777, 0o600);
    let again = read_secret_key(&secret).unwrap();
    assert_eq!(again.public_bytes(), key.public_bytes());
    let keys = TrustedKeys::from_pub_files([&public]).unwrap();
    assert_eq!(keys.ids().collect::<Vec<_>>(), vec![key.key_id()]);

    // Never overwritten; a readable secret is refused; a secret is not a public key.
    assert!(matches!(write_key_pair(&dir.join("ci"), &key), Err(SignError::Io { .. })));
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = read_secret_key(&secret).unwrap_err();
    assert!(matches!(err, SignError::Permissions { mode: 0o644, .. }), "{err}");
    assert!(TrustedKeys::from_pub_files([&secret]).is_err());
}

#[test]
fn signed_file_loads_are_copies_checked_before_use() {
    let dir = scratch("file");
    let key = generate().unwrap();
    let path = dir.join("add.cwasm");
    std::fs::write(&path, sign_artifact(&common::artifact(ADD, BoundsChecks::Guard), &key).unwrap()).unwrap();
    let module = Module::from_file_signed(&path, &trusting(&key)).unwrap();
    // Replacing the file after loading cannot change the loaded code.
    std::fs::write(&path, b"not an artifact").unwrap();
    assert_eq!(call_add(&module), 42);
    assert!(matches!(Module::from_file_signed(&path, &trusting(&key)), Err(LoadError::NotElf(_))));
}

#[test]
fn only_intact_artifacts_are_signed() {
    let key = generate().unwrap();
    let artifact = common::artifact(ADD, BoundsChecks::Guard);
    let refused = |bytes: &[u8]| matches!(sign_artifact(bytes, &key), Err(SignError::NotAnArtifact(_)));
    assert!(refused(b"not an artifact"));
    assert!(refused(&artifact[..artifact.len() / 2]));
    let mut damaged = artifact.clone();
    let at = code_byte(&damaged);
    damaged[at] ^= 1;
    assert!(refused(&damaged), "a stale checksum was signed");
    // Signing again (with this key or another) is allowed.
    let signed = sign_artifact(&artifact, &key).unwrap();
    assert!(sign_artifact(&signed, &generate().unwrap()).is_ok());
}
