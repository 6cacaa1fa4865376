//! Sleeps with `std::thread::sleep` (WASI `poll_oneoff` with a relative
//! clock) and says whether at least that long passed. Its output is the
//! same natively and under WASI (`scripts/build-corpus` records the native
//! one in `sleep.expected`).
//!
//! Usage: `sleep [MS]` (default 50).

use std::time::{Duration, Instant};

fn main() {
    let ms: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(50);
    println!("sleeping {ms} ms");
    let start = Instant::now();
    std::thread::sleep(Duration::from_millis(ms));
    let slept = start.elapsed();
    println!("slept at least {ms} ms: {}", slept >= Duration::from_millis(ms));
    println!("woke within a second of that: {}", slept < Duration::from_millis(ms + 1000));
}
