//! `wasmc`: compile WebAssembly ahead of time, run, inspect and test it.
//!
//! Argument parsing and glue only; the work lives in the libraries: `wasmc`
//! (compiling, signing), `wasmc_loader` (running), `wasmc_artifact` (writing
//! files), `wasmc_run` (what `wasmrun` shares) and `wasmc_wast` (spec tests).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use rayon::prelude::*;

use wasmc::{compile, BoundsChecks, CompileOptions, OptLevel};
use wasmc_loader::{LoadError, LoadOptions, Module, TrustedKeys};
use wasmc_run as cli;
use wasmc_wast::{run_file, WastReport};

#[derive(Parser)]
#[command(name = "wasmc", version, about = "Ahead-of-time WebAssembly compiler for server plugins")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compile a .wasm or .wat module into a native artifact.
    Compile {
        /// The module: binary .wasm or text .wat.
        input: PathBuf,
        /// Where to write the artifact.
        #[arg(short, long)]
        output: PathBuf,
        #[command(flatten)]
        codegen: CodegenArgs,
        /// Sign the artifact with this secret key (NAME.key from `wasmc keygen`).
        #[arg(long, value_name = "NAME.key")]
        sign: Option<PathBuf>,
    },
    /// Make an Ed25519 key pair for signing artifacts: NAME.key (secret, mode 0600) and NAME.pub.
    Keygen {
        /// NAME: the files written are NAME.key and NAME.pub.
        #[arg(short, long, value_name = "NAME")]
        output: PathBuf,
    },
    /// Run an artifact, or a .wasm/.wat module compiled on the fly.
    Run {
        /// Call this export with ARGS and print its results (default: `_start`).
        #[arg(long)]
        invoke: Option<String>,
        /// Let a WASI program use host directory HOST as GUEST (or DIR as itself); repeatable.
        #[arg(long = "dir", value_name = "HOST::GUEST")]
        dirs: Vec<String>,
        /// Give a WASI program this environment variable; repeatable.
        #[arg(long = "env", value_name = "NAME=VALUE")]
        envs: Vec<String>,
        #[command(flatten)]
        codegen: CodegenArgs,
        #[command(flatten)]
        limits: LimitArgs,
        /// Accept only artifacts signed by this public key (NAME.pub); repeatable.
        #[arg(long, value_name = "NAME.pub")]
        trust: Vec<PathBuf>,
        /// Artifact (.cwasm), or module (.wasm/.wat).
        file: PathBuf,
        /// The program's arguments (for `_start`), or the export's, parsed by its parameter types.
        #[arg(allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Describe an artifact: target, CPU features, imports, exports, sizes.
    Inspect {
        /// The artifact.
        file: PathBuf,
    },
    /// Run WebAssembly spec-test scripts through the compiler and loader.
    Wast {
        /// How linear-memory accesses are checked.
        #[arg(long, value_parser = parse_bounds, default_value = "guard")]
        bounds_checks: BoundsChecks,
        /// Optimisation level.
        #[arg(short = 'O', value_parser = parse_opt, default_value = "speed")]
        opt_level: OptLevel,
        /// Target preset the scripts' modules are compiled for; it must run
        /// on this host (default: the host architecture's baseline).
        #[arg(long)]
        target: Option<String>,
        /// Print every failure, not only the counts.
        #[arg(short, long)]
        verbose: bool,
        /// .wast files, or directories whose .wast files to run.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// List the target presets.
    Targets,
}

#[derive(Args)]
struct CodegenArgs {
    /// Target: a preset (see `wasmc targets`), `native`, or a triple.
    /// Default: the host architecture's portable baseline.
    #[arg(long)]
    target: Option<String>,
    /// Optimisation level.
    #[arg(short = 'O', value_parser = parse_opt, default_value = "speed")]
    opt_level: OptLevel,
    /// How linear-memory accesses are checked.
    #[arg(long, value_parser = parse_bounds, default_value = "guard")]
    bounds_checks: BoundsChecks,
    /// Count executed operators against a fuel budget (`Store::set_fuel`,
    /// `wasmc run --fuel`).
    #[arg(long)]
    fuel_metering: bool,
}

impl CodegenArgs {
    fn options(&self) -> Result<CompileOptions> {
        let target = wasmc_targets::resolve(self.target.as_deref())?;
        Ok(CompileOptions {
            target,
            opt_level: self.opt_level,
            bounds_checks: self.bounds_checks,
            fuel_metering: self.fuel_metering,
            ..CompileOptions::default()
        })
    }
}

/// Deadlines and limits for `wasmc run`.
#[derive(Args)]
struct LimitArgs {
    /// Interrupt the call after this long: 2s, 100ms, 500us.
    #[arg(long, value_parser = cli::parse_duration)]
    timeout: Option<std::time::Duration>,
    /// Fuel budget (one unit per operator). Turns fuel metering on for
    /// modules compiled on the fly; artifacts must have it compiled in.
    #[arg(long)]
    fuel: Option<u64>,
    /// Largest size of any linear memory: 64MiB, 512KiB, or bytes.
    #[arg(long, value_parser = cli::parse_bytes)]
    max_memory: Option<u64>,
}

impl LimitArgs {
    fn run_limits(&self) -> cli::RunLimits {
        cli::RunLimits { timeout: self.timeout, fuel: self.fuel, max_memory: self.max_memory }
    }
}

fn parse_bounds(s: &str) -> Result<BoundsChecks, String> {
    BoundsChecks::from_name(s).ok_or_else(|| format!("expected guard or explicit, got {s:?}"))
}

fn parse_opt(s: &str) -> Result<OptLevel, String> {
    OptLevel::from_name(s).ok_or_else(|| format!("expected none, speed or size, got {s:?}"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            // A closed stdout (`wasmc ... | head`) is not an error worth a message.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("wasmc: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Compile { input, output, codegen, sign } => {
            let key = sign.as_deref().map(wasmc::sign::read_secret_key).transpose()?;
            let wasm = read_module(&input)?;
            let mut artifact =
                compile(&wasm, &codegen.options()?).with_context(|| format!("compiling {}", input.display()))?;
            if let Some(key) = &key {
                artifact = wasmc::sign::sign_artifact(&artifact, key)?;
            }
            // A new file renamed into place: a module loaded from the old
            // file (a running server, `wasmrun`) keeps the old code.
            wasmc_artifact::files::replace(&output, &artifact, 0o644)
                .with_context(|| format!("writing {}", output.display()))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Keygen { output } => {
            let key = wasmc::sign::generate()?;
            let (secret, public) = wasmc::sign::write_key_pair(&output, &key)?;
            println!("wrote {} and {} (key id {})", secret.display(), public.display(), key.key_id());
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { invoke, dirs, envs, codegen, limits, trust, file, args } => {
            let mut wasi = cli::WasiOptions::default();
            for d in &dirs {
                wasi.add_dir(d).map_err(anyhow::Error::msg)?;
            }
            for e in &envs {
                wasi.add_env(e).map_err(anyhow::Error::msg)?;
            }
            let module = if trust.is_empty() {
                let bytes = read_input(&file)?;
                let artifact = if bytes.starts_with(b"\x7fELF") {
                    bytes
                } else {
                    let wasm = wat::parse_bytes(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
                    let mut options = codegen.options()?;
                    options.fuel_metering |= limits.fuel.is_some();
                    compile(&wasm, &options).with_context(|| format!("compiling {}", file.display()))?
                };
                // SAFETY: running the file the user names is the point of
                // `wasmc run`; the user vouches for its origin, as for any
                // executable.
                unsafe { Module::from_bytes(&artifact) }
            } else {
                // Only a signed artifact can pass: loaded straight from the
                // file, which is checked (a regular file, its size, its ELF
                // header) before the rest of it is read.
                Module::from_file_signed(&file, &TrustedKeys::from_pub_files(&trust)?)
            }
            .map_err(|e| match e {
                // These already name the file.
                LoadError::Io { .. } | LoadError::NotRegularFile { .. } | LoadError::TooLarge { .. } => e.into(),
                e => anyhow::Error::new(e).context(format!("loading {}", file.display())),
            })?;
            let mut store = limits.run_limits().store_for(&module)?;
            let program = file.to_string_lossy();
            let outcome = cli::run_program(&mut store, &module, &program, invoke.as_deref(), &args, &wasi)?;
            if let cli::Outcome::Returned(results) = &outcome {
                let mut out = std::io::stdout().lock();
                for value in results {
                    writeln!(out, "{}", cli::format_val(value))?;
                }
            }
            Ok(ExitCode::from(outcome.exit_status()))
        }
        Command::Inspect { file } => {
            let bytes = read_input(&file)?;
            let info =
                wasmc_artifact::ArtifactInfo::read(&bytes).with_context(|| format!("reading {}", file.display()))?;
            print!("{}", cli::describe(&info));
            Ok(ExitCode::SUCCESS)
        }
        Command::Wast { bounds_checks, opt_level, target, verbose, files } => {
            let target = wasmc_targets::resolve(target.as_deref())?;
            let missing = wasmc_targets::missing_features(&target.features);
            if target.arch != wasmc_targets::host_arch() {
                bail!(
                    "wast runs what it compiles: target {} is {}, this host is {}",
                    target.preset,
                    target.arch,
                    wasmc_targets::host_arch()
                );
            }
            if !missing.is_empty() {
                bail!(
                    "wast runs what it compiles: target {} needs CPU features this host lacks: {}",
                    target.preset,
                    missing.join(", ")
                );
            }
            let options = CompileOptions { bounds_checks, opt_level, target, ..CompileOptions::default() };
            let scripts = expand_wast_paths(&files)?;
            // Each script's line is written and flushed as soon as it
            // finishes (so in the order they finish): if the process dies,
            // what it printed shows which scripts had completed.
            let total = std::sync::Mutex::new(Ok(WastReport::default()));
            scripts.into_par_iter().for_each(|path| {
                let report = run_file(&path, &options);
                let mut total = total.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                if let Ok(sum) = &mut *total {
                    match print_wast_report(&path, &report, verbose) {
                        Ok(()) => sum.absorb(report),
                        Err(e) => *total = Err(e),
                    }
                }
            });
            let total = total.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner())?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "{} passed, {} failed", total.passed, total.failed)?;
            out.flush()?;
            Ok(if total.failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Targets => {
            let mut out = std::io::stdout().lock();
            let width = wasmc_targets::PRESETS.iter().map(|p| p.description.len()).max().unwrap_or(0);
            writeln!(out, "{:<11} {:<26} {:<width$} features", "preset", "triple", "description")?;
            for p in wasmc_targets::PRESETS {
                let features = if p.features.is_empty() { "-".to_string() } else { p.features.join(",") };
                writeln!(out, "{:<11} {:<26} {:<width$} {features}", p.name, p.arch.linux_triple(), p.description)?;
            }
            let host = wasmc_targets::host_features();
            let host = if host.is_empty() { "no optional features".to_string() } else { host.join(",") };
            writeln!(out, "native: this host's {} with {host}", wasmc_targets::host_arch())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Reads an input file: a regular file no larger than the loader's
/// default artifact limit (a device or a FIFO is an error, not a hang).
fn read_input(path: &Path) -> Result<Vec<u8>> {
    Ok(LoadOptions::default().read_file(path)?)
}

/// Writes and flushes one script's line of `wasmc wast` output, and its
/// failures (the first ten, or all with `verbose`).
fn print_wast_report(path: &Path, report: &WastReport, verbose: bool) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}: {} passed, {} failed", path.display(), report.passed, report.failed)?;
    if verbose || report.failed > 0 {
        for failure in report.failures.iter().take(if verbose { usize::MAX } else { 10 }) {
            writeln!(out, "  {failure}")?;
        }
    }
    out.flush()
}

/// Reads a module given as binary or text; text is turned into binary.
fn read_module(path: &Path) -> Result<Vec<u8>> {
    let bytes = read_input(path)?;
    if bytes.starts_with(b"\x7fELF") {
        bail!("{} is already a compiled artifact", path.display());
    }
    wat::parse_bytes(&bytes).map(|wasm| wasm.into_owned()).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Files as given, directories replaced by their `.wast` files, sorted.
fn expand_wast_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("reading {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "wast"))
                .collect();
            files.sort();
            out.extend(files);
        } else {
            out.push(path.clone());
        }
    }
    Ok(out)
}
