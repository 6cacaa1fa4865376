//! A worker thread: a single-threaded runtime that accepts connections on
//! the shared listener and owns one VM of every filter (Envoy's model).
//! A request stays on the worker that accepted it, so the contexts it has
//! in each VM are always there; a filter's callback runs on the worker
//! under its deadline, and a paused request waits for its HTTP calls
//! without holding the worker. After a reload, new requests get a new set
//! of VMs while requests in flight finish on the set they started with.

use std::cell::RefCell;
use std::convert::Infallible;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use wasmc_proxy_wasm::{Action, Failure, HeaderMap, HttpCallResponse, HttpStream, LocalResponse, StreamInfo, Vm};

use super::http::{request_map, response, send, text};
use super::{Generation, Shared};

/// The longest the proxy waits for an upstream.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a worker gives its VMs their ticks and queue notifications.
const POLL_EVERY: Duration = Duration::from_millis(5);

/// A worker's VMs of one generation's filters, in chain order.
struct VmSet {
    generation: Arc<Generation>,
    vms: Vec<RefCell<Vm>>,
}

impl VmSet {
    fn new(generation: Arc<Generation>) -> Result<VmSet, String> {
        let vms = generation
            .plugins
            .iter()
            .map(|plugin| Vm::new(plugin).map(RefCell::new).map_err(|e| wasmc_loader::error_chain(&e)))
            .collect::<Result<_, _>>()?;
        Ok(VmSet { generation, vms })
    }
}

/// A worker: the shared state and its current set of VMs.
struct Worker {
    shared: Arc<Shared>,
    set: RefCell<Rc<VmSet>>,
}

impl Worker {
    /// The VM set for a new request: of the current generation, made on
    /// the first request after a reload.
    fn current(&self) -> Rc<VmSet> {
        let latest = self.shared.current();
        if !Arc::ptr_eq(&latest, &self.set.borrow().generation) {
            match VmSet::new(latest) {
                Ok(set) => *self.set.borrow_mut() = Rc::new(set),
                Err(e) => eprintln!("reload: a worker keeps its VMs: {e}"),
            }
        }
        self.set.borrow().clone()
    }
}

/// Runs a worker on this thread until the process ends. Reports on `ready`
/// whether every VM started.
pub fn run(shared: Arc<Shared>, listener: std::net::TcpListener, ready: std::sync::mpsc::Sender<Result<(), String>>) {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return drop(ready.send(Err(e.to_string()))),
    };
    let set = match VmSet::new(shared.current()) {
        Ok(set) => set,
        Err(e) => return drop(ready.send(Err(e))),
    };
    let worker = Rc::new(Worker { shared, set: RefCell::new(Rc::new(set)) });
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let listener = match listener.set_nonblocking(true).and_then(|()| tokio::net::TcpListener::from_std(listener)) {
            Ok(l) => l,
            Err(e) => return drop(ready.send(Err(e.to_string()))),
        };
        let _ = ready.send(Ok(()));
        tokio::task::spawn_local(poll_loop(worker.clone()));
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(conn) => conn,
                Err(e) => {
                    eprintln!("accept: {e}");
                    continue;
                }
            };
            let worker = worker.clone();
            let local_addr = stream.local_addr().ok();
            tokio::task::spawn_local(async move {
                let service = hyper::service::service_fn(move |req| {
                    let worker = worker.clone();
                    async move {
                        Ok::<_, Infallible>(
                            handle(&worker, req, StreamInfo { source: Some(peer), destination: local_addr }).await,
                        )
                    }
                });
                if let Err(e) =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await
                {
                    eprintln!("connection from {peer}: {e}");
                }
            });
        }
    });
}

/// Gives every VM its due ticks and queue notifications, and performs the
/// HTTP calls their root contexts make.
async fn poll_loop(worker: Rc<Worker>) {
    loop {
        tokio::time::sleep(POLL_EVERY).await;
        let set = worker.current();
        for (i, vm) in set.vms.iter().enumerate() {
            let calls = {
                let mut vm = vm.borrow_mut();
                // A failure is logged by the host and the VM restarted.
                let _ = vm.poll(Instant::now());
                vm.take_http_calls()
            };
            for call in calls {
                let set = set.clone();
                tokio::task::spawn_local(async move {
                    let answer = perform(&set, &call.call).await;
                    let _ = set.vms[i].borrow_mut().deliver_http_call_response(&call, answer);
                });
            }
        }
    }
}

/// Performs a filter's HTTP call; `None` if the upstream cannot be reached.
async fn perform(set: &VmSet, call: &wasmc_proxy_wasm::HttpCall) -> Option<HttpCallResponse> {
    let addr = set.generation.config.upstreams.get(&call.upstream)?;
    let timeout = Duration::from_millis(u64::from(call.timeout_ms)).min(UPSTREAM_TIMEOUT);
    match send(addr, &call.headers, call.body.clone(), timeout).await {
        Ok((headers, body)) => Some(HttpCallResponse { headers, body, trailers: HeaderMap::new() }),
        Err(e) => {
            eprintln!("HTTP call to {}: {e}", call.upstream);
            None
        }
    }
}

