//! A reverse proxy that runs a chain of Proxy-Wasm filters
//! (`wasmc-proxy-wasm`) on every request and forwards it to an upstream.
//! Configuration: [`config`]. Each worker thread owns a VM of every filter
//! (`worker.rs`); the filters' metrics are served on the admin address
//! (`admin.rs`), which also reloads the filters from the configuration file
//! (`POST /reload`) without dropping a request: requests in flight finish
//! on the VMs they started on, new ones get VMs of the new filters.

mod admin;
pub mod config;
mod http;
mod worker;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use wasmc_loader::{Module, TrustedKeys};
use wasmc_proxy_wasm::{FailurePolicy, Plugin, PluginConfig, Vm};

pub use config::{FilterConfig, ProxyConfig};

/// A configuration and its linked filters; replaced whole by a reload.
pub(crate) struct Generation {
    pub version: u64,
    pub config: ProxyConfig,
    pub plugins: Vec<Plugin>,
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
        let plugins = load_plugins(&config, &old.plugins)?;
        for plugin in &plugins {
            Vm::new(plugin).map_err(|e| wasmc_loader::error_chain(&e))?;
        }
        let version = old.version + 1;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) =
            Arc::new(Generation { version, config, plugins });
        Ok(version)
    }
}

/// Where a started proxy listens.
#[derive(Clone, Copy, Debug)]
pub struct Addresses {
    pub listen: SocketAddr,
    pub admin: Option<SocketAddr>,
}

/// Loads every filter's artifact once (signed when `trust` keys are
/// given), links it, and makes its plugin, sharing data with the plugin of
/// the same name in `previous`.
fn load_plugins(config: &ProxyConfig, previous: &[Plugin]) -> Result<Vec<Plugin>, String> {
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
            let path = &f.artifact;
            let module = match &keys {
                Some(keys) => Module::from_file_signed(path, keys),
                // SAFETY: without trust keys the operator vouches that the
                // artifacts were compiled by wasmc in their own pipeline.
                None => unsafe { Module::from_file(path) },
            }
            .map_err(|e| format!("filter {}: {}: {}", f.name, path.display(), wasmc_loader::error_chain(&e)))?;
            let mut plugin_config = plugin_config(f, &upstreams);
            if let Some(before) = previous.iter().find(|p| p.config().name == f.name) {
                plugin_config.shared = before.shared().clone();
            }
            Plugin::new(&module, plugin_config)
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
    let plugins = load_plugins(&config, &[])?;
    let listener =
        std::net::TcpListener::bind(config.listen).map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let listen = listener.local_addr().map_err(|e| e.to_string())?;
    let (admin_addr, workers) = (config.admin, config.workers);
    let shared = Arc::new(Shared { current: RwLock::new(Arc::new(Generation { version: 0, config, plugins })) });
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
