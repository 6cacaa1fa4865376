//! Artifact signatures: keygen, signing, and signed loads that accept only
//! artifacts signed by trusted keys, through the API and both binaries.

mod common;

use common::{text, wasmc, wasmrun};

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

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

/// Offset of the byte in the middle of the text section (machine code).
fn code_byte(artifact: &[u8]) -> usize {
    use object::{Object as _, ObjectSection as _};
    let file = object::File::parse(artifact).unwrap();
    let (offset, _) = file.section_by_name(".text").unwrap().file_range().unwrap();
    offset as usize + 1
}

/// Stores a correct CRC for `bytes`, as a forger would.
fn fix_checksum(bytes: &mut [u8]) {
    wasmc_artifact::checksum::fill(bytes).unwrap();
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

// --- through the binaries -------------------------------------------------

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Runs `add 20 22` through `wasmc run` and `wasmrun` trusting `keys`;
/// returns (wasmc stdout+stderr, wasmrun stdout+stderr), each checked for a
/// clean exit status.
fn run_both(artifact: &Path, keys: &[&Path], ok: bool) -> [String; 2] {
    let mut args: Vec<&str> = vec!["--invoke", "add"];
    for k in keys {
        args.extend(["--trust", p(k)]);
    }
    args.extend([p(artifact), "20", "22"]);
    let mut run_args = vec!["run"];
    run_args.extend(&args);
    [wasmc(&run_args), wasmrun(&args)].map(|out| {
        assert_eq!(out.status.code(), Some(if ok { 0 } else { 1 }), "{}", text(&out.stderr));
        let err = text(&out.stderr);
        assert!(!err.contains("panicked"), "{err}");
        format!("{}{err}", text(&out.stdout))
    })
}

#[test]
fn keygen_sign_and_trust_through_the_binaries() {
    let dir = scratch("cli");
    let out = wasmc(&["keygen", "-o", p(&dir.join("team"))]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("key id"), "{}", text(&out.stdout));
    assert!(wasmc(&["keygen", "-o", p(&dir.join("stranger"))]).status.success());
    let (team_key, team_pub, stranger_pub) = (dir.join("team.key"), dir.join("team.pub"), dir.join("stranger.pub"));

    let wat = dir.join("add.wat");
    std::fs::write(&wat, ADD).unwrap();
    let (signed, unsigned) = (dir.join("signed.cwasm"), dir.join("unsigned.cwasm"));
    let out = wasmc(&["compile", p(&wat), "-o", p(&signed), "--sign", p(&team_key)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(wasmc(&["compile", p(&wat), "-o", p(&unsigned)]).status.success());
    let inspect = text(&wasmc(&["inspect", p(&signed)]).stdout);
    assert!(inspect.contains("signed by:      key"), "{inspect}");

    // Accepted with the right key (among others), and without --trust as before.
    for out in run_both(&signed, &[&stranger_pub, &team_pub], true) {
        assert_eq!(out, "42\n");
    }
    for out in run_both(&unsigned, &[], true) {
        assert_eq!(out, "42\n");
    }
    // Each refusal, with its message.
    for out in run_both(&unsigned, &[&team_pub], false) {
        assert!(out.contains("not signed"), "{out}");
    }
    for out in run_both(&signed, &[&stranger_pub], false) {
        assert!(out.contains("not one of the trusted keys"), "{out}");
    }
    let mut forged = std::fs::read(&signed).unwrap();
    let at = code_byte(&forged);
    forged[at] ^= 0x40;
    fix_checksum(&mut forged);
    let tampered = dir.join("tampered.cwasm");
    std::fs::write(&tampered, forged).unwrap();
    for out in run_both(&tampered, &[&team_pub], false) {
        assert!(out.contains("altered after signing"), "{out}");
    }
    for out in run_both(&signed, &[&team_key], false) {
        assert!(out.contains("not a wasmc key file"), "{out}");
    }
}

#[test]
fn both_binaries_refuse_devices_fifos_and_huge_files_at_once_in_one_line() {
    let dir = scratch("files");
    let (_, public) = write_key_pair(&dir.join("team"), &generate().unwrap()).unwrap();
    let zero = dir.join("zero.cwasm");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let fifo = dir.join("fifo.cwasm");
    let c_fifo = std::ffi::CString::new(p(&fifo)).unwrap();
    // SAFETY: `c_fifo` is a valid C string; the result is checked.
    assert_eq!(unsafe { libc::mkfifo(c_fifo.as_ptr(), 0o600) }, 0);
    let huge = dir.join("huge.cwasm");
    std::fs::File::create(&huge).unwrap().set_len(3 << 30).unwrap();
    for (path, message) in [
        (&zero, "not a regular file (a character device)"),
        (&fifo, "not a regular file (a FIFO)"),
        (&huge, "is 3221225472 bytes, more than the limit of 1073741824 bytes"),
    ] {
        for keys in [&[public.as_path()][..], &[]] {
            let start = std::time::Instant::now();
            for out in run_both(path, keys, false) {
                assert!(out.contains(message), "{}: {out}", path.display());
                assert_eq!(out.lines().count(), 1, "{out}");
            }
            let elapsed = start.elapsed();
            assert!(elapsed < std::time::Duration::from_secs(5), "{}: {elapsed:?}", path.display());
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}
