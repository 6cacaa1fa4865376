//! The example plugin server's library: the plugin ABI (host side) and
//! running one plugin call in a fresh, limited store.
//!
//! # Plugin ABI
//!
//! A plugin is a wasm module (compiled to a `.cwasm` artifact with
//! `wasmc compile`) that exports:
//!
//! * `memory`;
//! * `alloc(len: i32) -> i32`: a buffer of `len` bytes for the request;
//! * `on_request(ptr: i32, len: i32) -> i64`: decides on the request the
//!   server wrote at `ptr`, returning where its answer is, packed as
//!   `ptr << 32 | len`.
//!
//! It may import `wasi_snapshot_preview1` functions (as Rust's std does);
//! they are linked with nothing granted: no files, no environment, no
//! stdio. All integers are little-endian; a *string* is a `u32` length
//! followed by that many UTF-8 bytes.
//!
//! * Request: method (string), path (string), header count (`u32`), then
//!   name, value (strings) for each header.
//! * Answer: one byte, then
//!   * `0` allow: header count (`u32`), then name, value (strings) for each
//!     header to add to the response;
//!   * `1` deny: the HTTP status to answer with (`u16`).
//!
//! Each call runs in a new store and instance, with at most
//! [`Limits::max_memory_bytes`] of linear memory and
//! [`Limits::max_wasm_stack`] of stack. A plugin that traps, runs out of
//! memory or answers something malformed fails the request (the server
//! answers its configured failure status) and nothing else.

pub mod proxy;

use std::time::Duration;

use wasmc_loader::wasi::{self, WasiCtx};
use wasmc_loader::{Config, Error, InstancePool, InstancePre, Linker, Module, PoolConfig, Store};

/// The largest answer a plugin may return.
const MAX_ANSWER: u32 = 64 * 1024;

/// What a plugin decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Go on, adding these headers to the response.
    Allow(Vec<(String, String)>),
    /// Answer with this status.
    Deny(u16),
}

/// Why a plugin call produced no decision.
#[derive(Debug)]
pub enum PluginError {
    /// Instantiating or calling it failed (a trap, a missing export, ...).
    Wasm(Error),
    /// Its answer is not a valid encoding.
    BadAnswer(String),
}

impl std::fmt::Display for PluginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginError::Wasm(e) => f.write_str(&wasmc_loader::error_chain(e)),
            PluginError::BadAnswer(why) => write!(f, "malformed answer: {why}"),
        }
    }
}

impl std::error::Error for PluginError {}

impl From<Error> for PluginError {
    fn from(e: Error) -> PluginError {
        PluginError::Wasm(e)
    }
}

/// Resource limits for each plugin call.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest linear memory, in bytes.
    pub max_memory_bytes: u64,
    /// Native stack wasm code may use, in bytes.
    pub max_wasm_stack: usize,
    /// How long one call may run.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_memory_bytes: 16 << 20, max_wasm_stack: 256 << 10, timeout: Duration::from_secs(1) }
    }
}

/// A loaded plugin.
pub struct Plugin {
    /// Its name (file stem), for logs and answers.
    pub name: String,
    /// The module with its imports (WASI's functions) found once; each
    /// call's store has its own (empty, deny-all) WASI state.
    pre: InstancePre,
    /// Slots reserved once: a request instantiates into a free one, with no
    /// linking and no address space reserved on its path.
    pool: InstancePool,
}

/// Pool slots per plugin: more requests than this in flight at once for one
/// plugin instantiate fresh instances instead.
pub const POOL_SLOTS: u32 = 64;

impl Plugin {
    /// Wraps a loaded module: resolves its imports and reserves
    /// [`POOL_SLOTS`] instance slots with memories of at most
    /// `limits.max_memory_bytes`, once.
    ///
    /// # Errors
    /// [`Error::Link`] when the plugin imports something other than WASI;
    /// [`Error::Resource`] when the slots cannot be reserved.
    pub fn new(name: impl Into<String>, module: Module, limits: &Limits) -> Result<Plugin, Error> {
        let mut linker = Linker::new();
        wasi::add_to_linker(&mut linker);
        let pre = linker.instantiate_pre(&module)?;
        // Wasm pages are 64 KiB.
        let max_memory_pages = u32::try_from(limits.max_memory_bytes >> 16).unwrap_or(u32::MAX).max(1);
        let pool =
            InstancePool::new(&module, PoolConfig { capacity: POOL_SLOTS, max_memory_pages, ..PoolConfig::default() })?;
        Ok(Plugin { name: name.into(), pre, pool })
    }

