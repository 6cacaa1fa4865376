//! The sandbox at its edges, in both bounds-check modes: every load and
//! store width, static offsets up to 0xFFFF_FFFF, addresses at and past the
//! end, at 2 GiB and 4 GiB − 1, bulk memory and table operations crossing
//! the end. Each access that is out of bounds traps with the right kind and
//! writes nothing: the trapping instance's memory and a second instance's
//! memory (and tables) are compared with a sentinel pattern after each call.

mod common;

use std::fmt::Write as _;

use common::MODES;
use wasmc_loader::{BoundsChecks, Error, Instance, Store, TrapKind, Val};

const PAGE: u64 = 65536;
/// (instruction, bytes accessed)
const LOADS: &[(&str, u64)] = &[
    ("i32.load", 4),
    ("i64.load", 8),
    ("f32.load", 4),
    ("f64.load", 8),
    ("v128.load", 16),
    ("i32.load8_s", 1),
    ("i32.load8_u", 1),
    ("i32.load16_s", 2),
    ("i32.load16_u", 2),
    ("i64.load8_s", 1),
    ("i64.load8_u", 1),
    ("i64.load16_s", 2),
    ("i64.load16_u", 2),
    ("i64.load32_s", 4),
    ("i64.load32_u", 4),
];
/// (instruction, bytes accessed, the value stored)
const STORES: &[(&str, u64, &str)] = &[
    ("i32.store", 4, "i32.const -1"),
    ("i64.store", 8, "i64.const -1"),
    ("f32.store", 4, "f32.const -1"),
    ("f64.store", 8, "f64.const -1"),
    ("v128.store", 16, "v128.const i64x2 -1 -1"),
    ("i32.store8", 1, "i32.const -1"),
    ("i32.store16", 2, "i32.const -1"),
    ("i64.store8", 1, "i64.const -1"),
    ("i64.store16", 2, "i64.const -1"),
    ("i64.store32", 4, "i64.const -1"),
];
const OFFSETS: &[u64] = &[0, 1, 0xFFFF, 0x7FFF_FFFF, 0xFFFF_FFFF];

fn name(op: &str, offset: u64) -> String {
    format!("{}_{offset:x}", op.replace('.', "_"))
}

/// One page of memory, a function per (access, offset), bulk operations,
/// and a table of four functions.
fn module_text() -> String {
    let mut m = String::from(
        "(module (memory (export \"mem\") 1 1) (data $d \"0123456789abcdef\")\n\
         (table $t 4 funcref) (elem $e func $f $f $f $f) (elem (i32.const 0) func $f $f $f $f)\n\
         (func $f)\n",
    );
    for &offset in OFFSETS {
        for &(op, _) in LOADS {
            let _ = writeln!(
                m,
                "(func (export \"{}\") (param i32) local.get 0 {op} offset={offset} drop)",
                name(op, offset)
            );
        }
        for &(op, _, value) in STORES {
            let _ = writeln!(
                m,
                "(func (export \"{}\") (param i32) local.get 0 {value} {op} offset={offset})",
                name(op, offset)
            );
        }
    }
    m.push_str(
        "(func (export \"fill\") (param i32 i32) (memory.fill (local.get 0) (i32.const 0xee) (local.get 1)))\n\
         (func (export \"copy\") (param i32 i32 i32) (memory.copy (local.get 0) (local.get 1) (local.get 2)))\n\
         (func (export \"init\") (param i32 i32 i32) (memory.init $d (local.get 0) (local.get 1) (local.get 2)))\n\
         (func (export \"table_get\") (param i32) (drop (table.get $t (local.get 0))))\n\
         (func (export \"table_set\") (param i32) (table.set $t (local.get 0) (ref.null func)))\n\
         (func (export \"table_fill\") (param i32 i32) (table.fill $t (local.get 0) (ref.null func) (local.get 1)))\n\
         (func (export \"table_copy\") (param i32 i32 i32) (table.copy $t $t (local.get 0) (local.get 1) (local.get 2)))\n\
         (func (export \"table_init\") (param i32 i32 i32) (table.init $t $e (local.get 0) (local.get 1) (local.get 2)))\n\
         (func (export \"table_state\") (result i32)\n\
           (i32.or (i32.or (ref.is_null (table.get $t (i32.const 0))) (i32.shl (ref.is_null (table.get $t (i32.const 1))) (i32.const 1)))\n\
                   (i32.or (i32.shl (ref.is_null (table.get $t (i32.const 2))) (i32.const 2)) (i32.shl (ref.is_null (table.get $t (i32.const 3))) (i32.const 3)))))\n)",
    );
    m
}

