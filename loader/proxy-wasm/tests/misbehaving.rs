//! Filters that spin, trap, eat memory or call a dead upstream fail only
//! their own request: the request gets the plugin's failure policy, the
//! error is logged, the VM is started again and the next request through
//! it succeeds. A deadline gives the worker back.

mod common;

use std::time::{Duration, Instant};

use common::{config, get, plugin};
use wasmc_proxy_wasm::{Action, FailurePolicy, FilterError, HeaderMap, LogLevel, StreamInfo, Vm};

/// Sends `/bad` (which fails) then `/good` (which must pass) through a VM
/// of `name`; returns the failure of the first.
fn fails_then_recovers(vm: &mut Vm, name: &str) -> wasmc_proxy_wasm::Failure {
    let stream = vm.create_http_stream(StreamInfo::default()).unwrap();
    let failure = vm.on_request_headers(&stream, &mut get("/bad"), true).expect_err("the filter fails on /bad");
    vm.end_http_stream(stream).unwrap();
    assert_eq!(vm.restarts(), 1);
    let stream = vm.create_http_stream(StreamInfo::default()).unwrap();
    let mut request = get("/good");
    assert_eq!(vm.on_request_headers(&stream, &mut request, true).unwrap(), Action::Continue);
    assert_eq!(request.get_str("x-survived"), Some(name));
    vm.end_http_stream(stream).unwrap();
    failure
}

#[test]
fn a_spinning_filter_is_stopped_at_its_deadline_and_fails_closed() {
    let (mut config, lines) = config("spin");
    config.call_timeout = Duration::from_millis(50);
    config.failure_policy = FailurePolicy::FailClosed { status: 503 };
    let mut vm = Vm::new(&plugin("spin", config)).unwrap();
    let started = Instant::now();
    let failure = fails_then_recovers(&mut vm, "spin");
    assert!(started.elapsed() < Duration::from_secs(5), "the worker was held {:?}", started.elapsed());
    assert!(failure.error.timed_out(), "{failure:?}");
    let Action::Respond(response) = &failure.action else { panic!("fail closed answers, got {:?}", failure.action) };
    assert_eq!(response.status, 503);
    assert!(lines.has(LogLevel::Error, "proxy_on_request_headers failed"), "{}", lines.dump());
    assert!(lines.has(LogLevel::Error, "VM discarded"), "{}", lines.dump());
}

#[test]
fn a_trapping_filter_fails_open_when_told_to() {
    let (mut config, lines) = config("trap");
    config.failure_policy = FailurePolicy::FailOpen;
    let mut vm = Vm::new(&plugin("trap", config)).unwrap();
    let failure = fails_then_recovers(&mut vm, "trap");
    assert!(!failure.error.timed_out());
    assert!(matches!(failure.error, FilterError::Callback { callback: "proxy_on_request_headers", .. }));
    assert_eq!(failure.action, Action::Continue);
    assert!(lines.has(LogLevel::Error, "unreachable"), "{}", lines.dump());
}

#[test]
fn a_filter_out_of_memory_fails_only_its_request() {
    let (mut config, _) = config("hog");
    config.max_memory_bytes = 16 << 20;
    config.call_timeout = Duration::from_secs(5);
    let mut vm = Vm::new(&plugin("hog", config)).unwrap();
    let failure = fails_then_recovers(&mut vm, "hog");
    assert!(!failure.error.timed_out(), "{failure:?}");
    assert!(matches!(failure.action, Action::Respond(ref r) if r.status == 503));
}

#[test]
fn a_callout_to_a_dead_upstream_gets_a_failed_answer() {
    let (mut config, lines) = config("dead_callout");
    config.upstreams = vec!["dead".into()];
    let mut vm = Vm::new(&plugin("dead_callout", config)).unwrap();

    let stream = vm.create_http_stream(StreamInfo::default()).unwrap();
    assert_eq!(vm.on_request_headers(&stream, &mut get("/"), true).unwrap(), Action::Pause);
    let calls = vm.take_http_calls();
    assert_eq!((calls.len(), calls[0].call.upstream.as_str(), calls[0].call.timeout_ms), (1, "dead", 200));
    // The embedder could not connect: no answer.
    let (owner, action) = vm.deliver_http_call_response(&calls[0], None).unwrap().unwrap();
    assert_eq!(owner, stream);
    let Action::Respond(response) = action else { panic!("expected 502, got {action:?}") };
    assert_eq!((response.status, response.body.as_slice()), (502, &b"callout failed\n"[..]));
    vm.end_http_stream(stream).unwrap();

    // An upstream the plugin was not given is refused at once.
    let stream = vm.create_http_stream(StreamInfo::default()).unwrap();
    let mut request = get("/");
    request.append("x-upstream", "elsewhere");
    let action = vm.on_request_headers(&stream, &mut request, true).unwrap();
    assert!(
        matches!(action, Action::Respond(ref r) if r.status == 500 && r.body == b"callout refused\n"),
        "{action:?}"
    );
    assert!(vm.take_http_calls().is_empty());
    assert!(lines.has(LogLevel::Warn, "unknown upstream \"elsewhere\""), "{}", lines.dump());
    vm.end_http_stream(stream).unwrap();

    // An upstream that answers lets the request through.
    let stream = vm.create_http_stream(StreamInfo::default()).unwrap();
    vm.on_request_headers(&stream, &mut get("/"), true).unwrap();
    let calls = vm.take_http_calls();
    let answer = wasmc_proxy_wasm::HttpCallResponse {
        headers: HeaderMap::from_pairs([(":status", "204")]),
        ..Default::default()
    };
    let (_, action) = vm.deliver_http_call_response(&calls[0], Some(answer)).unwrap().unwrap();
    assert_eq!(action, Action::Continue);
    assert_eq!(vm.request_headers(&stream).unwrap().get_str("x-callout-status"), Some("204"));
    vm.end_http_stream(stream).unwrap();
    assert_eq!(vm.restarts(), 0);
}

