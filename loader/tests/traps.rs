//! Trap catching without the compiler: a hand-assembled x86_64 module
//! (source in the comments) whose functions fault in every way the signal
//! path must handle, call a host function and call builtins.

#![cfg(target_arch = "x86_64")]

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use common::{empty_meta, Parts};
use wasmc_abi::meta::*;
use wasmc_abi::vmctx::VMOffsets;
use wasmc_loader::{Config, Error, HostError, Instance, Linker, Module, Store, TrapKind, Val};

/// Assembled from (Intel syntax, each function 16-byte aligned):
/// ```text
/// 0x00 f_unreachable: ud2
/// 0x10 f_answer:      mov eax, 42; ret
/// 0x20 f_divzero:     xor ecx, ecx; xor edx, edx; mov eax, 1; div ecx (0x29); ret
/// 0x30 f_oob:         mov rax, [rdi + 0x60]; mov eax, [rax + 0x10000] (0x34); ret
/// 0x40 f_recurse:     call f_recurse; ret
/// 0x50 f_call_host:   push rbp; mov rbp, rsp; mov rsi, rdi; mov rax, [rdi + 0x50]
///                     mov rdi, [rdi + 0x58]; call rax; pop rbp; ret
/// 0x70 f_grow:        mov rax, [rdi + 32]; mov rax, [rax]; xor esi, esi; mov edx, 1
///                     sub rsp, 8; call rax; add rsp, 8; ret          (memory.grow 0 1)
/// 0x90 f_fill_oob:    mov rax, [rdi + 32]; mov rax, [rax + 8]; xor esi, esi
///                     mov edx, 0x20000; xor ecx, ecx; mov r8d, 1
///                     sub rsp, 8; call rax; add rsp, 8; ret          (memory.fill 0 0x20000 0 1)
/// 0xc0 entry:         push rbx; mov rbx, rcx; mov rax, rdi; mov rdi, rsi; mov rsi, rdx
///                     call rax; mov [rbx], eax; pop rbx; ret
/// 0xe0 host:          push rbp; mov rbp, rsp; sub rsp, 16; mov rdx, rsp; xor ecx, ecx
///                     call [rdi + 16]; mov rsp, rbp; pop rbp; ret
/// ```
const TEXT: [u8; 256] = [
    0x0f, 0x0b, 0x66, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x1f, 0x00, 0xb8, 0x2a, 0x00,
    0x00, 0x00, 0xc3, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00, 0x31, 0xc9, 0x31, 0xd2, 0xb8, 0x01,
    0x00, 0x00, 0x00, 0xf7, 0xf1, 0xc3, 0x0f, 0x1f, 0x40, 0x00, 0x48, 0x8b, 0x47, 0x60, 0x8b, 0x80, 0x00, 0x00, 0x01,
    0x00, 0xc3, 0x0f, 0x1f, 0x44, 0x00, 0x00, 0xe8, 0xfb, 0xff, 0xff, 0xff, 0xc3, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x55, 0x48, 0x89, 0xe5, 0x48, 0x89, 0xfe, 0x48, 0x8b, 0x47, 0x50, 0x48, 0x8b, 0x7f, 0x58,
    0xff, 0xd0, 0x5d, 0xc3, 0x66, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00, 0x66, 0x90, 0x48, 0x8b,
    0x47, 0x20, 0x48, 0x8b, 0x00, 0x31, 0xf6, 0xba, 0x01, 0x00, 0x00, 0x00, 0x48, 0x83, 0xec, 0x08, 0xff, 0xd0, 0x48,
    0x83, 0xc4, 0x08, 0xc3, 0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00, 0x48, 0x8b, 0x47, 0x20, 0x48, 0x8b, 0x40, 0x08,
    0x31, 0xf6, 0xba, 0x00, 0x00, 0x02, 0x00, 0x31, 0xc9, 0x41, 0xb8, 0x01, 0x00, 0x00, 0x00, 0x48, 0x83, 0xec, 0x08,
    0xff, 0xd0, 0x48, 0x83, 0xc4, 0x08, 0xc3, 0x66, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f,
    0x1f, 0x00, 0x53, 0x48, 0x89, 0xcb, 0x48, 0x89, 0xf8, 0x48, 0x89, 0xf7, 0x48, 0x89, 0xd6, 0xff, 0xd0, 0x89, 0x03,
    0x5b, 0xc3, 0x66, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00, 0x66, 0x90, 0x55, 0x48, 0x89, 0xe5,
    0x48, 0x83, 0xec, 0x10, 0x48, 0x89, 0xe2, 0x31, 0xc9, 0xff, 0x57, 0x10, 0x48, 0x89, 0xec, 0x5d, 0xc3, 0x66, 0x66,
    0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00,
];

