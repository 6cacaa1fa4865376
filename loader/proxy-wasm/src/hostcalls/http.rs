//! Header maps, buffers, stream control, local responses and HTTP calls.

use wasmc_loader::{HostError, Linker};

use super::{define_i32s, status, ENV};
use crate::abi::{buffer_type, map_type, stream_type, LogLevel, Status};
use crate::guest::{give, read, read_short, read_str, text, u, write_u32, Bytes, Ctx};
use crate::maps::{len32, HeaderMap};
use crate::state::{limits, HostState, HttpCall, LocalResponse};

/// The map `kind` of the effective context (or of the HTTP call response
/// being delivered).
/// `proxy_replace_header_map_value` and `proxy_add_header_map_value`: reads
/// the key and value (`(ptr, len)` each), refuses an entry that would take
/// the map past `limits::MAP_BYTES`, then stores it with `put` (replace or
/// append).
fn put_header(
    c: &mut Ctx<'_>,
    kind: i32,
    (key, key_len): (i32, i32),
    (value, value_len): (i32, i32),
    put: fn(&mut HeaderMap, &str, &[u8]),
) -> i32 {
    status((|| {
        let key = read_short(c, key, key_len)?;
        let key = text(&key)?;
        let value = read_short(c, value, value_len)?;
        let map = map_mut(c.data_mut(), kind)?;
        if map.serialized_len() + 10 + key.len() + value.len() > limits::MAP_BYTES {
            return Err(Status::InternalFailure);
        }
        put(map, key, &value);
        Ok(())
    })())
}

fn map_mut(state: &mut HostState, kind: i32) -> Result<&mut HeaderMap, Status> {
    match u(kind) {
        map_type::HTTP_CALL_RESPONSE_HEADERS => state.call_response.as_mut().map(|r| &mut r.headers),
        map_type::HTTP_CALL_RESPONSE_TRAILERS => state.call_response.as_mut().map(|r| &mut r.trailers),
        kind @ (map_type::HTTP_REQUEST_HEADERS
        | map_type::HTTP_REQUEST_TRAILERS
        | map_type::HTTP_RESPONSE_HEADERS
        | map_type::HTTP_RESPONSE_TRAILERS) => {
            let http = state.current_http().ok_or(Status::NotFound)?;
            Some(match kind {
                map_type::HTTP_REQUEST_HEADERS => &mut http.request_headers,
                map_type::HTTP_REQUEST_TRAILERS => &mut http.request_trailers,
                map_type::HTTP_RESPONSE_HEADERS => &mut http.response_headers,
                _ => &mut http.response_trailers,
            })
        }
        // No gRPC calls, so no gRPC metadata.
        map_type::GRPC_RECEIVE_INITIAL_METADATA | map_type::GRPC_RECEIVE_TRAILING_METADATA => None,
        _ => return Err(Status::BadArgument),
    }
    .ok_or(Status::NotFound)
}

/// The bytes of buffer `kind`, or `None` when the effective context has
/// no such buffer.
fn buffer(state: &HostState, kind: i32) -> Result<&[u8], Status> {
    let http = state.http.get(&state.effective);
    match u(kind) {
        buffer_type::HTTP_REQUEST_BODY => http.map(|h| h.request_body.as_slice()),
        buffer_type::HTTP_RESPONSE_BODY => http.map(|h| h.response_body.as_slice()),
        buffer_type::HTTP_CALL_RESPONSE_BODY => state.call_response.as_ref().map(|r| r.body.as_slice()),
        buffer_type::VM_CONFIGURATION => Some(state.plugin.config.vm_configuration.as_slice()),
        buffer_type::PLUGIN_CONFIGURATION => Some(state.plugin.config.configuration.as_slice()),
        buffer_type::DOWNSTREAM_DATA
        | buffer_type::UPSTREAM_DATA
        | buffer_type::GRPC_RECEIVE_BUFFER
        | buffer_type::FOREIGN_FUNCTION_ARGUMENTS => None,
        _ => return Err(Status::BadArgument),
    }
    .ok_or(Status::NotFound)
}

fn buffer_mut(state: &mut HostState, kind: i32) -> Result<&mut Vec<u8>, Status> {
    let effective = state.effective;
    let http = state.http.get_mut(&effective);
    match u(kind) {
        buffer_type::HTTP_REQUEST_BODY => http.map(|h| &mut h.request_body).ok_or(Status::NotFound),
        buffer_type::HTTP_RESPONSE_BODY => http.map(|h| &mut h.response_body).ok_or(Status::NotFound),
        buffer_type::HTTP_CALL_RESPONSE_BODY => {
            state.call_response.as_mut().map(|r| &mut r.body).ok_or(Status::NotFound)
        }
        // Configurations are the plugin's, read-only; no TCP or gRPC data.
        _ => Err(Status::BadArgument),
    }
}

