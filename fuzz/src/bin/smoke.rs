//! Deterministic smoke run of every fuzz target on stable Rust: feeds N
//! inputs from a seeded generator (and the regression inputs in
//! `fuzz/regressions/TARGET/`) through the same functions the libFuzzer
//! entry points call.
//!
//! ```text
//! cargo run --release --bin smoke -- [compile|differential|load|all] [N] [SEED] [--seconds S]
//! ```
//!
//! Prints one line per target and a closing `N passed, N failed` line;
//! exits 1 on any finding, printing the input's seed and index so it can be
//! replayed and turned into a regression file.

use std::time::{Duration, Instant};

use wasmc_fuzz::{compile_bytes, compile_smith, differential, load_base, load_mutated, MODES};

/// splitmix64: small, seedable, good enough to make fuzz inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = (self.next() as usize) % (max + 1);
        (0..len).map(|_| self.next() as u8).collect()
    }
}

type Target = Box<dyn Fn(&[u8]) -> Result<(), String>>;

fn target(name: &str) -> Option<(Target, usize)> {
    Some(match name {
        "compile" => (Box::new(|d: &[u8]| compile_bytes(d).and_then(|()| compile_smith(d))), 4096),
        "differential" => (Box::new(differential::run), 4096),
        "load" => {
            let bases: Vec<Vec<u8>> = MODES.iter().map(|&m| load_base(m)).collect();
            let run = move |d: &[u8]| load_mutated(d, &bases[usize::from(d.first().copied().unwrap_or(0) & 1)]);
            (Box::new(run), 64)
        }
        _ => return None,
    })
}

fn regressions(name: &str) -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions").join(name);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.path().display().to_string(), std::fs::read(e.path()).ok()?)))
        .collect();
    out.sort();
    out
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut positional = args.iter().filter(|a| !a.starts_with("--"));
    let which = positional.next().map_or("all", String::as_str).to_string();
    let count: u64 = positional.next().and_then(|s| s.parse().ok()).unwrap_or(200);
    let seed: u64 = positional.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let seconds = args.iter().position(|a| a == "--seconds").and_then(|i| args.get(i + 1)?.parse().ok());
    let names: Vec<&str> = if which == "all" { vec!["compile", "differential", "load"] } else { vec![which.as_str()] };

    let (mut passed, mut failed) = (0u64, 0u64);
    for name in names {
        let Some((run, max_len)) = target(name) else {
            eprintln!("smoke: unknown target {name:?} (compile, differential, load, all)");
            return std::process::ExitCode::FAILURE;
        };
        let start = Instant::now();
        let mut rng = Rng(seed);
        let mut runs = 0u64;
        let (mut modules, mut simd_modules) = (0u64, 0u64);
        let mut check = |label: String, input: &[u8]| match run(input) {
            Ok(()) => passed += 1,
            Err(finding) => {
                failed += 1;
                eprintln!("smoke {name}: FINDING at {label}: {finding}");
            }
        };
        for (path, input) in regressions(name) {
            check(path, &input);
        }
        loop {
            let done = match seconds {
                Some(s) => start.elapsed() >= Duration::from_secs_f64(s),
                None => runs >= count,
            };
            if done {
                break;
            }
            let input = rng.bytes(max_len);
            if name == "differential" {
                if let Some(wasm) = differential::module(&input).filter(|m| m.len() > 8) {
                    modules += 1;
                    simd_modules += u64::from(differential::uses_simd(&wasm));
                }
            }
            check(format!("seed {seed} input {runs}"), &input);
            runs += 1;
        }
        let compared = if name == "differential" {
            format!(" ({modules} non-empty modules compared, {simd_modules} of them with SIMD)")
        } else {
            String::new()
        };
        println!("smoke {name}: {runs} inputs{compared} in {:.1} s", start.elapsed().as_secs_f64());
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
