//! What a VM's store holds for the host functions: the plugin, the
//! effective context, each HTTP context's headers, bodies and trailers,
//! the HTTP calls waiting for the embedder, and the response being
//! delivered to `proxy_on_http_call_response`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::guest::Exports;
use crate::maps::HeaderMap;
use crate::plugin::PluginInner;

/// A response a filter asked for with `proxy_send_local_response`: the
/// embedder sends it downstream instead of going on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalResponse {
    /// The HTTP status code.
    pub status: u32,
    /// The filter's details string (for logs, not sent).
    pub details: String,
    /// Headers to send.
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

/// An HTTP call a filter made with `proxy_http_call`, for the embedder to
/// perform and answer with [`crate::Vm::deliver_http_call_response`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpCall {
    /// The token the filter got; name it when answering.
    pub token: u32,
    /// The upstream, one of [`crate::PluginConfig::upstreams`].
    pub upstream: String,
    /// Request headers, with `:method`, `:path` and `:authority`.
    pub headers: HeaderMap,
    /// Request body.
    pub body: Vec<u8>,
    /// Request trailers.
    pub trailers: HeaderMap,
    /// How long the filter is willing to wait, in milliseconds.
    pub timeout_ms: u32,
}

/// The answer to an [`HttpCall`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpCallResponse {
    /// Response headers, with `:status`.
    pub headers: HeaderMap,
    /// Response body.
    pub body: Vec<u8>,
    /// Response trailers.
    pub trailers: HeaderMap,
}

/// Where a request comes from, for the `source.*` properties.
#[derive(Clone, Debug, Default)]
pub struct StreamInfo {
    /// The downstream peer's address.
    pub source: Option<SocketAddr>,
    /// The address the request arrived on.
    pub destination: Option<SocketAddr>,
}

/// One HTTP context (a request and its response).
#[derive(Debug, Default)]
pub(crate) struct HttpState {
    pub info: StreamInfo,
    pub request_headers: HeaderMap,
    pub request_body: Vec<u8>,
    pub request_trailers: HeaderMap,
    pub response_headers: HeaderMap,
    pub response_body: Vec<u8>,
    pub response_trailers: HeaderMap,
    pub local_response: Option<LocalResponse>,
    /// Set by `proxy_continue_stream` while a phase is paused.
    pub resume_request: bool,
    pub resume_response: bool,
    /// Set by `proxy_close_stream`.
    pub closed: bool,
    /// Values the filter set with `proxy_set_property`.
    pub properties: HashMap<Vec<u8>, Vec<u8>>,
}

/// The store data of a VM.
pub(crate) struct HostState {
    pub plugin: Arc<PluginInner>,
    /// The instance's memory and allocator (set once it is instantiated).
    pub exports: Exports,
    pub root_context: u32,
    /// The context host functions act on: the callback's, or the one the
    /// filter chose with `proxy_set_effective_context`.
    pub effective: u32,
    /// The HTTP contexts, by id: looked up on nearly every host call, so
    /// with a fast hash (the ids are the host's, not the filter's). Not an
    /// ordered map: with many streams open its nodes would shift these
    /// large records on every insertion and removal.
    pub http: FxHashMap<u32, HttpState>,
    pub tick_period_ms: u32,
    /// Set by `proxy_done` (the root context finished its pending work).
    pub done: bool,
    pub calls: Vec<HttpCall>,
    /// Token to the context that made the call.
    pub call_owner: HashMap<u32, u32>,
    pub next_token: u32,
    /// The response being delivered to `proxy_on_http_call_response`.
    pub call_response: Option<HttpCallResponse>,
    /// Queues this VM registered, whose readiness it is told about.
    pub queues: Vec<u32>,
    /// Root-context properties set by the filter.
    pub root_properties: HashMap<Vec<u8>, Vec<u8>>,
    /// Records of finished HTTP streams, for the next ones: their header
    /// maps and bodies keep their buffers, so a stream of the usual size
    /// allocates none of them.
    spare_http: Vec<HttpState>,
    /// A buffer for what a host function serializes for the guest, kept
    /// between calls ([`HostState::take_scratch`]).
    scratch: Vec<u8>,
}

