//! What a host function can do to the store whose wasm frames wait for it
//! (issue: a host function once swapped the running store out through
//! `Caller::store_mut()`, freeing it under wasm; a pooled tenant then wrote
//! into the next tenant's memory). Host functions now get a context that
//! cannot move, replace or drop the store, whatever they do through it.

mod common;

use std::sync::{Arc, Mutex};

use common::{module, MODES};
use wasmc_loader::{
    AsContextMut, Caller, Error, HostError, Instance, InstancePool, Linker, PoolConfig, Store, TrapKind,
};

/// Calls the host, then writes 0x5a at `addr` and returns what it reads
/// back from 100.
const TENANT: &str = r#"(module
  (import "host" "meddle" (func $meddle))
  (memory (export "memory") 1)
  (func (export "run") (param $addr i32) (result i32)
    (call $meddle)
    (i32.store8 (local.get $addr) (i32.const 0x5a))
    (i32.load8_u (i32.const 100))))"#;

/// The original attack, tried with everything a host function can still
/// reach: while tenant A's `run` waits in the host, the host asks the pool
/// for a second tenant (in a second store) and changes A's store through
/// its context. A's slot must stay leased (so no second tenant can have
/// it), and A's write after the host call must land in A's memory only.
#[test]
fn a_host_function_cannot_give_away_the_running_tenants_slot() {
    for mode in MODES {
        let module = module(TENANT, mode);
        let pool = Arc::new(InstancePool::new(&module, PoolConfig { capacity: 2, ..PoolConfig::default() }).unwrap());
        let second: Arc<Mutex<Option<(Store, Instance)>>> = Arc::default();
        let mut linker = Linker::new();
        let (pool_in_host, second_in_host) = (pool.clone(), second.clone());
        linker.func_wrap("host", "meddle", move |mut caller: Caller<'_>| -> Result<(), HostError> {
            // Everything a context allows: grow, write, set limits, call back in.
            let memory = caller.memory().ok_or("no memory")?;
            memory.write(&mut caller, 200, b"host")?;
            caller.as_context_mut().set_fuel(5);
            caller.as_context_mut().set_call_timeout(None);
            // The slot A runs in must not be free: only the other one is.
            assert_eq!(pool_in_host.available(), 1, "the running tenant's slot was released");
            let mut quiet = Linker::new();
            quiet.func_wrap("host", "meddle", || {});
            let mut store = Store::default();
            let instance = pool_in_host.instantiate(&mut store, &quiet)?;
            *second_in_host.lock().unwrap() = Some((store, instance));
            Ok(())
        });

        let mut store = Store::default();
        let tenant = pool.instantiate(&mut store, &linker).unwrap();
        let run = tenant.get_typed_func::<i32, i32>(&store, "run").unwrap();
        assert_eq!(run.call(&mut store, 100).unwrap(), 0x5a, "{mode:?}: A reads its own write");
        let a_mem = tenant.get_memory(&store, "memory").unwrap();
        assert_eq!(&a_mem.data(&store)[200..204], b"host");

        let (second_store, second_instance) = second.lock().unwrap().take().expect("the host made a second tenant");
        let b_mem = second_instance.get_memory(&second_store, "memory").unwrap();
        assert!(b_mem.data(&second_store).iter().all(|&b| b == 0), "{mode:?}: the other tenant's memory was written");
        assert_eq!(pool.available(), 0);
        drop((second_store, store));
        assert_eq!(pool.available(), 2);
    }
}

/// A host function can call back into the instance that called it through
/// its `Caller`, and a trap there is an error value to it.
#[test]
fn a_host_function_calls_back_into_wasm_through_its_caller() {
    let wat = r#"(module
      (import "host" "again" (func $again (result i32)))
      (func (export "outer") (result i32) (call $again))
      (func (export "seven") (result i32) (i32.const 7))
      (func (export "boom") (unreachable)))"#;
    for mode in MODES {
        let mut linker = Linker::new();
        linker.func_wrap("host", "again", |mut caller: Caller<'_>| -> Result<i32, HostError> {
            let instance = caller.instance().ok_or("no caller")?;
            let boom = instance.get_func(&caller, "boom").ok_or("no boom")?;
            match boom.call(&mut caller, &[]) {
                Err(Error::Trap(t)) if t.kind == TrapKind::UnreachableCodeReached => {}
                other => return Err(format!("expected unreachable, got {other:?}").into()),
            }
            let seven = instance.get_typed_func::<(), i32>(&caller, "seven")?;
            Ok(seven.call(&mut caller, ())? * 6)
        });
        let mut store = Store::default();
        let instance = Instance::new(&mut store, &module(wat, mode), &linker).unwrap();
        let outer = instance.get_typed_func::<(), i32>(&store, "outer").unwrap();
        assert_eq!(outer.call(&mut store, ()).unwrap(), 42);
    }
}

/// What a server relies on to build one linker and share it between worker
/// threads, each with its own stores.
#[test]
fn linkers_are_shared_between_threads_and_stores_move_between_them() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Linker>();
    send_sync::<wasmc_loader::Module>();
    send::<Store>();
}
