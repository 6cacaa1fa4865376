//! `wasmrun`: runs one exported function of a wasmc artifact.
//!
//! ```text
//! wasmrun [--invoke NAME] [--trust KEY.pub]... plugin.cwasm [ARGS...]
//! ```
//!
//! With `--trust`, the artifact loads only if it is signed by one of the
//! given public keys (`wasmc compile --sign`).
//!
//! Instantiates with no imports, calls NAME (default `_start`) with ARGS
//! parsed by the function's parameter types, and prints each result on its
//! own line. Any error, including a trap, is printed as `wasmrun: <error>`
//! and exits with status 1.

use std::process::ExitCode;

use wasmc_loader::{cli, Linker, Module, Store, TrustedKeys};

const USAGE: &str = "usage: wasmrun [--invoke NAME] [--trust KEY.pub]... FILE.cwasm [ARGS...]";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("wasmrun: {message}");
            ExitCode::from(1)
        }
    }
}

fn run(args: Vec<String>) -> Result<Vec<String>, String> {
    let mut args = args.into_iter();
    let mut invoke = None;
    let mut file = None;
    let mut trust = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--invoke" => invoke = Some(args.next().ok_or("--invoke needs a function name")?),
            "--trust" => trust.push(args.next().ok_or("--trust needs a public key file")?),
            "-h" | "--help" => return Ok(vec![USAGE.to_string()]),
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}\n{USAGE}")),
            _ => {
                file = Some(arg);
                break;
            }
        }
    }
    let file = file.ok_or(USAGE)?;
    let params: Vec<String> = args.collect();

    let module = if trust.is_empty() {
        // SAFETY: running the artifact the user names is the point of wasmrun;
        // the user vouches for its origin, as for any executable.
        unsafe { Module::from_file(&file) }
    } else {
        let keys = TrustedKeys::from_pub_files(&trust).map_err(|e| e.to_string())?;
        Module::from_file_signed(&file, &keys)
    }
    .map_err(|e| e.to_string())?;
    let mut store = Store::default();
    let results =
        cli::run_module(&mut store, &module, &Linker::new(), invoke.as_deref(), &params).map_err(|e| e.to_string())?;
    Ok(results.iter().map(cli::format_val).collect())
}