/// The scratch buffer is kept only up to this size (a map can be 1 MiB).
const SCRATCH_BYTES: usize = 16 * 1024;
/// Finished streams' records a VM keeps for reuse.
const SPARE_HTTP_STATES: usize = 16;
/// A finished stream's record is kept only if its buffers hold at most
/// this many bytes (so a large body does not stay allocated).
const SPARE_HTTP_BYTES: usize = 16 * 1024;

impl HttpState {
    /// Bytes its buffers hold.
    fn capacity_bytes(&self) -> usize {
        self.request_headers.capacity_bytes()
            + self.request_trailers.capacity_bytes()
            + self.response_headers.capacity_bytes()
            + self.response_trailers.capacity_bytes()
            + self.request_body.capacity()
            + self.response_body.capacity()
    }
}

impl HostState {
    pub fn new(plugin: Arc<PluginInner>) -> HostState {
        HostState {
            plugin,
            exports: Exports::default(),
            root_context: 0,
            effective: 0,
            http: FxHashMap::default(),
            tick_period_ms: 0,
            done: false,
            calls: Vec::new(),
            call_owner: HashMap::new(),
            next_token: 1,
            call_response: None,
            queues: Vec::new(),
            root_properties: HashMap::new(),
            spare_http: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// A record for a new HTTP stream: a finished stream's, emptied, or a
    /// new one.
    pub fn new_http(&mut self, info: StreamInfo) -> HttpState {
        match self.spare_http.pop() {
            Some(mut state) => {
                let HttpState {
                    info: old_info,
                    request_headers,
                    request_body,
                    request_trailers,
                    response_headers,
                    response_body,
                    response_trailers,
                    local_response,
                    resume_request,
                    resume_response,
                    closed,
                    properties,
                } = &mut state;
                *old_info = info;
                for map in [request_headers, request_trailers, response_headers, response_trailers] {
                    map.clear();
                }
                request_body.clear();
                response_body.clear();
                *local_response = None;
                (*resume_request, *resume_response, *closed) = (false, false, false);
                // Properties are few and rare: a new map, not a kept one.
                *properties = HashMap::new();
                state
            }
            None => HttpState { info, ..HttpState::default() },
        }
    }

    /// The VM's scratch buffer, empty, for the length of a host call (taken:
    /// the guest's allocator may call the host again meanwhile).
    pub fn take_scratch(&mut self) -> Vec<u8> {
        let mut buffer = std::mem::take(&mut self.scratch);
        buffer.clear();
        buffer
    }

    /// Gives the scratch buffer back, unless it grew large.
    pub fn keep_scratch(&mut self, buffer: Vec<u8>) {
        if buffer.capacity() <= SCRATCH_BYTES {
            self.scratch = buffer;
        }
    }

    /// Keeps a finished stream's record for [`HostState::new_http`], if
    /// there is room and its buffers are small.
    pub fn recycle_http(&mut self, state: HttpState) {
        if self.spare_http.len() < SPARE_HTTP_STATES && state.capacity_bytes() <= SPARE_HTTP_BYTES {
            self.spare_http.push(state);
        }
    }

    /// The effective context's HTTP state, if it is an HTTP context.
    pub fn current_http(&mut self) -> Option<&mut HttpState> {
        self.http.get_mut(&self.effective)
    }
}

/// What a filter can make the host hold for it, whatever its own memory
/// limit: past these, the host function answers `InternalFailure` (the
/// SDKs treat that as a failure of the filter).
pub(crate) mod limits {
    /// A header or trailer map, serialized (Envoy's default limit for all
    /// request headers is 60 KiB).
    pub const MAP_BYTES: usize = 1 << 20;
    /// A request or response body a filter enlarges.
    pub const BODY_BYTES: usize = 64 << 20;
    /// HTTP calls made and not yet taken by the embedder.
    pub const PENDING_CALLS: usize = 1024;
    /// Properties a filter sets, per context, keys and values.
    pub const PROPERTY_BYTES: usize = 1 << 20;
}
