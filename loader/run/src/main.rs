//! `wasmrun`: runs one exported function of a wasmc artifact.
//!
//! ```text
//! wasmrun [--invoke NAME] [--dir HOST::GUEST]... [--env NAME=VALUE]... [--trust KEY.pub]...
//!         [--timeout 100ms] [--fuel N] [--max-memory 64MiB] plugin.cwasm [ARGS...]
//! ```
//!
//! Instantiates with WASI preview 1 available (stdio inherited, only the
//! `--dir` directories and `--env` variables granted) and calls NAME with
//! ARGS parsed by the function's parameter types, printing each result on
//! its own line; or, without `--invoke`, runs `_start` with ARGS as the
//! program's arguments. A WASI `proc_exit(n)` exits with status `n`. With
//! `--trust`, the artifact loads only if it is signed by one of the given
//! public keys (`wasmc compile --sign`). Any error, including a trap, is
//! printed as `wasmrun: <error>` and exits with status 1.

use std::process::ExitCode;

use wasmc_loader::{error_chain, Module, TrustedKeys};
use wasmc_run::{self as cli, Outcome, WasiOptions};

const USAGE: &str = "usage: wasmrun [--invoke NAME] [--dir HOST::GUEST]... [--env NAME=VALUE]... \
[--trust KEY.pub]... [--timeout DURATION] [--fuel N] [--max-memory BYTES] FILE.cwasm [ARGS...]";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok((lines, status)) => {
            for line in lines {
                println!("{line}");
            }
            ExitCode::from(status)
        }
        Err(message) => {
            eprintln!("wasmrun: {message}");
            ExitCode::from(1)
        }
    }
}

fn run(args: Vec<String>) -> Result<(Vec<String>, u8), String> {
    let mut args = args.into_iter();
    let mut invoke = None;
    let mut file = None;
    let mut wasi = WasiOptions::default();
    let mut limits = cli::RunLimits::default();
    let mut trust = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--invoke" => invoke = Some(args.next().ok_or("--invoke needs a function name")?),
            "--dir" => wasi.add_dir(&args.next().ok_or("--dir needs HOST::GUEST")?)?,
            "--env" => wasi.add_env(&args.next().ok_or("--env needs NAME=VALUE")?)?,
            "--trust" => trust.push(args.next().ok_or("--trust needs a public key file")?),
            "--timeout" => {
                limits.timeout = Some(cli::parse_duration(&args.next().ok_or("--timeout needs a duration")?)?)
            }
            "--fuel" => {
                let n = args.next().ok_or("--fuel needs a number")?;
                limits.fuel = Some(n.parse().map_err(|_| format!("cannot parse {n:?} as fuel (a whole number)"))?);
            }
            "--max-memory" => {
                limits.max_memory = Some(cli::parse_bytes(&args.next().ok_or("--max-memory needs a size")?)?)
            }
            "-h" | "--help" => return Ok((vec![USAGE.to_string()], 0)),
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
    .map_err(|e| error_chain(&e))?;
    let mut store = limits.store_for(&module).map_err(|e| error_chain(&e))?;
    let outcome =
        cli::run_program(&mut store, &module, &file, invoke.as_deref(), &params, &wasi).map_err(|e| error_chain(&e))?;
    let status = outcome.exit_status();
    match outcome {
        Outcome::Returned(results) => Ok((results.iter().map(cli::format_val).collect(), status)),
        Outcome::Exited(_) => Ok((Vec::new(), status)),
    }
}
