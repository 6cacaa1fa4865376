//! Instance pooling: a reused slot starts exactly as a fresh instance
//! (memory, globals, tables, dropped segments), memory images match
//! data-segment semantics and are private to each instance, exhaustion is
//! an error, and pooled memories never move when they grow.

mod common;

use common::{module, MODES};
use wasmc_loader::{BoundsChecks, Error, Instance, InstancePool, Linker, PoolConfig, Store, Val};

/// State every instantiation must start from, and functions that change it.
/// Enough active data for a memory image.
fn big_data() -> String {
    "d".repeat(wasmc_abi::artifact::IMAGE_MIN_DATA_BYTES as usize)
}

/// `STATEFUL` with its image-sized data segment filled in.
fn stateful() -> String {
    STATEFUL.replace("BIG", &big_data())
}

const STATEFUL: &str = r#"(module
  (memory (export "mem") 1 3)
  (global $g (export "g") (mut i32) (i32.const 7))
  (table $t 2 funcref)
  (func $one (result i32) (i32.const 1))
  (elem (i32.const 0) $one)
  (elem $pe func $one)
  (data (i32.const 16) "hello")
  (data (i32.const 4096) "BIG")
  (data $pd "passive")
  (func (export "dirty")
    (i32.store (i32.const 1000) (i32.const 0x55555555))
    (i32.store8 (i32.const 16) (i32.const 0x4a))
    (drop (memory.grow (i32.const 1)))
    (i32.store (i32.const 70000) (i32.const 9))
    (global.set $g (i32.const 99))
    (table.set $t (i32.const 0) (ref.null func))
    (data.drop $pd)
    (elem.drop $pe))
  ;; Traps if the passive data segment was dropped.
  (func (export "init_passive") (memory.init $pd (i32.const 200) (i32.const 0) (i32.const 7)))
  ;; Traps if the passive element segment was dropped.
  (func (export "init_elem") (table.init $t $pe (i32.const 1) (i32.const 0) (i32.const 1)))
  (func (export "call0") (result i32) (call_indirect (result i32) (i32.const 0))))"#;

fn config(capacity: u32) -> PoolConfig {
    PoolConfig { capacity, ..PoolConfig::default() }
}

fn assert_fresh(store: &mut Store, inst: Instance) {
    let mem = inst.get_memory(&*store, "mem").unwrap();
    assert_eq!(mem.size(&*store), 65536, "memory back to its initial size");
    let data = mem.data(&*store);
    assert_eq!(&data[16..21], b"hello");
    assert_eq!(&data[1000..1004], &[0; 4], "dirtied bytes are zero again");
    assert!(matches!(inst.get_global(&*store, "g").unwrap().get(&*store), Val::I32(7)));
    assert!(matches!(inst.call(&mut *store, "call0", &[]).unwrap()[..], [Val::I32(1)]), "table reset");
    inst.call(&mut *store, "init_passive", &[]).expect("passive data segment not dropped");
    inst.call(&mut *store, "init_elem", &[]).expect("passive element segment not dropped");
    let mem = inst.get_memory(&*store, "mem").unwrap();
    assert_eq!(&mem.data(store)[200..207], b"passive");
}

#[test]
fn a_reused_slot_starts_like_a_fresh_instance() {
    for mode in MODES {
        for map_image_min_bytes in [0, usize::MAX] {
            let pool = InstancePool::new(
                &module(&stateful(), mode),
                PoolConfig { capacity: 1, map_image_min_bytes, ..PoolConfig::default() },
            )
            .unwrap();
            assert_eq!(pool.has_memory_image(), map_image_min_bytes == 0);
            let mut base = None;
            for round in 0..3 {
                let mut store = Store::default();
                let inst = pool.instantiate(&mut store, &Linker::new()).unwrap();
                let mem = inst.get_memory(&store, "mem").unwrap();
                let ptr = mem.data(&store).as_ptr();
                assert_eq!(*base.get_or_insert(ptr), ptr, "{mode:?} round {round}: the same slot is reused");
                assert_fresh(&mut store, inst);
                inst.call(&mut store, "dirty", &[]).unwrap();
                assert_eq!(mem.size(&store), 2 * 65536);
                assert_eq!(pool.available(), 0);
            }
            assert_eq!(pool.available(), 1, "dropping the store returns the slot");
        }
    }
}

#[test]
fn exhaustion_is_an_error_and_a_dropped_store_frees_its_slot() {
    for mode in MODES {
        let pool = InstancePool::new(&module(&stateful(), mode), config(2)).unwrap();
        let mut a = Store::default();
        pool.instantiate(&mut a, &Linker::new()).unwrap();
        pool.instantiate(&mut a, &Linker::new()).unwrap();
        let mut b = Store::default();
        match pool.instantiate(&mut b, &Linker::new()) {
            Err(Error::Resource(msg)) => assert!(msg.message().contains("exhausted"), "{msg}"),
            other => panic!("expected exhaustion, got {other:?}"),
        }
        drop(a);
        assert_eq!(pool.available(), 2);
        pool.instantiate(&mut b, &Linker::new()).unwrap();
    }
}