/// Defined functions: (name, code offset, type index).
const FUNCS: [(&str, u32, u32); 8] = [
    ("unreachable", 0x00, 0),
    ("answer", 0x10, 1),
    ("divzero", 0x20, 1),
    ("oob", 0x30, 1),
    ("recurse", 0x40, 0),
    ("call_host", 0x50, 0),
    ("grow", 0x70, 1),
    ("fill_oob", 0x90, 0),
];

fn module() -> Module {
    module_with_start(None)
}

fn module_with_start(start: Option<u32>) -> Module {
    let mut meta = empty_meta();
    meta.start = start;
    meta.types = vec![FuncType::default(), FuncType { params: vec![], results: vec![ValType::I32] }];
    meta.trampolines =
        vec![TypeTrampolines { entry: 0xc0, host: Some(0xe0) }, TypeTrampolines { entry: 0xc0, host: None }];
    meta.imports.push(Import { module: "env".into(), name: "host".into(), ty: ImportType::Func(0) });
    for (i, &(name, offset, ty)) in FUNCS.iter().enumerate() {
        meta.lists.funcs.push(FuncDef {
            type_index: ty,
            code_offset: offset,
            code_len: 16,
            wasm_offset: 0x100 + offset,
        });
        meta.lists.exports.push(Export { name: name.into(), kind: ExternKind::Func, index: 1 + i as u32 });
    }
    meta.lists.funcs[5].code_len = 32; // call_host
    meta.lists.funcs[6].code_len = 32; // grow
    meta.lists.funcs[7].code_len = 48; // fill_oob
    meta.lists.func_names.push((1, "unreachable".into()));
    meta.memories.push(MemoryType { min_pages: 1, max_pages: Some(2) });
    meta.lists.exports.push(Export { name: "memory".into(), kind: ExternKind::Memory, index: 0 });
    meta.lists.traps = vec![
        TrapSite { code_offset: 0x00, kind: TrapKind::UnreachableCodeReached, wasm_offset: 0x1234 },
        TrapSite { code_offset: 0x29, kind: TrapKind::IntegerDivisionByZero, wasm_offset: 0x1240 },
    ];
    // The assembly hard-codes the vmctx offsets it uses.
    let offsets = VMOffsets::new(meta.vm_counts());
    assert_eq!(offsets.imported_function(0), 0x50);
    assert_eq!(offsets.defined_memory(0), 0x60);
    // SAFETY: the test assembled this code itself (see above).
    unsafe { Module::from_bytes(&Parts::new(meta, TEXT.to_vec(), vec![]).build()) }.expect("load hand-made module")
}

fn instantiate(store: &mut Store, calls: Arc<AtomicU32>, fail: bool) -> Instance {
    let mut linker = Linker::new();
    linker.func_wrap("env", "host", move || -> Result<(), HostError> {
        calls.fetch_add(1, Ordering::SeqCst);
        if fail {
            Err(HostError::new("the host said no"))
        } else {
            Ok(())
        }
    });
    Instance::new(store, &module(), &linker).expect("instantiate")
}

