//! Plugin-like benchmark workloads (issue #5), the same source built natively
//! (the benchmarks' native baseline, `src/bin/expected.rs`) and for
//! wasm32-unknown-unknown (one module per workload, `examples/<name>.rs`,
//! each exporting `run(n: i32) -> i64`).
//!
//! Every workload is a pure, deterministic function of `n`: it generates its
//! own input in code (a fixed-seed xorshift, no files, no OS randomness), does
//! `n` units of real work with a well-kept crate, and returns a checksum of
//! all its output, so the work cannot be optimised away and the result can be
//! checked against the native build's (`expected.txt`). One unit takes
//! roughly 0.2-2 ms natively in release.

mod check;
mod deflate;
mod headers;
mod json;
mod markdown;
// Compiling the patterns in every unit is the point: a plugin instantiated per
// request does exactly that.
#[allow(clippy::regex_creation_in_loops)]
mod regex_logs;
mod sha256;

pub use deflate::deflate;
pub use headers::headers;
pub use json::json;
pub use markdown::markdown;
pub use regex_logs::regex;
pub use sha256::sha2;

/// A workload: its name (also its module's and example's name) and function.
pub type Workload = (&'static str, fn(u32) -> u64);

/// Every workload, in the order `expected.txt` lists them.
pub const WORKLOADS: [Workload; 6] = [
    ("json", json),
    ("regex", regex),
    ("markdown", markdown),
    ("sha2", sha2),
    ("deflate", deflate),
    ("headers", headers),
];

/// The `tiny` plugin's function: trivial work on `n`, for start-up latency.
pub fn tiny(n: u32) -> u64 {
    u64::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5bd1_e995
}
