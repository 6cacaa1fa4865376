//! What a path must be before the loader reads or maps it: a regular file
//! (not `/dev/zero` behind a symlink, not a FIFO, not a directory) no
//! larger than the configured limit, and, for signed loads, one whose ELF
//! header passes before the rest is read. Each refusal comes at once, with
//! its own error, and never blocks or allocates the file's size.

mod common;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{load_file, tiny_module, Parts};
use wasmc_loader::{LoadError, LoadOptions, Module, TrustedKeys, DEFAULT_MAX_ARTIFACT_BYTES};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wasmc-files-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn tiny_artifact() -> Vec<u8> {
    let (meta, text, data) = tiny_module();
    Parts::new(meta, text, data).build()
}

/// Runs `load` on another thread and gives its error as text; fails the
/// test if it takes longer than `limit` (a load that blocks or reads a
/// device for ever must fail the test, not hang it).
fn refused_within(limit: Duration, load: impl FnOnce() -> Result<Module, LoadError> + Send + 'static) -> LoadError {
    let (send, receive) = mpsc::channel();
    let start = Instant::now();
    std::thread::spawn(move || {
        let _ = send.send(load().map(|_| ()));
    });
    match receive.recv_timeout(limit) {
        Ok(Err(e)) => {
            assert!(start.elapsed() < limit, "refused only after {:?}: {e}", start.elapsed());
            e
        }
        Ok(Ok(())) => panic!("the load succeeded"),
        Err(_) => panic!("the load did not return within {limit:?}"),
    }
}

type Load = Box<dyn FnOnce() -> Result<Module, LoadError> + Send>;

/// A signed and an unsigned load of `path`.
fn both_loads(path: &Path) -> [Load; 2] {
    let (p1, p2) = (path.to_path_buf(), path.to_path_buf());
    [Box::new(move || Module::from_file_signed(p1, &TrustedKeys::new())), Box::new(move || load_file(p2))]
}

/// Peak resident memory of this process, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

#[test]
fn a_sparse_3_gib_file_is_refused_at_once_without_reading_it() {
    let dir = scratch("sparse");
    let path = dir.join("huge.cwasm");
    std::fs::File::create(&path).unwrap().set_len(3 << 30).unwrap();
    let peak_before = peak_rss();

    // Over the default limit: refused from `fstat`, by both kinds of load.
    for load in both_loads(&path) {
        let err = refused_within(Duration::from_secs(1), load);
        assert!(
            matches!(err, LoadError::TooLarge { len, limit, .. } if len == 3 << 30 && limit == DEFAULT_MAX_ARTIFACT_BYTES),
            "{err}"
        );
        let text = err.to_string();
        assert!(text.contains("3221225472 bytes") && text.contains("limit of 1073741824 bytes"), "{text}");
    }
    // Under a higher limit the signed load reads its ELF header, not the
    // rest: zeros are not an ELF file.
    let path_for_thread = path.clone();
    let err = refused_within(Duration::from_secs(1), move || {
        LoadOptions::new().max_artifact_bytes(4 << 30).load_file_signed(path_for_thread, &TrustedKeys::new())
    });
    assert!(matches!(err, LoadError::NotElf(_)), "{err}");
    assert!(peak_rss() < peak_before + (256 << 20), "the file was read into memory");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_symlink_to_dev_zero_is_not_a_regular_file() {
    let dir = scratch("devzero");
    let path = dir.join("zero.cwasm");
    std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
    for load in both_loads(&path) {
        let err = refused_within(Duration::from_secs(5), load);
        assert!(matches!(err, LoadError::NotRegularFile { what: "a character device", .. }), "{err}");
        assert!(err.to_string().contains("not a regular file (a character device)"), "{err}");
    }
    // Reading it as input (as `wasmc run` and `wasmc inspect` do) too.
    let err = LoadOptions::new().read_file(&path).unwrap_err();
    assert!(matches!(err, LoadError::NotRegularFile { .. }), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_fifo_is_refused_without_blocking() {
    let dir = scratch("fifo");
    let path = dir.join("fifo.cwasm");
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `c_path` is a valid C string; the result is checked.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "{}", std::io::Error::last_os_error());
    // Nobody ever opens the FIFO for writing: opening it to read would wait
    // for ever.
    for load in both_loads(&path) {
        let err = refused_within(Duration::from_secs(5), load);
        assert!(matches!(err, LoadError::NotRegularFile { what: "a FIFO", .. }), "{err}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_directory_is_not_a_regular_file() {
    let dir = scratch("dir");
    for load in both_loads(&dir) {
        let err = refused_within(Duration::from_secs(5), load);
        assert!(matches!(err, LoadError::NotRegularFile { what: "a directory", .. }), "{err}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_file_just_over_the_configured_limit_is_refused_naming_the_limit() {
    let dir = scratch("limit");
    let path = dir.join("tiny.cwasm");
    let bytes = tiny_artifact();
    std::fs::write(&path, &bytes).unwrap();
    let len = bytes.len() as u64;

    let mut options = LoadOptions::new();
    options.max_artifact_bytes(len - 1);
    let err = options.load_file_signed(&path, &TrustedKeys::new()).unwrap_err();
    assert!(matches!(err, LoadError::TooLarge { len: l, limit, .. } if l == len && limit == len - 1), "{err}");
    assert!(err.to_string().contains(&format!("{len} bytes, more than the limit of {} bytes", len - 1)), "{err}");
    // SAFETY: the test built this artifact itself.
    let err = unsafe { options.load_file(&path) }.unwrap_err();
    assert!(matches!(err, LoadError::TooLarge { .. }), "{err}");
    assert!(matches!(options.read_file(&path), Err(LoadError::TooLarge { .. })));

    // At exactly the limit the file is read and checked: the unsigned
    // artifact loads, and the signed load goes on to the signature.
    options.max_artifact_bytes(len);
    // SAFETY: as above.
    let module = unsafe { options.load_file(&path) }.expect("a file at the limit loads");
    assert_eq!(module.exports().count(), 2);
    let err = options.load_file_signed(&path, &TrustedKeys::new()).unwrap_err();
    assert!(matches!(err, LoadError::Unsigned), "{err}");
    assert_eq!(options.read_file(&path).unwrap(), bytes);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_signed_load_refuses_a_bad_elf_header_before_reading_on() {
    let dir = scratch("header");
    let bytes = tiny_artifact();
    type Damage = fn(&mut Vec<u8>);
    let cases: [(&str, Damage, &str); 4] = [
        ("short", |b| b.truncate(40), "too short for an ELF header"),
        ("class", |b| b[4] = 1, "not a 64-bit ELF file"),
        ("machine", |b| b[18..20].copy_from_slice(&0x28u16.to_le_bytes()), "ELF machine 40"),
        ("sections", |b| b[40..48].copy_from_slice(&u64::MAX.to_le_bytes()), "section headers lie outside the file"),
    ];
    for (name, damage, message) in cases {
        let mut damaged = bytes.clone();
        damage(&mut damaged);
        let path = dir.join(format!("{name}.cwasm"));
        std::fs::write(&path, &damaged).unwrap();
        let err = Module::from_file_signed(&path, &TrustedKeys::new()).unwrap_err();
        assert!(err.to_string().contains(message), "{name}: {err}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
