//! A plugin: a compiled filter module with its configuration, linked once
//! and shared by every worker's [`crate::Vm`].

use std::sync::Arc;
use std::time::Duration;

use wasmc_loader::{ExternKind, InstancePre, Linker, Module};

use crate::abi::{AbiVersion, LogLevel};
use crate::shared::Shared;
use crate::state::HostState;

/// What a request gets when a filter fails on it (traps, runs past its
/// deadline or out of memory).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailurePolicy {
    /// Answer the request with this status and an empty body.
    FailClosed { status: u32 },
    /// Go on as if the filter were not there.
    FailOpen,
}

/// Where filters' log lines (and the host's lines about a plugin) go.
pub trait Logger: Send + Sync {
    /// One line from plugin `plugin` at `level`.
    fn log(&self, plugin: &str, level: LogLevel, message: &str);
}

/// Writes each line to standard error as `[LEVEL plugin] message`.
#[derive(Debug, Default)]
pub struct StderrLogger;

impl Logger for StderrLogger {
    fn log(&self, plugin: &str, level: LogLevel, message: &str) {
        eprintln!("[{level:?} {plugin}] {message}");
    }
}

/// A plugin's configuration.
#[derive(Clone)]
pub struct PluginConfig {
    /// The plugin's name (property `plugin_name`, and in log lines).
    pub name: String,
    /// The root id (property `plugin_root_id`).
    pub root_id: String,
    /// What `proxy_on_vm_start` may read as its VM configuration.
    pub vm_configuration: Vec<u8>,
    /// What `proxy_on_configure` may read as its plugin configuration.
    pub configuration: Vec<u8>,
    /// The upstream names `proxy_http_call` accepts; any other name is
    /// `BadArgument`, as an unknown cluster is in Envoy.
    pub upstreams: Vec<String>,
    /// The deadline of each callback into the filter.
    pub call_timeout: Duration,
    /// The largest the filter's memory may grow, in bytes.
    pub max_memory_bytes: u64,
    /// What a request gets when the filter fails on it.
    pub failure_policy: FailurePolicy,
    /// The lowest level logged (and what `proxy_get_log_level` answers).
    pub log_level: LogLevel,
    /// Where log lines go.
    pub logger: Arc<dyn Logger>,
    /// Shared data, queues and metrics; give several plugins the same one
    /// to let them share.
    pub shared: Arc<Shared>,
}

impl PluginConfig {
    /// A configuration named `name` (also its root id) with a 100 ms
    /// deadline, 64 MiB of memory, fail-closed with 503, logging at `Info`
    /// and above to standard error.
    pub fn new(name: impl Into<String>) -> PluginConfig {
        let name = name.into();
        PluginConfig {
            root_id: name.clone(),
            name,
            vm_configuration: Vec::new(),
            configuration: Vec::new(),
            upstreams: Vec::new(),
            call_timeout: Duration::from_millis(100),
            max_memory_bytes: 64 << 20,
            failure_policy: FailurePolicy::FailClosed { status: 503 },
            log_level: LogLevel::Info,
            logger: Arc::new(StderrLogger),
            shared: Arc::new(Shared::new()),
        }
    }
}

impl std::fmt::Debug for PluginConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginConfig")
            .field("name", &self.name)
            .field("root_id", &self.root_id)
            .field("upstreams", &self.upstreams)
            .field("call_timeout", &self.call_timeout)
            .field("max_memory_bytes", &self.max_memory_bytes)
            .field("failure_policy", &self.failure_policy)
            .field("log_level", &self.log_level)
            .finish_non_exhaustive()
    }
}

/// Why a module cannot be a plugin.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// No `proxy_abi_version_0_2_1` or `proxy_abi_version_0_2_0` export.
    #[error("not a Proxy-Wasm v0.2.x module: no proxy_abi_version_0_2_1 or proxy_abi_version_0_2_0 export{found}")]
    UnknownAbi {
        /// The other version export it has, if any, as ", it exports NAME".
        found: String,
    },
    /// It needs imports the host does not provide, or of other types.
    #[error("cannot link the filter")]
    Link(#[source] wasmc_loader::Error),
}

/// What the VMs of a plugin share: the configuration, the linked module.
pub(crate) struct PluginInner {
    pub config: PluginConfig,
    pub abi: AbiVersion,
    pub pre: InstancePre<HostState>,
}

impl PluginInner {
    /// Logs a line for this plugin if its level is enabled.
    pub fn log(&self, level: LogLevel, message: &str) {
        if level >= self.config.log_level {
            self.config.logger.log(&self.config.name, level, message);
        }
    }
}

/// A compiled filter with its configuration: linked once, shared by the
/// VMs of every worker thread (`Send + Sync`; clone it cheaply).
#[derive(Clone)]
pub struct Plugin {
    pub(crate) inner: Arc<PluginInner>,
}

impl Plugin {
    /// Checks the module's ABI version and links it with the Proxy-Wasm
    /// host functions and WASI preview 1.
    pub fn new(module: &Module, config: PluginConfig) -> Result<Plugin, PluginError> {
        let mut abi = None;
        let mut other = String::new();
        for export in module.exports() {
            if export.kind != ExternKind::Func || !export.name.starts_with("proxy_abi_version_") {
                continue;
            }
            match AbiVersion::from_export(export.name) {
                Some(v) => abi = Some(abi.map_or(v, |a: AbiVersion| a.max(v))),
                None => other = format!(", it exports {}", export.name),
            }
        }
        let abi = abi.ok_or(PluginError::UnknownAbi { found: other })?;
        let mut linker = Linker::new();
        // Preview 1, and preview 0 (`wasi_unstable`), which older SDKs
        // import (AssemblyScript's `abort` is its `proc_exit`); then the
        // ABI's functions, whose `fd_write` replaces WASI's.
        wasmc_loader::wasi::add_to_linker(&mut linker);
        crate::hostcalls::add_to_linker(&mut linker);
        let pre = linker.instantiate_pre(module).map_err(PluginError::Link)?;
        Ok(Plugin { inner: Arc::new(PluginInner { config, abi, pre }) })
    }

    /// The ABI version the module declares.
    pub fn abi_version(&self) -> AbiVersion {
        self.inner.abi
    }

    /// The configuration.
    pub fn config(&self) -> &PluginConfig {
        &self.inner.config
    }

    /// Shared data, queues and metrics of this plugin's VMs.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.inner.config.shared
    }
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin").field("config", &self.inner.config).field("abi", &self.inner.abi).finish()
    }
}