pub(super) fn add_to_linker(linker: &mut Linker<HostState>) {
    add_maps(linker);
    add_buffers(linker);
    add_streams(linker);
    define_i32s(linker, "proxy_http_call", 10, |mut c, a| {
        let [upstream, upstream_len, headers, headers_len, body, body_len, trailers, trailers_len, timeout_ms, ret_token] =
            a.try_into().map_err(|_| HostError::new("proxy_http_call: wrong argument count"))?;
        Ok(status((|| {
            let upstream = read_str(&c, upstream, upstream_len)?;
            let headers = HeaderMap::deserialize(&read(&c, headers, headers_len)?).ok_or(Status::BadArgument)?;
            let body = read(&c, body, body_len)?;
            let trailers = HeaderMap::deserialize(&read(&c, trailers, trailers_len)?).ok_or(Status::BadArgument)?;
            let plugin = c.data().plugin.clone();
            if !plugin.config.upstreams.contains(&upstream) {
                plugin.log(LogLevel::Warn, &format!("proxy_http_call: unknown upstream {upstream:?}"));
                return Err(Status::BadArgument);
            }
            if [":method", ":path", ":authority"].iter().any(|h| headers.get(h).is_none()) {
                plugin.log(LogLevel::Warn, "proxy_http_call: headers need :method, :path and :authority");
                return Err(Status::BadArgument);
            }
            if c.data().calls.len() >= limits::PENDING_CALLS {
                plugin.log(LogLevel::Warn, "proxy_http_call: too many calls waiting for the host");
                return Err(Status::InternalFailure);
            }
            let token = c.data().next_token;
            write_u32(&mut c, ret_token, token)?;
            let state = c.data_mut();
            state.next_token = token.checked_add(1).unwrap_or(1);
            let owner = state.effective;
            state.call_owner.insert(token, owner);
            let timeout_ms = u(timeout_ms);
            state.calls.push(HttpCall { token, upstream, headers, body, trailers, timeout_ms });
            Ok(())
        })()))
    });
}

fn add_maps(linker: &mut Linker<HostState>) {
    linker.func_wrap(
        ENV,
        "proxy_get_header_map_pairs",
        |mut c: Ctx<'_>, kind: i32, ret: i32, ret_len: i32| -> Result<i32, HostError> {
            let mut bytes = c.data_mut().take_scratch();
            let given = match map_mut(c.data_mut(), kind) {
                Ok(map) => {
                    map.serialize_into(&mut bytes);
                    give(&mut c, &bytes, ret, ret_len).map(|s| s as i32)
                }
                Err(s) => Ok(s as i32),
            };
            c.data_mut().keep_scratch(bytes);
            given
        },
    );
    linker.func_wrap(ENV, "proxy_set_header_map_pairs", |mut c: Ctx<'_>, kind: i32, ptr: i32, len: i32| -> i32 {
        status((|| {
            let new = HeaderMap::deserialize(&read(&c, ptr, len)?).ok_or(Status::BadArgument)?;
            if new.serialized_len() > limits::MAP_BYTES {
                return Err(Status::InternalFailure);
            }
            *map_mut(c.data_mut(), kind)? = new;
            Ok(())
        })())
    });
    linker.func_wrap(ENV, "proxy_get_header_map_size", |mut c: Ctx<'_>, kind: i32, ret: i32| -> i32 {
        status((|| {
            let size = len32(map_mut(c.data_mut(), kind)?.serialized_len());
            write_u32(&mut c, ret, size)
        })())
    });
    linker.func_wrap(
        ENV,
        "proxy_get_header_map_value",
        |mut c: Ctx<'_>, kind: i32, key: i32, key_len: i32, ret: i32, ret_len: i32| -> Result<i32, HostError> {
            let found = read_short(&c, key, key_len).and_then(|key| {
                let key = text(&key)?;
                map_mut(c.data_mut(), kind)?.get(key).map(Bytes::from_slice).ok_or(Status::NotFound)
            });
            match found {
                Ok(value) => Ok(give(&mut c, &value, ret, ret_len)? as i32),
                Err(s) => Ok(s as i32),
            }
        },
    );
    linker.func_wrap(
        ENV,
        "proxy_replace_header_map_value",
        |mut c: Ctx<'_>, kind: i32, key: i32, key_len: i32, value: i32, value_len: i32| -> i32 {
            put_header(&mut c, kind, (key, key_len), (value, value_len), |map, key, value| map.insert(key, value))
        },
    );
    linker.func_wrap(
        ENV,
        "proxy_add_header_map_value",
        |mut c: Ctx<'_>, kind: i32, key: i32, key_len: i32, value: i32, value_len: i32| -> i32 {
            put_header(&mut c, kind, (key, key_len), (value, value_len), |map, key, value| map.append(key, value))
        },
    );
    linker.func_wrap(
        ENV,
        "proxy_remove_header_map_value",
        |mut c: Ctx<'_>, kind: i32, key: i32, key_len: i32| -> i32 {
            status((|| {
                let key = read_short(&c, key, key_len)?;
                let key = text(&key)?;
                map_mut(c.data_mut(), kind)?.remove(key);
                Ok(())
            })())
        },
    );
}