fn trap_of(result: Result<Vec<Val>, Error>) -> wasmc_loader::Trap {
    match result {
        Err(Error::Trap(trap)) => trap,
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn calls_return_values_and_traps_are_caught() {
    let mut store = Store::default();
    let instance = instantiate(&mut store, Arc::default(), false);
    let answer = instance.get_typed_func::<(), i32>(&store, "answer").unwrap();
    assert_eq!(answer.call(&mut store, ()).unwrap(), 42);

    let trap = trap_of(instance.call(&mut store, "unreachable", &[]));
    assert_eq!(trap.kind, TrapKind::UnreachableCodeReached);
    assert_eq!(trap.func_index, Some(1));
    assert_eq!(trap.func_name.as_deref(), Some("unreachable"));
    assert_eq!(trap.wasm_offset, Some(0x1234));
    assert_eq!(trap.to_string(), "wasm trap: unreachable, in function 1 (unreachable) at wasm offset 0x1234");

    let trap = trap_of(instance.call(&mut store, "divzero", &[]));
    assert_eq!(trap.kind, TrapKind::IntegerDivisionByZero);
    assert_eq!(trap.func_index, Some(3));

    // No trap site: the fault address is inside the memory's reservation.
    let trap = trap_of(instance.call(&mut store, "oob", &[]));
    assert_eq!(trap.kind, TrapKind::MemoryOutOfBounds);

    // Still usable after all those traps.
    assert_eq!(answer.call(&mut store, ()).unwrap(), 42);
}

#[test]
fn memory_grows_in_place_and_builtins_trap() {
    let mut store = Store::default();
    let instance = instantiate(&mut store, Arc::default(), false);
    let memory = instance.get_memory(&store, "memory").unwrap();
    assert_eq!(memory.size(&store), 65536);
    assert!(matches!(instance.call(&mut store, "oob", &[]), Err(Error::Trap(_))));
    let grow = instance.get_typed_func::<(), i32>(&store, "grow").unwrap();
    assert_eq!(grow.call(&mut store, ()).unwrap(), 1);
    assert_eq!(memory.size(&store), 2 * 65536);
    // The load at 0x10000 is now in bounds.
    assert_eq!(instance.call(&mut store, "oob", &[]).unwrap()[0].ty(), ValType::I32);
    // The maximum is 2 pages.
    assert_eq!(grow.call(&mut store, ()).unwrap(), -1);

    let trap = trap_of(instance.call(&mut store, "fill_oob", &[]));
    assert_eq!(trap.kind, TrapKind::MemoryOutOfBounds);
}

#[test]
fn memory_limit_from_config() {
    let mut store = Store::new(Config { max_memory_bytes: Some(65536), ..Config::default() });
    let instance = instantiate(&mut store, Arc::default(), false);
    let grow = instance.get_typed_func::<(), i32>(&store, "grow").unwrap();
    assert_eq!(grow.call(&mut store, ()).unwrap(), -1);
}

#[test]
fn host_functions_are_called_and_their_errors_trap() {
    let calls = Arc::new(AtomicU32::new(0));
    let mut store = Store::default();
    let instance = instantiate(&mut store, calls.clone(), false);
    instance.call(&mut store, "call_host", &[]).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let instance = instantiate(&mut store, calls.clone(), true);
    let trap = trap_of(instance.call(&mut store, "call_host", &[]));
    assert_eq!(trap.kind, TrapKind::HostError);
    assert_eq!(trap.message.as_deref(), Some("the host said no"));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[test]
fn host_panics_resume_on_the_host_side() {
    let mut linker = Linker::new();
    linker.func_wrap("env", "host", || -> () { panic!("boom") });
    let mut store = Store::default();
    let instance = Instance::new(&mut store, &module(), &linker).unwrap();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = instance.call(&mut store, "call_host", &[]);
    }));
    let payload = result.expect_err("the panic must propagate");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
    // The thread can still run wasm.
    assert!(instance.call(&mut store, "answer", &[]).is_ok());
}

#[test]
fn running_out_of_native_stack_is_a_trap() {
    // `recurse` has no stack check: it runs into the thread's guard page,
    // and the fault is handled on the signal stack.
    let result = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(|| {
            let mut store = Store::default();
            let instance = instantiate(&mut store, Arc::default(), false);
            let trap = trap_of(instance.call(&mut store, "recurse", &[]));
            let again = instance.call(&mut store, "answer", &[]).map(|v| v.len());
            (trap.kind, again.ok())
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(result, (TrapKind::StackOverflow, Some(1)));
}

#[test]
fn traps_on_many_threads_at_once() {
    let handles: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                let mut store = Store::default();
                let instance = instantiate(&mut store, Arc::default(), false);
                for _ in 0..50 {
                    let trap = trap_of(instance.call(&mut store, "divzero", &[]));
                    assert_eq!(trap.kind, TrapKind::IntegerDivisionByZero);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn a_trapping_start_function_fails_instantiation() {
    let mut linker = Linker::new();
    linker.func_wrap("env", "host", || {});
    let mut store = Store::default();
    let err = Instance::new(&mut store, &module_with_start(Some(1)), &linker).unwrap_err();
    assert_eq!(err.as_trap().map(|t| t.kind), Some(TrapKind::UnreachableCodeReached));
}

#[test]
fn host_functions_can_reenter_wasm() {
    let mut linker = Linker::new();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    linker.func_wrap("env", "host", move |mut caller: wasmc_loader::Caller<'_>| -> Result<(), HostError> {
        let Some(wasmc_loader::Extern::Func(answer)) = caller.get_export("answer") else {
            return Err("no answer export".into());
        };
        let Some(wasmc_loader::Extern::Func(unreachable)) = caller.get_export("unreachable") else {
            return Err("no unreachable export".into());
        };
        let value = answer.call(&mut caller, &[])?;
        let trap = unreachable.call(&mut caller, &[]).unwrap_err();
        log.lock().unwrap().push((format!("{:?}", value[0]), trap.as_trap().map(|t| t.kind)));
        Ok(())
    });
    let mut store = Store::default();
    let instance = Instance::new(&mut store, &module(), &linker).unwrap();
    instance.call(&mut store, "call_host", &[]).unwrap();
    assert_eq!(*seen.lock().unwrap(), vec![("I32(42)".to_string(), Some(TrapKind::UnreachableCodeReached))]);
}
