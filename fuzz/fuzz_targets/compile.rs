//! Arbitrary bytes, and the wasm-smith module they describe, through the
//! compiler: no panic; invalid input is an error; valid modules compile.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(finding) = wasmc_fuzz::compile_bytes(data).and_then(|()| wasmc_fuzz::compile_smith(data)) {
        panic!("{finding}");
    }
});
