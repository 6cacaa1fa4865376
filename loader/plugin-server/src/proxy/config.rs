//! The reverse proxy's configuration file (TOML):
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! admin = "127.0.0.1:9901"        # optional: GET /metrics
//! workers = 2                     # worker threads, each with a VM of every filter
//! upstream = "backend"            # where requests go
//! trust = ["ci.pub"]              # optional: load only artifacts signed by these keys
//! max_body_bytes = 16777216       # request, response and call bodies; default 16 MiB
//! header_timeout_ms = 30000       # for a client's request head, and an idle
//!                                 # keep-alive connection; default 30 s
//!
//! [upstreams]                     # names filters may call out to, and the route's
//! backend = "127.0.0.1:3000"
//!
//! [[filters]]                     # run in this order on requests, reversed on responses
//! name = "headers"
//! artifact = "http_headers.cwasm" # relative paths are relative to the file
//! log_level = "info"              # trace, debug, info, warn, error or critical; default info
//! root_id = "headers"             # default: name
//! configuration = "..."           # default: empty
//! timeout_ms = 100                # per callback; default 100
//! max_memory_mib = 64             # default 64
//! failure = "closed"              # or "open"; default "closed"
//! failure_status = 503            # when closed; default 503
//!
//! [[filters]]                     # a filter written in Rust inside the proxy
//! name = "native-headers"
//! native = "http_headers"         # instead of artifact; only name and log_level apply
//! ```
//!
//! `native = "http_headers"` is the logic of the Rust SDK's `http_headers`
//! example (`corpus/proxy-wasm/examples/http_headers.rs`) in Rust, run
//! through the same filter chain: the baseline the wasm filter is measured
//! against (`docs/benchmarks.md`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use wasmc_proxy_wasm::LogLevel;

use super::native::NativeKind;

/// The whole file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    /// Where the proxy listens.
    pub listen: SocketAddr,
    /// Where `GET /metrics` is served, if anywhere.
    pub admin: Option<SocketAddr>,
    /// Worker threads (default 2).
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// The upstream every request is forwarded to.
    pub upstream: String,
    /// Public keys; when given, only artifacts signed by one of them load.
    #[serde(default)]
    pub trust: Vec<PathBuf>,
    /// The largest request, response or HTTP-call body the proxy reads
    /// (a request over it is answered 413, a response 502).
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// How long a client may take to send a request head, and keep a
    /// connection idle between requests, before the proxy closes it.
    #[serde(default = "default_header_timeout_ms")]
    pub header_timeout_ms: u64,
    /// Upstream names to `host:port`.
    #[serde(default)]
    pub upstreams: BTreeMap<String, String>,
    /// The filter chain.
    #[serde(default)]
    pub filters: Vec<FilterConfig>,
    /// The file this was read from (what `POST /reload` reads again).
    #[serde(skip)]
    pub source: Option<PathBuf>,
    /// Keys given on the command line (`--trust`), added to `trust` and
    /// kept across reloads.
    #[serde(skip)]
    pub command_line_trust: Vec<PathBuf>,
}

/// One filter of the chain.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    pub name: String,
    /// The compiled Proxy-Wasm module (exactly one of `artifact` and `native`).
    pub artifact: Option<PathBuf>,
    /// A native filter's name (see `super::native::NativeKind`).
    pub native: Option<String>,
    #[serde(default = "default_log_level")]
    pub log_level: String,
    pub root_id: Option<String>,
    #[serde(default)]
    pub configuration: String,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default = "default_memory_mib")]
    pub max_memory_mib: u64,
    #[serde(default = "default_failure")]
    pub failure: String,
    #[serde(default = "default_failure_status")]
    pub failure_status: u16,
}

fn default_workers() -> usize {
    2
}
fn default_max_body_bytes() -> usize {
    16 << 20
}
fn default_header_timeout_ms() -> u64 {
    30_000
}
fn default_timeout_ms() -> u64 {
    100
}
fn default_memory_mib() -> u64 {
    64
}
fn default_failure() -> String {
    "closed".into()
}
fn default_failure_status() -> u16 {
    503
}
fn default_log_level() -> String {
    "info".into()
}

/// The log level named `name` (`trace` to `critical`).
pub fn log_level(name: &str) -> Option<LogLevel> {
    Some(match name {
        "trace" => LogLevel::Trace,
        "debug" => LogLevel::Debug,
        "info" => LogLevel::Info,
        "warn" => LogLevel::Warn,
        "error" => LogLevel::Error,
        "critical" => LogLevel::Critical,
        _ => return None,
    })
}

impl ProxyConfig {
    /// Reads and checks the file at `path`; relative artifact and key paths
    /// become relative to its directory.
    pub fn load(path: &Path) -> Result<ProxyConfig, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut config: ProxyConfig = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        for filter in &mut config.filters {
            filter.artifact = filter.artifact.as_ref().map(|a| dir.join(a));
        }
        for key in &mut config.trust {
            *key = dir.join(&*key);
        }
        config.check()?;
        config.source = Some(path.to_path_buf());
        Ok(config)
    }

    fn check(&self) -> Result<(), String> {
        if !self.upstreams.contains_key(&self.upstream) {
            return Err(format!("upstream {:?} is not in [upstreams]", self.upstream));
        }
        if self.workers == 0 {
            return Err("workers must be at least 1".into());
        }
        if self.header_timeout_ms == 0 {
            return Err("header_timeout_ms must be at least 1".into());
        }
        for f in &self.filters {
            if f.failure != "open" && f.failure != "closed" {
                return Err(format!("filter {}: failure must be \"open\" or \"closed\"", f.name));
            }
            if log_level(&f.log_level).is_none() {
                return Err(format!(
                    "filter {}: log_level must be trace, debug, info, warn, error or critical",
                    f.name
                ));
            }
            match (&f.artifact, &f.native) {
                (Some(_), None) => {}
                (None, Some(native)) if NativeKind::from_name(native).is_some() => {}
                (None, Some(native)) => {
                    return Err(format!("filter {}: no native filter {native:?} (there is \"http_headers\")", f.name))
                }
                _ => return Err(format!("filter {}: give either artifact or native", f.name)),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(filter: &str) -> Result<(), String> {
        let text = format!(
            "listen = \"127.0.0.1:0\"\nupstream = \"b\"\n[upstreams]\nb = \"127.0.0.1:1\"\n[[filters]]\nname = \"f\"\n{filter}"
        );
        toml::from_str::<ProxyConfig>(&text).map_err(|e| e.to_string())?.check()
    }

    #[test]
    fn a_filter_is_either_an_artifact_or_a_known_native_one_with_a_known_log_level() {
        assert_eq!(check("artifact = \"f.cwasm\""), Ok(()));
        assert_eq!(check("native = \"http_headers\"\nlog_level = \"warn\""), Ok(()));
        for (bad, why) in [
            ("native = \"nope\"", "no native filter \"nope\""),
            ("artifact = \"f.cwasm\"\nnative = \"http_headers\"", "either artifact or native"),
            ("", "either artifact or native"),
            ("artifact = \"f.cwasm\"\nlog_level = \"loud\"", "log_level must be"),
        ] {
            let error = check(bad).unwrap_err();
            assert!(error.contains(why), "{bad}: {error}");
        }
    }
}
