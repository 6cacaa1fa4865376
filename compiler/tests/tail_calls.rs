//! Wasm 3.0's tail calls where they meet the runtime: an endless
//! tail-recursive loop (which never grows the stack, so no stack limit
//! stops it) is still stopped by a deadline and by fuel, and a tail call
//! to an import (a host function, or another instance's function) returns
//! that callee's results to the caller's caller. The proposal's own scripts
//! (`compiler/wast/tests/spec.rs`) check the operators themselves.

mod common;

use std::time::{Duration, Instant};

use wasmc::{BoundsChecks, CompileOptions};
use wasmc_loader::{Error, HostError, Instance, Linker, Module, Store, TrapKind, Val};

const LOOPS: &str = r#"
(module
  (type $t (func (param i64) (result i64)))
  (table 2 funcref)
  (elem (i32.const 0) $ping $pong)
  ;; Never returns: each call replaces the last.
  (func $forever (export "forever") (param i64) (result i64)
    (return_call $forever (i64.add (local.get 0) (i64.const 1))))
  ;; The same through the table, alternating two functions.
  (func $ping (export "ping_pong") (param i64) (result i64)
    (return_call_indirect (type $t) (i64.add (local.get 0) (i64.const 1)) (i32.const 1)))
  (func $pong (param i64) (result i64)
    (return_call_indirect (type $t) (local.get 0) (i32.const 0))))
"#;

fn compile(wat: &str, options: &CompileOptions) -> Module {
    let wasm = wat::parse_str(wat).unwrap();
    common::load(&wasmc::compile(&wasm, options).unwrap()).unwrap()
}

fn trap_kind(result: Result<Vec<Val>, Error>) -> Option<TrapKind> {
    match result {
        Err(Error::Trap(t)) => Some(t.kind),
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn an_endless_tail_recursion_is_stopped_by_the_deadline() {
    for mode in common::MODES {
        let module = compile(LOOPS, &common::options(mode));
        let mut store = Store::default();
        let instance = Instance::new(&mut store, &module, &Linker::new()).unwrap();
        for name in ["forever", "ping_pong"] {
            store.set_call_timeout(Some(Duration::from_millis(50)));
            let start = Instant::now();
            let kind = trap_kind(instance.call(&mut store, name, &[Val::I64(0)]));
            assert_eq!(kind, Some(TrapKind::Interrupted), "{mode:?} {name}");
            assert!(start.elapsed() < Duration::from_secs(10), "{mode:?} {name}: {:?}", start.elapsed());
        }
    }
}

#[test]
fn an_endless_tail_recursion_runs_out_of_fuel() {
    let options = CompileOptions { fuel_metering: true, bounds_checks: BoundsChecks::Explicit, ..Default::default() };
    let module = compile(LOOPS, &options);
    let mut store = Store::default();
    let instance = Instance::new(&mut store, &module, &Linker::new()).unwrap();
    for name in ["forever", "ping_pong"] {
        store.set_fuel(100_000);
        assert_eq!(trap_kind(instance.call(&mut store, name, &[Val::I64(0)])), Some(TrapKind::Interrupted), "{name}");
        assert_eq!(store.fuel_remaining(), Some(0), "{name}");
    }
}

/// `run(x)` tail-calls the import `add_one(x)`; `run_trap` tail-calls one
/// that fails.
const CALLER: &str = r#"
(module
  (import "env" "add_one" (func $add_one (param i32) (result i32)))
  (import "env" "fail" (func $fail (param i32) (result i32)))
  (func (export "run") (param i32) (result i32) (return_call $add_one (local.get 0)))
  (func (export "run_trap") (param i32) (result i32) (return_call $fail (local.get 0)))
  (func (export "twice") (param i32) (result i32) (i32.add (call $add_one (local.get 0)) (i32.const 1000))))
"#;

#[test]
fn a_tail_call_to_a_host_function_returns_its_result_to_the_callers_caller() {
    for mode in common::MODES {
        let module = compile(CALLER, &common::options(mode));
        let mut linker = Linker::new();
        linker.func_wrap("env", "add_one", |x: i32| x + 1);
        linker.func_wrap("env", "fail", |_: i32| -> Result<i32, HostError> { Err(HostError::new("refused")) });
        let mut store = Store::default();
        let instance = Instance::new(&mut store, &module, &linker).unwrap();
        let call = |store: &mut Store, name, x| instance.call(store, name, &[Val::I32(x)]);
        assert!(matches!(call(&mut store, "run", 41).unwrap()[..], [Val::I32(42)]), "{mode:?}");
        assert_eq!(trap_kind(call(&mut store, "run_trap", 1)), Some(TrapKind::HostError), "{mode:?}");
        // The instance works on after the host's trap.
        assert!(matches!(call(&mut store, "twice", 1).unwrap()[..], [Val::I32(1002)]), "{mode:?}");
    }
}

#[test]
fn a_tail_call_to_another_instances_function_returns_its_result() {
    let callee = r#"(module (func (export "add_one") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
                            (func (export "fail") (param i32) (result i32) unreachable))"#;
    for mode in common::MODES {
        let mut store = Store::default();
        let callee = Instance::new(&mut store, &compile(callee, &common::options(mode)), &Linker::new()).unwrap();
        let mut linker = Linker::new();
        linker.instance(&mut store, "env", callee);
        let instance = Instance::new(&mut store, &compile(CALLER, &common::options(mode)), &linker).unwrap();
        assert!(matches!(instance.call(&mut store, "run", &[Val::I32(9)]).unwrap()[..], [Val::I32(10)]), "{mode:?}");
        let kind = trap_kind(instance.call(&mut store, "run_trap", &[Val::I32(9)]));
        assert_eq!(kind, Some(TrapKind::UnreachableCodeReached), "{mode:?}");
    }
}

/// Twenty `i64` arguments, an `f64` and a `v128`: more than the registers
/// hold, so some go on the stack, whose area a tail call to a callee with
/// more (or fewer) of them must resize in place.
fn stack_arguments() -> String {
    const N: usize = 20;
    let params = "i64 ".repeat(N);
    let weighted = (0..N).fold("(i64.const 0)".to_string(), |acc, i| {
        format!("(i64.add {acc} (i64.mul (local.get {i}) (i64.const {})))", i + 1)
    });
    let repeat_first = "(local.get 0) ".repeat(N);
    let rest = (2..=N).map(|i| format!("(local.get {i}) ")).collect::<String>();
    let zeros = "(i64.const 0) ".repeat(N);
    format!(
        r#"(module
  (type $many (func (param {params} f64 v128) (result i64 f64)))
  (table 1 funcref) (elem (i32.const 0) $sum)
  (func $sum (param {params} f64 v128) (result i64 f64)
    {weighted} (f64.add (local.get {N}) (f64x2.extract_lane 1 (local.get {n1}))))
  (func (export "few_to_many") (param i64) (result i64 f64)
    (return_call $sum {repeat_first} (f64.const 0.5) (v128.const f64x2 1.0 2.25)))
  (func (export "few_to_many_indirect") (param i64) (result i64 f64)
    (return_call_indirect (type $many) {repeat_first} (f64.const 0.5) (v128.const f64x2 1.0 2.25) (i32.const 0)))
  (func $back (param {params} f64 v128) (result i64 f64) (return_call $one (local.get 19)))
  (func $one (param i64) (result i64 f64) (local.get 0) (f64.const 1.5))
  (func (export "many_to_few") (param i64) (result i64 f64)
    (return_call $back {repeat_first} (f64.const 0.5) (v128.const f64x2 1.0 2.25)))
  (func $deep (param $n i64) (param {params}) (result i64)
    (if (result i64) (i64.eqz (local.get $n)) (then (local.get 1))
      (else (return_call $deep (i64.sub (local.get $n) (i64.const 1)) (i64.add (local.get 1) (i64.const 1)) {rest}))))
  (func (export "deep") (param i64) (result i64) (call $deep (local.get 0) {zeros})))"#,
        n1 = N + 1
    )
}

