//! The `wasmrun` binary, driven as a user would.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::path::PathBuf;

use common::{tiny_module, Parts};
use wasmc_abi::meta::{Export, ExternKind, FuncType, GlobalType, Import, ImportType, ValType};

fn write(name: &str, parts: &Parts) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wasmrun-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, parts.build()).unwrap();
    path
}

fn wasmrun(args: &[&str]) -> (i32, String, String) {
    let out = common::command(env!("CARGO_BIN_EXE_wasmrun")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn runs_an_export_and_reports_errors() {
    let (meta, text, data) = tiny_module();
    let path = write("tiny.cwasm", &Parts::new(meta.clone(), text.clone(), data.clone()));
    let file = path.to_str().unwrap();

    let (code, stdout, stderr) = wasmrun(&["--invoke", "f", file]);
    assert_eq!((code, stdout.as_str(), stderr.as_str()), (0, "", ""));

    let (code, _, stderr) = wasmrun(&[file]);
    assert_eq!(code, 1);
    assert_eq!(stderr, "wasmrun: no _start export; choose a function with --invoke (exported functions: f)\n");

    let (code, _, stderr) = wasmrun(&["--invoke", "f", file, "1"]);
    assert_eq!(code, 1);
    assert!(stderr.starts_with("wasmrun: f has type () -> (): expected 0 arguments, got 1"), "{stderr}");

    let (code, _, stderr) = wasmrun(&["--invoke", "g", file]);
    assert_eq!((code, stderr.as_str()), (1, "wasmrun: no exported function named \"g\"\n"));

    let mut importing = meta.clone();
    importing.imports.push(Import {
        module: "wasi".into(),
        name: "clock".into(),
        ty: ImportType::Global(GlobalType { ty: ValType::I64, mutable: false }),
    });
    let path = write("importing.cwasm", &Parts::new(importing, text.clone(), data.clone()));
    let (code, _, stderr) = wasmrun(&["--invoke", "f", path.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(stderr, "wasmrun: unknown import: global \"wasi\" \"clock\" is not defined\n");

    let mut start = meta;
    start.types.push(FuncType { params: vec![ValType::I32, ValType::F64], results: vec![] });
    start.trampolines.push(start.trampolines[0]);
    start.lists.funcs.push(start.lists.funcs[0]);
    start.lists.funcs[1].type_index = 1;
    start.lists.exports.push(Export { name: "_start".into(), kind: ExternKind::Func, index: 0 });
    start.lists.exports.push(Export { name: "two".into(), kind: ExternKind::Func, index: 1 });
    let path = write("start.cwasm", &Parts::new(start, text, data));
    let file = path.to_str().unwrap();
    assert_eq!(wasmrun(&[file]).0, 0);
    assert_eq!(wasmrun(&["--invoke", "two", file, "0x10", "-inf"]).0, 0);
    let (code, _, stderr) = wasmrun(&["--invoke", "two", file, "x", "1"]);
    assert_eq!((code, stderr.as_str()), (1, "wasmrun: cannot parse \"x\" as i32\n"));

    let (code, _, stderr) = wasmrun(&["/nonexistent.cwasm"]);
    assert_eq!(code, 1);
    assert!(stderr.starts_with("wasmrun: cannot read /nonexistent.cwasm"), "{stderr}");
    let (code, _, stderr) = wasmrun(&[]);
    let usage = "wasmrun: usage: wasmrun [--invoke NAME] [--dir HOST::GUEST]... [--env NAME=VALUE]... \
                 [--trust KEY.pub]... [--timeout DURATION] [--fuel N] [--max-memory BYTES] FILE.cwasm [ARGS...]\n";
    assert_eq!((code, stderr.as_str()), (1, usage));
}
