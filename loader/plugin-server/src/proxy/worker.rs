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

use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use wasmc_proxy_wasm::{Action, Failure, HeaderMap, HttpCallResponse, LocalResponse, StreamInfo};

use super::filter::{Direction, Filter, Stream};
use super::http::{declare_trailers, request_map, response, send, send_head, streamable, text, Frames, Sink};
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
            let (stream, peer) = super::accept(&listener, "proxy").await;
            // Answers are written whole: do not hold them back for acks.
            let _ = stream.set_nodelay(true);
            let worker = worker.clone();
            let local_addr = stream.local_addr().ok();
            let header_timeout = Duration::from_millis(worker.shared.current().config.header_timeout_ms);
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
                    super::http1_server(header_timeout).serve_connection(TokioIo::new(stream), service).await
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

/// Runs a body piece through filter `i`; returns what it lets through: the
/// piece (as the filter left it), nothing while it holds the body (the
/// host keeps what it paused on), or all it held once it goes on.
async fn through(
    set: &VmSet,
    i: usize,
    stream: &Stream,
    direction: Direction,
    mut chunk: Vec<u8>,
    end: bool,
) -> Result<Vec<u8>, Response<Frames>> {
    let vm = &set.vms[i];
    let result = vm.borrow_mut().on_body(stream, direction, &mut chunk, end);
    let paused = matches!(result, Ok(Action::Pause));
    match settle(set, i, result, !end).await {
        Phase::Stop(r) => Err(*r),
        // The host cleared `chunk`: it holds the piece.
        Phase::Held => Ok(chunk),
        // Resumed after an HTTP call: what the host held goes on.
        Phase::Continue if paused => Ok(vm.borrow_mut().take_body(stream, direction)),
        Phase::Continue => Ok(chunk),
    }
}

/// The filters in the order a body going `direction` meets them.
fn order(streams: &[Option<Stream>], direction: Direction) -> Vec<(usize, Stream)> {
    let mut order: Vec<_> = streams.iter().enumerate().filter_map(|(i, s)| Some((i, (*s)?))).collect();
    if matches!(direction, Direction::Response) {
        order.reverse();
    }
    order
}

/// Runs a body piece through the chain; returns what comes out of its end
/// (nothing while a filter holds the body). A piece that a filter holds
/// goes no further: the next filters see it when that filter lets it go.
async fn piece(
    set: &VmSet,
    streams: &[Option<Stream>],
    direction: Direction,
    mut chunk: Vec<u8>,
    end: bool,
) -> Result<Vec<u8>, Response<Frames>> {
    for (i, stream) in order(streams, direction) {
        if chunk.is_empty() && !end {
            break;
        }
        chunk = through(set, i, &stream, direction, chunk, end).await?;
    }
    Ok(chunk)
}

/// Runs trailers through the chain: before each filter's trailer callback,
/// the body the filters before it let go runs through it, and what it held
/// goes before its trailers. Returns the last body piece and the trailers.
async fn trailers_through(
    set: &VmSet,
    streams: &[Option<Stream>],
    direction: Direction,
    mut trailers: HeaderMap,
) -> Result<(Vec<u8>, HeaderMap), Response<Frames>> {
    let mut body = Vec::new();
    for (i, stream) in order(streams, direction) {
        if !body.is_empty() {
            body = through(set, i, &stream, direction, body, false).await?;
        }
        let vm = &set.vms[i];
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
        body.extend(vm.borrow_mut().take_body(&stream, direction));
    }
    Ok((body, trailers))
}

/// Why a body stopped on its way through the chain.
enum Cut {
    /// A filter stopped the stream: its answer (a local response, or its
    /// failure policy).
    Filter(Box<Response<Frames>>),
    /// Over `max_body_bytes`.
    TooLarge,
    /// The sender's connection failed or went quiet.
    Read(String),
    /// The receiver went away.
    Closed,
}

