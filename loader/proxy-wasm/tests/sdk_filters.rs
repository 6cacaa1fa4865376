//! The Rust SDK's example filters (`corpus/proxy-wasm`), driven through
//! the host with synthetic requests: each does what its source says.

mod common;

use common::{config, get, ok_response, plugin};
use wasmc_proxy_wasm::{AbiVersion, Action, HeaderMap, HttpCallResponse, LogLevel, StreamInfo, Vm};

#[test]
fn plugins_are_shared_and_vms_move_between_threads() {
    fn shared<T: Send + Sync>() {}
    fn sent<T: Send>() {}
    shared::<wasmc_proxy_wasm::Plugin>();
    sent::<Vm>();
}

#[test]
fn http_headers_answers_hello_itself() {
    let (config, lines) = config("http_headers");
    let plugin = plugin("http_headers", config);
    assert_eq!(plugin.abi_version(), AbiVersion::V0_2_1);
    let mut vm = Vm::new(&plugin).expect("the VM starts");
    let stream = vm.create_http_stream(StreamInfo::default()).unwrap();
    let action = vm.on_request_headers(&stream, &mut get("/hello"), true).unwrap();
    let Action::Respond(response) = action else { panic!("expected a local response, got {action:?}") };
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"Hello, World!\n");
    assert_eq!(response.headers.get_str("hello"), Some("World"));
    assert_eq!(response.headers.get_str("powered-by"), Some("proxy-wasm"));
    vm.end_http_stream(stream).unwrap();
    assert!(lines.has(LogLevel::Info, ":path: /hello"), "{}", lines.dump());
    assert!(lines.has(LogLevel::Trace, "completed."), "{}", lines.dump());
}

#[test]
fn http_headers_adds_and_removes_headers() {
    let (config, lines) = config("http_headers");
    let mut vm = Vm::new(&plugin("http_headers", config)).unwrap();
    let stream = vm.create_http_stream(StreamInfo::default()).unwrap();
    let mut request = get("/other");
    request.append("x-remove-me", "please");
    assert_eq!(vm.on_request_headers(&stream, &mut request, true).unwrap(), Action::Continue);
    assert_eq!(request.get_str("x-wasm-filter"), Some("http_headers"));
    assert_eq!(request.get("x-remove-me"), None);
    assert_eq!(request.get_str(":path"), Some("/other"));
    let mut response = ok_response(&[("server", "upstream/1.0"), ("content-type", "text/plain")]);
    assert_eq!(vm.on_response_headers(&stream, &mut response, false).unwrap(), Action::Continue);
    assert_eq!(response.get_str("powered-by"), Some("proxy-wasm"));
    assert_eq!(response.get("server"), None);
    assert_eq!(response.get_str("content-type"), Some("text/plain"));
    vm.end_http_stream(stream).unwrap();
    let id = stream.context_id();
    assert!(lines.has(LogLevel::Info, &format!("#{id} <- server: upstream/1.0")), "{}", lines.dump());
}

#[test]
fn http_body_redacts_a_buffered_body_with_a_secret() {
    let (config, _) = config("http_body");
    let mut vm = Vm::new(&plugin("http_body", config)).unwrap();
    let stream = vm.create_http_stream(StreamInfo::default()).unwrap();
    vm.on_request_headers(&stream, &mut get("/"), true).unwrap();
    let mut response = ok_response(&[("content-length", "27")]);
    assert_eq!(vm.on_response_headers(&stream, &mut response, false).unwrap(), Action::Continue);
    assert_eq!(response.get("content-length"), None, "the body may change length");
    let mut chunk = b"this is a se".to_vec();
    assert_eq!(vm.on_response_body(&stream, &mut chunk, false).unwrap(), Action::Pause);
    assert!(chunk.is_empty(), "a paused body is held by the host");
    let mut chunk = b"cret message".to_vec();
    assert_eq!(vm.on_response_body(&stream, &mut chunk, true).unwrap(), Action::Continue);
    assert_eq!(chunk, b"Original message body (24 bytes) redacted.\n");
    vm.end_http_stream(stream).unwrap();

    let stream = vm.create_http_stream(StreamInfo::default()).unwrap();
    let mut chunk = b"nothing to hide".to_vec();
    assert_eq!(vm.on_response_body(&stream, &mut chunk, true).unwrap(), Action::Continue);
    assert_eq!(chunk, b"nothing to hide");
    vm.end_http_stream(stream).unwrap();
}

