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

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use wasmc_proxy_wasm::{Action, Failure, HeaderMap, HttpCallResponse, LocalResponse, StreamInfo};

use super::filter::{Direction, Filter, Stream};
use super::http::{declare_trailers, read_body, request_map, response, send, text, BodyError, Frames};
use super::pool::Pool;
use super::{Generation, Shared};

/// The longest the proxy waits for an upstream.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a worker gives its VMs their ticks and queue notifications.
const POLL_EVERY: Duration = Duration::from_millis(5);
/// How long a worker waits for the root contexts of VMs a reload replaced
/// to finish their work (`proxy_on_done` answered false), once no request
/// uses them, before it drops them.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// A worker's VMs (and native filters) of one generation's filters, in
/// chain order, and the worker's upstream connections.
struct VmSet {
    generation: Arc<Generation>,
    vms: Vec<RefCell<Filter>>,
    pool: Rc<Pool>,
}

impl VmSet {
    fn new(generation: Arc<Generation>, pool: Rc<Pool>) -> Result<VmSet, String> {
        let vms = generation.filters.iter().map(|f| Filter::new(f).map(RefCell::new)).collect::<Result<_, _>>()?;
        Ok(VmSet { generation, vms, pool })
    }
}

/// A worker: the shared state, its current set of VMs, the sets a reload
/// replaced that are not shut down yet (with when their shutdown began),
/// and its idle upstream connections.
struct Worker {
    shared: Arc<Shared>,
    set: RefCell<Rc<VmSet>>,
    draining: RefCell<Vec<(Rc<VmSet>, Option<Instant>)>>,
    pool: Rc<Pool>,
}

