//! `docs/ARCHITECTURE.md` against the tree: the crate table names every
//! workspace member with exactly its workspace dependencies, the loader's
//! side depends on neither cranelift nor wasmparser, the compiler library
//! depends neither on the loader nor on command-line crates and owns no
//! binary, and the loader's file map names every file under `loader/src`
//! and nothing else. So the map a newcomer reads cannot go stale unnoticed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn architecture() -> String {
    std::fs::read_to_string(root().join("docs/ARCHITECTURE.md")).expect("docs/ARCHITECTURE.md")
}

/// The text between `<!-- NAME:begin -->` and `<!-- NAME:end -->`.
fn section<'a>(doc: &'a str, name: &str) -> &'a str {
    let begin = format!("<!-- {name}:begin -->");
    let end = format!("<!-- {name}:end -->");
    let start = doc.find(&begin).unwrap_or_else(|| panic!("ARCHITECTURE.md has no {begin}")) + begin.len();
    let stop = doc[start..].find(&end).unwrap_or_else(|| panic!("ARCHITECTURE.md has no {end}")) + start;
    &doc[start..stop]
}

fn manifest(dir: &Path) -> toml::Table {
    let text = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    text.parse().unwrap_or_else(|e| panic!("{}/Cargo.toml: {e}", dir.display()))
}

/// Package name to (path, normal dependencies), for every workspace member.
fn members() -> BTreeMap<String, (String, BTreeSet<String>)> {
    let workspace = manifest(&root());
    let paths = workspace["workspace"]["members"].as_array().expect("workspace.members");
    paths
        .iter()
        .map(|p| {
            let path = p.as_str().expect("a member path").to_string();
            let package = manifest(&root().join(&path));
            let name = package["package"]["name"].as_str().expect("package.name").to_string();
            let deps = package
                .get("dependencies")
                .and_then(|d| d.as_table())
                .map_or_else(BTreeSet::new, |d| d.keys().cloned().collect());
            (name, (path, deps))
        })
        .collect()
}

#[test]
fn the_crate_table_matches_the_manifests() {
    let doc = architecture();
    let members = members();
    let mut documented = BTreeMap::new();
    for line in section(&doc, "crates").lines().map(str::trim) {
        if line.is_empty() || line.starts_with("```") || line.starts_with("package") {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let [name, path, deps @ ..] = &words[..] else { panic!("ARCHITECTURE.md crate line {line:?}") };
        let deps: BTreeSet<String> = deps.iter().filter(|d| **d != "-").map(|d| d.to_string()).collect();
        documented.insert(name.to_string(), (path.to_string(), deps));
    }
    let actual: BTreeMap<String, (String, BTreeSet<String>)> = members
        .iter()
        .map(|(name, (path, deps))| {
            let internal = deps.iter().filter(|d| members.contains_key(*d)).cloned().collect();
            (name.clone(), (path.clone(), internal))
        })
        .collect();
    assert_eq!(documented, actual, "docs/ARCHITECTURE.md's crate table differs from the manifests");
    for split_out in ["wasmc-artifact", "wasmc-run", "wasmc-wast", "wasmc-cli"] {
        assert!(documented.contains_key(split_out), "the crate table does not list {split_out}");
    }
}

#[test]
fn the_loader_side_depends_on_no_compiler() {
    let members = members();
    for crate_name in
        ["wasmc-abi", "wasmc-artifact", "wasmc-targets", "wasmc-loader", "wasmc-run", "wasmc-capi", "wasmc-proxy-wasm"]
    {
        let (_, deps) = &members[crate_name];
        let forbidden: Vec<&String> =
            deps.iter().filter(|d| d.starts_with("cranelift") || d.starts_with("wasmparser")).collect();
        assert!(forbidden.is_empty(), "{crate_name} depends on {forbidden:?}");
        assert!(!deps.contains("wasmc"), "{crate_name} depends on the compiler");
    }
}

#[test]
fn the_compiler_library_links_neither_the_loader_nor_the_command_line() {
    let (path, deps) = &members()["wasmc"];
    let forbidden: Vec<&String> =
        deps.iter().filter(|d| ["wasmc-loader", "wasmc-run", "clap", "anyhow", "wast"].contains(&d.as_str())).collect();
    assert!(forbidden.is_empty(), "the compiler library depends on {forbidden:?}");
    // The binaries live in their own packages: the library has none.
    let package = manifest(&root().join(path));
    assert!(package.get("bin").is_none(), "compiler/Cargo.toml declares a binary");
    assert!(!root().join(path).join("src/main.rs").exists(), "compiler/src/main.rs would be a binary");
    assert!(!root().join(path).join("src/bin").exists(), "compiler/src/bin would hold binaries");
    let bins = |path: &str| -> Vec<String> {
        let package = manifest(&root().join(path));
        let bins = package.get("bin").and_then(|b| b.as_array()).cloned().unwrap_or_default();
        bins.iter().filter_map(|b| b.get("name")?.as_str().map(str::to_string)).collect()
    };
    assert_eq!(bins("compiler/cli"), ["wasmc"]);
    assert_eq!(bins("loader/run"), ["wasmrun"]);
}

#[test]
fn the_loader_file_map_names_every_file() {
    let doc = architecture();
    let mut mapped = BTreeSet::new();
    for line in section(&doc, "loader-files").lines().filter(|l| l.starts_with("| `")) {
        let first_cell = line.split('|').nth(1).expect("a table row");
        mapped.extend(first_cell.split('`').skip(1).step_by(2).map(str::to_string));
    }
    let src = root().join("loader/src");
    let mut files = BTreeSet::new();
    let mut dirs = vec![src.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.insert(path.strip_prefix(&src).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    assert_eq!(mapped, files, "docs/ARCHITECTURE.md's loader file map differs from loader/src");
}
