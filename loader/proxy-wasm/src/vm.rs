//! A plugin's VM on one worker thread: one instance with its root
//! context, driven by the embedder through HTTP streams, HTTP call
//! answers and ticks. A callback that fails (trap, deadline, memory)
//! discards the instance and starts a new one; the request it was
//! serving gets the plugin's failure policy.

#![expect(
    clippy::result_large_err,
    reason = "a Failure carries the policy's response; it is the rare path, and one copy of it costs nothing beside the wasm call it reports"
)]

use std::time::{Duration, Instant};

use wasmc_loader::error_chain;

use crate::abi::{LogLevel, ACTION_CONTINUE};
use crate::guest::i;
use crate::live::{Live, PickPhase, PickTrailers, ROOT_CONTEXT};
use crate::maps::{len32, HeaderMap};
use crate::outcome::{Action, Failure, FilterError, HttpStream, PendingHttpCall};
use crate::plugin::{FailurePolicy, Plugin};
use crate::state::{HttpCallResponse, HttpState, LocalResponse, StreamInfo};

/// How long a VM whose start failed waits before the next attempt
/// (meanwhile its requests get the failure policy at once).
pub const RESTART_BACKOFF: Duration = Duration::from_secs(1);

/// One VM of a plugin, for one worker thread (it is `Send`, not `Sync`).
///
/// Dropping a VM that was not shut down shuts it down
/// ([`Vm::shutdown`]): `proxy_on_done` on its root context, and
/// `proxy_on_delete` if that says the root context is done.
pub struct Vm {
    plugin: Plugin,
    live: Option<Live>,
    generation: u64,
    restarts: u64,
    /// After a failed start: no new attempt before this.
    retry_at: Option<Instant>,
    shutdown: Shutdown,
}

/// How far [`Vm::shutdown`] went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shutdown {
    Running,
    /// `proxy_on_done` returned false: waiting for `proxy_done`.
    Pending,
    /// `proxy_on_delete` was called (or the VM failed meanwhile).
    Done,
}

/// Which direction of a stream a phase belongs to.
#[derive(Clone, Copy)]
enum Direction {
    Request,
    Response,
}

impl Vm {
    /// Starts a VM of `plugin`: instantiates it, runs `_initialize`, makes
    /// the root context, `proxy_on_vm_start`, `proxy_on_configure`. An
    /// error (a trap, a deadline, a callback answering false) leaves no VM.
    pub fn new(plugin: &Plugin) -> Result<Vm, Failure> {
        let mut vm = Vm {
            plugin: plugin.clone(),
            live: None,
            generation: 0,
            restarts: 0,
            retry_at: None,
            shutdown: Shutdown::Running,
        };
        vm.live = Some(Live::start(plugin).map_err(|e| vm.failure(e))?);
        Ok(vm)
    }

    /// The plugin.
    pub fn plugin(&self) -> &Plugin {
        &self.plugin
    }

    /// How many times the VM was discarded and started again.
    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    /// The `Failure` for `error`, with the plugin's policy.
    fn failure(&self, error: FilterError) -> Failure {
        let action = match self.plugin.inner.config.failure_policy {
            FailurePolicy::FailClosed { status } => Action::Respond(LocalResponse {
                status,
                details: "filter failed".into(),
                headers: HeaderMap::new(),
                body: Vec::new(),
            }),
            FailurePolicy::FailOpen => Action::Continue,
        };
        Failure { plugin: self.plugin.inner.config.name.clone(), error, action }
    }

    /// Logs `error`, discards the instance and starts a new one (a start
    /// that fails is logged and tried again on the next call).
    fn discard(&mut self, error: FilterError) -> Failure {
        let inner = &self.plugin.inner;
        inner.log(LogLevel::Error, &format!("{}; VM discarded", error_chain(&error)));
        self.live = None;
        self.generation += 1;
        self.restarts += 1;
        if self.shutdown == Shutdown::Running {
            self.ensure_live().ok();
        } else {
            // Shutting down: nothing to start again.
            self.shutdown = Shutdown::Done;
        }
        self.failure(error)
    }