fn add_buffers(linker: &mut Linker<HostState>) {
    linker.func_wrap(
        ENV,
        "proxy_get_buffer_bytes",
        |mut c: Ctx<'_>, kind: i32, start: i32, max: i32, ret: i32, ret_len: i32| -> Result<i32, HostError> {
            let slice = buffer(c.data(), kind).and_then(|bytes| {
                let start = u(start) as usize;
                if start > bytes.len() {
                    return Err(Status::BadArgument);
                }
                let end = start.saturating_add(u(max) as usize).min(bytes.len());
                Ok(bytes[start..end].to_vec())
            });
            match slice {
                // An empty range is `Ok` with an empty block: the
                // AssemblyScript SDK reads the block whatever the size.
                Ok(bytes) => Ok(give(&mut c, &bytes, ret, ret_len)? as i32),
                Err(s) => Ok(s as i32),
            }
        },
    );
    linker.func_wrap(
        ENV,
        "proxy_set_buffer_bytes",
        |mut c: Ctx<'_>, kind: i32, start: i32, size: i32, ptr: i32, len: i32| -> i32 {
            status((|| {
                let data = read(&c, ptr, len)?;
                let buffer = buffer_mut(c.data_mut(), kind)?;
                // Replace `size` bytes from `start` (clamped to the buffer).
                let start = (u(start) as usize).min(buffer.len());
                let end = start.saturating_add(u(size) as usize).min(buffer.len());
                if buffer.len() - (end - start) + data.len() > limits::BODY_BYTES {
                    return Err(Status::InternalFailure);
                }
                buffer.splice(start..end, data);
                Ok(())
            })())
        },
    );
    linker.func_wrap(
        ENV,
        "proxy_get_buffer_status",
        |mut c: Ctx<'_>, kind: i32, ret_len: i32, ret_flags: i32| -> i32 {
            status((|| {
                let len = len32(buffer(c.data(), kind)?.len());
                write_u32(&mut c, ret_len, len)?;
                write_u32(&mut c, ret_flags, 0)
            })())
        },
    );
}

fn add_streams(linker: &mut Linker<HostState>) {
    linker.func_wrap(ENV, "proxy_continue_stream", |mut c: Ctx<'_>, kind: i32| -> i32 {
        stream_op(&mut c, "proxy_continue_stream", kind, |http, request| {
            if request {
                http.resume_request = true;
            } else {
                http.resume_response = true;
            }
        })
    });
    linker.func_wrap(ENV, "proxy_close_stream", |mut c: Ctx<'_>, kind: i32| -> i32 {
        stream_op(&mut c, "proxy_close_stream", kind, |http, _| http.closed = true)
    });
    // Not in the v0.2 specs, but the AssemblyScript and C++ SDKs import it
    // for `clear_route_cache()`: Envoy picks its route again after a filter
    // changed the headers. This host caches no route (an embedder routes
    // on the headers the request filters leave), so there is nothing to
    // clear.
    linker.func_wrap(ENV, "proxy_clear_route_cache", |mut c: Ctx<'_>| -> i32 {
        match c.data_mut().current_http() {
            Some(_) => Status::Ok as i32,
            None => Status::NotFound as i32,
        }
    });
    linker.func_wrap(
        ENV,
        "proxy_send_local_response",
        |mut c: Ctx<'_>,
         status_code: i32,
         details: i32,
         details_len: i32,
         body: i32,
         body_len: i32,
         headers: i32,
         headers_len: i32,
         _grpc_status: i32|
         -> i32 {
            status((|| {
                let details = String::from_utf8_lossy(&read(&c, details, details_len)?).into_owned();
                let body = read(&c, body, body_len)?;
                let headers = HeaderMap::deserialize(&read(&c, headers, headers_len)?).ok_or(Status::BadArgument)?;
                let http = c.data_mut().current_http().ok_or(Status::NotFound)?;
                http.local_response = Some(LocalResponse { status: u(status_code), details, headers, body });
                Ok(())
            })())
        },
    );
}

/// `proxy_continue_stream`/`proxy_close_stream` on an HTTP stream of the
/// effective context; TCP streams (downstream, upstream) are not
/// implemented.
fn stream_op(c: &mut Ctx<'_>, name: &str, kind: i32, op: impl FnOnce(&mut crate::state::HttpState, bool)) -> i32 {
    let request = match u(kind) {
        stream_type::HTTP_REQUEST => true,
        stream_type::HTTP_RESPONSE => false,
        stream_type::DOWNSTREAM | stream_type::UPSTREAM => {
            c.data().plugin.log(LogLevel::Warn, &format!("{name}: TCP streams are not implemented by this host"));
            return Status::Unimplemented as i32;
        }
        _ => return Status::BadArgument as i32,
    };
    match c.data_mut().current_http() {
        Some(http) => {
            op(http, request);
            Status::Ok as i32
        }
        None => Status::NotFound as i32,
    }
}
