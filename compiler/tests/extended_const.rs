//! Wasm 3.0's extended constant expressions as position-independent code
//! uses them: data and element segments placed at an imported base plus an
//! offset, and globals computed from imports, evaluated per instance, in
//! both bounds-check modes.

mod common;

use common::{module, MODES};
use wasmc_loader::{Error, Global, GlobalType, Instance, Linker, Module, Store, TrapKind, Val, ValType};

const PIC: &str = r#"
(module
  (import "env" "memory_base" (global $mb i32))
  (import "env" "table_base" (global $tb i32))
  (import "env" "big" (global $big i64))
  (memory (export "memory") 1)
  (table 8 funcref)
  (global (export "end") i32 (i32.add (global.get $mb) (i32.mul (i32.const 4) (i32.const 3))))
  (global (export "wrapped") i64 (i64.mul (global.get $big) (i64.const 4)))
  (global (export "folded") i32 (i32.sub (i32.const 0) (i32.mul (i32.const 3) (i32.const 5))))
  (data (i32.add (global.get $mb) (i32.const 8)) "hello")
  (elem (i32.add (global.get $tb) (i32.const 1)) $seven)
  (func $seven (result i32) (i32.const 7))
  (func (export "call") (param i32) (result i32) (call_indirect (result i32) (local.get 0))))
"#;

/// Instantiates `module` with the given bases in a new store.
fn instantiate(module: &Module, memory_base: i32, table_base: i32) -> Result<(Store, Instance), Error> {
    let mut store = Store::default();
    let mut linker = Linker::new();
    let i32_global =
        |store: &mut Store, v| Global::new(store, GlobalType { ty: ValType::I32, mutable: false }, Val::I32(v));
    let (mb, tb) = (i32_global(&mut store, memory_base)?, i32_global(&mut store, table_base)?);
    let big =
        Global::new(&mut store, GlobalType { ty: ValType::I64, mutable: false }, Val::I64(0x4000_0000_0000_0001))?;
    linker.define("env", "memory_base", mb);
    linker.define("env", "table_base", tb);
    linker.define("env", "big", big);
    let instance = Instance::new(&mut store, module, &linker)?;
    Ok((store, instance))
}

#[test]
fn segments_and_globals_are_placed_from_imported_bases() {
    for mode in MODES {
        let module = module(PIC, mode);
        // Two instances of one module, each with its own bases.
        for (memory_base, table_base) in [(100, 2), (4000, 5)] {
            let (mut store, instance) = instantiate(&module, memory_base, table_base).unwrap();
            let global = |store: &Store, name| format!("{:?}", instance.get_global(store, name).unwrap().get(store));
            assert_eq!(global(&store, "end"), format!("{:?}", Val::I32(memory_base + 12)), "{mode:?}");
            // 0x4000_0000_0000_0001 * 4 wraps to 4.
            assert_eq!(global(&store, "wrapped"), format!("{:?}", Val::I64(4)), "{mode:?}");
            assert_eq!(global(&store, "folded"), format!("{:?}", Val::I32(-15)), "{mode:?}");
            let memory = instance.get_memory(&store, "memory").unwrap();
            let at = memory_base as usize + 8;
            assert_eq!(&memory.data(&store)[at - 1..at + 6], b"\0hello\0", "{mode:?} at {memory_base}");
            assert_eq!(memory.data(&store).iter().filter(|&&b| b != 0).count(), 5, "{mode:?}");
            let call = |store: &mut Store, slot| instance.call(store, "call", &[Val::I32(slot)]);
            let seven = call(&mut store, table_base + 1).unwrap();
            assert!(matches!(seven[..], [Val::I32(7)]), "{mode:?}: {seven:?}");
            match call(&mut store, table_base) {
                Err(Error::Trap(t)) => assert_eq!(t.kind, TrapKind::IndirectCallToNull, "{mode:?}"),
                other => panic!("{mode:?}: expected a null-call trap, got {other:?}"),
            }
        }
    }
}

/// A base that puts a segment past the end is the spec's trap at
/// instantiation, not a write out of bounds.
#[test]
fn a_base_that_puts_a_segment_out_of_bounds_traps_at_instantiation() {
    for mode in MODES {
        let module = module(PIC, mode);
        for (memory_base, table_base, kind) in
            [(65536 - 12, 0, TrapKind::MemoryOutOfBounds), (0, 7, TrapKind::TableOutOfBounds)]
        {
            match instantiate(&module, memory_base, table_base) {
                Err(Error::Trap(t)) => assert_eq!(t.kind, kind, "{mode:?}"),
                other => panic!("{mode:?}: expected a {kind:?} trap, got {:?}", other.map(|_| ())),
            }
        }
        // The addition wraps, as in code: a base of -4 puts "hello" at 4.
        let (store, instance) = instantiate(&module, -4, 0).unwrap();
        assert_eq!(&instance.get_memory(&store, "memory").unwrap().data(&store)[4..9], b"hello", "{mode:?}");
    }
}