    /// The running instance, started if there is none.
    fn ensure_live(&mut self) -> Result<&mut Live, Failure> {
        if self.shutdown == Shutdown::Done {
            return Err(self.failure(FilterError::ShutDown));
        }
        if self.live.is_none() {
            if self.retry_at.is_some_and(|t| Instant::now() < t) {
                return Err(self.failure(FilterError::NotRunning));
            }
            match Live::start(&self.plugin) {
                Ok(live) => {
                    self.live = Some(live);
                    self.retry_at = None;
                }
                Err(e) => {
                    let failure = self.failure(e);
                    self.plugin.inner.log(LogLevel::Error, &format!("VM start: {}", error_chain(&failure.error)));
                    self.retry_at = Some(Instant::now() + RESTART_BACKOFF);
                    return Err(failure);
                }
            }
        }
        Ok(self.live.as_mut().expect("started above"))
    }

    /// The instance of `stream`, which must belong to the current generation.
    fn live_for(&mut self, stream: &HttpStream) -> Result<&mut Live, Failure> {
        if stream.generation() != self.generation || self.live.is_none() {
            return Err(self.failure(FilterError::StaleStream));
        }
        Ok(self.live.as_mut().expect("checked above"))
    }

    /// Starts an HTTP stream: a new context (`proxy_on_context_create`).
    pub fn create_http_stream(&mut self, info: StreamInfo) -> Result<HttpStream, Failure> {
        let generation = self.generation;
        let live = self.ensure_live()?;
        let context = live.next_context;
        live.next_context += 1;
        let data = live.store.data_mut();
        let state = data.new_http(info);
        data.http.insert(context, state);
        let created =
            live.call("proxy_on_context_create", context, |cb| cb.context_create, (i(context), i(ROOT_CONTEXT)));
        match created {
            Ok(_) => Ok(HttpStream::new(context, generation)),
            Err(e) => Err(self.discard(e)),
        }
    }

    /// Runs `proxy_on_request_headers`: `headers` go to the filter and
    /// come back as it left them (unchanged if it fails).
    pub fn on_request_headers(
        &mut self,
        stream: &HttpStream,
        headers: &mut HeaderMap,
        end_of_stream: bool,
    ) -> Result<Action, Failure> {
        self.headers_phase(stream, Direction::Request, headers, end_of_stream)
    }

    /// Runs `proxy_on_response_headers`, as [`Vm::on_request_headers`].
    pub fn on_response_headers(
        &mut self,
        stream: &HttpStream,
        headers: &mut HeaderMap,
        end_of_stream: bool,
    ) -> Result<Action, Failure> {
        self.headers_phase(stream, Direction::Response, headers, end_of_stream)
    }

    /// Runs `proxy_on_request_body` on a piece of the request body. The
    /// filter sees everything it paused on so far plus `chunk`; on
    /// `Continue`, `chunk` becomes all of that, as the filter left it, to
    /// forward; on `Pause` the host keeps it and `chunk` is left empty.
    /// On failure, `chunk` is what was held plus what was given.
    pub fn on_request_body(
        &mut self,
        stream: &HttpStream,
        chunk: &mut Vec<u8>,
        end_of_stream: bool,
    ) -> Result<Action, Failure> {
        self.body_phase(stream, Direction::Request, chunk, end_of_stream)
    }

    /// Runs `proxy_on_response_body`, as [`Vm::on_request_body`].
    pub fn on_response_body(
        &mut self,
        stream: &HttpStream,
        chunk: &mut Vec<u8>,
        end_of_stream: bool,
    ) -> Result<Action, Failure> {
        self.body_phase(stream, Direction::Response, chunk, end_of_stream)
    }

    /// Runs `proxy_on_request_trailers`, as [`Vm::on_request_headers`].
    pub fn on_request_trailers(&mut self, stream: &HttpStream, trailers: &mut HeaderMap) -> Result<Action, Failure> {
        self.trailers_phase(stream, Direction::Request, trailers)
    }

    /// Runs `proxy_on_response_trailers`, as [`Vm::on_request_headers`].
    pub fn on_response_trailers(&mut self, stream: &HttpStream, trailers: &mut HeaderMap) -> Result<Action, Failure> {
        self.trailers_phase(stream, Direction::Response, trailers)
    }

    /// The request headers as the filter left them (after a resumption,
    /// for instance).
    pub fn request_headers(&self, stream: &HttpStream) -> Option<&HeaderMap> {
        self.http(stream).map(|h| &h.request_headers)
    }

    /// The response headers as the filter left them.
    pub fn response_headers(&self, stream: &HttpStream) -> Option<&HeaderMap> {
        self.http(stream).map(|h| &h.response_headers)
    }

    /// The request trailers as the filter left them.
    pub fn request_trailers(&self, stream: &HttpStream) -> Option<&HeaderMap> {
        self.http(stream).map(|h| &h.request_trailers)
    }

