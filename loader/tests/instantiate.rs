//! Instantiation without running compiled code: imports and their type
//! checks, globals, segments (including partial failure), host-created
//! entities, store ownership and both memory layouts.

mod common;

use common::{empty_meta, tiny_module, Parts};
use wasmc_abi::meta::*;
use wasmc_abi::BoundsChecks;
use wasmc_loader::{Config, Error, Global, Instance, LinkError, Linker, Memory, Module, Store, Table, TrapKind, Val};

fn load(meta: ModuleMeta, text: Vec<u8>, data: Vec<u8>) -> Module {
    // SAFETY: the test built this artifact itself.
    unsafe { Module::from_bytes(&Parts::new(meta, text, data).build()) }.expect("load")
}

fn import(module: &str, name: &str, ty: ImportType) -> Import {
    Import { module: module.into(), name: name.into(), ty }
}

fn export(name: &str, kind: ExternKind, index: u32) -> Export {
    Export { name: name.into(), kind, index }
}

const I32: GlobalType = GlobalType { ty: ValType::I32, mutable: false };
const MUT_I32: GlobalType = GlobalType { ty: ValType::I32, mutable: true };

#[test]
fn globals_initialise_from_imports_and_can_be_set() {
    let mut meta = empty_meta();
    meta.imports.push(import("env", "g", ImportType::Global(I32)));
    meta.globals.push(GlobalDef { ty: MUT_I32, init: ConstExpr::GlobalGet(0) });
    meta.globals.push(GlobalDef {
        ty: GlobalType { ty: ValType::F64, mutable: false },
        init: ConstExpr::F64(1.5f64.to_bits()),
    });
    meta.lists.exports.push(export("copy", ExternKind::Global, 1));
    meta.lists.exports.push(export("f", ExternKind::Global, 2));
    meta.lists.exports.push(export("g", ExternKind::Global, 0));
    let module = load(meta, vec![], vec![]);

    let mut store = Store::default();
    let g = Global::new(&mut store, I32, Val::I32(7)).unwrap();
    let mut linker = Linker::new();
    linker.define("env", "g", g);
    let instance = Instance::new(&mut store, &module, &linker).unwrap();
    let copy = instance.get_global(&store, "copy").unwrap();
    assert!(matches!(copy.get(&store), Val::I32(7)));
    copy.set(&mut store, Val::I32(9)).unwrap();
    assert!(matches!(copy.get(&store), Val::I32(9)));
    assert!(matches!(instance.get_global(&store, "f").unwrap().get(&store), Val::F64(b) if f64::from_bits(b) == 1.5));
    assert!(matches!(instance.get_global(&store, "g").unwrap().set(&mut store, Val::I32(1)), Err(Error::Type(_))));
    assert!(matches!(copy.set(&mut store, Val::I64(1)), Err(Error::Type(_))));
}

#[test]
fn element_segments_fill_tables_with_funcrefs() {
    let (mut meta, text, data) = tiny_module();
    meta.tables.push(TableType { element: ValType::FuncRef, min: 3, max: None });
    meta.elements.push(ElemSegment {
        mode: ElemMode::Active { table: 0, offset: ConstExpr::I32(1) },
        ty: ValType::FuncRef,
        items: vec![ConstExpr::RefFunc(0), ConstExpr::RefNull(ValType::FuncRef)],
    });
    meta.lists.exports.push(export("table", ExternKind::Table, 0));
    let module = load(meta, text, data);
    let mut store = Store::default();
    let instance = Instance::new(&mut store, &module, &Linker::new()).unwrap();
    let table = instance.get_table(&store, "table").unwrap();
    let f = instance.get_func(&store, "f").unwrap();
    assert!(matches!(table.get(&store, 0), Some(Val::FuncRef(None))));
    assert!(matches!(table.get(&store, 1), Some(Val::FuncRef(Some(g))) if g == f));
    assert!(matches!(table.get(&store, 2), Some(Val::FuncRef(None))));
    assert!(table.get(&store, 3).is_none());
    // A funcref read from the table can be called.
    let Some(Val::FuncRef(Some(g))) = table.get(&store, 1) else { unreachable!() };
    assert!(g.call(&mut store, &[]).unwrap().is_empty());
    table.set(&mut store, 0, Val::FuncRef(Some(f))).unwrap();
    assert_eq!(table.grow(&mut store, 2, Val::FuncRef(None)).unwrap(), 3);
    assert_eq!(table.size(&store), 5);
}