#[test]
fn memory_images_equal_segment_semantics_and_stay_private() {
    for mode in MODES {
        for map_image_min_bytes in [0, usize::MAX] {
            let m = module(&common::image_module(70_000), mode);
            let mut fresh_store = Store::default();
            let fresh = Instance::new(&mut fresh_store, &m, &Linker::new()).unwrap();
            let expected = fresh.get_memory(&fresh_store, "mem").unwrap().data(&fresh_store).to_vec();
            assert_eq!(&expected[100..104], b"aXYZ");

            let pool = InstancePool::new(&m, PoolConfig { capacity: 2, map_image_min_bytes, ..config(2) }).unwrap();
            assert_eq!(pool.has_memory_image(), map_image_min_bytes == 0);
            let (mut s1, mut s2) = (Store::default(), Store::default());
            let i1 = pool.instantiate(&mut s1, &Linker::new()).unwrap();
            let i2 = pool.instantiate(&mut s2, &Linker::new()).unwrap();
            let mem1 = i1.get_memory(&s1, "mem").unwrap();
            let mem2 = i2.get_memory(&s2, "mem").unwrap();
            assert!(mem1.data(&s1) == &expected[..], "{mode:?}: image differs from the segments");
            i1.call(&mut s1, "poke", &[Val::I32(101)]).unwrap();
            i1.call(&mut s1, "poke", &[Val::I32(200001)]).unwrap();
            assert_eq!(mem1.data(&s1)[101], 0x21);
            assert!(mem2.data(&s2) == &expected[..], "a write in one instance shows in another");
            drop(s1);
            let mut s3 = Store::default();
            let i3 = pool.instantiate(&mut s3, &Linker::new()).unwrap();
            let mem3 = i3.get_memory(&s3, "mem").unwrap();
            assert!(mem3.data(&s3) == &expected[..], "reset did not restore the image");
        }
    }
}

#[test]
fn segments_that_may_trap_or_read_globals_are_applied_at_instantiation() {
    let out_of_bounds = r#"(module (memory 1) (data (i32.const 65534) "abc"))"#;
    let from_global = r#"(module (import "env" "off" (global i32)) (memory (export "mem") 1)
        (data (global.get 0) "xy"))"#;
    for mode in MODES {
        let pool = InstancePool::new(&module(out_of_bounds, mode), config(1)).unwrap();
        assert!(!pool.has_memory_image());
        let mut store = Store::default();
        match pool.instantiate(&mut store, &Linker::new()) {
            Err(Error::Trap(t)) => assert_eq!(t.kind, wasmc_loader::TrapKind::MemoryOutOfBounds),
            other => panic!("expected an out-of-bounds trap, got {other:?}"),
        }
        let pool = InstancePool::new(&module(from_global, mode), config(1)).unwrap();
        assert!(!pool.has_memory_image());
        let mut store = Store::default();
        let ty = wasmc_loader::GlobalType { ty: wasmc_loader::ValType::I32, mutable: false };
        let offset = wasmc_loader::Global::new(&mut store, ty, Val::I32(8)).unwrap();
        let mut linker = Linker::new();
        linker.define("env", "off", offset);
        let inst = pool.instantiate(&mut store, &linker).unwrap();
        assert_eq!(&inst.get_memory(&store, "mem").unwrap().data(&store)[8..10], b"xy");
    }
}

/// A trapping element segment stops instantiation before any data segment
/// is applied, even though the image already holds them: a function placed
/// in an imported table by an earlier segment must see zeroed memory.
#[test]
fn an_element_trap_leaves_the_imaged_memory_zeroed() {
    let wat = r#"(module
      (import "env" "t" (table 1 funcref))
      (memory 1)
      (table $own 1 funcref)
      (func $read (result i32) (i32.load8_u (i32.const 5)))
      (elem (table 0) (i32.const 0) func $read)
      (elem (table $own) (i32.const 5) func $read)
      (data (i32.const 5) "z")
      (data (i32.const 4096) "BIG"))"#
        .replace("BIG", &big_data());
    for mode in MODES {
        let config = PoolConfig { map_image_min_bytes: 0, ..config(1) };
        let pool = InstancePool::new(&module(&wat, mode), config).unwrap();
        assert!(pool.has_memory_image());
        let mut store = Store::default();
        let ty = wasmc_loader::TableType { element: wasmc_loader::ValType::FuncRef, min: 1, max: None };
        let table = wasmc_loader::Table::new(&mut store, ty, Val::FuncRef(None)).unwrap();
        let mut linker = Linker::new();
        linker.define("env", "t", table);
        assert!(matches!(pool.instantiate(&mut store, &linker), Err(Error::Trap(_))));
        let Some(Val::FuncRef(Some(read))) = table.get(&store, 0) else { panic!("segment 0 applied") };
        assert!(matches!(read.call(&mut store, &[]).unwrap()[..], [Val::I32(0)]));
    }
}