    /// Runs `on_request` on an encoded request, in a fresh store.
    pub fn call(&self, request: &[u8], limits: &Limits) -> Result<Decision, PluginError> {
        let config = Config {
            max_memory_bytes: Some(limits.max_memory_bytes),
            max_wasm_stack: limits.max_wasm_stack,
            ..Config::default()
        };
        let mut store = Store::new(config);
        // The deadline stops a spinning plugin inside wasm, so its worker
        // thread is freed as well as the request answered.
        store.set_call_timeout(Some(limits.timeout));
        let denied = WasiCtx::builder().build().map_err(|e| PluginError::BadAnswer(e.to_string()))?;
        store.set_wasi(denied);
        let instance = match self.pool.instantiate_pre(&mut store, &self.pre) {
            // Every slot is busy: this request gets an instance of its own.
            Err(Error::Resource(_)) if self.pool.available() == 0 => self.pre.instantiate(&mut store)?,
            other => other?,
        };
        let alloc = instance.get_typed_func::<i32, i32>(&store, "alloc")?;
        let on_request = instance.get_typed_func::<(i32, i32), i64>(&store, "on_request")?;
        let memory = instance.get_memory(&store, "memory").ok_or_else(|| Error::ExportNotFound("memory".into()))?;
        let len = i32::try_from(request.len()).map_err(|_| PluginError::BadAnswer("request too large".into()))?;
        let ptr = alloc.call(&mut store, len)?;
        memory.write(&mut store, ptr as u32 as u64, request)?;
        let packed = on_request.call(&mut store, (ptr, len))? as u64;
        let (at, len) = ((packed >> 32) as u32, packed as u32);
        if len > MAX_ANSWER {
            return Err(PluginError::BadAnswer(format!("{len} bytes")));
        }
        let mut answer = vec![0; len as usize];
        memory.read(&store, u64::from(at), &mut answer)?;
        decode_decision(&answer).map_err(PluginError::BadAnswer)
    }
}

fn put(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Encodes a request for `on_request`.
pub fn encode_request<'a>(method: &str, path: &str, headers: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Vec<u8> {
    let mut out = Vec::new();
    put(&mut out, method);
    put(&mut out, path);
    let headers: Vec<(&str, String)> =
        headers.into_iter().map(|(n, v)| (n, String::from_utf8_lossy(v).into_owned())).collect();
    out.extend_from_slice(&(headers.len() as u32).to_le_bytes());
    for (n, v) in &headers {
        put(&mut out, n);
        put(&mut out, v);
    }
    out
}

/// Decodes a plugin's answer.
pub fn decode_decision(bytes: &[u8]) -> Result<Decision, String> {
    let mut at = 1;
    let u32_at = |at: &mut usize| -> Result<u32, String> {
        let b = bytes.get(*at..*at + 4).ok_or("cut short")?;
        *at += 4;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let string = |at: &mut usize| -> Result<String, String> {
        let len = u32_at(at)? as usize;
        let b = bytes.get(*at..at.saturating_add(len)).ok_or("cut short")?;
        *at += len;
        String::from_utf8(b.to_vec()).map_err(|_| "not UTF-8".to_string())
    };
    match bytes.first() {
        Some(0) => {
            let count = u32_at(&mut at)?;
            let mut headers = Vec::new();
            for _ in 0..count {
                let name = string(&mut at)?;
                headers.push((name, string(&mut at)?));
            }
            Ok(Decision::Allow(headers))
        }
        Some(1) => {
            let b = bytes.get(1..3).ok_or("cut short")?;
            Ok(Decision::Deny(u16::from_le_bytes([b[0], b[1]])))
        }
        Some(other) => Err(format!("unknown decision {other}")),
        None => Err("empty".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_decisions_and_refuses_garbage() {
        assert_eq!(decode_decision(&[1, 0x93, 1]), Ok(Decision::Deny(403)));
        let mut allow = vec![0, 1, 0, 0, 0];
        put(&mut allow, "x-a");
        put(&mut allow, "b");
        assert_eq!(decode_decision(&allow), Ok(Decision::Allow(vec![("x-a".into(), "b".into())])));
        assert!(decode_decision(&[]).is_err());
        assert!(decode_decision(&[7]).is_err());
        assert!(decode_decision(&[0, 9, 0, 0, 0]).is_err());
        assert!(decode_decision(&[0, 1, 0, 0, 0, 255, 255, 255, 255]).is_err());
    }
}
