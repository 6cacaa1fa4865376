//! Prints `expected.txt`: each workload's checksum for a few `n`, computed by
//! the native build of the same source the wasm modules are built from (the
//! independent reference `compiler/cli/tests/workloads.rs` checks wasmc against).
//! With `--time`, prints the native time of one `run(1)` per workload instead
//! (wall clock, and this thread's time on a CPU where Linux tells it, which a
//! loaded machine disturbs less).

use std::time::Instant;

/// The `n` each workload is checked at.
const NS: [u32; 2] = [1, 3];
/// The `n` the `tiny` plugin is checked at.
const TINY_NS: [u32; 2] = [1, 12345];

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--time") {
        for (name, run) in wasmc_workloads::WORKLOADS {
            run(1);
            let reps = 100;
            let (wall, cpu) = (Instant::now(), cpu_ns());
            for _ in 0..reps {
                std::hint::black_box(run(std::hint::black_box(1)));
            }
            let per_run = |ns: f64| ns / 1e6 / f64::from(reps);
            let cpu =
                cpu_ns().zip(cpu).map_or(String::new(), |(b, a)| format!(", {:.3} ms on CPU", per_run((b - a) as f64)));
            println!("{name} run(1): {:.3} ms wall{cpu}", per_run(wall.elapsed().as_nanos() as f64));
        }
        return;
    }
    println!("# name n checksum: written by scripts/build-corpus from the native build");
    println!("# (cargo run --release --bin expected in corpus/workloads); do not edit.");
    for (name, run) in wasmc_workloads::WORKLOADS {
        for n in NS {
            println!("{name} {n} {}", run(n));
        }
    }
    for n in TINY_NS {
        println!("tiny {n} {}", wasmc_workloads::tiny(n));
    }
}

/// Nanoseconds this thread has spent on a CPU (Linux's schedstat), if known.
fn cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat").ok()?.split_whitespace().next()?.parse().ok()
}