#[test]
fn a_segment_that_does_not_fit_traps_but_earlier_writes_remain() {
    let mut meta = empty_meta();
    meta.imports.push(import("env", "mem", ImportType::Memory(MemoryType { min_pages: 1, max_pages: None })));
    meta.data.push(DataSegment {
        mode: DataMode::Active { memory: 0, offset: ConstExpr::I32(0) },
        data_offset: 0,
        len: 2,
    });
    meta.data.push(DataSegment {
        mode: DataMode::Active { memory: 0, offset: ConstExpr::I32(65536 - 2) },
        data_offset: 0,
        len: 5,
    });
    let module = load(meta, vec![], b"abcde".to_vec());
    let mut store = Store::default();
    let memory = Memory::new(&mut store, MemoryType { min_pages: 1, max_pages: None }).unwrap();
    let mut linker = Linker::new();
    linker.define("env", "mem", memory);
    let err = Instance::new(&mut store, &module, &linker).unwrap_err();
    assert_eq!(err.as_trap().map(|t| t.kind), Some(TrapKind::MemoryOutOfBounds));
    assert_eq!(&memory.data(&store)[..2], b"ab");
    assert_eq!(&memory.data(&store)[65534..], &[0, 0]);

    let mut meta = empty_meta();
    let ty = TableType { element: ValType::ExternRef, min: 2, max: None };
    meta.imports.push(import("env", "tab", ImportType::Table(ty)));
    meta.globals.push(GlobalDef {
        ty: GlobalType { ty: ValType::ExternRef, mutable: false },
        init: ConstExpr::RefNull(ValType::ExternRef),
    });
    let null = ConstExpr::RefNull(ValType::ExternRef);
    meta.elements.push(ElemSegment {
        mode: ElemMode::Active { table: 0, offset: ConstExpr::I32(0) },
        ty: ValType::ExternRef,
        items: vec![null],
    });
    meta.elements.push(ElemSegment {
        mode: ElemMode::Active { table: 0, offset: ConstExpr::I32(2) },
        ty: ValType::ExternRef,
        items: vec![null],
    });
    let module = load(meta, vec![], vec![]);
    let marker = Val::ExternRef(std::num::NonZeroU64::new(5));
    let table = Table::new(&mut store, ty, marker).unwrap();
    let mut linker = Linker::new();
    linker.define("env", "tab", table);
    let err = Instance::new(&mut store, &module, &linker).unwrap_err();
    assert_eq!(err.as_trap().map(|t| t.kind), Some(TrapKind::TableOutOfBounds));
    assert!(matches!(table.get(&store, 0), Some(Val::ExternRef(None))));
    assert!(matches!(table.get(&store, 1), Some(Val::ExternRef(Some(_)))));
}

#[test]
fn imports_are_checked() {
    let mut meta = empty_meta();
    meta.types.push(FuncType { params: vec![ValType::I32], results: vec![] });
    meta.trampolines.push(TypeTrampolines { entry: 0, host: Some(0) });
    meta.imports.push(import("env", "f", ImportType::Func(0)));
    meta.imports.push(import("env", "m", ImportType::Memory(MemoryType { min_pages: 2, max_pages: Some(4) })));
    meta.imports.push(import("env", "g", ImportType::Global(MUT_I32)));
    let module = load(meta, vec![0xcc], vec![]);
    let mut store = Store::default();

    let err = Instance::new(&mut store, &module, &Linker::new()).unwrap_err();
    assert!(
        matches!(&err, Error::Link(LinkError::Missing { module, name, kind: ExternKind::Func }) if module == "env" && name == "f")
    );
    assert_eq!(err.to_string(), "unknown import: func \"env\" \"f\" is not defined");

    let mut linker = Linker::new();
    linker.func_wrap("env", "f", |_: i64| {});
    let err = Instance::new(&mut store, &module, &linker).unwrap_err();
    assert!(err.to_string().contains("expected function type (i32) -> ()"), "{err}");

    linker.func_wrap("env", "f", |_: i32| {});
    let small = Memory::new(&mut store, MemoryType { min_pages: 1, max_pages: Some(4) }).unwrap();
    linker.define("env", "m", small);
    let err = Instance::new(&mut store, &module, &linker).unwrap_err();
    assert!(matches!(&err, Error::Link(LinkError::Incompatible { name, .. }) if name == "m"), "{err}");

    let unbounded = Memory::new(&mut store, MemoryType { min_pages: 2, max_pages: None }).unwrap();
    linker.define("env", "m", unbounded);
    let err = Instance::new(&mut store, &module, &linker).unwrap_err();
    assert!(err.to_string().contains("no maximum"), "{err}");

    let good = Memory::new(&mut store, MemoryType { min_pages: 3, max_pages: Some(3) }).unwrap();
    linker.define("env", "m", good);
    let immutable = Global::new(&mut store, I32, Val::I32(0)).unwrap();
    linker.define("env", "g", immutable);
    let err = Instance::new(&mut store, &module, &linker).unwrap_err();
    assert!(err.to_string().contains("expected global mut i32, found i32"), "{err}");

    linker.define("env", "g", good);
    let err = Instance::new(&mut store, &module, &linker).unwrap_err();
    assert!(err.to_string().contains("expected a global, found a memory"), "{err}");

    let mutable = Global::new(&mut store, MUT_I32, Val::I32(0)).unwrap();
    linker.define("env", "g", mutable);
    Instance::new(&mut store, &module, &linker).expect("all imports fit");
}