impl Worker {
    /// The VM set for a new request: of the current generation, made on
    /// the first request after a reload.
    fn current(&self) -> Rc<VmSet> {
        let latest = self.shared.current();
        if !Arc::ptr_eq(&latest, &self.set.borrow().generation) {
            match VmSet::new(latest, self.pool.clone()) {
                Ok(set) => {
                    let old = std::mem::replace(&mut *self.set.borrow_mut(), Rc::new(set));
                    self.draining.borrow_mut().push((old, None));
                }
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
    let pool = Rc::new(Pool::default());
    let set = match VmSet::new(shared.current(), pool.clone()) {
        Ok(set) => set,
        Err(e) => return drop(ready.send(Err(e))),
    };
    let worker = Rc::new(Worker { shared, set: RefCell::new(Rc::new(set)), draining: RefCell::default(), pool });
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
            // Answers are written whole: do not hold them back for acks.
            let _ = stream.set_nodelay(true);
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

/// Gives every VM its due ticks and queue notifications, performs the HTTP
/// calls their root contexts make, and shuts down the VMs reloads replaced.
async fn poll_loop(worker: Rc<Worker>) {
    loop {
        tokio::time::sleep(POLL_EVERY).await;
        poll_set(&worker.current());
        drain(&worker);
    }
}

/// Polls the VMs of `set` and performs their root contexts' HTTP calls.
fn poll_set(set: &Rc<VmSet>) {
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

/// Shuts down the VMs of replaced sets once no request uses them
/// (`proxy_on_done`, then `proxy_on_delete` on each root context), going on
/// polling those whose root context has work pending until it is done or
/// [`DRAIN_LIMIT`] has passed; then the set is dropped.
fn drain(worker: &Worker) {
    worker.draining.borrow_mut().retain_mut(|(set, began)| {
        // Requests and HTTP calls in flight hold clones of the set.
        if Rc::strong_count(set) > 1 {
            return true;
        }
        let began = *began.get_or_insert_with(Instant::now);
        let mut done = true;
        for vm in &set.vms {
            done &= vm.borrow_mut().shutdown();
        }
        if done || began.elapsed() >= DRAIN_LIMIT {
            return false;
        }
        poll_set(set);
        true
    });
}

/// Performs a filter's HTTP call; `None` if the upstream cannot be reached.
async fn perform(set: &VmSet, call: &wasmc_proxy_wasm::HttpCall) -> Option<HttpCallResponse> {
    let addr = set.generation.config.upstreams.get(&call.upstream)?;
    let timeout = Duration::from_millis(u64::from(call.timeout_ms)).min(UPSTREAM_TIMEOUT);
    let limit = set.generation.config.max_body_bytes;
    match send(&set.pool, addr, &call.headers, Frames::full(call.body.clone()), timeout, limit).await {
        Ok((headers, chunks, trailers)) => {
            Some(HttpCallResponse { headers, body: chunks.concat(), trailers: trailers.unwrap_or_default() })
        }
        Err(e) => {
            eprintln!("HTTP call to {}: {e}", call.upstream);
            None
        }
    }
}

/// How a phase of the chain ended.
enum Phase {
    Continue,
    /// A body piece paused with no HTTP call: the filter buffers it and
    /// waits for more.
    Held,
    Stop(Box<Response<Frames>>),
}

fn local(r: LocalResponse) -> Response<Frames> {
    let mut head = r.headers.clone();
    head.insert(":status", r.status.to_string());
    response(&head, Frames::full(r.body))
}

/// What an action (or a failure's policy) means for the chain, once any
/// pause is over: a paused stream's HTTP calls are performed and answered
/// until the filter continues, answers or stops making calls. A pause
/// without calls is `Held` when `may_hold` (a body piece before the end),
/// a failure otherwise.
async fn settle(set: &VmSet, i: usize, result: Result<Action, Failure>, may_hold: bool) -> Phase {
    let mut result = result;
    let mut first = true;
    loop {
        let action = match result {
            Ok(action) => action,
            Err(failure) => failure.action,
        };
        match action {
            Action::Continue => return Phase::Continue,
            Action::Respond(r) => return Phase::Stop(Box::new(local(r))),
            Action::Close => {
                return Phase::Stop(Box::new(text(StatusCode::BAD_GATEWAY, "stream closed by a filter\n".into())))
            }
            Action::Pause => {}
        }
        let calls = set.vms[i].borrow_mut().take_http_calls();
        if calls.is_empty() && first && may_hold {
            return Phase::Held;
        }
        first = false;
        if calls.is_empty() {
            eprintln!("filter {} paused a request and made no HTTP call", set.generation.filters[i].name());
            return Phase::Stop(Box::new(text(StatusCode::BAD_GATEWAY, "request paused by a filter\n".into())));
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

/// Runs body pieces (as they came) and then trailers through filter `i`;
/// returns what it lets through. A piece the filter pauses on is held by
/// the host and comes out with a later piece it continues on, after a
/// resumption, or before the trailers.
async fn body_and_trailers(
    set: &VmSet,
    i: usize,
    stream: Stream,
    direction: Direction,
    chunks: Vec<Vec<u8>>,
    trailers: Option<HeaderMap>,
) -> Result<(Vec<Vec<u8>>, Option<HeaderMap>), Response<Frames>> {
    let vm = &set.vms[i];
    let take_held = || vm.borrow_mut().take_body(&stream, direction);
    let mut out = Vec::new();
    let count = chunks.len();
    for (k, mut chunk) in chunks.into_iter().enumerate() {
        let end = k + 1 == count && trailers.is_none();
        let result = vm.borrow_mut().on_body(&stream, direction, &mut chunk, end);
        let paused = matches!(result, Ok(Action::Pause));
        match settle(set, i, result, !end).await {
            Phase::Stop(r) => return Err(*r),
            Phase::Held => {}
            // Resumed after an HTTP call: what the host held goes on.
            Phase::Continue if paused => out.push(take_held()),
            Phase::Continue => out.push(chunk),
        }
    }
    let Some(mut trailers) = trailers else { return Ok((out, None)) };
    let result = vm.borrow_mut().on_trailers(&stream, direction, &mut trailers);
    let paused = matches!(result, Ok(Action::Pause));
    if let Phase::Stop(r) = settle(set, i, result, false).await {
        return Err(*r);
    }
    if paused {
        if let Some(t) = vm.borrow().trailers(&stream, direction) {
            trailers = t.clone();
        }
    }
    // A body the filter held until its trailers goes before them.
    out.push(take_held());
    Ok((out, Some(trailers)))
}

/// Runs a request through the chain, forwards it, runs the response back.
async fn handle(worker: &Worker, req: Request<Incoming>, info: StreamInfo) -> Response<Frames> {
    let (parts, body) = req.into_parts();
    let mut head = request_map(&parts);
    // The request keeps this set to its end, even if a reload comes.
    let set = worker.current();
    let (chunks, trailers) = match read_body(body, set.generation.config.max_body_bytes).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => return text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n".into()),
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("request body: {e}\n")),
    };
    let mut streams: Vec<Option<Stream>> = Vec::new();
    let answer = match chain(&set, &mut streams, &mut head, chunks, trailers, info).await {
        Ok(response) | Err(response) => response,
    };
    for (vm, stream) in set.vms.iter().zip(streams) {
        if let Some(stream) = stream {
            let _ = vm.borrow_mut().end_http_stream(stream);
        }
    }
    answer
}

async fn chain(
    set: &VmSet,
    streams: &mut Vec<Option<Stream>>,
    head: &mut HeaderMap,
    mut chunks: Vec<Vec<u8>>,
    mut trailers: Option<HeaderMap>,
    info: StreamInfo,
) -> Result<Response<Frames>, Response<Frames>> {
    // Request headers, in order.
    let headers_only = chunks.iter().all(Vec::is_empty) && trailers.is_none();
    for (i, vm) in set.vms.iter().enumerate() {
        let created = vm.borrow_mut().create_http_stream(info.clone());
        let stream = match created {
            Ok(s) => s,
            Err(failure) => match failure.action {
                Action::Respond(r) => return Err(local(r)),
                _ => {
                    streams.push(None);
                    continue;
                }
            },
        };
        streams.push(Some(stream));
        let result = vm.borrow_mut().on_headers(&stream, Direction::Request, head, headers_only);
        let paused = matches!(result, Ok(Action::Pause));
        // Pausing headers with a body to come and no call waits for the
        // body (the proxy forwards nothing before it has read it anyway).
        if let Phase::Stop(r) = settle(set, i, result, !headers_only).await {
            return Err(*r);
        }
        if paused {
            // The filter may have changed the headers while resuming.
            if let Some(h) = vm.borrow().request_headers(&stream) {
                *head = h.clone();
            }
        }
    }
    // The request body and trailers, in order.
    if !headers_only {
        for (i, stream) in streams.iter().enumerate() {
            let Some(stream) = *stream else { continue };
            (chunks, trailers) = body_and_trailers(set, i, stream, Direction::Request, chunks, trailers).await?;
        }
    }
    let config = &set.generation.config;
    let upstream = &config.upstreams[&config.upstream];
    declare_trailers(head, trailers.as_ref());
    let body = Frames::new(chunks, trailers.as_ref()).map_err(|e| text(StatusCode::BAD_GATEWAY, format!("{e}\n")))?;
    let (mut response_head, mut chunks, mut trailers) =
        match send(&set.pool, upstream, head, body, UPSTREAM_TIMEOUT, config.max_body_bytes).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("upstream: {e}");
                return Err(text(StatusCode::BAD_GATEWAY, "upstream unavailable\n".into()));
            }
        };
    // Response headers, body and trailers, in reverse order.
    let headers_only = chunks.iter().all(Vec::is_empty) && trailers.is_none();
    for (i, vm) in set.vms.iter().enumerate().rev() {
        let Some(stream) = streams[i] else { continue };
        let result = vm.borrow_mut().on_headers(&stream, Direction::Response, &mut response_head, headers_only);
        if let Phase::Stop(r) = settle(set, i, result, !headers_only).await {
            return Err(*r);
        }
    }
    if !headers_only {
        for (i, stream) in streams.iter().enumerate().rev() {
            let Some(stream) = *stream else { continue };
            (chunks, trailers) = body_and_trailers(set, i, stream, Direction::Response, chunks, trailers).await?;
        }
    }
    declare_trailers(&mut response_head, trailers.as_ref());
    let body = Frames::new(chunks, trailers.as_ref()).map_err(|e| text(StatusCode::BAD_GATEWAY, format!("{e}\n")))?;
    Ok(response(&response_head, body))
}