#[test]
fn streams_in_flight_on_a_discarded_vm_get_the_failure_policy() {
    let (mut config, _) = config("spin");
    config.call_timeout = Duration::from_millis(50);
    config.failure_policy = FailurePolicy::FailClosed { status: 500 };
    let mut vm = Vm::new(&plugin("spin", config)).unwrap();
    let in_flight = vm.create_http_stream(StreamInfo::default()).unwrap();
    assert_eq!(vm.on_request_headers(&in_flight, &mut get("/good"), true).unwrap(), Action::Continue);
    // Another request makes the VM fail: the first one's context is gone.
    let failing = vm.create_http_stream(StreamInfo::default()).unwrap();
    vm.on_request_headers(&failing, &mut get("/bad"), true).expect_err("spins");
    let mut response = HeaderMap::from_pairs([(":status", "200")]);
    let failure = vm.on_response_headers(&in_flight, &mut response, true).expect_err("its VM is gone");
    assert!(matches!(failure.error, FilterError::StaleStream), "{failure:?}");
    assert!(matches!(failure.action, Action::Respond(ref r) if r.status == 500));
    assert_eq!(response.get_str(":status"), Some("200"), "headers are left as they were");
    vm.end_http_stream(in_flight).unwrap();
    vm.end_http_stream(failing).unwrap();
    assert_eq!(vm.restarts(), 1, "a stale stream does not discard the new VM");
}

/// Starts once per plugin (the first VM marks shared data; any later VM's
/// `proxy_on_configure` refuses), and traps on every request.
const STARTS_ONCE: &str = r#"(module
  (import "env" "proxy_get_shared_data" (func $get (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_shared_data" (func $set (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "started")
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 1024))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_configure") (param i32 i32) (result i32)
    (if (result i32) (i32.eq (call $get (i32.const 0) (i32.const 7) (i32.const 64) (i32.const 68) (i32.const 72)) (i32.const 1))
      (then (drop (call $set (i32.const 0) (i32.const 7) (i32.const 0) (i32.const 0) (i32.const 0))) (i32.const 1))
      (else (i32.const 0))))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) unreachable))"#;

#[test]
fn a_vm_that_cannot_start_again_is_retried_after_a_backoff() {
    let (config, lines) = config("starts_once");
    let plugin = wasmc_proxy_wasm::Plugin::new(&common::text_module(STARTS_ONCE), config).unwrap();
    let mut vm = Vm::new(&plugin).unwrap();
    let stream = vm.create_http_stream(StreamInfo::default()).unwrap();
    vm.on_request_headers(&stream, &mut get("/"), true).expect_err("traps");
    assert_eq!(vm.restarts(), 1);
    assert!(lines.has(LogLevel::Error, "proxy_on_configure returned false"), "{}", lines.dump());
    // Within the backoff, requests fail at once with the policy, and no
    // start is tried (so nothing more is logged).
    let logged = lines.0.lock().unwrap().len();
    for _ in 0..3 {
        let failure = vm.create_http_stream(StreamInfo::default()).expect_err("not running");
        assert!(matches!(failure.error, FilterError::NotRunning), "{failure:?}");
        assert!(matches!(failure.action, Action::Respond(ref r) if r.status == 503));
    }
    assert_eq!(lines.0.lock().unwrap().len(), logged);
    // After it, the start is tried again (and refused again here).
    std::thread::sleep(wasmc_proxy_wasm::RESTART_BACKOFF + Duration::from_millis(50));
    let failure = vm.create_http_stream(StreamInfo::default()).expect_err("refused again");
    assert!(matches!(failure.error, FilterError::Refused("proxy_on_configure")), "{failure:?}");
}
