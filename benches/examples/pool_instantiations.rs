//! A fixed number of pooled instantiations of the small plugin (what the
//! `instantiate` bench's `pool_pre` rows time), for counting instructions
//! rather than timing them: the machines are noisy, instruction counts are
//! not. Each round creates a store, instantiates through an `InstancePre`
//! and a one-slot pool (valgrind cannot reserve a larger pool's address
//! space), and drops the store, which resets the slot.
//!
//! ```text
//! cargo build --release -p wasmc-benches --example pool_instantiations
//! valgrind --tool=callgrind target/release/examples/pool_instantiations 2000
//! valgrind --tool=callgrind target/release/examples/pool_instantiations 12000
//! ```
//!
//! The difference of the two totals over 10,000 is the cost of one round
//! (setup cancels out). `docs/benchmarks.md`, run 7, reads it this way.

use wasmc::BoundsChecks;
use wasmc_loader::{InstancePool, Linker, PoolConfig, Store};

fn main() {
    let rounds: u64 = match std::env::args().nth(1).map(|s| s.parse()) {
        None => 10_000,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("usage: pool_instantiations [ROUNDS]: {e}");
            std::process::exit(2);
        }
    };
    let wasm = wasmc_benches::wat_to_wasm(wasmc_benches::SMALL_PLUGIN);
    let module = wasmc_benches::load(&wasmc_benches::compile(&wasm, &wasmc_benches::options(BoundsChecks::Guard)));
    let pool = InstancePool::new(&module, PoolConfig { capacity: 1, ..PoolConfig::default() }).expect("pool");
    let pre = Linker::new().instantiate_pre(&module).expect("links");
    let start = std::time::Instant::now();
    for _ in 0..rounds {
        let mut store = Store::default();
        pool.instantiate_pre(&mut store, &pre).expect("instantiates");
    }
    let per_round = start.elapsed().as_secs_f64() * 1e9 / rounds.max(1) as f64;
    println!("{rounds} pooled instantiations, {per_round:.0} ns each (wall clock, for orientation only)");
}
