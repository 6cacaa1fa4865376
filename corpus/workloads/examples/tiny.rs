//! The smallest plugin, for start-up latency: `run(n: i32) -> i64` does
//! trivial work on `n` (`wasmc_workloads::tiny`).
#[no_mangle]
pub extern "C" fn run(n: i32) -> i64 {
    wasmc_workloads::tiny(n.max(0) as u32) as i64
}
