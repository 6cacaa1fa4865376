//! Every program in `corpus/` gives the results `corpus/expected.txt` lists,
//! in both bounds-check modes.

mod common;

use std::path::{Path, PathBuf};

use wasmc_loader::{Linker, Store};
use wasmc_run as cli;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus")
}

struct Case {
    file: String,
    export: String,
    args: Vec<String>,
    results: Vec<String>,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(corpus_dir().join("expected.txt")).expect("corpus/expected.txt");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let (call, results) = line.split_once("=>").expect("each case has `=>`");
            let mut words = call.split_whitespace().map(String::from);
            Case {
                file: words.next().expect("module"),
                export: words.next().expect("export"),
                args: words.collect(),
                results: results.split_whitespace().map(String::from).collect(),
            }
        })
        .collect()
}

#[test]
fn corpus_programs_give_expected_results() {
    let cases = cases();
    assert!(cases.len() >= 10, "the corpus manifest lost its cases");
    for mode in common::MODES {
        for case in &cases {
            let wasm = wat::parse_file(corpus_dir().join(&case.file)).expect("corpus program parses");
            let artifact = wasmc::compile(&wasm, &common::options(mode)).expect("corpus program compiles");
            let module = common::load(&artifact).expect("artifact loads");
            let mut store = Store::default();
            let values = cli::run_module(&mut store, &module, &Linker::new(), Some(&case.export), &case.args)
                .unwrap_or_else(|e| panic!("{} {} ({mode:?}): {e}", case.file, case.export));
            let printed: Vec<String> = values.iter().map(cli::format_val).collect();
            assert_eq!(printed, case.results, "{} {} {:?} ({mode:?})", case.file, case.export, case.args);
        }
    }
}
