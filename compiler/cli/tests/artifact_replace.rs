//! Tools write artifacts and keys to a new file and rename it into place:
//! recompiling over an artifact that a process has loaded must not change
//! the code that process runs, and nothing half-written is ever visible.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use common::{text, wasmc};
use wasmc_loader::{Instance, Linker, Module, Store};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wasmc-replace-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

/// Instantiates `module` afresh and calls its `f`.
fn call_f(module: &Module) -> i32 {
    let mut store = Store::default();
    let instance = Instance::new(&mut store, module, &Linker::new()).unwrap();
    instance.get_typed_func::<(), i32>(&store, "f").unwrap().call(&mut store, ()).unwrap()
}

fn compile_to(dir: &Path, wat: &str, name: &str, out: &Path) {
    let input = dir.join(name);
    std::fs::write(&input, wat).unwrap();
    let result = wasmc(&["compile", p(&input), "-o", p(out)]);
    assert!(result.status.success(), "{}", text(&result.stderr));
}

#[test]
fn recompiling_over_a_loaded_artifact_leaves_the_loaded_code_alone() {
    let dir = scratch("recompile");
    let out = dir.join("plugin.cwasm");
    // Two different modules of the same layout: the second one's code at
    // the first one's offsets returns another number.
    compile_to(&dir, r#"(module (func (export "f") (result i32) i32.const 1111))"#, "a.wat", &out);
    // SAFETY: the artifact was just compiled by wasmc.
    let loaded = unsafe { Module::from_file(&out) }.unwrap();
    assert_eq!(call_f(&loaded), 1111);
    let inode = std::fs::metadata(&out).unwrap().ino();

    compile_to(&dir, r#"(module (func (export "f") (result i32) i32.const 2222))"#, "b.wat", &out);
    assert_eq!(call_f(&loaded), 1111, "the loaded module runs its own code");
    assert_ne!(std::fs::metadata(&out).unwrap().ino(), inode, "the path names a new file");
    // SAFETY: as above.
    let reloaded = unsafe { Module::from_file(&out) }.unwrap();
    assert_eq!(call_f(&reloaded), 2222);
    assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o600, 0o600);
    assert_eq!(names(&dir), ["a.wat", "b.wat", "plugin.cwasm"], "no temporary file is left");

    // A failed compile leaves the artifact and the directory as they were.
    let failed = wasmc(&["compile", p(&dir.join("missing.wat")), "-o", p(&out)]);
    assert!(!failed.status.success());
    assert_eq!(call_f(&reloaded), 2222);
    assert_eq!(names(&dir), ["a.wat", "b.wat", "plugin.cwasm"]);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn keygen_writes_whole_files_and_never_replaces_a_key() {
    let dir = scratch("keygen");
    let name = dir.join("team");
    let first = wasmc(&["keygen", "-o", p(&name)]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let secret = std::fs::read(dir.join("team.key")).unwrap();
    assert_eq!(std::fs::metadata(dir.join("team.key")).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(names(&dir), ["team.key", "team.pub"]);

    let second = wasmc(&["keygen", "-o", p(&name)]);
    assert!(!second.status.success());
    assert!(text(&second.stderr).contains("exists"), "{}", text(&second.stderr));
    assert_eq!(std::fs::read(dir.join("team.key")).unwrap(), secret, "the secret key is untouched");
    assert_eq!(names(&dir), ["team.key", "team.pub"], "no temporary file is left");
    std::fs::remove_dir_all(&dir).ok();
}
