//! `wasmc-proxy`: a reverse proxy that runs a chain of Proxy-Wasm filters
//! compiled by wasmc on every request (see the crate's README).
//!
//! ```text
//! wasmc-proxy CONFIG.toml [--trust KEY.pub]...
//! ```
//!
//! `--trust` (repeatable) adds keys to the file's `trust` list: with any
//! key, only artifacts signed by one of them load.

use std::path::PathBuf;

use wasmc_plugin_server::proxy::{start, ProxyConfig};

const USAGE: &str = "usage: wasmc-proxy CONFIG.toml [--trust KEY.pub]...";

fn parse(args: Vec<String>) -> Result<(PathBuf, Vec<PathBuf>), String> {
    let mut config = None;
    let mut trust = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--trust" => {
                trust.push(PathBuf::from(args.next().ok_or_else(|| format!("--trust needs a key file\n{USAGE}"))?))
            }
            _ if arg.starts_with('-') || config.is_some() => return Err(format!("unexpected argument {arg}\n{USAGE}")),
            _ => config = Some(PathBuf::from(arg)),
        }
    }
    Ok((config.ok_or(USAGE)?, trust))
}

fn main() -> std::process::ExitCode {
    let (path, trust) = match parse(std::env::args().skip(1).collect()) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::from(2);
        }
    };
    let started = ProxyConfig::load(&path).and_then(|mut config| {
        config.command_line_trust = trust;
        start(config)
    });
    match started {
        Ok(addresses) => {
            // The first line on stdout tells scripts and tests where we listen.
            match addresses.admin {
                Some(admin) => println!("listening on http://{} admin on http://{admin}", addresses.listen),
                None => println!("listening on http://{}", addresses.listen),
            }
            loop {
                std::thread::park();
            }
        }
        Err(e) => {
            eprintln!("wasmc-proxy: {e}");
            std::process::ExitCode::from(1)
        }
    }
}
