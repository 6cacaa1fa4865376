//! wasm-smith modules run in wasmc (both bounds-check modes) and wasmi:
//! results, traps, exported globals and memories must match.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(finding) = wasmc_fuzz::differential::run(data) {
        panic!("{finding}");
    }
});
