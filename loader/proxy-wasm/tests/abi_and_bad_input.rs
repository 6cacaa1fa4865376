//! ABI detection, and a filter (in text, so it can do what no SDK would)
//! that passes bad pointers, lengths and values: each comes back as the
//! ABI's status, never a host panic; a trap in the filter's allocator while
//! the host hands it memory fails only that request.

mod common;

use common::{config, get, text_module};
use wasmc_proxy_wasm::{AbiVersion, Action, FilterError, LogLevel, Plugin, PluginError, StreamInfo, Vm};

/// A filter of ABI `version` whose `proxy_on_request_headers` runs `body`
/// (with `$s` the next free byte of the status string at 256) and then
/// adds the header `x-statuses` with the statuses as letters (`a` = 0,
/// `b` = 1, ...). `allocator` is the body of `proxy_on_memory_allocate`.
fn filter(version: &str, allocator: &str, body: &str) -> String {
    format!(
        r#"(module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_pairs" (func $pairs (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_value" (func $value (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_add_header_map_value" (func $add (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_header_map_pairs" (func $set_pairs (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_buffer_bytes" (func $buffer (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_grpc_cancel" (func $grpc_cancel (param i32) (result i32)))
  (import "env" "proxy_continue_stream" (func $continue (param i32) (result i32)))
  (import "env" "proxy_set_effective_context" (func $effective (param i32) (result i32)))
  (import "env" "proxy_get_property" (func $property (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_shared_data" (func $set_shared (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_clear_route_cache" (func $clear_route_cache (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) ":path")
  (data (i32.const 16) "x-statuses")
  (data (i32.const 32) "nonexistent")
  (data (i32.const 48) "\ff\ff\ff\ff")
  (data (i32.const 64) "\ff\fe")
  (global $s (mut i32) (i32.const 256))
  (global $st (mut i32) (i32.const 0))
  (func $record (param i32)
    (i32.store8 (global.get $s) (i32.add (local.get 0) (i32.const 97)))
    (global.set $s (i32.add (global.get $s) (i32.const 1))))
  (func (export "{version}"))
  (func (export "proxy_on_memory_allocate") (param i32) (result i32) {allocator})
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    {body}
    (drop (call $add (i32.const 0) (i32.const 16) (i32.const 10) (i32.const 256) (i32.sub (global.get $s) (i32.const 256))))
    (i32.const 0)))"#
    )
}

#[test]
fn the_abi_version_comes_from_the_export() {
    let (config, _) = config("v020");
    let plugin = Plugin::new(&text_module(&filter("proxy_abi_version_0_2_0", "(i32.const 1024)", "")), config).unwrap();
    assert_eq!(plugin.abi_version(), AbiVersion::V0_2_0);
    let mut vm = Vm::new(&plugin).unwrap();
    let stream = vm.create_http_stream(StreamInfo::default()).unwrap();
    assert_eq!(vm.on_request_headers(&stream, &mut get("/"), true).unwrap(), Action::Continue);

    for (export, found) in [("proxy_abi_version_0_1_0", ", it exports proxy_abi_version_0_1_0"), ("not_a_version", "")]
    {
        let (config, _) = common::config("old");
        let error = Plugin::new(&text_module(&filter(export, "(i32.const 1024)", "")), config).unwrap_err();
        assert!(matches!(&error, PluginError::UnknownAbi { found: f } if f == found), "{error:?}");
    }
}

#[test]
fn bad_pointers_lengths_and_values_are_statuses() {
    let calls = r#"
    (call $record (call $log (i32.const 2) (i32.const -16) (i32.const 100)))
    (call $record (call $log (i32.const 9) (i32.const 0) (i32.const 0)))
    (call $record (call $pairs (i32.const 0) (i32.const -16) (i32.const -16)))
    (call $record (call $value (i32.const 0) (i32.const 0) (i32.const 5) (i32.const -4) (i32.const 512)))
    (call $record (call $add (i32.const 0) (i32.const 0) (i32.const 0x7fffffff) (i32.const 0) (i32.const 0)))
    (call $record (call $set_pairs (i32.const 0) (i32.const 48) (i32.const 4)))
    (call $record (call $buffer (i32.const 99) (i32.const 0) (i32.const 0) (i32.const 512) (i32.const 516)))
    (call $record (call $buffer (i32.const 0) (i32.const 0) (i32.const 10) (i32.const 512) (i32.const 516)))
    (call $record (call $grpc_cancel (i32.const 1)))
    (call $record (call $continue (i32.const 2)))
    (call $record (call $effective (i32.const 999)))
    (call $record (call $property (i32.const 32) (i32.const 11) (i32.const 512) (i32.const 516)))
    (call $record (call $set_shared (i32.const 64) (i32.const 2) (i32.const 0) (i32.const 0) (i32.const 0)))
    (call $record (call $clear_route_cache))
    (call $record (call $value (i32.const 0) (i32.const 0) (i32.const 5) (i32.const 512) (i32.const 516)))"#;
    let (config, lines) = config("bad_input");
    let plugin =
        Plugin::new(&text_module(&filter("proxy_abi_version_0_2_1", "(i32.const 1024)", calls)), config).unwrap();
    let mut vm = Vm::new(&plugin).unwrap();
    let stream = vm.create_http_stream(StreamInfo::default()).unwrap();
    let mut headers = get("/p");
    assert_eq!(vm.on_request_headers(&stream, &mut headers, true).unwrap(), Action::Continue);
    // g: InvalidMemoryAccess, c: BadArgument, b: NotFound, m: Unimplemented, a: Ok.
    let expected = [
        "g", // proxy_log with a message past the end of memory
        "c", // proxy_log at level 9
        "g", // header pairs returned through pointers past the end
        "g", // a value returned through a pointer past the end
        "g", // a key of 2 GiB
        "c", // a serialized map claiming 4 billion pairs
        "c", // buffer type 99
        "a", // an empty request body: Ok, an empty block
        "m", // gRPC
        "m", // TCP streams
        "c", // a context that does not exist
        "b", // an unknown property
        "c", // a shared-data key that is not UTF-8
        "a", // proxy_clear_route_cache (AssemblyScript and C++ SDKs): no route cached
        "a", // a good call still works
    ]
    .concat();
    assert_eq!(headers.get_str("x-statuses"), Some(expected.as_str()));
    assert_eq!(vm.restarts(), 0);
    assert!(lines.has(LogLevel::Warn, "proxy_grpc_cancel: gRPC is not implemented"), "{}", lines.dump());
    assert!(lines.has(LogLevel::Warn, "proxy_continue_stream: TCP streams are not implemented"), "{}", lines.dump());
}

#[test]
fn a_trap_in_the_filter_allocator_fails_only_its_request() {
    let body = "(drop (call $pairs (i32.const 0) (i32.const 512) (i32.const 516)))";
    let (config, lines) = config("bad_allocator");
    let plugin = Plugin::new(&text_module(&filter("proxy_abi_version_0_2_1", "(unreachable)", body)), config).unwrap();
    let mut vm = Vm::new(&plugin).unwrap();
    let stream = vm.create_http_stream(StreamInfo::default()).unwrap();
    let failure = vm.on_request_headers(&stream, &mut get("/"), true).unwrap_err();
    assert!(matches!(failure.error, FilterError::Callback { callback: "proxy_on_request_headers", .. }), "{failure:?}");
    assert_eq!(vm.restarts(), 1);
    assert!(lines.has(LogLevel::Error, "unreachable"), "{}", lines.dump());
}

/// An allocator that asks the host for the header map again, so that the
/// host calls it again, and so on: the recursion through host and wasm
/// frames ends in the stack limit's trap, that request fails, the VM is
/// recreated, and the worker's thread is unharmed.
#[test]
fn an_allocator_that_reenters_the_host_without_end_traps_on_the_stack_limit() {
    let body = "(drop (call $pairs (i32.const 0) (i32.const 512) (i32.const 516)))";
    let allocator = "(drop (call $pairs (i32.const 0) (i32.const 512) (i32.const 516))) (i32.const 1024)";
    let (config, lines) = config("reentrant_allocator");
    let plugin = Plugin::new(&text_module(&filter("proxy_abi_version_0_2_1", allocator, body)), config).unwrap();
    let mut vm = Vm::new(&plugin).unwrap();
    for round in 1..=2 {
        let stream = vm.create_http_stream(StreamInfo::default()).unwrap();
        let failure = vm.on_request_headers(&stream, &mut get("/"), true).unwrap_err();
        assert!(
            matches!(failure.error, FilterError::Callback { callback: "proxy_on_request_headers", .. }),
            "{failure:?}"
        );
        assert_eq!(vm.restarts(), round);
    }
    assert!(lines.has(LogLevel::Error, "call stack exhausted"), "{}", lines.dump());
}

#[test]
fn a_filter_cannot_make_the_host_hold_unbounded_headers() {
    // Adds 1000-byte response headers until the host refuses one.
    let body = r#"
    (block $done (loop $more
      (global.set $st (call $add (i32.const 2) (i32.const 16) (i32.const 10) (i32.const 0) (i32.const 1000)))
      (br_if $done (global.get $st))
      (br $more)))
    (call $record (global.get $st))"#;
    let (config, _) = config("flood");
    let plugin =
        Plugin::new(&text_module(&filter("proxy_abi_version_0_2_1", "(i32.const 1024)", body)), config).unwrap();
    let mut vm = Vm::new(&plugin).unwrap();
    let stream = vm.create_http_stream(StreamInfo::default()).unwrap();
    let mut headers = get("/");
    assert_eq!(vm.on_request_headers(&stream, &mut headers, true).unwrap(), Action::Continue);
    // k: InternalFailure, once the map reached 1 MiB.
    assert_eq!(headers.get_str("x-statuses"), Some("k"));
    let held = vm.response_headers(&stream).unwrap();
    assert!(held.serialized_len() <= 1 << 20 && held.len() > 1000, "{}", held.len());
}

/// A VM reuses the records of finished streams (their buffers): nothing of
/// one stream (a property the filter set, a body, a header it added)
/// reaches the next. The filter reports what it finds left over as
/// `x-seen` headers, and leaves a property and a header behind each time.
#[test]
fn a_finished_streams_state_never_reaches_the_next() {
    let wat = r#"(module
  (import "env" "proxy_get_property" (func $get (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_property" (func $set (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_buffer_status" (func $body (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_value" (func $value (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_add_header_map_value" (func $add (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "leak")
  (data (i32.const 16) "x-seen")
  (data (i32.const 32) "property")
  (data (i32.const 48) "body")
  (data (i32.const 64) "x-added")
  (data (i32.const 80) "header")
  (global $next (mut i32) (i32.const 1024))
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $next))
    (global.set $next (i32.add (global.get $next) (local.get 0)))
    (local.get $p))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (if (i32.eqz (call $get (i32.const 0) (i32.const 4) (i32.const 512) (i32.const 516)))
      (then (drop (call $add (i32.const 0) (i32.const 16) (i32.const 6) (i32.const 32) (i32.const 8)))))
    (drop (call $body (i32.const 0) (i32.const 520) (i32.const 524)))
    (if (i32.load (i32.const 520))
      (then (drop (call $add (i32.const 0) (i32.const 16) (i32.const 6) (i32.const 48) (i32.const 4)))))
    (if (i32.eqz (call $value (i32.const 0) (i32.const 64) (i32.const 7) (i32.const 512) (i32.const 516)))
      (then (drop (call $add (i32.const 0) (i32.const 16) (i32.const 6) (i32.const 80) (i32.const 6)))))
    (drop (call $set (i32.const 0) (i32.const 4) (i32.const 48) (i32.const 4)))
    (drop (call $add (i32.const 0) (i32.const 64) (i32.const 7) (i32.const 80) (i32.const 6)))
    (i32.const 0))
  ;; Pauses, so the host holds the body when the stream ends.
  (func (export "proxy_on_request_body") (param i32 i32 i32) (result i32) (i32.const 1)))"#;
    let (config, _) = config("leftovers");
    let plugin = Plugin::new(&text_module(wat), config).unwrap();
    let mut vm = Vm::new(&plugin).unwrap();
    for round in 0..3 {
        let stream = vm.create_http_stream(StreamInfo::default()).unwrap();
        let mut headers = get("/");
        assert_eq!(vm.on_request_headers(&stream, &mut headers, false).unwrap(), Action::Continue);
        let seen: Vec<&str> =
            headers.iter().filter(|(n, _)| *n == "x-seen").map(|(_, v)| std::str::from_utf8(v).unwrap()).collect();
        assert!(seen.is_empty(), "round {round}: left over from an earlier stream: {seen:?}");
        assert_eq!(headers.get_str("x-added"), Some("header"), "round {round}");
        let mut body = b"a body of some length".to_vec();
        assert_eq!(vm.on_request_body(&stream, &mut body, true).unwrap(), Action::Pause);
        vm.end_http_stream(stream).unwrap();
    }
}

/// What a filter built with Emscripten (the C++ SDK's toolchain) or an
/// older SDK imports besides the ABI: `emscripten_notify_memory_growth`
/// and `pthread_equal` from `env`, WASI from `wasi_unstable` (preview 0).
/// Proxy-Wasm hosts provide them; a filter importing them links and runs
/// here too.
#[test]
fn a_filter_built_with_emscripten_or_for_preview_0_links_and_runs() {
    let wat = r#"(module
  (import "env" "emscripten_notify_memory_growth" (func $grew (param i32)))
  (import "env" "pthread_equal" (func $pthread_equal (param i32 i32) (result i32)))
  (import "wasi_unstable" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "wasi_unstable" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_add_header_map_value" (func $add (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "x-compat")
  (data (i32.const 32) "\40\00\00\00\02\00\00\00")
  (data (i32.const 64) "hi")
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 1024))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    ;; Grow, and tell the host as Emscripten's sbrk does.
    (drop (memory.grow (i32.const 1)))
    (call $grew (i32.const 0))
    ;; The status string at 16: letters for the two comparisons, the
    ;; clock's errno and fd_write's (stdout goes to the plugin's log).
    (i32.store8 (i32.const 16) (i32.add (i32.const 97) (call $pthread_equal (i32.const 5) (i32.const 5))))
    (i32.store8 (i32.const 17) (i32.add (i32.const 97) (call $pthread_equal (i32.const 5) (i32.const 6))))
    (i32.store8 (i32.const 18) (i32.add (i32.const 97) (call $clock (i32.const 0) (i64.const 1) (i32.const 128))))
    (i32.store8 (i32.const 19)
      (i32.add (i32.const 97) (call $fd_write (i32.const 1) (i32.const 32) (i32.const 1) (i32.const 136))))
    (drop (call $add (i32.const 0) (i32.const 0) (i32.const 8) (i32.const 16) (i32.const 4)))
    (i32.const 0)))"#;
    let (config, lines) = config("compat");
    let plugin = Plugin::new(&text_module(wat), config).unwrap();
    let mut vm = Vm::new(&plugin).unwrap();
    let stream = vm.create_http_stream(StreamInfo::default()).unwrap();
    let mut headers = get("/");
    assert_eq!(vm.on_request_headers(&stream, &mut headers, true).unwrap(), Action::Continue);
    // b: equal, a: not equal, a: the clock read (errno 0), a: written.
    assert_eq!(headers.get_str("x-compat"), Some("baaa"));
    assert!(lines.has(LogLevel::Info, "hi"), "{}", lines.dump());
    assert_eq!(vm.restarts(), 0);
}