/// Reads `body` frame by frame, runs each through the chain going
/// `direction` and puts what comes out into `sink` at once: a piece is held
/// only while a filter holds it. The end of the stream comes with the last
/// piece when the body knows it is the last (a known length), else with an
/// empty piece once the body ended, or with the trailers (as in Envoy).
async fn pump(
    set: &VmSet,
    streams: &[Option<Stream>],
    direction: Direction,
    mut body: Incoming,
    limit: usize,
    sink: &mut Sink,
) -> Result<(), Cut> {
    let mut total = 0usize;
    loop {
        let frame = match tokio::time::timeout(UPSTREAM_TIMEOUT, body.frame()).await {
            Err(_) => return Err(Cut::Read(format!("no data within {UPSTREAM_TIMEOUT:?}"))),
            Ok(Some(Err(e))) => return Err(Cut::Read(e.to_string())),
            Ok(None) => {
                let last =
                    piece(set, streams, direction, Vec::new(), true).await.map_err(|r| Cut::Filter(Box::new(r)))?;
                sink.data(last).await.map_err(|_| Cut::Closed)?;
                return sink.end().await.map_err(|_| Cut::Closed);
            }
            Ok(Some(Ok(frame))) => frame,
        };
        let frame = match frame.into_data() {
            Ok(data) => {
                total = total.saturating_add(data.len());
                if total > limit {
                    return Err(Cut::TooLarge);
                }
                let end = body.is_end_stream();
                if data.is_empty() && !end {
                    continue;
                }
                let out =
                    piece(set, streams, direction, data.to_vec(), end).await.map_err(|r| Cut::Filter(Box::new(r)))?;
                sink.data(out).await.map_err(|_| Cut::Closed)?;
                if end {
                    return sink.end().await.map_err(|_| Cut::Closed);
                }
                continue;
            }
            Err(frame) => frame,
        };
        let Ok(headers) = frame.into_trailers() else { continue };
        let (last, trailers) = trailers_through(set, streams, direction, HeaderMap::from_pairs(&headers))
            .await
            .map_err(|r| Cut::Filter(Box::new(r)))?;
        sink.data(last).await.map_err(|_| Cut::Closed)?;
        sink.trailers(trailers)
            .await
            .map_err(|e| Cut::Filter(Box::new(text(StatusCode::BAD_GATEWAY, format!("{e}\n")))))?;
        return sink.end().await.map_err(|_| Cut::Closed);
    }
}

/// Runs a request through the chain, forwards it, runs the response back.
async fn handle(worker: &Worker, req: Request<Incoming>, info: StreamInfo) -> Response<Frames> {
    let (parts, body) = req.into_parts();
    let mut head = request_map(&parts);
    // The request keeps this set to its end, even if a reload comes.
    let set = worker.current();
    let limit = set.generation.config.max_body_bytes;
    if body.size_hint().exact().is_some_and(|len| len > limit as u64) {
        return text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n".into());
    }
    let streamable = streamable(&body, parts.headers.contains_key(hyper::header::TRAILER));
    let mut streams: Vec<Option<Stream>> = Vec::new();
    let answer = match chain(&set, &mut streams, &mut head, body, streamable, info).await {
        Ok(response) | Err(response) => response,
    };
    // A streamed response took the streams, to end them once it is sent.
    end_streams(&set, streams);
    answer
}

fn end_streams(set: &VmSet, streams: Vec<Option<Stream>>) {
    for (vm, stream) in set.vms.iter().zip(streams) {
        if let Some(stream) = stream {
            let _ = vm.borrow_mut().end_http_stream(stream);
        }
    }
}

/// The answer to a request whose body could not go through.
fn request_cut(cut: Cut) -> Response<Frames> {
    match cut {
        Cut::Filter(r) => *r,
        Cut::TooLarge => text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n".into()),
        Cut::Read(e) => text(StatusCode::BAD_REQUEST, format!("request body: {e}\n")),
        Cut::Closed => upstream_unavailable(),
    }
}

/// The answer to a request whose response body could not be read whole.
fn response_cut(cut: Cut) -> Response<Frames> {
    match cut {
        Cut::Filter(r) => *r,
        Cut::TooLarge | Cut::Read(_) | Cut::Closed => upstream_unavailable(),
    }
}

