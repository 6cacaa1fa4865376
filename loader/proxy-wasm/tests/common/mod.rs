//! Helpers for the tests: compile a corpus filter with the wasmc library,
//! make a plugin of it with a log that the test can read.

#![allow(dead_code, reason = "each test file uses a different subset")]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasmc_loader::Module;
use wasmc_proxy_wasm::{HeaderMap, LogLevel, Logger, Plugin, PluginConfig};

/// Compiles `corpus/proxy-wasm/NAME.wasm` and loads it.
pub fn filter(name: &str) -> Module {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../corpus/proxy-wasm").join(format!("{name}.wasm"));
    let wasm = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    load(&wasm)
}

/// Compiles WebAssembly text and loads it.
pub fn text_module(wat: &str) -> Module {
    load(&wat::parse_str(wat).expect("valid text"))
}

fn load(wasm: &[u8]) -> Module {
    let artifact = wasmc::compile(wasm, &wasmc::CompileOptions::default()).expect("the filter compiles");
    // SAFETY: the artifact was compiled by wasmc just above.
    unsafe { Module::from_bytes(&artifact) }.expect("a fresh artifact loads")
}

/// Log lines kept in memory.
#[derive(Default)]
pub struct Lines(pub Mutex<Vec<(LogLevel, String)>>);

impl Logger for Lines {
    fn log(&self, _plugin: &str, level: LogLevel, message: &str) {
        self.0.lock().unwrap().push((level, message.to_string()));
    }
}

impl Lines {
    /// Whether a line at `level` contains `text`.
    pub fn has(&self, level: LogLevel, text: &str) -> bool {
        self.0.lock().unwrap().iter().any(|(l, m)| *l == level && m.contains(text))
    }

    pub fn dump(&self) -> String {
        format!("{:#?}", self.0.lock().unwrap())
    }
}

/// A configuration logging everything into the returned lines, with a
/// 200 ms deadline.
pub fn config(name: &str) -> (PluginConfig, Arc<Lines>) {
    let lines = Arc::new(Lines::default());
    let mut config = PluginConfig::new(name);
    config.log_level = LogLevel::Trace;
    config.logger = lines.clone();
    config.call_timeout = Duration::from_millis(200);
    (config, lines)
}

/// The plugin of corpus filter `name` with `config`.
pub fn plugin(name: &str, config: PluginConfig) -> Plugin {
    Plugin::new(&filter(name), config).expect("the filter links")
}

/// Request headers for `GET path`.
pub fn get(path: &str) -> HeaderMap {
    HeaderMap::from_pairs([(":method", "GET"), (":path", path), (":authority", "example.test"), (":scheme", "http")])
}

/// Response headers of a 200 with `extra` pairs.
pub fn ok_response(extra: &[(&str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::from_pairs([(":status", "200")]);
    for (n, v) in extra {
        headers.append(*n, *v);
    }
    headers
}