#[test]
fn handles_are_bound_to_their_store() {
    let mut a = Store::default();
    let mut b = Store::default();
    let memory = Memory::new(&mut a, MemoryType { min_pages: 1, max_pages: None }).unwrap();
    assert!(matches!(memory.read(&b, 0, &mut [0; 4]), Err(Error::WrongStore)));
    assert!(matches!(memory.grow(&mut b, 1), Err(Error::WrongStore)));
    let mut meta = empty_meta();
    meta.imports.push(import("env", "m", ImportType::Memory(MemoryType { min_pages: 1, max_pages: None })));
    let module = load(meta, vec![], vec![]);
    let mut linker = Linker::new();
    linker.define("env", "m", memory);
    assert!(matches!(Instance::new(&mut b, &module, &linker), Err(Error::WrongStore)));
    Instance::new(&mut a, &module, &linker).unwrap();
}

#[test]
fn explicit_memories_start_empty_move_when_growing_and_are_not_importable_by_guard_code() {
    let mut meta = empty_meta();
    meta.bounds_checks = BoundsChecks::Explicit;
    meta.memories.push(MemoryType { min_pages: 0, max_pages: None });
    meta.lists.exports.push(export("memory", ExternKind::Memory, 0));
    let module = load(meta, vec![], vec![]);
    let mut store = Store::default();
    let instance = Instance::new(&mut store, &module, &Linker::new()).unwrap();
    let memory = instance.get_memory(&store, "memory").unwrap();
    assert_eq!(memory.size(&store), 0);
    assert!(memory.data(&store).is_empty());
    assert_eq!(memory.grow(&mut store, 1).unwrap(), 0);
    memory.write(&mut store, 65535, &[7]).unwrap();
    assert_eq!(memory.grow(&mut store, 100).unwrap(), 1);
    assert_eq!(memory.data(&store)[65535], 7);
    assert!(matches!(memory.write(&mut store, 101 * 65536, &[1]), Err(Error::OutOfBounds(_))));

    let mut guard = empty_meta();
    guard.imports.push(import("a", "memory", ImportType::Memory(MemoryType { min_pages: 0, max_pages: None })));
    let guard = load(guard, vec![], vec![]);
    let mut linker = Linker::new();
    linker.instance(&store, "a", instance);
    let err = Instance::new(&mut store, &guard, &linker).unwrap_err();
    assert!(err.to_string().contains("bounds-check mode"), "{err}");
}

#[test]
fn limits_from_config_and_types() {
    let mut store = Store::new(Config { max_table_elements: Some(10), ..Config::default() });
    let ty = TableType { element: ValType::FuncRef, min: 1, max: Some(20) };
    let table = Table::new(&mut store, ty, Val::FuncRef(None)).unwrap();
    assert_eq!(table.grow(&mut store, 9, Val::FuncRef(None)).unwrap(), 1);
    assert!(matches!(table.grow(&mut store, 1, Val::FuncRef(None)), Err(Error::Resource(_))));
    assert!(matches!(Table::new(&mut store, ty, Val::ExternRef(None)), Err(Error::Type(_))));

    let memory = Memory::new(&mut store, MemoryType { min_pages: 0, max_pages: Some(1) }).unwrap();
    assert_eq!(memory.grow(&mut store, 1).unwrap(), 0);
    assert!(memory.grow(&mut store, 1).is_err());
    let mut store = Store::new(Config { max_memory_bytes: Some(65536), ..Config::default() });
    assert!(matches!(Memory::new(&mut store, MemoryType { min_pages: 2, max_pages: None }), Err(Error::Resource(_))));
}

#[test]
fn the_start_function_runs_and_exports_are_reported() {
    let (mut meta, text, data) = tiny_module();
    meta.start = Some(0);
    let module = load(meta, text, data);
    let mut store = Store::default();
    let instance = Instance::new(&mut store, &module, &Linker::new()).unwrap();
    assert!(matches!(instance.call(&mut store, "nope", &[]), Err(Error::ExportNotFound(_))));
    assert!(matches!(instance.call(&mut store, "f", &[Val::I32(1)]), Err(Error::Type(_))));
    assert!(matches!(instance.get_typed_func::<i32, ()>(&store, "f"), Err(Error::Type(_))));
    let f = instance.get_typed_func::<(), ()>(&store, "f").unwrap();
    f.call(&mut store, ()).unwrap();
}