/// How a phase of the chain ended.
enum Phase {
    Continue,
    Stop(Response<Full<Bytes>>),
}

fn local(r: LocalResponse) -> Response<Full<Bytes>> {
    let mut head = r.headers.clone();
    head.insert(":status", r.status.to_string());
    response(&head, r.body)
}

/// What an action (or a failure's policy) means for the chain, once any
/// pause is over: a paused stream's HTTP calls are performed and answered
/// until the filter continues, answers or stops making calls.
async fn settle(set: &VmSet, i: usize, result: Result<Action, Failure>) -> Phase {
    let mut result = result;
    loop {
        let action = match result {
            Ok(action) => action,
            Err(failure) => failure.action,
        };
        match action {
            Action::Continue => return Phase::Continue,
            Action::Respond(r) => return Phase::Stop(local(r)),
            Action::Close => return Phase::Stop(text(StatusCode::BAD_GATEWAY, "stream closed by a filter\n".into())),
            Action::Pause => {}
        }
        let calls = set.vms[i].borrow_mut().take_http_calls();
        if calls.is_empty() {
            eprintln!("filter {} paused a request and made no HTTP call", set.generation.plugins[i].config().name);
            return Phase::Stop(text(StatusCode::BAD_GATEWAY, "request paused by a filter\n".into()));
        }
        result = Ok(Action::Pause);
        for call in calls {
            let answer = perform(set, &call.call).await;
            match set.vms[i].borrow_mut().deliver_http_call_response(&call, answer) {
                Ok(Some((_, action))) => result = Ok(action),
                Ok(None) => {}
                Err(failure) => result = Err(failure),
            }
        }
    }
}

/// Runs a request through the chain, forwards it, runs the response back.
async fn handle(worker: &Worker, req: Request<Incoming>, info: StreamInfo) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let mut head = request_map(&parts);
    let mut body = match body.collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("request body: {e}\n")),
    };
    // The request keeps this set to its end, even if a reload comes.
    let set = worker.current();
    let mut streams: Vec<Option<HttpStream>> = Vec::new();
    let answer = chain(&set, &mut streams, &mut head, &mut body, info).await;
    for (vm, stream) in set.vms.iter().zip(streams) {
        if let Some(stream) = stream {
            let _ = vm.borrow_mut().end_http_stream(stream);
        }
    }
    answer
}

async fn chain(
    set: &VmSet,
    streams: &mut Vec<Option<HttpStream>>,
    head: &mut HeaderMap,
    body: &mut Vec<u8>,
    info: StreamInfo,
) -> Response<Full<Bytes>> {
    // Request headers, in order.
    for (i, vm) in set.vms.iter().enumerate() {
        let created = vm.borrow_mut().create_http_stream(info.clone());
        let stream = match created {
            Ok(s) => s,
            Err(failure) => match failure.action {
                Action::Respond(r) => return local(r),
                _ => {
                    streams.push(None);
                    continue;
                }
            },
        };
        streams.push(Some(stream));
        let result = vm.borrow_mut().on_request_headers(&stream, head, body.is_empty());
        let paused = matches!(result, Ok(Action::Pause));
        if let Phase::Stop(r) = settle(set, i, result).await {
            return r;
        }
        if paused {
            // The filter may have changed the headers while resuming.
            if let Some(h) = vm.borrow().request_headers(&stream) {
                *head = h.clone();
            }
        }
    }
    // The request body, buffered, in order.
    if !body.is_empty() {
        for (i, vm) in set.vms.iter().enumerate() {
            let Some(stream) = streams[i] else { continue };
            let result = vm.borrow_mut().on_request_body(&stream, body, true);
            if let Phase::Stop(r) = settle(set, i, result).await {
                return r;
            }
        }
    }
    let config = &set.generation.config;
    let upstream = &config.upstreams[&config.upstream];
    let (mut response_head, mut response_body) =
        match send(upstream, head, std::mem::take(body), UPSTREAM_TIMEOUT).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("upstream: {e}");
                return text(StatusCode::BAD_GATEWAY, "upstream unavailable\n".into());
            }
        };
    // Response headers and body, in reverse order.
    for (i, vm) in set.vms.iter().enumerate().rev() {
        let Some(stream) = streams[i] else { continue };
        let result = vm.borrow_mut().on_response_headers(&stream, &mut response_head, response_body.is_empty());
        if let Phase::Stop(r) = settle(set, i, result).await {
            return r;
        }
    }
    if !response_body.is_empty() {
        for (i, vm) in set.vms.iter().enumerate().rev() {
            let Some(stream) = streams[i] else { continue };
            let result = vm.borrow_mut().on_response_body(&stream, &mut response_body, true);
            if let Phase::Stop(r) = settle(set, i, result).await {
                return r;
            }
        }
    }
    response(&response_head, response_body)
}