    /// The response trailers as the filter left them.
    pub fn response_trailers(&self, stream: &HttpStream) -> Option<&HeaderMap> {
        self.http(stream).map(|h| &h.response_trailers)
    }

    /// Takes the request body the host holds for the stream: what the
    /// filter paused on, to forward once it resumed the stream (after an
    /// HTTP call) or let its trailers through.
    pub fn take_request_body(&mut self, stream: &HttpStream) -> Vec<u8> {
        self.http_mut(stream).map(|h| std::mem::take(&mut h.request_body)).unwrap_or_default()
    }

    /// Takes the response body the host holds, as [`Vm::take_request_body`].
    pub fn take_response_body(&mut self, stream: &HttpStream) -> Vec<u8> {
        self.http_mut(stream).map(|h| std::mem::take(&mut h.response_body)).unwrap_or_default()
    }

    fn http_mut(&mut self, stream: &HttpStream) -> Option<&mut HttpState> {
        if stream.generation() != self.generation {
            return None;
        }
        self.live.as_mut()?.store.data_mut().http.get_mut(&stream.context_id())
    }

    fn http(&self, stream: &HttpStream) -> Option<&HttpState> {
        if stream.generation() != self.generation {
            return None;
        }
        self.live.as_ref()?.store.data().http.get(&stream.context_id())
    }

    fn headers_phase(
        &mut self,
        stream: &HttpStream,
        direction: Direction,
        headers: &mut HeaderMap,
        end_of_stream: bool,
    ) -> Result<Action, Failure> {
        let live = self.live_for(stream)?;
        let context = stream.context_id();
        let count = i(len32(headers.len()));
        let http = live.store.data_mut().http.get_mut(&context).ok_or(FilterError::StaleStream);
        let http = match http {
            Ok(h) => h,
            Err(e) => return Err(self.failure(e)),
        };
        let (slot, name, pick): (_, _, PickPhase) = match direction {
            Direction::Request => (&mut http.request_headers, "proxy_on_request_headers", |cb| cb.request_headers),
            Direction::Response => (&mut http.response_headers, "proxy_on_response_headers", |cb| cb.response_headers),
        };
        slot.clone_from(headers);
        match live.call(name, context, pick, (i(context), count, i32::from(end_of_stream))) {
            Ok(returned) => {
                let action = live.outcome(context, Some(returned.unwrap_or(ACTION_CONTINUE)));
                // The context keeps its own copy (for a resumption to change).
                if let Some(http) = live.store.data_mut().http.get_mut(&context) {
                    let slot = match direction {
                        Direction::Request => &mut http.request_headers,
                        Direction::Response => &mut http.response_headers,
                    };
                    headers.clone_from(slot);
                }
                Ok(action)
            }
            Err(e) => Err(self.discard(e)),
        }
    }

    fn trailers_phase(
        &mut self,
        stream: &HttpStream,
        direction: Direction,
        trailers: &mut HeaderMap,
    ) -> Result<Action, Failure> {
        let live = self.live_for(stream)?;
        let context = stream.context_id();
        let count = i(len32(trailers.len()));
        let Some(http) = live.store.data_mut().http.get_mut(&context) else {
            return Err(self.failure(FilterError::StaleStream));
        };
        let (slot, name, pick): (_, _, PickTrailers) = match direction {
            Direction::Request => (&mut http.request_trailers, "proxy_on_request_trailers", |cb| cb.request_trailers),
            Direction::Response => {
                (&mut http.response_trailers, "proxy_on_response_trailers", |cb| cb.response_trailers)
            }
        };
        slot.clone_from(trailers);
        match live.call(name, context, pick, (i(context), count)) {
            Ok(returned) => {
                let action = live.outcome(context, Some(returned.unwrap_or(ACTION_CONTINUE)));
                if let Some(http) = live.store.data().http.get(&context) {
                    *trailers = match direction {
                        Direction::Request => http.request_trailers.clone(),
                        Direction::Response => http.response_trailers.clone(),
                    };
                }
                Ok(action)
            }
            Err(e) => Err(self.discard(e)),
        }
    }

