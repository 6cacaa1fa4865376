//! Every kind of trap comes back to the host as `Err(Trap)` naming the kind
//! and the wasm location, and leaves the thread, the instance and other
//! instances working.

mod common;

use common::{instance, instance_with, MODES};
use wasmc_loader::{BoundsChecks, Config, Error, HostError, Linker, TrapKind, Val};

const TRAPS: &str = r#"
(module
  (type $t (func (result i32)))
  (type $other (func (param i64)))
  (memory 1 1)
  (table 2 funcref)
  (elem (i32.const 0) $answer)
  (func $answer (type $t) (i32.const 42))
  (func (export "unreachable") (unreachable))
  (func (export "div_s") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func (export "rem_u") (param i32 i32) (result i32) (i32.rem_u (local.get 0) (local.get 1)))
  (func (export "trunc") (param f64) (result i32) (i32.trunc_f64_s (local.get 0)))
  (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "load_offset") (param i32) (result i64) (i64.load offset=0x7fffffff (local.get 0)))
  (func (export "store8") (param i32) (i32.store8 (local.get 0) (i32.const 1)))
  (func (export "call") (param i32) (result i32) (call_indirect (type $t) (local.get 0)))
  (func (export "call_other") (param i32) (call_indirect (type $other) (i64.const 1) (local.get 0)))
  (func (export "table_get") (param i32) (result funcref) (table.get (local.get 0)))
  (func $recurse (export "recurse") (param i32) (result i32)
    (i32.add (call $recurse (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  (func (export "fill") (param i32 i32) (memory.fill (local.get 0) (i32.const 7) (local.get 1)))
)
"#;

fn trap_of(result: Result<Vec<Val>, Error>) -> wasmc_loader::Trap {
    match result {
        Err(Error::Trap(trap)) => trap,
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn each_trap_kind_is_reported_with_its_location() {
    let cases: &[(&str, &[Val], TrapKind)] = &[
        ("unreachable", &[], TrapKind::UnreachableCodeReached),
        ("div_s", &[Val::I32(1), Val::I32(0)], TrapKind::IntegerDivisionByZero),
        ("div_s", &[Val::I32(i32::MIN), Val::I32(-1)], TrapKind::IntegerOverflow),
        ("rem_u", &[Val::I32(1), Val::I32(0)], TrapKind::IntegerDivisionByZero),
        ("trunc", &[Val::F64(f64::NAN.to_bits())], TrapKind::BadConversionToInteger),
        ("trunc", &[Val::F64(1e10f64.to_bits())], TrapKind::IntegerOverflow),
        ("load", &[Val::I32(65536 - 3)], TrapKind::MemoryOutOfBounds),
        ("load", &[Val::I32(-1)], TrapKind::MemoryOutOfBounds),
        ("load_offset", &[Val::I32(-1)], TrapKind::MemoryOutOfBounds),
        ("store8", &[Val::I32(65536)], TrapKind::MemoryOutOfBounds),
        ("call", &[Val::I32(1)], TrapKind::IndirectCallToNull),
        ("call", &[Val::I32(2)], TrapKind::TableOutOfBounds),
        ("call_other", &[Val::I32(0)], TrapKind::BadSignature),
        ("table_get", &[Val::I32(5)], TrapKind::TableOutOfBounds),
        ("recurse", &[Val::I32(0)], TrapKind::StackOverflow),
        ("fill", &[Val::I32(65000), Val::I32(1000)], TrapKind::MemoryOutOfBounds),
    ];
    for mode in MODES {
        let (mut store, inst) = instance(TRAPS, mode);
        for (name, args, kind) in cases {
            let trap = trap_of(inst.call(&mut store, name, args));
            assert_eq!(trap.kind, *kind, "{name}{args:?} in {mode:?} mode: {trap}");
            if *kind != TrapKind::StackOverflow {
                assert!(trap.func_index.is_some(), "{name}: trap names no function: {trap}");
                assert!(trap.wasm_offset.is_some(), "{name}: trap names no wasm offset: {trap}");
            }
            // The instance is still usable after every trap.
            assert!(matches!(inst.call(&mut store, "call", &[Val::I32(0)]).as_deref(), Ok([Val::I32(42)])));
        }
    }
}

#[test]
fn trap_message_names_kind_and_function() {
    let (mut store, inst) = instance(TRAPS, BoundsChecks::Guard);
    let trap = trap_of(inst.call(&mut store, "div_s", &[Val::I32(1), Val::I32(0)]));
    let text = trap.to_string();
    assert!(text.contains("integer divide by zero"), "{text}");
    assert!(text.contains("offset"), "{text}");
}

#[test]
fn a_trap_in_one_instance_leaves_others_untouched() {
    for mode in MODES {
        let (mut store, a) = instance(TRAPS, mode);
        let b = wasmc_loader::Instance::new(&mut store, &common::module(TRAPS, mode), &Linker::new()).unwrap();
        let (mut other_store, c) = instance(TRAPS, mode);
        c.call(&mut other_store, "store8", &[Val::I32(10)]).unwrap();
        for _ in 0..100 {
            trap_of(a.call(&mut store, "load", &[Val::I32(-1)]));
            trap_of(b.call(&mut store, "recurse", &[Val::I32(0)]));
        }
        assert!(matches!(c.call(&mut other_store, "load", &[Val::I32(10)]).as_deref(), Ok([Val::I32(1)])));
        assert!(matches!(b.call(&mut store, "load", &[Val::I32(10)]).as_deref(), Ok([Val::I32(0)])));
    }
}

#[test]
fn traps_on_many_threads_at_once_stay_on_their_thread() {
    let module = common::module(TRAPS, BoundsChecks::Guard);
    std::thread::scope(|s| {
        for t in 0..4 {
            let module = module.clone();
            s.spawn(move || {
                let mut store = wasmc_loader::Store::default();
                let inst = wasmc_loader::Instance::new(&mut store, &module, &Linker::new()).unwrap();
                for i in 0..200 {
                    let kind = match (i + t) % 3 {
                        0 => trap_of(inst.call(&mut store, "load", &[Val::I32(-8)])).kind,
                        1 => trap_of(inst.call(&mut store, "recurse", &[Val::I32(0)])).kind,
                        _ => trap_of(inst.call(&mut store, "unreachable", &[])).kind,
                    };
                    assert_ne!(kind, TrapKind::UnknownFault);
                    assert!(matches!(inst.call(&mut store, "call", &[Val::I32(0)]).as_deref(), Ok([Val::I32(42)])));
                }
            });
        }
    });
}

#[test]
fn stack_limit_is_configurable() {
    let count = r#"(module
      (func $down (export "down") (param i32) (result i32)
        (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
          (else (i32.add (call $down (i32.sub (local.get 0) (i32.const 1))) (i32.const 1))))))"#;
    let small = Config { max_wasm_stack: 64 * 1024, ..Config::default() };
    let (mut store, inst) = instance_with(count, BoundsChecks::Guard, &Linker::new(), small);
    assert!(matches!(inst.call(&mut store, "down", &[Val::I32(100)]).as_deref(), Ok([Val::I32(100)])));
    assert_eq!(trap_of(inst.call(&mut store, "down", &[Val::I32(1_000_000)])).kind, TrapKind::StackOverflow);
    let (mut store, inst) = instance(count, BoundsChecks::Guard);
    assert!(matches!(inst.call(&mut store, "down", &[Val::I32(3000)]).as_deref(), Ok([Val::I32(3000)])));
}

#[test]
fn host_function_errors_become_traps() {
    let mut linker = Linker::new();
    linker.func_wrap("env", "check", |x: i32| -> Result<i32, HostError> {
        if x < 0 {
            Err(HostError::new("negative input"))
        } else {
            Ok(x * 2)
        }
    });
    let wat = r#"(module (import "env" "check" (func $check (param i32) (result i32)))
      (func (export "run") (param i32) (result i32) (i32.add (call $check (local.get 0)) (i32.const 1))))"#;
    for mode in MODES {
        let (mut store, inst) = instance_with(wat, mode, &linker, Config::default());
        assert!(matches!(inst.call(&mut store, "run", &[Val::I32(20)]).as_deref(), Ok([Val::I32(41)])));
        let trap = trap_of(inst.call(&mut store, "run", &[Val::I32(-1)]));
        assert_eq!(trap.kind, TrapKind::HostError);
        assert!(trap.to_string().contains("negative input"), "{trap}");
        assert!(matches!(inst.call(&mut store, "run", &[Val::I32(1)]).as_deref(), Ok([Val::I32(3)])));
    }
}