fn sentinel(i: usize) -> u8 {
    (i as u8).wrapping_mul(7).wrapping_add(3)
}

struct Pair {
    store: Store,
    victim: Instance,
    other_store: Store,
    other: Instance,
}

impl Pair {
    fn new(mode: BoundsChecks) -> Pair {
        let module = common::module(&module_text(), mode);
        let mut store = Store::default();
        let victim = Instance::new(&mut store, &module, &wasmc_loader::Linker::new()).unwrap();
        let mut other_store = Store::default();
        let other = Instance::new(&mut other_store, &module, &wasmc_loader::Linker::new()).unwrap();
        let mut pair = Pair { store, victim, other_store, other };
        pair.reset();
        let mem = pair.other.get_memory(&pair.other_store, "mem").unwrap();
        mem.data_mut(&mut pair.other_store).iter_mut().enumerate().for_each(|(i, b)| *b = sentinel(i));
        pair
    }

    fn reset(&mut self) {
        let mem = self.victim.get_memory(&self.store, "mem").unwrap();
        mem.data_mut(&mut self.store).iter_mut().enumerate().for_each(|(i, b)| *b = sentinel(i));
    }

    /// Calls `func`; checks it traps with `expect` (or succeeds when
    /// `None`), then that the victim's memory differs from the sentinel at
    /// most in `written`, and that the other instance is untouched.
    fn check(&mut self, func: &str, args: &[Val], expect: Option<TrapKind>, written: std::ops::Range<u64>) {
        self.reset();
        let result = self.victim.call(&mut self.store, func, args);
        match (expect, result) {
            (None, Ok(_)) => {}
            (Some(kind), Err(Error::Trap(trap))) => assert_eq!(trap.kind, kind, "{func}{args:?}"),
            (expect, other) => panic!("{func}{args:?}: expected {expect:?}, got {other:?}"),
        }
        let mem = self.victim.get_memory(&self.store, "mem").unwrap();
        for (i, &b) in mem.data(&self.store).iter().enumerate() {
            if !written.contains(&(i as u64)) {
                assert_eq!(b, sentinel(i), "{func}{args:?} changed byte {i} of its own memory");
            }
        }
        let other = self.other.get_memory(&self.other_store, "mem").unwrap();
        for (i, &b) in other.data(&self.other_store).iter().enumerate() {
            assert_eq!(b, sentinel(i), "{func}{args:?} changed byte {i} of another instance's memory");
        }
        let state = self.other.call(&mut self.other_store, "table_state", &[]).unwrap();
        assert!(matches!(state[..], [Val::I32(0)]), "{func}{args:?} changed another instance's table: {state:?}");
    }
}

/// Addresses (as u32) to try for an access of `width` bytes at `offset`.
fn addresses(width: u64, offset: u64) -> Vec<u32> {
    let mut a = vec![0, 1, PAGE as u32, 0x7FFF_FFFF, 0x8000_0000, 0x8000_0001, 0xFFFF_FFFF, 0xFFFF_FFFF - width as u32];
    if let Some(last) = PAGE.checked_sub(width + offset) {
        a.extend([last as u32, last as u32 + 1]);
    }
    a
}