    fn body_phase(
        &mut self,
        stream: &HttpStream,
        direction: Direction,
        chunk: &mut Vec<u8>,
        end_of_stream: bool,
    ) -> Result<Action, Failure> {
        let live = self.live_for(stream)?;
        let context = stream.context_id();
        let Some(http) = live.store.data_mut().http.get_mut(&context) else {
            return Err(self.failure(FilterError::StaleStream));
        };
        let (held, name, pick): (_, _, PickPhase) = match direction {
            Direction::Request => (&mut http.request_body, "proxy_on_request_body", |cb| cb.request_body),
            Direction::Response => (&mut http.response_body, "proxy_on_response_body", |cb| cb.response_body),
        };
        let held_before = held.len();
        held.extend_from_slice(chunk);
        let size = i(len32(held.len()));
        match live.call(name, context, pick, (i(context), size, i32::from(end_of_stream))) {
            Ok(returned) => {
                let action = live.outcome(context, Some(returned.unwrap_or(ACTION_CONTINUE)));
                let body = live.store.data_mut().http.get_mut(&context).map(|h| match direction {
                    Direction::Request => &mut h.request_body,
                    Direction::Response => &mut h.response_body,
                });
                match (&action, body) {
                    (Action::Pause, _) | (_, None) => chunk.clear(),
                    (_, Some(body)) => *chunk = std::mem::take(body),
                }
                Ok(action)
            }
            Err(e) => {
                // Fail open forwards what the host held and what it was given.
                if let Some(live) = self.live.as_mut() {
                    if let Some(h) = live.store.data_mut().http.get_mut(&context) {
                        let body = match direction {
                            Direction::Request => &mut h.request_body,
                            Direction::Response => &mut h.response_body,
                        };
                        body.truncate(held_before);
                        body.extend_from_slice(chunk);
                        *chunk = std::mem::take(body);
                    }
                }
                Err(self.discard(e))
            }
        }
    }

    /// Ends a stream: `proxy_on_done`, `proxy_on_log`, `proxy_on_delete`.
    /// Call it for every stream, however it ended. A context whose
    /// `proxy_on_done` returns false is deleted all the same (the host does
    /// not wait for `proxy_done` on HTTP contexts).
    pub fn end_http_stream(&mut self, stream: HttpStream) -> Result<(), Failure> {
        let live = match self.live_for(&stream) {
            Ok(live) => live,
            // Its VM is gone, and the context with it.
            Err(_) => return Ok(()),
        };
        let c = stream.context_id();
        let result = live
            .call("proxy_on_done", c, |cb| cb.done, i(c))
            .and_then(|_| live.call("proxy_on_log", c, |cb| cb.log, i(c)))
            .and_then(|_| live.call("proxy_on_delete", c, |cb| cb.delete, i(c)));
        let data = live.store.data_mut();
        if let Some(state) = data.http.remove(&c) {
            data.recycle_http(state);
        }
        live.store.data_mut().call_owner.retain(|_, owner| *owner != c);
        result.map(|_| ()).map_err(|e| self.discard(e))
    }

    /// The HTTP calls the filter made since the last time, for the
    /// embedder to perform (without blocking its worker) and answer with
    /// [`Vm::deliver_http_call_response`].
    pub fn take_http_calls(&mut self) -> Vec<PendingHttpCall> {
        let generation = self.generation;
        let Some(live) = self.live.as_mut() else { return Vec::new() };
        std::mem::take(&mut live.store.data_mut().calls)
            .into_iter()
            .map(|call| PendingHttpCall::new(call, generation))
            .collect()
    }

    /// Delivers the answer to an HTTP call (`None`: it failed, timed out
    /// or the upstream is unreachable; the filter sees no headers and no
    /// body) through `proxy_on_http_call_response`. Returns the stream that
    /// made the call and what it does now (`Pause` while still paused), or
    /// `None` for a call made by the root context.
    pub fn deliver_http_call_response(
        &mut self,
        call: &PendingHttpCall,
        response: Option<HttpCallResponse>,
    ) -> Result<Option<(HttpStream, Action)>, Failure> {
        if call.generation() != self.generation || self.live.is_none() {
            return Err(self.failure(FilterError::StaleStream));
        }
        let generation = self.generation;
        let live = self.live.as_mut().expect("checked above");
        let token = call.call.token;
        let Some(owner) = live.store.data_mut().call_owner.remove(&token) else {
            return Err(self.failure(FilterError::StaleStream));
        };
        let response = response.unwrap_or_default();
        let counts =
            (i(len32(response.headers.len())), i(len32(response.body.len())), i(len32(response.trailers.len())));
        live.store.data_mut().call_response = Some(response);
        let result = live.call(
            "proxy_on_http_call_response",
            owner,
            |cb| cb.http_call_response,
            (i(owner), i(token), counts.0, counts.1, counts.2),
        );
        live.store.data_mut().call_response = None;
        match result {
            Ok(_) if owner == ROOT_CONTEXT => Ok(None),
            Ok(_) => {
                let action = live.outcome(owner, None);
                Ok(Some((HttpStream::new(owner, generation), action)))
            }
            Err(e) => Err(self.discard(e)),
        }
    }

