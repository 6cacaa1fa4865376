//! GHSA-vc8c-j3xm-xj73 (CVE-2026-24116), kept fixed: Cranelift 0.112's x64
//! backend sank the `f64.load` under `f64.copysign` (and under
//! `f64x2.replace_lane`) into a 16-byte operand, so a valid load of the
//! last 8 bytes of memory trapped in guard mode and read 8 bytes past the
//! memory in explicit mode. Every x86_64 preset selects instructions
//! differently (SSE, AVX), so each one this host can run is checked, in
//! both bounds-check modes, with loads at the last bytes of memory under
//! the scalar and lane operators that can absorb a load. The scripts of
//! wasmtime's misc testsuite that found it (`f64-copysign.wast`,
//! `simd/edge-of-memory.wast`) run in `misc.rs`; this test needs no
//! outside files.

use wasmc::{BoundsChecks, CompileOptions};
use wasmc_targets::{Arch, PRESETS};
use wasmc_wast::run_script;

/// The last 8 bytes of the one page hold the f64 -1.5; as an f32, the
/// last 4 are -1.9375. Addresses come in as parameters, so nothing is
/// known to be in bounds at compile time.
const SCRIPT: &str = r#"
(module
  (memory 1 1)
  (data (i32.const 65528) "\00\00\00\00\00\00\f8\bf")
  (func (export "f64.copysign") (param $x f64) (param $at i32) (result f64)
    (f64.copysign (local.get $x) (f64.load (local.get $at))))
  (func (export "f32.copysign") (param $x f32) (param $at i32) (result f32)
    (f32.copysign (local.get $x) (f32.load (local.get $at))))
  (func (export "f64x2.replace_lane") (param $at i32) (result f64)
    (f64x2.extract_lane 1 (f64x2.replace_lane 1 (v128.const f64x2 7 7) (f64.load (local.get $at)))))
  (func (export "f32x4.replace_lane") (param $at i32) (result f32)
    (f32x4.extract_lane 3 (f32x4.replace_lane 3 (v128.const f32x4 7 7 7 7) (f32.load (local.get $at)))))
  (func (export "v128.load64_lane") (param $at i32) (result f64)
    (f64x2.extract_lane 0 (v128.load64_lane 0 (local.get $at) (v128.const f64x2 7 7))))
  (func (export "v128.load64_zero") (param $at i32) (result f64)
    (f64x2.extract_lane 0 (v128.load64_zero (local.get $at))))
  (func (export "v128.load32_splat") (param $at i32) (result f32)
    (f32x4.extract_lane 2 (v128.load32_splat (local.get $at))))
  (func (export "f64.add") (param $x f64) (param $at i32) (result f64)
    (f64.add (local.get $x) (f64.load (local.get $at)))))

(assert_return (invoke "f64.copysign" (f64.const 2) (i32.const 65528)) (f64.const -2))
(assert_return (invoke "f64.copysign" (f64.const -2) (i32.const 65528)) (f64.const -2))
(assert_return (invoke "f64.copysign" (f64.const 2) (i32.const 0)) (f64.const 2))
(assert_trap (invoke "f64.copysign" (f64.const 2) (i32.const 65529)) "out of bounds memory access")
(assert_return (invoke "f32.copysign" (f32.const 3) (i32.const 65532)) (f32.const -3))
(assert_trap (invoke "f32.copysign" (f32.const 3) (i32.const 65533)) "out of bounds memory access")
(assert_return (invoke "f64x2.replace_lane" (i32.const 65528)) (f64.const -1.5))
(assert_trap (invoke "f64x2.replace_lane" (i32.const 65529)) "out of bounds memory access")
(assert_return (invoke "f32x4.replace_lane" (i32.const 65532)) (f32.const -1.9375))
(assert_trap (invoke "f32x4.replace_lane" (i32.const 65533)) "out of bounds memory access")
(assert_return (invoke "v128.load64_lane" (i32.const 65528)) (f64.const -1.5))
(assert_trap (invoke "v128.load64_lane" (i32.const 65529)) "out of bounds memory access")
(assert_return (invoke "v128.load64_zero" (i32.const 65528)) (f64.const -1.5))
(assert_trap (invoke "v128.load64_zero" (i32.const 65529)) "out of bounds memory access")
(assert_return (invoke "v128.load32_splat" (i32.const 65532)) (f32.const -1.9375))
(assert_trap (invoke "v128.load32_splat" (i32.const 65533)) "out of bounds memory access")
(assert_return (invoke "f64.add" (f64.const 0.5) (i32.const 65528)) (f64.const -1))
(assert_trap (invoke "f64.add" (f64.const 0.5) (i32.const 65529)) "out of bounds memory access")
"#;

#[test]
fn loads_at_the_last_bytes_of_memory_are_right_on_every_x86_64_preset_in_both_modes() {
    let presets: Vec<_> = PRESETS.iter().filter(|p| p.arch == Arch::X86_64).collect();
    assert!(presets.len() >= 3, "expected the x86_64, -v2 and -v3 presets");
    if wasmc_targets::host_arch() != Arch::X86_64 {
        eprintln!("not an x86_64 host: the advisory is x64-only; the aarch64 runs cover the same script shapes");
        return;
    }
    let mut ran = 0;
    for preset in presets {
        let target = wasmc_targets::resolve(Some(preset.name)).expect("a known preset");
        let missing = wasmc_targets::missing_features(&target.features);
        if !missing.is_empty() {
            eprintln!("preset {}: this host lacks {}; not run here", preset.name, missing.join(", "));
            continue;
        }
        for mode in [BoundsChecks::Guard, BoundsChecks::Explicit] {
            let options = CompileOptions { target: target.clone(), bounds_checks: mode, ..CompileOptions::default() };
            let report = run_script(&format!("advisory script ({}, {mode:?})", preset.name), SCRIPT, &options);
            assert_eq!(report.failed, 0, "{} {mode:?}: {:#?}", preset.name, report.failures);
            assert_eq!(report.passed, 19, "{} {mode:?}: every directive runs", preset.name);
            ran += 1;
        }
    }
    // The baseline preset runs on every x86_64 host.
    assert!(ran >= 2, "no preset ran");
}
