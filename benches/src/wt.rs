//! wasmtime engines configured like wasmc, for the comparison benchmarks
//! (feature `wasmtime`). Both sides use Cranelift 0.135 at opt level
//! `speed`.

use wasmtime::{Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig, Store};

/// How a wasmtime engine is configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// wasmtime's defaults (static memories: 4 GiB reservation and 2 GiB
    /// guard, like wasmc's guard mode), no interruption checks.
    Default,
    /// As `Default` plus `epoch_interruption(true)`: a check at function
    /// entry and loop headers, as wasmc's code always has.
    Epoch,
    /// Dynamic memories without guard pages (explicit bounds checks, like
    /// wasmc's explicit mode), with epoch checks.
    Explicit,
}

impl Flavor {
    /// Name used in benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Default => "wasmtime",
            Flavor::Epoch => "wasmtime_epoch",
            Flavor::Explicit => "wasmtime_explicit",
        }
    }
}

/// The engine configuration for `flavor`.
pub fn config(flavor: Flavor) -> Config {
    let mut config = Config::new();
    config.cranelift_opt_level(OptLevel::Speed);
    match flavor {
        Flavor::Default => {}
        Flavor::Epoch => {
            config.epoch_interruption(true);
        }
        Flavor::Explicit => {
            config.epoch_interruption(true);
            config.memory_reservation(0);
            config.memory_guard_size(0);
        }
    }
    config
}

/// An engine for `flavor`.
///
/// # Panics
/// If wasmtime rejects the configuration.
pub fn engine(flavor: Flavor) -> Engine {
    Engine::new(&config(flavor)).expect("wasmtime accepts the configuration")
}

/// An engine with the pooling allocator (`capacity` instances), otherwise
/// as `flavor` (memories of at most 160 pages for `Explicit`).
///
/// # Panics
/// If wasmtime rejects the configuration.
pub fn pooling_engine(flavor: Flavor, capacity: u32) -> Engine {
    let mut pooling = PoolingAllocationConfig::default();
    pooling.total_core_instances(capacity).total_memories(capacity).total_tables(capacity);
    let mut config = config(flavor);
    if flavor == Flavor::Explicit {
        // A pool's memory slots have a fixed size: wasmc's pool default of
        // 160 pages (10 MiB), without guard pages, so accesses are still
        // checked explicitly.
        pooling.max_memory_size(160 << 16);
        config.memory_reservation(160 << 16);
        config.memory_guard_size(0);
    }
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    Engine::new(&config).expect("wasmtime accepts the pooling configuration")
}

/// A store whose epoch deadline (if the engine checks epochs) is never
/// reached during a benchmark.
pub fn store(engine: &Engine) -> Store<()> {
    let mut store = Store::new(engine, ());
    store.set_epoch_deadline(1 << 40);
    store
}
