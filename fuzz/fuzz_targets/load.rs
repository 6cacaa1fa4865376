//! Damaged artifacts (bytes flipped, cut short, inserted, with or without a
//! recomputed checksum) are refused with an error, never a crash.
#![no_main]

use std::sync::OnceLock;

static BASES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let bases = BASES.get_or_init(|| wasmc_fuzz::MODES.iter().map(|&m| wasmc_fuzz::load_base(m)).collect());
    let base = &bases[usize::from(data.first().copied().unwrap_or(0) & 1)];
    if let Err(finding) = wasmc_fuzz::load_mutated(data, base) {
        panic!("{finding}");
    }
});