#[test]
fn loads_and_stores_at_the_edges_trap_and_write_nothing() {
    for mode in MODES {
        let mut pair = Pair::new(mode);
        for &offset in OFFSETS {
            let ops = LOADS.iter().map(|&(op, w)| (op, w, false)).chain(STORES.iter().map(|&(op, w, _)| (op, w, true)));
            for (op, width, is_store) in ops {
                for addr in addresses(width, offset) {
                    let ea = u64::from(addr) + offset;
                    let in_bounds = ea + width <= PAGE;
                    let expect = (!in_bounds).then_some(TrapKind::MemoryOutOfBounds);
                    let written = if in_bounds && is_store { ea..ea + width } else { 0..0 };
                    pair.check(&name(op, offset), &[Val::I32(addr as i32)], expect, written);
                }
            }
        }
    }
}

#[test]
fn bulk_memory_across_the_end_traps_and_writes_nothing() {
    let oob = Some(TrapKind::MemoryOutOfBounds);
    let i = |v: i64| Val::I32(v as i32);
    for mode in MODES {
        let mut pair = Pair::new(mode);
        pair.check("fill", &[i(65530), i(6)], None, 65530..65536);
        pair.check("fill", &[i(65536), i(0)], None, 0..0);
        for args in [[65530, 7], [65536, 1], [65537, 0], [0xFFFF_FFFF, 1], [0, 0x8000_0000], [1, 0xFFFF_FFFF]] {
            pair.check("fill", &[i(args[0]), i(args[1])], oob, 0..0);
        }
        pair.check("copy", &[i(65530), i(0), i(6)], None, 65530..65536);
        for args in [[65530, 0, 7], [0, 65530, 7], [0, 65537, 0], [0xFFFF_FFFF, 0, 1], [0, 0, 0x1_0001]] {
            pair.check("copy", &[i(args[0]), i(args[1]), i(args[2])], oob, 0..0);
        }
        pair.check("init", &[i(65520), i(0), i(16)], None, 65520..65536);
        for args in [[65530, 0, 7], [0, 10, 7], [0, 17, 0], [65537, 0, 0], [0xFFFF_FFFF, 0, 1], [0, 0xFFFF_FFFF, 2]] {
            pair.check("init", &[i(args[0]), i(args[1]), i(args[2])], oob, 0..0);
        }
    }
}

#[test]
fn table_accesses_across_the_end_trap_and_change_nothing() {
    let oob = Some(TrapKind::TableOutOfBounds);
    let i = |v: i64| Val::I32(v as i32);
    for mode in MODES {
        let mut pair = Pair::new(mode);
        let mut check = |func: &str, args: &[Val], expect: Option<TrapKind>, state: i32| {
            // Every table entry starts non-null (state 0), set again per call.
            pair.victim.call(&mut pair.store, "table_init", &[i(0), i(0), i(4)]).unwrap();
            pair.check(func, args, expect, 0..0);
            let got = pair.victim.call(&mut pair.store, "table_state", &[]).unwrap();
            assert!(
                matches!(got[..], [Val::I32(s)] if s == state),
                "{func}{args:?}: table state {got:?}, expected {state}"
            );
        };
        check("table_get", &[i(3)], None, 0);
        check("table_set", &[i(3)], None, 0b1000);
        for bad in [4, 5, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF] {
            check("table_get", &[i(bad)], oob, 0);
            check("table_set", &[i(bad)], oob, 0);
        }
        check("table_fill", &[i(2), i(2)], None, 0b1100);
        check("table_fill", &[i(4), i(0)], None, 0);
        for args in [[2, 3], [5, 0], [0xFFFF_FFFF, 1], [1, 0xFFFF_FFFF]] {
            check("table_fill", &[i(args[0]), i(args[1])], oob, 0);
        }
        for args in [[2, 0, 3], [0, 2, 3], [5, 0, 0], [0xFFFF_FFFF, 0, 1], [0, 0, 0x8000_0000]] {
            check("table_copy", &[i(args[0]), i(args[1]), i(args[2])], oob, 0);
            check("table_init", &[i(args[0]), i(args[1]), i(args[2])], oob, 0);
        }
    }
}
