//! A worker thread: a single-threaded runtime that accepts connections on
//! the shared listener and owns one VM of every filter (Envoy's model).
//! A request stays on the worker that accepted it, so the contexts it has
//! in each VM are always there; a filter's callback runs on the worker
//! under its deadline, and a paused request waits for its HTTP calls
//! without holding the worker.

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
use super::Shared;

/// The longest the proxy waits for an upstream.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a worker gives its VMs their ticks and queue notifications.
const POLL_EVERY: Duration = Duration::from_millis(5);

/// One worker's VMs, in chain order.
struct Worker {
    shared: Arc<Shared>,
    vms: Vec<RefCell<Vm>>,
}

/// Runs a worker on this thread until the process ends. Reports on `ready`
/// whether every VM started.
pub fn run(shared: Arc<Shared>, listener: std::net::TcpListener, ready: std::sync::mpsc::Sender<Result<(), String>>) {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return drop(ready.send(Err(e.to_string()))),
    };
    let mut vms = Vec::new();
    for plugin in shared.plugins.iter() {
        match Vm::new(plugin) {
            Ok(vm) => vms.push(RefCell::new(vm)),
            Err(e) => return drop(ready.send(Err(wasmc_loader::error_chain(&e)))),
        }
    }
    let worker = Rc::new(Worker { shared, vms });
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
        for (i, vm) in worker.vms.iter().enumerate() {
            let calls = {
                let mut vm = vm.borrow_mut();
                // A failure is logged by the host and the VM restarted.
                let _ = vm.poll(Instant::now());
                vm.take_http_calls()
            };
            for call in calls {
                let worker = worker.clone();
                tokio::task::spawn_local(async move {
                    let answer = perform(&worker.shared, &call.call).await;
                    let _ = worker.vms[i].borrow_mut().deliver_http_call_response(&call, answer);
                });
            }
        }
    }
}

/// Performs a filter's HTTP call; `None` if the upstream cannot be reached.
async fn perform(shared: &Shared, call: &wasmc_proxy_wasm::HttpCall) -> Option<HttpCallResponse> {
    let addr = shared.config.upstreams.get(&call.upstream)?;
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
async fn settle(worker: &Worker, i: usize, result: Result<Action, Failure>) -> Phase {
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
        let calls = worker.vms[i].borrow_mut().take_http_calls();
        if calls.is_empty() {
            eprintln!("filter {} paused a request and made no HTTP call", worker.shared.plugins[i].config().name);
            return Phase::Stop(text(StatusCode::BAD_GATEWAY, "request paused by a filter\n".into()));
        }
        result = Ok(Action::Pause);
        for call in calls {
            let answer = perform(&worker.shared, &call.call).await;
            match worker.vms[i].borrow_mut().deliver_http_call_response(&call, answer) {
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
    let mut streams: Vec<Option<HttpStream>> = Vec::new();
    let answer = chain(worker, &mut streams, &mut head, &mut body, info).await;
    for (vm, stream) in worker.vms.iter().zip(streams) {
        if let Some(stream) = stream {
            let _ = vm.borrow_mut().end_http_stream(stream);
        }
    }
    answer
}

async fn chain(
    worker: &Worker,
    streams: &mut Vec<Option<HttpStream>>,
    head: &mut HeaderMap,
    body: &mut Vec<u8>,
    info: StreamInfo,
) -> Response<Full<Bytes>> {
    // Request headers, in order.
    for (i, vm) in worker.vms.iter().enumerate() {
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
        if let Phase::Stop(r) = settle(worker, i, result).await {
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
        for (i, vm) in worker.vms.iter().enumerate() {
            let Some(stream) = streams[i] else { continue };
            let result = vm.borrow_mut().on_request_body(&stream, body, true);
            if let Phase::Stop(r) = settle(worker, i, result).await {
                return r;
            }
        }
    }
    let upstream = &worker.shared.config.upstreams[&worker.shared.config.upstream];
    let (mut response_head, mut response_body) =
        match send(upstream, head, std::mem::take(body), UPSTREAM_TIMEOUT).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("upstream: {e}");
                return text(StatusCode::BAD_GATEWAY, "upstream unavailable\n".into());
            }
        };
    // Response headers and body, in reverse order.
    for (i, vm) in worker.vms.iter().enumerate().rev() {
        let Some(stream) = streams[i] else { continue };
        let result = vm.borrow_mut().on_response_headers(&stream, &mut response_head, response_body.is_empty());
        if let Phase::Stop(r) = settle(worker, i, result).await {
            return r;
        }
    }
    if !response_body.is_empty() {
        for (i, vm) in worker.vms.iter().enumerate().rev() {
            let Some(stream) = streams[i] else { continue };
            let result = vm.borrow_mut().on_response_body(&stream, &mut response_body, true);
            if let Phase::Stop(r) = settle(worker, i, result).await {
                return r;
            }
        }
    }
    response(&response_head, response_body)
}
