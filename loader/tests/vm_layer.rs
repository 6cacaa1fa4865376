//! The vm layer (`loader/src/vm/`) sits below the public API: it may use
//! itself, the standard library and external crates (`wasmc_abi`, `libc`,
//! ...), but nothing from the modules above it (`store.rs`, `instance.rs`,
//! `func.rs`, `module.rs`, ...). This test reads every file under
//! `loader/src/vm` and fails on any `crate::` path that does not continue
//! with `vm::` (or name a module in `LEAVES`), on `super::` chains that climb
//! out of `vm/`, and on `wasmc_loader::` (the crate's own name, which its
//! unit tests may use). The failure names the file, the line and the path.

use std::path::{Path, PathBuf};

/// Crate modules outside `vm/` that the vm layer may use because they
/// themselves use nothing else of the crate. None so far.
const LEAVES: &[&str] = &[];

fn vm_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/vm")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of `line` without its `//` comment (doc links may name the
/// public API; only code counts). Good enough for this crate: no string
/// literal in `vm/` contains `//` before a path.
fn code(line: &str) -> &str {
    match line.find("//") {
        Some(i) => &line[..i],
        None => line,
    }
}

/// Every path in `text` that leaves the vm layer: `(line number, path)`.
/// `depth` is how many directories below `vm/` the file is (its `super::`
/// budget: `vm/x.rs` may write `super::` once, to reach `vm`).
fn violations(text: &str, depth: usize) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = code(line);
        for (at, _) in code.match_indices("crate::") {
            if at > 0 && code[..at].ends_with('$') {
                continue;
            }
            let rest = &code[at + "crate::".len()..];
            let segment: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if segment != "vm" && !LEAVES.contains(&segment.as_str()) {
                let path: String =
                    code[at..].chars().take_while(|c| c.is_alphanumeric() || "_:".contains(*c)).collect();
                found.push((n + 1, path.trim_end_matches("::").to_string()));
            }
        }
        let supers = code.matches("super::").count();
        let climbs = code
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .map(|w| w.matches("super::").count())
            .max()
            .unwrap_or(0);
        if supers > 0 && climbs > depth {
            found.push((n + 1, code.trim().to_string()));
        }
        if code.contains("wasmc_loader::") {
            found.push((n + 1, code.trim().to_string()));
        }
    }
    found
}

#[test]
fn the_vm_layer_imports_nothing_from_the_public_api() {
    let mut files = Vec::new();
    rust_files(&vm_dir(), &mut files);
    files.sort();
    assert!(files.len() > 10, "found only {} files under {}", files.len(), vm_dir().display());
    let mut errors = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(vm_dir()).expect("under vm/").to_string_lossy().replace('\\', "/");
        // `vm/mod.rs` is `vm` itself; `vm/sys/unix/x.rs` is two below it.
        let depth = if relative == "mod.rs" {
            0
        } else {
            relative.matches('/').count() + 1 - usize::from(relative.ends_with("/mod.rs"))
        };
        let text = std::fs::read_to_string(file).expect("a source file");
        for (line, path) in violations(&text, depth) {
            errors.push(format!("loader/src/vm/{relative}:{line}: `{path}` reaches above the vm layer"));
        }
    }
    assert!(errors.is_empty(), "the vm layer must not import the public API modules:\n{}", errors.join("\n"));
}

#[test]
fn the_check_sees_upward_paths() {
    let bad =
        "use crate::store::StoreOpaque;\nuse crate::vm::bulk;\n// see crate::Store\nlet x = super::super::func::f();\n";
    let found = violations(bad, 1);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0], (1, "crate::store::StoreOpaque".to_string()));
    assert_eq!(found[1].0, 4);
    assert!(violations("use super::bulk;\nuse crate::vm::{bulk, limits};\n", 1).is_empty());
}
