//! The `json` workload as a wasm module: exports `run(n: i32) -> i64`, the
//! checksum of `n` units of work (`wasmc_workloads::json`; a negative `n` is 0).
#[no_mangle]
pub extern "C" fn run(n: i32) -> i64 {
    wasmc_workloads::json(n.max(0) as u32) as i64
}
