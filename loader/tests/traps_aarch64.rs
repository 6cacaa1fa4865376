//! Trap catching on aarch64 without the compiler (see `traps.rs` for the
//! fuller x86_64 version): a hand-assembled module whose functions execute
//! `udf` and load past the end of a guard-mode memory.

#![cfg(target_arch = "aarch64")]

mod common;

use common::{empty_meta, Parts};
use wasmc_abi::meta::*;
use wasmc_abi::vmctx::VMOffsets;
use wasmc_loader::{Error, Instance, Linker, Module, Store, TrapKind};

/// ```text
/// 0x00 f_unreachable: udf #0
/// 0x10 f_load_oob:    ldr x1, [x0, #0x50]; mov x2, #0x10000; ldr w0, [x1, x2]; ret
/// 0x20 entry:         stp x29, x30, [sp, #-32]!; mov x29, sp; str x3, [sp, #16]
///                     mov x16, x0; mov x0, x1; mov x1, x2; blr x16
///                     ldr x3, [sp, #16]; str w0, [x3]; ldp x29, x30, [sp], #32; ret
/// ```
const TEXT: [u8; 80] = [
    0x00, 0x00, 0x00, 0x00, 0x1f, 0x20, 0x03, 0xd5, 0x1f, 0x20, 0x03, 0xd5, 0x1f, 0x20, 0x03, 0xd5, //
    0x01, 0x28, 0x40, 0xf9, 0x22, 0x00, 0xa0, 0xd2, 0x20, 0x68, 0x62, 0xb8, 0xc0, 0x03, 0x5f, 0xd6, //
    0xfd, 0x7b, 0xbe, 0xa9, 0xfd, 0x03, 0x00, 0x91, 0xe3, 0x0b, 0x00, 0xf9, 0xf0, 0x03, 0x00, 0xaa, //
    0xe0, 0x03, 0x01, 0xaa, 0xe1, 0x03, 0x02, 0xaa, 0x00, 0x02, 0x3f, 0xd6, 0xe3, 0x0b, 0x40, 0xf9, //
    0x60, 0x00, 0x00, 0xb9, 0xfd, 0x7b, 0xc2, 0xa8, 0xc0, 0x03, 0x5f, 0xd6, 0x1f, 0x20, 0x03, 0xd5, //
];

#[test]
fn udf_and_guard_faults_are_traps() {
    let mut meta = empty_meta();
    meta.types = vec![FuncType { params: vec![], results: vec![ValType::I32] }];
    meta.trampolines = vec![TypeTrampolines { entry: 0x20, host: None }];
    meta.lists.funcs.push(FuncDef { type_index: 0, code_offset: 0x00, code_len: 16, wasm_offset: 0 });
    meta.lists.funcs.push(FuncDef { type_index: 0, code_offset: 0x10, code_len: 16, wasm_offset: 0 });
    meta.lists.exports.push(Export { name: "unreachable".into(), kind: ExternKind::Func, index: 0 });
    meta.lists.exports.push(Export { name: "oob".into(), kind: ExternKind::Func, index: 1 });
    meta.memories.push(MemoryType { min_pages: 1, max_pages: None });
    meta.lists.traps = vec![TrapSite { code_offset: 0, kind: TrapKind::UnreachableCodeReached, wasm_offset: 7 }];
    assert_eq!(VMOffsets::new(meta.vm_counts()).defined_memory(0), 0x50);
    // SAFETY: the test assembled this code itself (see above).
    let module = unsafe { Module::from_bytes(&Parts::new(meta, TEXT.to_vec(), vec![]).build()) }.unwrap();

    let mut store = Store::default();
    let instance = Instance::new(&mut store, &module, &Linker::new()).unwrap();
    let Err(Error::Trap(trap)) = instance.call(&mut store, "unreachable", &[]) else { panic!("no trap") };
    assert_eq!((trap.kind, trap.func_index, trap.wasm_offset), (TrapKind::UnreachableCodeReached, Some(0), Some(7)));
    let Err(Error::Trap(trap)) = instance.call(&mut store, "oob", &[]) else { panic!("no trap") };
    assert_eq!(trap.kind, TrapKind::MemoryOutOfBounds);
}
