//! Shutting a VM down: `proxy_on_done` on the root context, then
//! `proxy_on_delete` once it is done, at once or after `proxy_done`.

mod common;

use std::time::{Duration, Instant};

use common::{config, text_module};
use wasmc_proxy_wasm::{FilterError, LogLevel, Plugin, StreamInfo, Vm};

/// A filter whose root context logs `done N` (N the context) and answers
/// `$answer` from `proxy_on_done`, calls `proxy_done` on its first tick
/// after that (ticks every 1 ms), and logs `deleted N` from
/// `proxy_on_delete`.
fn filter(answer: i32) -> String {
    format!(
        r#"(module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_done" (func $done (result i32)))
  (import "env" "proxy_set_tick_period_milliseconds" (func $tick_period (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "done 0deleted 0")
  (global $asked (mut i32) (i32.const 0))
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 1024))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32)
    (drop (call $tick_period (i32.const 1)))
    (i32.const 1))
  (func (export "proxy_on_tick") (param i32)
    (if (global.get $asked) (then (drop (call $done)))))
  (func (export "proxy_on_done") (param i32) (result i32)
    (i32.store8 (i32.const 5) (i32.add (i32.const 48) (local.get 0)))
    (drop (call $log (i32.const 2) (i32.const 0) (i32.const 6)))
    (global.set $asked (i32.const 1))
    (i32.const {answer}))
  (func (export "proxy_on_delete") (param i32)
    (i32.store8 (i32.const 14) (i32.add (i32.const 48) (local.get 0)))
    (drop (call $log (i32.const 2) (i32.const 6) (i32.const 9)))))"#
    )
}

#[test]
fn a_root_context_that_is_done_at_once_is_deleted_at_once_and_the_vm_runs_nothing_more() {
    let (config, lines) = config("shutdown");
    let plugin = Plugin::new(&text_module(&filter(1)), config).unwrap();
    let mut vm = Vm::new(&plugin).unwrap();
    let stream = vm.create_http_stream(StreamInfo::default()).unwrap();
    vm.end_http_stream(stream).unwrap();
    // The stream's context (2) is done and deleted; the root context is not.
    assert!(lines.has(LogLevel::Info, "done 2") && !lines.has(LogLevel::Info, "done 1"), "{}", lines.dump());
    assert!(vm.shutdown());
    assert!(lines.has(LogLevel::Info, "done 1") && lines.has(LogLevel::Info, "deleted 1"), "{}", lines.dump());
    let refused = vm.create_http_stream(StreamInfo::default()).unwrap_err();
    assert!(matches!(refused.error, FilterError::ShutDown), "{refused}");
    assert!(vm.poll(Instant::now()).is_err());
    // Once is enough.
    assert!(vm.shutdown());
    drop(vm);
    assert_eq!(lines.0.lock().unwrap().iter().filter(|(_, m)| m == "deleted 1").count(), 1, "{}", lines.dump());
}

#[test]
fn a_root_context_with_work_pending_is_deleted_after_proxy_done() {
    let (config, lines) = config("pending");
    let plugin = Plugin::new(&text_module(&filter(0)), config).unwrap();
    let mut vm = Vm::new(&plugin).unwrap();
    assert!(!vm.shutdown());
    assert!(lines.has(LogLevel::Info, "done 1") && !lines.has(LogLevel::Info, "deleted"), "{}", lines.dump());
    // The next tick calls proxy_done.
    let t0 = Instant::now();
    while !vm.shutdown() {
        assert!(t0.elapsed() < Duration::from_secs(5), "never done: {}", lines.dump());
        std::thread::sleep(Duration::from_millis(2));
        vm.poll(Instant::now()).unwrap();
    }
    assert!(lines.has(LogLevel::Info, "deleted 1"), "{}", lines.dump());
}

#[test]
fn a_vm_dropped_without_shutting_down_is_shut_down_and_one_dropped_while_pending_is_not_deleted() {
    let (config, lines) = config("dropped");
    drop(Vm::new(&Plugin::new(&text_module(&filter(1)), config).unwrap()).unwrap());
    assert!(lines.has(LogLevel::Info, "done 1") && lines.has(LogLevel::Info, "deleted 1"), "{}", lines.dump());

    let (config, lines) = common::config("dropped_pending");
    let mut vm = Vm::new(&Plugin::new(&text_module(&filter(0)), config).unwrap()).unwrap();
    assert!(!vm.shutdown());
    drop(vm);
    assert!(lines.has(LogLevel::Info, "done 1") && !lines.has(LogLevel::Info, "deleted"), "{}", lines.dump());
}