#[test]
fn tail_calls_resize_the_stack_arguments_in_place() {
    let wat = stack_arguments();
    for mode in common::MODES {
        let module = compile(&wat, &common::options(mode));
        let mut store = Store::default();
        let instance = Instance::new(&mut store, &module, &Linker::new()).unwrap();
        let mut call = |name, x| match instance.call(&mut store, name, &[Val::I64(x)]).unwrap()[..] {
            [Val::I64(i), Val::F64(f)] => (i, f64::from_bits(f)),
            [Val::I64(i)] => (i, 0.0),
            ref other => panic!("{mode:?} {name}: {other:?}"),
        };
        // 1 * (1 + 2 + ... + 20) = 210; 0.5 + 2.25.
        assert_eq!(call("few_to_many", 1), (210, 2.75), "{mode:?}");
        assert_eq!(call("few_to_many_indirect", 2), (420, 2.75), "{mode:?}");
        assert_eq!(call("many_to_few", 7), (7, 1.5), "{mode:?}");
        // A million calls deep in a frame the size of the first.
        assert_eq!(call("deep", 1_000_000), (1_000_000, 0.0), "{mode:?}");
    }
}

/// Twelve `i64` results: more than the return registers hold, so they go
/// through the area the first caller passed, which every tail callee must
/// write.
fn many_results() -> String {
    const N: usize = 12;
    let results = "i64 ".repeat(N);
    let values = (0..N).map(|i| format!("(i64.add (local.get 0) (i64.const {i})) ")).collect::<String>();
    format!(
        r#"(module
  (type $t (func (param i64) (result {results})))
  (table 1 funcref) (elem (i32.const 0) $many)
  (func $many (param i64) (result {results}) {values})
  (func (export "direct") (param i64) (result {results})
    (return_call $many (i64.mul (local.get 0) (i64.const 10))))
  (func (export "indirect") (param i64) (result {results})
    (return_call_indirect (type $t) (local.get 0) (i32.const 0)))
  (func $rec (param i64 i64) (result {results})
    (if (result {results}) (i64.eqz (local.get 0)) (then (call $many (local.get 1)))
      (else (return_call $rec (i64.sub (local.get 0) (i64.const 1)) (i64.add (local.get 1) (i64.const 2))))))
  (func (export "deep") (param i64) (result {results}) (return_call $rec (local.get 0) (i64.const 0))))"#
    )
}

#[test]
fn tail_calls_return_results_through_the_first_callers_area() {
    let wat = many_results();
    for mode in common::MODES {
        let module = compile(&wat, &common::options(mode));
        let mut store = Store::default();
        let instance = Instance::new(&mut store, &module, &Linker::new()).unwrap();
        let mut call = |name, x| -> Vec<i64> {
            let results = instance.call(&mut store, name, &[Val::I64(x)]).unwrap();
            results.iter().map(|v| if let Val::I64(v) = v { *v } else { panic!("{v:?}") }).collect()
        };
        let expected = |base: i64| (0..12).map(|i| base + i).collect::<Vec<_>>();
        assert_eq!(call("direct", 1), expected(10), "{mode:?}");
        assert_eq!(call("indirect", 5), expected(5), "{mode:?}");
        assert_eq!(call("deep", 100_000), expected(200_000), "{mode:?}");
    }
}
