//! `memory.copy` and `memory.fill` at the edges of memory: since format
//! version 7 the generated code checks a small one itself (against the
//! memory's current length, read on every operation) and calls a plain
//! `memmove`/`memset`, and leaves the rest to the loader's builtins. The
//! spec suite covers one module's own memory; this script adds an imported
//! memory that its exporter grows, lengths that wrap 32 bits, zero lengths
//! one past the end, and a trapping fill that must write nothing, in both
//! bounds-check modes and with fuel metering.

use wasmc::{BoundsChecks, CompileOptions};
use wasmc_wast::run_script;

const SCRIPT: &str = r#"
(module $m
  (memory (export "mem") 1)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))
(register "m" $m)
(module $user
  (import "m" "mem" (memory 1))
  (func (export "copy") (param i32 i32 i32) (memory.copy (local.get 0) (local.get 1) (local.get 2)))
  (func (export "fill") (param i32 i32 i32) (memory.fill (local.get 0) (local.get 1) (local.get 2)))
  (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0))))
;; the end of the first page, then past it
(assert_return (invoke "fill" (i32.const 65535) (i32.const 7) (i32.const 1)))
(assert_trap (invoke "fill" (i32.const 65535) (i32.const 7) (i32.const 2)) "out of bounds memory access")
(assert_trap (invoke "copy" (i32.const 0) (i32.const 1) (i32.const 65536)) "out of bounds memory access")
(assert_return (invoke "copy" (i32.const 0) (i32.const 1) (i32.const 65534)))
;; lengths that wrap 32 bits
(assert_trap (invoke "copy" (i32.const 16) (i32.const 0) (i32.const -1)) "out of bounds memory access")
(assert_trap (invoke "fill" (i32.const -16) (i32.const 7) (i32.const 32)) "out of bounds memory access")
(assert_trap (invoke "copy" (i32.const -16) (i32.const 0) (i32.const 32)) "out of bounds memory access")
(assert_return (invoke "load" (i32.const 65535)) (i32.const 7))
;; nothing written by a trapping fill
(assert_trap (invoke "fill" (i32.const 100) (i32.const 9) (i32.const 65500)) "out of bounds memory access")
(assert_return (invoke "load" (i32.const 100)) (i32.const 0))
;; the exporter grows: the importer's small copies see the new length
(assert_trap (invoke "fill" (i32.const 65536) (i32.const 5) (i32.const 1)) "out of bounds memory access")
(assert_return (invoke $m "grow" (i32.const 1)) (i32.const 1))
(assert_return (invoke "fill" (i32.const 131071) (i32.const 5) (i32.const 1)))
(assert_return (invoke "copy" (i32.const 65536) (i32.const 65534) (i32.const 2)))
(assert_return (invoke "load" (i32.const 65537)) (i32.const 7))
(assert_trap (invoke "copy" (i32.const 131071) (i32.const 0) (i32.const 2)) "out of bounds memory access")
;; zero lengths at the end are fine, one past is not
(assert_return (invoke "copy" (i32.const 131072) (i32.const 131072) (i32.const 0)))
(assert_trap (invoke "copy" (i32.const 131073) (i32.const 0) (i32.const 0)) "out of bounds memory access")
(assert_trap (invoke "fill" (i32.const 131073) (i32.const 0) (i32.const 0)) "out of bounds memory access")
"#;

#[test]
fn small_copies_and_fills_check_the_current_length_of_an_imported_memory_at_its_edges() {
    for (mode, fuel_metering) in
        [(BoundsChecks::Guard, false), (BoundsChecks::Explicit, false), (BoundsChecks::Guard, true)]
    {
        let options = CompileOptions { bounds_checks: mode, fuel_metering, ..CompileOptions::default() };
        let report = run_script(&format!("bulk edges ({mode:?}, fuel {fuel_metering})"), SCRIPT, &options);
        assert_eq!(report.failed, 0, "{mode:?}, fuel {fuel_metering}: {:#?}", report.failures);
        assert_eq!(report.passed, 22, "{mode:?}, fuel {fuel_metering}: every directive runs");
    }
}
