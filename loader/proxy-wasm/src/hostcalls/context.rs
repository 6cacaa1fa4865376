//! Logging, clocks, ticks, contexts and properties.

use std::time::{SystemTime, UNIX_EPOCH};

use wasmc_loader::{HostError, Linker};

use super::{status, ENV};
use crate::abi::{LogLevel, Status};
use crate::guest::{give, read, read_str, u, view, write_u32, write_u64, Ctx};
use crate::state::{limits, HostState};

pub(super) fn add_to_linker(linker: &mut Linker<HostState>) {
    linker.func_wrap(ENV, "proxy_log", |c: Ctx<'_>, level: i32, ptr: i32, len: i32| -> i32 {
        status((|| {
            let level = LogLevel::from_abi(u(level)).ok_or(Status::BadArgument)?;
            // Checked whatever the level; decoded only when logged.
            let message = view(&c, ptr, len)?;
            let plugin = &c.data().plugin;
            if level >= plugin.config.log_level {
                plugin.log(level, &String::from_utf8_lossy(message));
            }
            Ok(())
        })())
    });
    linker.func_wrap(ENV, "proxy_get_log_level", |mut c: Ctx<'_>, ret: i32| -> i32 {
        let level = c.data().plugin.config.log_level as u32;
        status(write_u32(&mut c, ret, level))
    });
    linker.func_wrap(ENV, "proxy_get_current_time_nanoseconds", |mut c: Ctx<'_>, ret: i32| -> i32 {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        status(write_u64(&mut c, ret, u64::try_from(now).unwrap_or(u64::MAX)))
    });
    linker.func_wrap(ENV, "proxy_set_tick_period_milliseconds", |mut c: Ctx<'_>, period: i32| -> i32 {
        // Ticks go to the root context, whichever context asks.
        c.data_mut().tick_period_ms = u(period);
        Status::Ok as i32
    });
    linker.func_wrap(ENV, "proxy_set_effective_context", |mut c: Ctx<'_>, id: i32| -> i32 {
        let id = u(id);
        let state = c.data_mut();
        if id != state.root_context && !state.http.contains_key(&id) {
            return Status::BadArgument as i32;
        }
        state.effective = id;
        Status::Ok as i32
    });
    linker.func_wrap(ENV, "proxy_done", |mut c: Ctx<'_>| -> i32 {
        c.data_mut().done = true;
        Status::Ok as i32
    });
    linker.func_wrap(
        ENV,
        "proxy_call_foreign_function",
        |c: Ctx<'_>, name: i32, name_len: i32, _args: i32, _args_len: i32, _ret: i32, _ret_len: i32| -> i32 {
            let name = read_str(&c, name, name_len).unwrap_or_default();
            c.data().plugin.log(LogLevel::Warn, &format!("proxy_call_foreign_function: no foreign function {name:?}"));
            Status::NotFound as i32
        },
    );
    linker.func_wrap(
        ENV,
        "proxy_get_property",
        |mut c: Ctx<'_>, path: i32, path_len: i32, ret: i32, ret_len: i32| -> Result<i32, HostError> {
            let path = match read(&c, path, path_len) {
                Ok(p) => p,
                Err(s) => return Ok(s as i32),
            };
            match property(c.data(), &path) {
                Some(value) => Ok(give(&mut c, &value, ret, ret_len)? as i32),
                None => Ok(Status::NotFound as i32),
            }
        },
    );
    linker.func_wrap(
        ENV,
        "proxy_set_property",
        |mut c: Ctx<'_>, path: i32, path_len: i32, value: i32, value_len: i32| -> i32 {
            status((|| {
                let path = read(&c, path, path_len)?;
                let value = read(&c, value, value_len)?;
                let state = c.data_mut();
                let properties = match state.current_http() {
                    Some(http) => &mut http.properties,
                    None => &mut state.root_properties,
                };
                let held: usize = properties.iter().map(|(k, v)| k.len() + v.len()).sum();
                if held + path.len() + value.len() > limits::PROPERTY_BYTES {
                    return Err(Status::InternalFailure);
                }
                properties.insert(path, value);
                Ok(())
            })())
        },
    );
}

/// The value of the property at `path` (its parts separated by NUL
/// bytes), as Envoy encodes it: text as bytes, ports as 8-byte
/// little-endian integers.
fn property(state: &HostState, path: &[u8]) -> Option<Vec<u8>> {
    let http = state.http.get(&state.effective);
    let set = match http {
        Some(h) => h.properties.get(path),
        None => state.root_properties.get(path),
    };
    if let Some(value) = set {
        return Some(value.clone());
    }
    let parts: Vec<&[u8]> = path.split(|b| *b == 0).collect();
    let text = |s: &str| Some(s.as_bytes().to_vec());
    let header = |name: &str| http.and_then(|h| h.request_headers.get(name)).map(<[u8]>::to_vec);
    let config = &state.plugin.config;
    match parts.as_slice() {
        [b"plugin_name"] => text(&config.name),
        [b"plugin_root_id"] | [b"plugin_vm_id"] => text(&config.root_id),
        [b"request", b"path"] => header(":path"),
        [b"request", b"url_path"] => {
            header(":path").map(|p| p.split(|b| *b == b'?').next().unwrap_or_default().to_vec())
        }
        [b"request", b"method"] => header(":method"),
        [b"request", b"host"] => header(":authority"),
        [b"request", b"scheme"] => header(":scheme"),
        [b"request", b"headers", name] => std::str::from_utf8(name).ok().and_then(header),
        [b"response", b"code"] => {
            let status = http?.response_headers.get_str(":status")?.parse::<u64>().ok()?;
            Some(status.to_le_bytes().to_vec())
        }
        [b"source", b"address"] => text(&http?.info.source?.to_string()),
        [b"source", b"port"] => Some(u64::from(http?.info.source?.port()).to_le_bytes().to_vec()),
        [b"destination", b"address"] => text(&http?.info.destination?.to_string()),
        [b"destination", b"port"] => Some(u64::from(http?.info.destination?.port()).to_le_bytes().to_vec()),
        _ => None,
    }
}
