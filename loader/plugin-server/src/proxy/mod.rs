//! A reverse proxy that runs a chain of Proxy-Wasm filters
//! (`wasmc-proxy-wasm`) on every request and forwards it to an upstream.
//! Configuration: [`config`]. A filter is a Proxy-Wasm module or a native
//! one (`filter.rs`, `native.rs`). Each worker thread owns a VM of every
//! filter and keeps its connections to upstreams open (`worker.rs`,
//! `pool.rs`); the filters' metrics are served on the admin address
//! (`admin.rs`), which also reloads the filters from the configuration file
//! (`POST /reload`) without dropping a request: requests in flight finish
//! on the VMs they started on, new ones get VMs of the new filters, and
//! each worker shuts the replaced VMs down once no request uses them.

mod admin;
pub mod config;
mod filter;
mod http;
mod native;
mod pool;
mod worker;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use wasmc_loader::{Module, TrustedKeys};
use wasmc_proxy_wasm::{FailurePolicy, Plugin, PluginConfig, StderrLogger, Vm};

use filter::Loaded;

pub use config::{FilterConfig, ProxyConfig};

/// How long an accept loop waits after a failed `accept` (out of file
/// descriptors, say): the listener stays ready, so trying again at once
/// would spin a core until connections close.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The next connection on `listener`. A failed accept is logged (as
/// `what`'s) and tried again after `ACCEPT_BACKOFF`: the loop neither
/// spins nor ends. (Also the plugin server's.)
pub async fn accept(listener: &tokio::net::TcpListener, what: &str) -> (tokio::net::TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok(conn) => return conn,
            Err(e) => {
                eprintln!("{what}: accept: {e}");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

/// An HTTP/1 server connection that is closed when its client takes longer
/// than `timeout` to send a request head, or leaves it idle that long
/// between requests: such a client holds a descriptor and a task. (Also
/// the plugin server's.)
pub fn http1_server(timeout: Duration) -> hyper::server::conn::http1::Builder {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(timeout);
    builder
}

/// A configuration and its linked filters; replaced whole by a reload.
pub(crate) struct Generation {
    pub version: u64,
    pub config: ProxyConfig,
    /// The filters, in chain order.
    pub filters: Vec<Loaded>,
}

/// What every worker shares: the current generation.
pub(crate) struct Shared {
    current: RwLock<Arc<Generation>>,
}

impl Shared {
    /// The generation new requests use.
    pub fn current(&self) -> Arc<Generation> {
        self.current.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Reads the configuration file again, loads and links every filter,
    /// checks that a VM of each starts, and makes that the current
    /// generation; on any error the current one stays. A filter keeps the
    /// shared data and metrics of the filter of the same name before it.
    /// The listen and admin addresses and the number of workers are not
    /// reloaded. Returns the new version.
    pub fn reload(&self) -> Result<u64, String> {
        let old = self.current();
        let path = old.config.source.clone().ok_or("the configuration was not read from a file")?;
        let mut config = ProxyConfig::load(&path)?;
        config.command_line_trust = old.config.command_line_trust.clone();
        let filters = load_filters(&config, &old.filters)?;
        for plugin in filters.iter().filter_map(Loaded::plugin) {
            Vm::new(plugin).map_err(|e| wasmc_loader::error_chain(&e))?;
        }
        let version = old.version + 1;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) =
            Arc::new(Generation { version, config, filters });
        Ok(version)
    }
}

/// Where a started proxy listens.
#[derive(Clone, Copy, Debug)]
pub struct Addresses {
    pub listen: SocketAddr,
    pub admin: Option<SocketAddr>,
}

/// Loads every wasm filter's artifact once (signed when `trust` keys are
/// given), links it, and makes its plugin, sharing data with the plugin of
/// the same name in `previous`; native filters need no loading.
fn load_filters(config: &ProxyConfig, previous: &[Loaded]) -> Result<Vec<Loaded>, String> {
    let trust: Vec<&PathBuf> = config.trust.iter().chain(&config.command_line_trust).collect();
    let keys = if trust.is_empty() {
        None
    } else {
        Some(TrustedKeys::from_pub_files(trust).map_err(|e| format!("trust keys: {e}"))?)
    };
    let upstreams: Vec<String> = config.upstreams.keys().cloned().collect();
    config
        .filters
        .iter()
        .map(|f| {
            let log_level = config::log_level(&f.log_level).ok_or("unknown log level")?;
            let path = match (&f.artifact, &f.native) {
                (Some(path), _) => path,
                (None, Some(native)) => {
                    let kind = native::NativeKind::from_name(native).ok_or("unknown native filter")?;
                    return Ok(Loaded::Native {
                        name: f.name.clone(),
                        kind,
                        log_level,
                        logger: Arc::new(StderrLogger),
                    });
                }
                (None, None) => return Err(format!("filter {}: no artifact", f.name)),
            };
            let module = match &keys {
                Some(keys) => Module::from_file_signed(path, keys),
                // SAFETY: without trust keys the operator vouches that the
                // artifacts were compiled by wasmc in their own pipeline.
                None => unsafe { Module::from_file(path) },
            }
            .map_err(|e| format!("filter {}: {}: {}", f.name, path.display(), wasmc_loader::error_chain(&e)))?;
            let mut plugin_config = plugin_config(f, &upstreams);
            plugin_config.log_level = log_level;
            if let Some(before) = previous.iter().filter_map(Loaded::plugin).find(|p| p.config().name == f.name) {
                plugin_config.shared = before.shared().clone();
            }
            Plugin::new(&module, plugin_config)
                .map(Loaded::Wasm)
                .map_err(|e| format!("filter {}: {}", f.name, wasmc_loader::error_chain(&e)))
        })
        .collect()
}

fn plugin_config(f: &FilterConfig, upstreams: &[String]) -> PluginConfig {
    let mut config = PluginConfig::new(f.name.clone());
    config.root_id = f.root_id.clone().unwrap_or_else(|| f.name.clone());
    config.configuration = f.configuration.clone().into_bytes();
    config.upstreams = upstreams.to_vec();
    config.call_timeout = Duration::from_millis(f.timeout_ms);
    config.max_memory_bytes = f.max_memory_mib << 20;
    config.failure_policy = if f.failure == "open" {
        FailurePolicy::FailOpen
    } else {
        FailurePolicy::FailClosed { status: u32::from(f.failure_status) }
    };
    config
}

/// Loads the filters, binds the listeners and starts the workers (and the
/// admin server) on threads of their own; returns once every worker's
/// VMs have started.
pub fn start(config: ProxyConfig) -> Result<Addresses, String> {
    let filters = load_filters(&config, &[])?;
    let listener =
        std::net::TcpListener::bind(config.listen).map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let listen = listener.local_addr().map_err(|e| e.to_string())?;
    let (admin_addr, workers) = (config.admin, config.workers);
    let shared = Arc::new(Shared { current: RwLock::new(Arc::new(Generation { version: 0, config, filters })) });
    let admin = match admin_addr {
        Some(addr) => Some(admin::start(addr, shared.clone())?),
        None => None,
    };
    let (ready, started) = std::sync::mpsc::channel();
    for n in 0..workers {
        let listener = listener.try_clone().map_err(|e| e.to_string())?;
        let (shared, ready) = (shared.clone(), ready.clone());
        std::thread::Builder::new()
            .name(format!("worker-{n}"))
            .spawn(move || worker::run(shared, listener, ready))
            .map_err(|e| e.to_string())?;
    }
    for _ in 0..workers {
        started.recv().map_err(|e| e.to_string())??;
    }
    Ok(Addresses { listen, admin })
}
