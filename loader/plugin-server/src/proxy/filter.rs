//! The filters of the chain, of either kind: a Proxy-Wasm plugin (one
//! [`Vm`] per worker) or a native filter ([`super::native`]). The worker
//! drives every filter through [`Filter`] alike, so a native filter costs
//! what the chain costs and nothing else: the baseline for a wasm one.

#![expect(clippy::result_large_err, reason = "the host's Failure, passed through; see wasmc_proxy_wasm::Vm")]

use std::sync::Arc;
use std::time::Instant;

use wasmc_proxy_wasm::{
    Action, Failure, HeaderMap, HttpCallResponse, HttpStream, LogLevel, Logger, PendingHttpCall, Plugin, StreamInfo, Vm,
};

use super::native::{HttpHeaders, NativeKind};

/// A filter of a configuration, loaded once and shared by the workers.
#[derive(Clone)]
pub enum Loaded {
    /// A linked Proxy-Wasm module.
    Wasm(Plugin),
    /// A native filter.
    Native { name: String, kind: NativeKind, log_level: LogLevel, logger: Arc<dyn Logger> },
}

impl Loaded {
    /// The filter's name in the configuration.
    pub fn name(&self) -> &str {
        match self {
            Loaded::Wasm(plugin) => &plugin.config().name,
            Loaded::Native { name, .. } => name,
        }
    }

    /// The plugin, for a wasm filter.
    pub fn plugin(&self) -> Option<&Plugin> {
        match self {
            Loaded::Wasm(plugin) => Some(plugin),
            Loaded::Native { .. } => None,
        }
    }
}

/// A worker's instance of a filter.
#[expect(
    clippy::large_enum_variant,
    reason = "one per filter per worker, made at start or reload and never moved on the request path"
)]
pub enum Filter {
    Wasm(Vm),
    Native(HttpHeaders),
}

/// A request's stream in one filter (made by that filter).
#[derive(Clone, Copy, Debug)]
pub enum Stream {
    Wasm(HttpStream),
    /// A native filter's context id.
    Native(u32),
}

/// Which way a request or response part goes.
#[derive(Clone, Copy, Debug)]
pub enum Direction {
    Request,
    Response,
}

impl Filter {
    /// Starts a worker's instance of `loaded` (a VM: instantiates it and
    /// runs its start callbacks).
    pub fn new(loaded: &Loaded) -> Result<Filter, String> {
        match loaded {
            Loaded::Wasm(plugin) => Vm::new(plugin).map(Filter::Wasm).map_err(|e| wasmc_loader::error_chain(&e)),
            Loaded::Native { name, kind: NativeKind::HttpHeaders, log_level, logger } => {
                Ok(Filter::Native(HttpHeaders::new(name.clone(), *log_level, logger.clone())))
            }
        }
    }

    /// Starts a stream for a request.
    pub fn create_http_stream(&mut self, info: StreamInfo) -> Result<Stream, Failure> {
        match self {
            Filter::Wasm(vm) => vm.create_http_stream(info).map(Stream::Wasm),
            Filter::Native(f) => Ok(Stream::Native(f.create_stream())),
        }
    }

    /// Headers going `direction` (the filter may change them).
    pub fn on_headers(
        &mut self,
        stream: &Stream,
        direction: Direction,
        headers: &mut HeaderMap,
        end_of_stream: bool,
    ) -> Result<Action, Failure> {
        match (self, stream, direction) {
            (Filter::Wasm(vm), Stream::Wasm(s), Direction::Request) => vm.on_request_headers(s, headers, end_of_stream),
            (Filter::Wasm(vm), Stream::Wasm(s), Direction::Response) => {
                vm.on_response_headers(s, headers, end_of_stream)
            }
            (Filter::Native(f), Stream::Native(c), Direction::Request) => Ok(f.on_request_headers(*c, headers)),
            (Filter::Native(f), Stream::Native(c), Direction::Response) => Ok(f.on_response_headers(*c, headers)),
            _ => Ok(Action::Continue),
        }
    }

