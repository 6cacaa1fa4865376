//! Errors a server can act on: the cause of a failure stays reachable
//! through `std::error::Error::source` (a host function's own error type,
//! the operating system's error), and `error_chain` prints the whole chain.

mod common;

use std::error::Error as _;

use common::{module, MODES};
use wasmc_loader::{error_chain, Config, Error, Extern, HostError, Instance, Linker, LoadError, Store, TrapKind, Val};

/// A server's own error type, as a host function would return it.
#[derive(Debug, PartialEq)]
struct QuotaExceeded {
    tenant: u32,
}

impl std::fmt::Display for QuotaExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "tenant {} is over its quota", self.tenant)
    }
}

impl std::error::Error for QuotaExceeded {}

const PLUGIN: &str = r#"(module
  (import "host" "charge" (func $charge))
  (import "host" "reenter" (func $reenter))
  (func (export "run") (call $charge))
  (func (export "nested") (call $reenter))
  (func (export "divide") (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0))))"#;

fn linker() -> Linker {
    let mut linker = Linker::new();
    linker.func_wrap("host", "charge", || -> Result<(), HostError> {
        Err(HostError::from_error(QuotaExceeded { tenant: 7 }))
    });
    // Calls back into the plugin, which traps; `?` keeps that error as the
    // cause of the host function's own.
    linker.func_wrap("host", "reenter", |mut caller: wasmc_loader::Caller<'_>| -> Result<(), HostError> {
        let Some(Extern::Func(divide)) = caller.get_export("divide") else { panic!("divide is exported") };
        divide.call(&mut caller, &[Val::I32(0)])?;
        Ok(())
    });
    linker
}

#[test]
fn a_host_functions_error_is_the_traps_source() {
    for mode in MODES {
        let module = module(PLUGIN, mode);
        let mut store = Store::default();
        let instance = Instance::new(&mut store, &module, &linker()).unwrap();
        let run = instance.get_typed_func::<(), ()>(&store, "run").unwrap();
        let err = run.call(&mut store, ()).unwrap_err();

        let trap = err.as_trap().expect("a trap");
        assert_eq!(trap.kind, TrapKind::HostError);
        let cause = err.source().expect("the host error is the source");
        assert_eq!(cause.downcast_ref::<QuotaExceeded>(), Some(&QuotaExceeded { tenant: 7 }));
        // Printed once, as the last link of the chain.
        let chain = error_chain(&err);
        assert_eq!(chain.matches("over its quota").count(), 1, "{chain}");
        assert!(chain.ends_with(": tenant 7 is over its quota"), "{chain}");
    }
}

#[test]
fn a_nested_calls_trap_stays_in_the_chain() {
    let module = module(PLUGIN, MODES[0]);
    let mut store = Store::default();
    let instance = Instance::new(&mut store, &module, &linker()).unwrap();
    let nested = instance.get_typed_func::<(), ()>(&store, "nested").unwrap();
    let err = nested.call(&mut store, ()).unwrap_err();

    assert_eq!(err.as_trap().map(|t| t.kind), Some(TrapKind::HostError));
    let inner = err.source().and_then(|e| e.downcast_ref::<Error>()).expect("the nested call's error is the source");
    assert_eq!(inner.as_trap().map(|t| t.kind), Some(TrapKind::IntegerDivisionByZero));
    assert!(error_chain(&err).contains("integer divide by zero"), "{}", error_chain(&err));
}

#[test]
fn refusals_keep_their_cause() {
    // A limit: no operating-system error behind it.
    let module = module("(module (memory 2))", MODES[0]);
    let mut store = Store::new(Config { max_memory_bytes: Some(65536), ..Config::default() });
    match Instance::new(&mut store, &module, &Linker::new()) {
        Err(Error::Resource(refusal)) => {
            assert!(refusal.message().contains("exceeds the limit"), "{refusal}");
            assert!(refusal.io_error().is_none());
        }
        other => panic!("expected a resource error, got {:?}", other.err()),
    }

    // A file that is not there: the io::Error is the source, named once.
    let missing = std::env::temp_dir().join(format!("wasmc-no-such-artifact-{}.cwasm", std::process::id()));
    // SAFETY: the file does not exist, so nothing is mapped.
    let err = unsafe { wasmc_loader::Module::from_file(&missing) }.unwrap_err();
    assert!(matches!(err, LoadError::Io { .. }), "{err}");
    let io = err.source().and_then(|e| e.downcast_ref::<std::io::Error>()).expect("the io::Error is the source");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    let chain = error_chain(&err);
    assert_eq!(chain.matches("No such file").count(), 1, "{chain}");
}