    /// Shuts the VM down, as a host does when it lets a plugin go (a
    /// reload that replaced it, a worker that ends): `proxy_on_done` on the
    /// root context and, once the root context is done, `proxy_on_delete`.
    /// Returns whether it is done. `false` means `proxy_on_done` returned
    /// false: the filter has work to finish (an HTTP call, say) and calls
    /// `proxy_done` when it has; meanwhile keep giving the VM [`Vm::poll`]
    /// and its HTTP calls' answers, and call `shutdown` again, which deletes
    /// the root context once `proxy_done` was called. A VM dropped while
    /// pending gets no `proxy_on_delete` (as in Envoy's host). A VM that is
    /// done runs nothing more: its calls fail with [`FilterError::ShutDown`].
    /// A failure while shutting down is logged, and the VM is done.
    pub fn shutdown(&mut self) -> bool {
        let Some(live) = self.live.as_mut() else {
            self.shutdown = Shutdown::Done;
            return true;
        };
        let done = match self.shutdown {
            Shutdown::Done => return true,
            Shutdown::Pending => live.store.data().done,
            Shutdown::Running => {
                self.shutdown = Shutdown::Pending;
                // Only a `proxy_done` from here on counts.
                live.store.data_mut().done = false;
                match live.call("proxy_on_done", ROOT_CONTEXT, |cb| cb.done, i(ROOT_CONTEXT)) {
                    // No `proxy_on_done`, or it answered true: done at once.
                    Ok(None) => true,
                    Ok(Some(answer)) => answer != 0 || live.store.data().done,
                    Err(e) => {
                        self.plugin.inner.log(LogLevel::Error, &format!("shutting down: {}", error_chain(&e)));
                        self.shutdown = Shutdown::Done;
                        self.live = None;
                        return true;
                    }
                }
            }
        };
        if !done {
            return false;
        }
        if let Err(e) = live.call("proxy_on_delete", ROOT_CONTEXT, |cb| cb.delete, i(ROOT_CONTEXT)) {
            self.plugin.inner.log(LogLevel::Error, &format!("shutting down: {}", error_chain(&e)));
        }
        self.shutdown = Shutdown::Done;
        self.live = None;
        true
    }

    /// When the next tick is due, if the filter asked for ticks.
    pub fn next_tick(&self) -> Option<Instant> {
        self.live.as_ref()?.next_tick
    }

    /// Runs what is due at `now`: `proxy_on_tick` if the tick period has
    /// passed, and `proxy_on_queue_ready` for each queue this VM registered
    /// that holds items. Starts the VM again if a failure left none.
    pub fn poll(&mut self, now: Instant) -> Result<(), Failure> {
        let live = self.ensure_live()?;
        if live.next_tick.is_none() {
            // The filter may set its tick period in any callback.
            live.schedule_tick(now);
        }
        if live.next_tick.is_some_and(|t| t <= now) {
            let ticked = live.call("proxy_on_tick", ROOT_CONTEXT, |cb| cb.tick, i(ROOT_CONTEXT));
            if let Err(e) = ticked {
                return Err(self.discard(e));
            }
            let live = self.live.as_mut().expect("still running");
            live.schedule_tick(now);
        }
        let live = self.live.as_mut().expect("still running");
        let queues = live.store.data().queues.clone();
        for queue in queues {
            if !self.plugin.inner.config.shared.queue_has_items(queue) {
                continue;
            }
            let live = self.live.as_mut().expect("still running");
            let ready =
                live.call("proxy_on_queue_ready", ROOT_CONTEXT, |cb| cb.queue_ready, (i(ROOT_CONTEXT), i(queue)));
            if let Err(e) = ready {
                return Err(self.discard(e));
            }
        }
        Ok(())
    }

    /// Whether the root context called `proxy_done`.
    pub fn done_called(&self) -> bool {
        self.live.as_ref().is_some_and(|l| l.store.data().done)
    }

    /// The root context's tick period, in milliseconds (0: no ticks).
    pub fn tick_period_ms(&self) -> u32 {
        self.live.as_ref().map_or(0, |l| l.store.data().tick_period_ms)
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        if self.shutdown == Shutdown::Running {
            self.shutdown();
        }
    }
}
