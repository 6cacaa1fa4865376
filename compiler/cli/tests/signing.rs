//! Artifact signatures through both binaries: `wasmc keygen`, `wasmc
//! compile --sign`, and `wasmc run`/`wasmrun --trust` accepting only
//! artifacts signed by trusted keys (the API side is compiler/tests/signing.rs).

mod common;

use common::{code_byte, fix_checksum, text, wasmc, wasmrun};

use std::path::{Path, PathBuf};

use wasmc::sign::{generate, write_key_pair};

const ADD: &str = r#"(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))"#;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wasmc-sign-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

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