/// What a filter writes to stdout is logged at `info`, to stderr at
/// `error`, as Envoy's host does; other descriptors are `EBADF`, a bad
/// buffer `EFAULT`; one call takes at most 64 KiB however many buffers it
/// names (a short write), and reads at most 1,024 of them; below the
/// plugin's level nothing is logged but the write still succeeds.
#[test]
fn stdout_and_stderr_go_to_the_plugins_log() {
    // Memory: 0 "to stdout\n", 16 "to stderr", 32 an iovec of each, 48 a
    // bad iovec, 64.. 100 iovecs of 1 KiB at 4096; 1024 the count written;
    // 16 bytes from 2048 the errnos and counts the filter reports.
    let wat = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_add_header_map_value" (func $add (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "to stdout\n")
  (data (i32.const 16) "to stderr")
  (data (i32.const 32) "\00\00\00\00\0a\00\00\00\10\00\00\00\09\00\00\00")
  (data (i32.const 48) "\00\00\ff\ff\10\00\00\00")
  (data (i32.const 3000) "x-stdio")
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 8192))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func $record (param $at i32) (param $v i32)
    (i32.store8 (local.get $at) (i32.add (i32.const 97) (local.get $v))))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (local $n i32)
    (call $record (i32.const 2048) (call $write (i32.const 1) (i32.const 32) (i32.const 1) (i32.const 1024)))
    (call $record (i32.const 2049) (i32.load (i32.const 1024)))
    (call $record (i32.const 2050) (call $write (i32.const 2) (i32.const 40) (i32.const 1) (i32.const 1024)))
    (call $record (i32.const 2051) (call $write (i32.const 3) (i32.const 32) (i32.const 1) (i32.const 1024)))
    (call $record (i32.const 2052) (call $write (i32.const 1) (i32.const 48) (i32.const 1) (i32.const 1024)))
    (call $record (i32.const 2053) (call $write (i32.const 1) (i32.const -4) (i32.const 1) (i32.const 1024)))
    ;; 100 iovecs of 1 KiB: 64 KiB taken, a short write.
    (loop $fill
      (i32.store (i32.add (i32.const 64) (i32.mul (local.get $n) (i32.const 8))) (i32.const 4096))
      (i32.store (i32.add (i32.const 68) (i32.mul (local.get $n) (i32.const 8))) (i32.const 1024))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $fill (i32.lt_u (local.get $n) (i32.const 100))))
    (call $record (i32.const 2054) (call $write (i32.const 1) (i32.const 64) (i32.const 100) (i32.const 1024)))
    ;; The count written, in KiB past 64 (a: exactly 64).
    (call $record (i32.const 2055) (i32.sub (i32.shr_u (i32.load (i32.const 1024)) (i32.const 10)) (i32.const 64)))
    ;; Two billion empty buffers (the memory from 8192 is zeros): the
    ;; first 1,024 are read, nothing written, no fault at the memory's end.
    (call $record (i32.const 2056) (call $write (i32.const 1) (i32.const 8192) (i32.const 0x7fffffff) (i32.const 1024)))
    (call $record (i32.const 2057) (i32.load (i32.const 1024)))
    (drop (call $add (i32.const 0) (i32.const 3000) (i32.const 7) (i32.const 2048) (i32.const 10)))
    (i32.const 0)))"#;
    for (level, logged) in [(LogLevel::Trace, true), (LogLevel::Critical, false)] {
        let (mut config, lines) = config("stdio");
        config.log_level = level;
        let plugin = Plugin::new(&text_module(wat), config).unwrap();
        let mut vm = Vm::new(&plugin).unwrap();
        let stream = vm.create_http_stream(StreamInfo::default()).unwrap();
        let mut headers = get("/");
        assert_eq!(vm.on_request_headers(&stream, &mut headers, true).unwrap(), Action::Continue);
        // a: written (10 bytes: k); stderr a; fd 3 EBADF (i); bad buffer and
        // bad iovec EFAULT (v); 100 KiB asked, a written: 64 KiB (a); two
        // billion empty buffers: a, 0 bytes (a).
        assert_eq!(headers.get_str("x-stdio"), Some("akaivvaaaa"), "{level:?}");
        assert_eq!(lines.has(LogLevel::Info, "to stdout"), logged, "{}", lines.dump());
        assert_eq!(lines.has(LogLevel::Error, "to stderr"), logged, "{}", lines.dump());
        // Without the newline.
        assert!(!lines.has(LogLevel::Info, "\n"), "{}", lines.dump());
        assert_eq!(vm.restarts(), 0);
    }
}

/// A start function that traps refuses the VM, naming the function the
/// module has: `_start` (command-style builds) or `_initialize`.
#[test]
fn a_trapping_start_function_is_named() {
    for name in ["_start", "_initialize"] {
        let wat = format!(
            r#"(module
  (memory (export "memory") 1)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "{name}") unreachable))"#
        );
        let (config, _) = config("start");
        let plugin = Plugin::new(&text_module(&wat), config).unwrap();
        match Vm::new(&plugin).map(|_| ()) {
            Err(failure) => match failure.error {
                FilterError::Callback { callback, .. } => assert_eq!(callback, name),
                other => panic!("{name}: expected the start function's trap, got {other:?}"),
            },
            Ok(()) => panic!("{name}: a VM whose start function traps started"),
        }
    }
}