/// Runs the request headers through the chain in order; then forwards the
/// request, its body running through the chain as it comes (or read whole
/// first, when it cannot be streamed or a filter held its headers); then
/// runs the response headers back through the chain and answers with a
/// body that runs through the chain as it comes (or read whole, likewise).
/// Once the head of a streamed response went out, a filter that stops its
/// body (or fails) aborts the connection: a second answer cannot be sent.
async fn chain(
    set: &Rc<VmSet>,
    streams: &mut Vec<Option<Stream>>,
    head: &mut HeaderMap,
    body: Incoming,
    streamable: bool,
    info: StreamInfo,
) -> Result<Response<Frames>, Response<Frames>> {
    let config = &set.generation.config;
    let limit = config.max_body_bytes;
    // Request headers, in order.
    let headers_only = body.is_end_stream();
    let mut held = false;
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
        // body: the request goes out once its body went through the chain.
        match settle(set, i, result, !headers_only).await {
            Phase::Stop(r) => return Err(*r),
            Phase::Held => held = true,
            Phase::Continue => {}
        }
        if paused {
            // The filter may have changed the headers while resuming.
            if let Some(h) = vm.borrow().request_headers(&stream) {
                *head = h.clone();
            }
        }
    }
    let upstream = &config.upstreams[&config.upstream];
    let sent = if headers_only {
        head_within(&set.pool, upstream, head, Frames::default()).await
    } else if streamable && !held {
        // The body goes out as it comes; the sender's `trailer` header
        // names its trailers.
        let (frames, mut sink) = Frames::streamed(head);
        let streams: &[Option<Stream>] = streams;
        let forward = async {
            let result = pump(set, streams, Direction::Request, body, limit, &mut sink).await;
            // Dropping the sink before its end aborts the upstream request.
            drop(sink);
            result
        };
        let (pumped, sent) = tokio::join!(forward, head_within(&set.pool, upstream, head, frames));
        match pumped {
            Ok(()) | Err(Cut::Closed) => sent,
            Err(cut) => return Err(request_cut(cut)),
        }
    } else {
        let mut sink = Sink::buffer();
        pump(set, streams, Direction::Request, body, limit, &mut sink).await.map_err(request_cut)?;
        let Sink::Buffer { chunks, trailers } = sink else { return Err(not_a_buffer()) };
        declare_trailers(head, trailers.as_ref());
        let frames =
            Frames::new(chunks, trailers.as_ref()).map_err(|e| text(StatusCode::BAD_GATEWAY, format!("{e}\n")))?;
        head_within(&set.pool, upstream, head, frames).await
    };
    let (mut response_head, body, connection) = match sent {
        Ok(r) => r,
        Err(e) => {
            eprintln!("upstream: {e}");
            return Err(upstream_unavailable());
        }
    };
    if body.size_hint().exact().is_some_and(|len| len > limit as u64) {
        eprintln!("upstream: response body over {limit} bytes");
        return Err(upstream_unavailable());
    }
    // Response headers, body and trailers, in reverse order.
    let streamable = super::http::streamable(&body, response_head.get("trailer").is_some());
    let headers_only = body.is_end_stream();
    let mut held = false;
    for (i, vm) in set.vms.iter().enumerate().rev() {
        let Some(stream) = streams[i] else { continue };
        let result = vm.borrow_mut().on_headers(&stream, Direction::Response, &mut response_head, headers_only);
        match settle(set, i, result, !headers_only).await {
            Phase::Stop(r) => return Err(*r),
            Phase::Held => held = true,
            Phase::Continue => {}
        }
    }
    if headers_only {
        set.pool.put_back(upstream, connection);
        return Ok(response(&response_head, Frames::default()));
    }
    if streamable && !held {
        let (frames, mut sink) = Frames::streamed(&response_head);
        let answer = response(&response_head, frames);
        let (set, streams, upstream) = (set.clone(), std::mem::take(streams), upstream.clone());
        tokio::task::spawn_local(async move {
            match pump(&set, &streams, Direction::Response, body, limit, &mut sink).await {
                Ok(()) => set.pool.put_back(&upstream, connection),
                // The client went away, or the head went out already: the
                // sink dropped before its end aborts the connection.
                Err(Cut::Closed) => {}
                Err(Cut::Filter(_)) => eprintln!("a filter stopped a response body: the connection is aborted"),
                Err(Cut::TooLarge) => {
                    eprintln!("upstream: response body over {limit} bytes: the connection is aborted")
                }
                Err(Cut::Read(e)) => eprintln!("upstream: {e}: the connection is aborted"),
            }
            drop(sink);
            end_streams(&set, streams);
        });
        return Ok(answer);
    }
    let mut sink = Sink::buffer();
    pump(set, streams, Direction::Response, body, limit, &mut sink).await.map_err(response_cut)?;
    set.pool.put_back(upstream, connection);
    let Sink::Buffer { chunks, trailers } = sink else { return Err(not_a_buffer()) };
    declare_trailers(&mut response_head, trailers.as_ref());
    let body = Frames::new(chunks, trailers.as_ref()).map_err(|e| text(StatusCode::BAD_GATEWAY, format!("{e}\n")))?;
    Ok(response(&response_head, body))
}

/// [`send_head`] with the proxy's upstream deadline on the response head.
async fn head_within(
    pool: &super::pool::Pool,
    addr: &str,
    head: &HeaderMap,
    body: Frames,
) -> Result<(HeaderMap, Incoming, super::pool::Connection), String> {
    match tokio::time::timeout(UPSTREAM_TIMEOUT, send_head(pool, addr, head, body)).await {
        Ok(sent) => sent,
        Err(_) => Err(format!("{addr}: no answer within {UPSTREAM_TIMEOUT:?}")),
    }
}

/// The answer when the upstream could not be reached or failed.
fn upstream_unavailable() -> Response<Frames> {
    text(StatusCode::BAD_GATEWAY, "upstream unavailable\n".into())
}

/// A [`Sink::buffer`] is never anything else; answered, not panicked on.
fn not_a_buffer() -> Response<Frames> {
    text(StatusCode::INTERNAL_SERVER_ERROR, "body buffer lost\n".into())
}
