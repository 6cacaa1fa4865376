//! The host's cost of one HTTP stream through a Proxy-Wasm filter, without
//! a network: a stream created, request headers, response headers, the
//! stream ended, as `wasmc-proxy` drives them (docs/benchmarks.md,
//! "wasmc-proxy: the header filter's cost per request").
//!
//! ```text
//! cargo bench -p wasmc-proxy-wasm --bench header_stream
//! ```
//!
//! Two filters of the Rust SDK's examples: `http_headers`, whose code logs
//! every request and response header at `info` and edits four headers, and
//! `http_config`, which adds one response header and logs nothing: the
//! same crossings between host and filter, little work in the filter.
//!
//! Prints, per filter, the median and the best of 30 batches of 2,000
//! streams, in µs per stream, with the filter's log lines dropped by level
//! (`warn`; `http_headers` also with them taken by a logger that discards
//! them, `info`); then, at `warn`, the median of 300 streams each timed
//! alone after reading 2 MiB (past the core's L2) or 64 MiB (past the L3)
//! elsewhere: caches cold, as for a worker that slept between requests
//! while other processes ran.
//!
//! With `HEADER_STREAM_CALLGRIND=FILTER` in the environment it only warms
//! FILTER up and runs 20 streams, each after reading 64 MiB, through
//! `cold_stream`, for a cache simulator to count what a cold stream misses:
//!
//! ```text
//! HEADER_STREAM_CALLGRIND=http_config valgrind --tool=callgrind --cache-sim=yes \
//!     --I1=32768,8,64 --D1=32768,8,64 --LL=33554432,16,64 --toggle-collect='*cold_stream*' \
//!     target/release/deps/header_stream-*
//! ```

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

/// The request and response heads of every stream.
struct Heads {
    request: HeaderMap,
    response: HeaderMap,
}

impl Heads {
    /// One stream through `vm`, its phases checked to continue.
    fn stream(&self, vm: &mut Vm) {
        let stream = vm.create_http_stream(StreamInfo::default()).unwrap();
        let mut head = self.request.clone();
        assert_eq!(vm.on_request_headers(&stream, &mut head, true).unwrap(), Action::Continue);
        let mut head = self.response.clone();
        assert_eq!(vm.on_response_headers(&stream, &mut head, true).unwrap(), Action::Continue);
        vm.end_http_stream(stream).unwrap();
    }
}

/// Reads `other`, so that what a stream uses leaves the caches.
fn evict(other: &[u8]) {
    // Read only: no dirty lines left to write back meanwhile.
    std::hint::black_box(other.iter().step_by(64).fold(0u8, |a, b| a ^ b));
}

/// One stream after [`evict`]: the function a cache simulator collects.
#[inline(never)]
fn cold_stream(heads: &Heads, vm: &mut Vm) {
    heads.stream(vm);
}

/// `corpus/proxy-wasm/FILTER.wasm`, compiled.
fn module(filter: &str) -> Module {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../corpus/proxy-wasm/{filter}.wasm"));
    let artifact = wasmc::compile(&std::fs::read(path).unwrap(), &wasmc::CompileOptions::default()).unwrap();
    // SAFETY: compiled by wasmc just above.
    unsafe { Module::from_bytes(&artifact) }.unwrap()
}

/// A VM of `module`, logging at `level` into [`Discard`].
fn vm(module: &Module, level: LogLevel) -> Vm {
    let mut config = PluginConfig::new("headers");
    config.configuration = b"header_stream".to_vec();
    config.log_level = level;
    config.logger = Arc::new(Discard);
    let plugin = Plugin::new(module, config).unwrap();
    Vm::new(&plugin).unwrap()
}

fn main() {
    let heads = Heads {
        request: HeaderMap::from_pairs([
            (":method", "GET"),
            (":path", "/echo"),
            (":authority", "bench"),
            (":scheme", "http"),
            ("host", "bench"),
            ("user-agent", "proxy_load"),
            ("accept", "*/*"),
            ("x-remove-me", "1"),
        ]),
        response: HeaderMap::from_pairs([
            (":status", "200"),
            ("server", "upstream"),
            ("content-type", "text/plain"),
            ("content-length", "13"),
        ]),
    };
    if let Ok(filter) = std::env::var("HEADER_STREAM_CALLGRIND") {
        let mut vm = vm(&module(&filter), LogLevel::Warn);
        for _ in 0..100 {
            heads.stream(&mut vm);
        }
        let other = vec![1u8; 64 << 20];
        for _ in 0..20 {
            evict(&other);
            cold_stream(&heads, &mut vm);
        }
        return;
    }
    for (filter, levels) in
        [("http_headers", &[LogLevel::Warn, LogLevel::Info][..]), ("http_config", &[LogLevel::Warn])]
    {
        let module = module(filter);
        for &level in levels {
            let mut vm = vm(&module, level);
            let mut batches = Vec::new();
            for _ in 0..31 {
                let started = Instant::now();
                for _ in 0..2000 {
                    heads.stream(&mut vm);
                }
                batches.push(started.elapsed().as_secs_f64() * 1e6 / 2000.0);
            }
            // The first batch warms up.
            batches.remove(0);
            batches.sort_by(f64::total_cmp);
            println!(
                "{filter}, log level {level:?}: {:.2} µs per stream (median of 30 batches), best {:.2}",
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
                    evict(&other);
                    let started = Instant::now();
                    cold_stream(&heads, &mut vm);
                    cold.push(started.elapsed().as_secs_f64() * 1e6);
                }
                cold.sort_by(f64::total_cmp);
                println!(
                    "{filter}, log level {level:?}, after reading {mib} MiB elsewhere: {:.2} µs per stream (median of 300)",
                    cold[150]
                );
            }
        }
    }
}