#[test]
fn guard_memories_never_move_when_they_grow() {
    let wat = r#"(module (memory (export "mem") 1))"#;
    let m = module(wat, BoundsChecks::Guard);
    let mut store = Store::default();
    let fresh = Instance::new(&mut store, &m, &Linker::new()).unwrap();
    let pool = InstancePool::new(&m, PoolConfig { max_memory_pages: 1000, ..config(1) }).unwrap();
    let pooled = pool.instantiate(&mut store, &Linker::new()).unwrap();
    for inst in [fresh, pooled] {
        let mem = inst.get_memory(&store, "mem").unwrap();
        let base = mem.data(&store).as_ptr();
        for _ in 0..4 {
            mem.grow(&mut store, 100).unwrap();
            assert_eq!(mem.data(&store).as_ptr(), base);
        }
        assert_eq!(mem.size(&store), 401 * 65536);
    }
    // Pooled memories in explicit mode do not move either, up to the slot size.
    let pool = InstancePool::new(&module(wat, BoundsChecks::Explicit), config(1)).unwrap();
    let inst = pool.instantiate(&mut store, &Linker::new()).unwrap();
    let mem = inst.get_memory(&store, "mem").unwrap();
    let base = mem.data(&store).as_ptr();
    mem.grow(&mut store, 159).unwrap();
    assert_eq!(mem.data(&store).as_ptr(), base);
    assert!(mem.grow(&mut store, 1).is_err(), "growth past the slot fails");
}

#[test]
fn the_pool_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<InstancePool>();
    let pool = InstancePool::new(&module(&stateful(), BoundsChecks::Explicit), config(8)).unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..50 {
                    let mut store = Store::default();
                    let inst = pool.instantiate(&mut store, &Linker::new()).unwrap();
                    assert_fresh(&mut store, inst);
                    inst.call(&mut store, "dirty", &[]).unwrap();
                }
            });
        }
    });
    assert_eq!(pool.available(), 8);
}

#[test]
fn the_store_memory_limit_applies_and_a_refused_slot_is_returned() {
    let pool = InstancePool::new(&module(&stateful(), BoundsChecks::Explicit), config(1)).unwrap();
    let mut store = Store::new(wasmc_loader::Config { max_memory_bytes: Some(0), ..Default::default() });
    assert!(matches!(pool.instantiate(&mut store, &Linker::new()), Err(Error::Resource(_))));
    assert_eq!(pool.available(), 1);
    let mut store = Store::new(wasmc_loader::Config { max_memory_bytes: Some(2 * 65536), ..Default::default() });
    let inst = pool.instantiate(&mut store, &Linker::new()).unwrap();
    let mem = inst.get_memory(&store, "mem").unwrap();
    mem.grow(&mut store, 1).unwrap();
    assert!(mem.grow(&mut store, 1).is_err(), "the store's limit caps growth below the slot's");
}

/// However much of a memory a reset zeroes in place (`keep_resident_bytes`)
/// and how much it discards, every byte the last instance wrote reads as
/// zero in the next, including in pages it grew.
#[test]
fn a_reset_zeroes_every_written_byte_whatever_is_kept_resident() {
    const FILLER: &str = r#"(module
      (memory (export "mem") 1 3)
      (func (export "grow") (result i32) (memory.grow (i32.const 1)))
      (func (export "fill")
        (drop (memory.grow (i32.const 1)))
        (memory.fill (i32.const 0) (i32.const 0xa5) (i32.mul (memory.size) (i32.const 65536)))))"#;
    for mode in MODES {
        let m = module(FILLER, mode);
        for keep_resident_bytes in [0, 4096, 65536 + 4096, 3 * 65536, usize::MAX] {
            let pool = InstancePool::new(&m, PoolConfig { capacity: 1, keep_resident_bytes, ..config(1) }).unwrap();
            for round in 0..3 {
                let mut store = Store::default();
                let inst = pool.instantiate(&mut store, &Linker::new()).unwrap();
                let mem = inst.get_memory(&store, "mem").unwrap();
                assert_eq!(mem.size(&store), 65536);
                assert!(matches!(inst.call(&mut store, "grow", &[]).unwrap()[..], [Val::I32(1)]));
                let dirty = mem.data(&store).iter().filter(|&&b| b != 0).count();
                assert_eq!(dirty, 0, "{mode:?}, keep {keep_resident_bytes}, round {round}: bytes left from before");
                inst.call(&mut store, "fill", &[]).unwrap();
                assert!(mem.data(&store).iter().all(|&b| b == 0xa5));
            }
        }
    }
}
