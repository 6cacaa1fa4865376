//! The host's cost of one HTTP stream through the Rust SDK's `http_headers`
//! filter, without a network: a stream created, request headers, response
//! headers, the stream ended, as `wasmc-proxy` drives them
//! (docs/benchmarks.md, "wasmc-proxy: the header filter's cost per
//! request").
//!
//! ```text
//! cargo bench -p wasmc-proxy-wasm --bench header_stream
//! ```
//!
//! Prints the median and the best of 30 batches of 2,000 streams, in µs per
//! stream, with the filter's log lines dropped by level (`warn`) and taken
//! by a logger that discards them (`info`); then, at `warn`, the median of
//! 300 streams each timed alone after reading 2 MiB (past the core's L2) or
//! 64 MiB (past the L3) elsewhere: caches cold, as for a worker that slept
//! between requests while other processes ran.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use wasmc_loader::Module;
use wasmc_proxy_wasm::{Action, HeaderMap, LogLevel, Logger, Plugin, PluginConfig, StreamInfo, Vm};

struct Discard;

impl Logger for Discard {
    fn log(&self, _: &str, _: LogLevel, message: &str) {
        std::hint::black_box(message);
    }
}

fn main() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../corpus/proxy-wasm/http_headers.wasm");
    let artifact = wasmc::compile(&std::fs::read(path).unwrap(), &wasmc::CompileOptions::default()).unwrap();
    // SAFETY: compiled by wasmc just above.
    let module = unsafe { Module::from_bytes(&artifact) }.unwrap();
    let request = HeaderMap::from_pairs([
        (":method", "GET"),
        (":path", "/echo"),
        (":authority", "bench"),
        (":scheme", "http"),
        ("host", "bench"),
        ("user-agent", "proxy_load"),
        ("accept", "*/*"),
        ("x-remove-me", "1"),
    ]);
    let response = HeaderMap::from_pairs([
        (":status", "200"),
        ("server", "upstream"),
        ("content-type", "text/plain"),
        ("content-length", "13"),
    ]);
    for level in [LogLevel::Warn, LogLevel::Info] {
        let mut config = PluginConfig::new("headers");
        config.log_level = level;
        config.logger = Arc::new(Discard);
        let plugin = Plugin::new(&module, config).unwrap();
        let mut vm = Vm::new(&plugin).unwrap();
        let mut batches = Vec::new();
        for _ in 0..31 {
            let started = Instant::now();
            for _ in 0..2000 {
                let stream = vm.create_http_stream(StreamInfo::default()).unwrap();
                let mut head = request.clone();
                assert_eq!(vm.on_request_headers(&stream, &mut head, true).unwrap(), Action::Continue);
                let mut head = response.clone();
                assert_eq!(vm.on_response_headers(&stream, &mut head, true).unwrap(), Action::Continue);
                vm.end_http_stream(stream).unwrap();
            }
            batches.push(started.elapsed().as_secs_f64() * 1e6 / 2000.0);
        }
        // The first batch warms up.
        batches.remove(0);
        batches.sort_by(f64::total_cmp);
        println!(
            "http_headers, log level {level:?}: {:.2} µs per stream (median of 30 batches), best {:.2}",
            batches[batches.len() / 2],
            batches[0]
        );
        if level != LogLevel::Warn {
            continue;
        }
        for mib in [2, 64] {
            let other = vec![1u8; mib << 20];
            let mut cold = Vec::new();
            for _ in 0..300 {
                // Read only: no dirty lines left to write back meanwhile.
                std::hint::black_box(other.iter().step_by(64).fold(0u8, |a, b| a ^ b));
                let started = Instant::now();
                let stream = vm.create_http_stream(StreamInfo::default()).unwrap();
                let mut head = request.clone();
                vm.on_request_headers(&stream, &mut head, true).unwrap();
                let mut head = response.clone();
                vm.on_response_headers(&stream, &mut head, true).unwrap();
                vm.end_http_stream(stream).unwrap();
                cold.push(started.elapsed().as_secs_f64() * 1e6);
            }
            cold.sort_by(f64::total_cmp);
            println!(
            "http_headers, log level {level:?}, after reading {mib} MiB elsewhere: {:.2} µs per stream (median of 300)",
            cold[150]
        );
        }
    }
}