#[test]
fn http_auth_random_pauses_on_a_callout_and_decides_on_its_answer() {
    let (mut config, _) = config("http_auth_random");
    config.upstreams = vec!["httpbin".into()];
    let mut vm = Vm::new(&plugin("http_auth_random", config)).unwrap();
    for (byte, allowed) in [(2u8, true), (3, false)] {
        let stream = vm.create_http_stream(StreamInfo::default()).unwrap();
        let mut request = get("/anything");
        assert_eq!(vm.on_request_headers(&stream, &mut request, true).unwrap(), Action::Pause);
        let calls = vm.take_http_calls();
        assert_eq!(calls.len(), 1);
        let call = &calls[0].call;
        assert_eq!(call.upstream, "httpbin");
        assert_eq!(call.headers.get_str(":path"), Some("/bytes/1"));
        assert_eq!(call.timeout_ms, 1000);
        let answer = HttpCallResponse {
            headers: HeaderMap::from_pairs([(":status", "200")]),
            body: vec![byte],
            ..HttpCallResponse::default()
        };
        let (owner, action) = vm.deliver_http_call_response(&calls[0], Some(answer)).unwrap().expect("a stream's call");
        assert_eq!(owner, stream);
        if allowed {
            assert_eq!(action, Action::Continue);
            let mut response = ok_response(&[]);
            vm.on_response_headers(&stream, &mut response, true).unwrap();
            assert_eq!(response.get_str("powered-by"), Some("proxy-wasm"));
        } else {
            let Action::Respond(r) = action else { panic!("expected 403, got {action:?}") };
            assert_eq!((r.status, r.body.as_slice()), (403, &b"Access forbidden.\n"[..]));
        }
        vm.end_http_stream(stream).unwrap();
    }
}

#[test]
fn http_config_puts_the_plugin_configuration_in_a_header() {
    let (mut config, _) = config("http_config");
    config.configuration = b"from the configuration".to_vec();
    let mut vm = Vm::new(&plugin("http_config", config)).unwrap();
    let stream = vm.create_http_stream(StreamInfo::default()).unwrap();
    vm.on_request_headers(&stream, &mut get("/"), true).unwrap();
    let mut response = ok_response(&[]);
    vm.on_response_headers(&stream, &mut response, true).unwrap();
    assert_eq!(response.get_str("custom-header"), Some("from the configuration"));
    vm.end_http_stream(stream).unwrap();
}

#[test]
fn the_assemblyscript_sdk_filter_runs_with_abi_0_2_0() {
    for (configuration, expected) in [("", "world!"), ("configured", "configured")] {
        let (mut config, _) = config("add_header_as");
        // The SDK finds its root context by the root id it registered.
        config.root_id = "add_header".into();
        config.configuration = configuration.into();
        let plugin = plugin("add_header_as", config);
        assert_eq!(plugin.abi_version(), AbiVersion::V0_2_0);
        let mut vm = Vm::new(&plugin).unwrap();
        let stream = vm.create_http_stream(StreamInfo::default()).unwrap();
        assert_eq!(vm.on_request_headers(&stream, &mut get("/"), true).unwrap(), Action::Continue);
        let mut response = ok_response(&[]);
        assert_eq!(vm.on_response_headers(&stream, &mut response, true).unwrap(), Action::Continue);
        assert_eq!(response.get_str("hello"), Some(expected));
        vm.end_http_stream(stream).unwrap();
    }
}

#[test]
fn a_body_held_until_the_trailers_is_taken_after_them() {
    let (config, _) = config("http_body");
    let mut vm = Vm::new(&plugin("http_body", config)).unwrap();
    let stream = vm.create_http_stream(StreamInfo::default()).unwrap();
    vm.on_request_headers(&stream, &mut get("/"), true).unwrap();
    vm.on_response_headers(&stream, &mut ok_response(&[]), false).unwrap();
    let mut piece = b"a secret, then trailers".to_vec();
    assert_eq!(vm.on_response_body(&stream, &mut piece, false).unwrap(), Action::Pause);
    let mut trailers = HeaderMap::from_pairs([("x-checksum", "42")]);
    assert_eq!(vm.on_response_trailers(&stream, &mut trailers).unwrap(), Action::Continue);
    assert_eq!(trailers.get_str("x-checksum"), Some("42"));
    assert_eq!(vm.take_response_body(&stream), b"a secret, then trailers");
    assert!(vm.take_response_body(&stream).is_empty());
    vm.end_http_stream(stream).unwrap();
}