    /// A body piece going `direction`, as [`Vm::on_request_body`].
    pub fn on_body(
        &mut self,
        stream: &Stream,
        direction: Direction,
        chunk: &mut Vec<u8>,
        end_of_stream: bool,
    ) -> Result<Action, Failure> {
        match (self, stream, direction) {
            (Filter::Wasm(vm), Stream::Wasm(s), Direction::Request) => vm.on_request_body(s, chunk, end_of_stream),
            (Filter::Wasm(vm), Stream::Wasm(s), Direction::Response) => vm.on_response_body(s, chunk, end_of_stream),
            // The native filter lets bodies through.
            _ => Ok(Action::Continue),
        }
    }

    /// Trailers going `direction`.
    pub fn on_trailers(
        &mut self,
        stream: &Stream,
        direction: Direction,
        trailers: &mut HeaderMap,
    ) -> Result<Action, Failure> {
        match (self, stream, direction) {
            (Filter::Wasm(vm), Stream::Wasm(s), Direction::Request) => vm.on_request_trailers(s, trailers),
            (Filter::Wasm(vm), Stream::Wasm(s), Direction::Response) => vm.on_response_trailers(s, trailers),
            _ => Ok(Action::Continue),
        }
    }

    /// The request headers as a paused filter left them once resumed.
    pub fn request_headers(&self, stream: &Stream) -> Option<&HeaderMap> {
        match (self, stream) {
            (Filter::Wasm(vm), Stream::Wasm(s)) => vm.request_headers(s),
            _ => None,
        }
    }

    /// The trailers going `direction` as a paused filter left them.
    pub fn trailers(&self, stream: &Stream, direction: Direction) -> Option<&HeaderMap> {
        match (self, stream, direction) {
            (Filter::Wasm(vm), Stream::Wasm(s), Direction::Request) => vm.request_trailers(s),
            (Filter::Wasm(vm), Stream::Wasm(s), Direction::Response) => vm.response_trailers(s),
            _ => None,
        }
    }

    /// The body going `direction` that the filter held (paused on).
    pub fn take_body(&mut self, stream: &Stream, direction: Direction) -> Vec<u8> {
        match (self, stream, direction) {
            (Filter::Wasm(vm), Stream::Wasm(s), Direction::Request) => vm.take_request_body(s),
            (Filter::Wasm(vm), Stream::Wasm(s), Direction::Response) => vm.take_response_body(s),
            _ => Vec::new(),
        }
    }

    /// The HTTP calls the filter made, to perform.
    pub fn take_http_calls(&mut self) -> Vec<PendingHttpCall> {
        match self {
            Filter::Wasm(vm) => vm.take_http_calls(),
            Filter::Native(_) => Vec::new(),
        }
    }

    /// Delivers an HTTP call's answer, as [`Vm::deliver_http_call_response`].
    pub fn deliver_http_call_response(
        &mut self,
        call: &PendingHttpCall,
        response: Option<HttpCallResponse>,
    ) -> Result<Option<(Stream, Action)>, Failure> {
        match self {
            Filter::Wasm(vm) => {
                vm.deliver_http_call_response(call, response).map(|r| r.map(|(s, a)| (Stream::Wasm(s), a)))
            }
            // A native filter makes no calls.
            Filter::Native(_) => Ok(None),
        }
    }

    /// Ends a stream, however it went.
    pub fn end_http_stream(&mut self, stream: Stream) -> Result<(), Failure> {
        match (self, stream) {
            (Filter::Wasm(vm), Stream::Wasm(s)) => vm.end_http_stream(s),
            (Filter::Native(f), Stream::Native(c)) => {
                f.end_stream(c);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Shuts the filter down ([`Vm::shutdown`]); whether it is done.
    pub fn shutdown(&mut self) -> bool {
        match self {
            Filter::Wasm(vm) => vm.shutdown(),
            Filter::Native(_) => true,
        }
    }

    /// Ticks and queue notifications due at `now`.
    pub fn poll(&mut self, now: Instant) -> Result<(), Failure> {
        match self {
            Filter::Wasm(vm) => vm.poll(now),
            Filter::Native(_) => Ok(()),
        }
    }
}
