//! A worker's idle connections to its upstreams, reused across requests
//! (HTTP/1.1 keep-alive). A connection goes back to the pool only once its
//! response was read to the end; one the upstream closed, that failed or
//! that sat idle longer than [`IDLE_TIMEOUT`] is dropped, never reused.
//! A request that a reused connection could not carry is sent again on a
//! new connection when that is safe: hyper handed it back unsent (the
//! upstream had closed the connection), or its method is idempotent and
//! the connection failed before a response came (the upstream closed or
//! reset an idle connection as the request went out: the race every
//! keep-alive client has, which Go's `net/http` retries the same way). A
//! POST that may have reached the upstream is never sent twice.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::http::Frames;

/// Idle connections kept per upstream address per worker; more are closed.
pub const MAX_IDLE: usize = 128;
/// How long an idle connection is kept.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// A connection to an upstream, ready to carry one request.
pub struct Connection {
    sender: SendRequest<Frames>,
    /// Whether it came from the pool (then a failure before sending may
    /// be the upstream having closed it meanwhile).
    reused: bool,
}

/// Idle connections to one upstream, each with the moment it went idle;
/// the most recently used last.
type Idle = Vec<(SendRequest<Frames>, Instant)>;

/// One worker's idle connections, by upstream address.
#[derive(Default)]
pub struct Pool {
    idle: RefCell<HashMap<String, Idle>>,
}

impl Pool {
    /// An idle connection to `addr` still open, or a new one.
    pub async fn connect(&self, addr: &str) -> Result<Connection, String> {
        while let Some(mut sender) = self.take_idle(addr) {
            // Ready at once unless the upstream closed it meanwhile.
            if sender.ready().await.is_ok() {
                return Ok(Connection { sender, reused: true });
            }
        }
        let stream = TcpStream::connect(addr).await.map_err(|e| format!("{addr}: {e}"))?;
        // Requests are small and written whole: do not wait for acks.
        let _ = stream.set_nodelay(true);
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| format!("{addr}: {e}"))?;
        tokio::task::spawn_local(async move {
            let _ = connection.await;
        });
        Ok(Connection { sender, reused: false })
    }

    /// The most recently used idle connection to `addr` that is open and
    /// not too old; older and closed ones are dropped on the way.
    fn take_idle(&self, addr: &str) -> Option<SendRequest<Frames>> {
        let mut idle = self.idle.borrow_mut();
        let list = idle.get_mut(addr)?;
        let now = Instant::now();
        list.retain(|(sender, since)| !sender.is_closed() && now.duration_since(*since) < IDLE_TIMEOUT);
        list.pop().map(|(sender, _)| sender)
    }

    /// Sends `request` on a connection to `addr`. If a reused connection
    /// turns out closed before the request was written, the request is sent
    /// on a new connection. Returns the response and the connection, to
    /// give back with [`Pool::put_back`] once the body is read.
    pub async fn send(&self, addr: &str, request: Request<Frames>) -> Result<(Response<Incoming>, Connection), String> {
        let mut request = request;
        loop {
            let mut connection = self.connect(addr).await?;
            // A failure on a new connection is final: no copy needed.
            // A streamed body cannot be sent twice.
            let copy = (connection.reused && request.method().is_idempotent()).then(|| copy(&request)).flatten();
            match connection.sender.try_send_request(request).await {
                Ok(response) => return Ok((response, connection)),
                Err(mut e) => match (e.take_message(), copy) {
                    // Never written: safe to send on another connection.
                    (Some(unsent), _) if connection.reused => request = unsent,
                    // No response came: the upstream closed or reset the
                    // connection as the request went out.
                    (None, Some(copy)) => request = copy,
                    _ => return Err(format!("{addr}: {}", e.error())),
                },
            }
        }
    }

    /// Keeps `connection` for the next request to `addr`, if the upstream
    /// left it open.
    pub fn put_back(&self, addr: &str, connection: Connection) {
        if connection.sender.is_closed() {
            return;
        }
        let mut idle = self.idle.borrow_mut();
        let list = idle.entry(addr.to_string()).or_default();
        if list.len() < MAX_IDLE {
            list.push((connection.sender, Instant::now()));
        }
    }
}

/// A copy of a request to send again; `None` for a streamed body.
fn copy(request: &Request<Frames>) -> Option<Request<Frames>> {
    let mut copy = Request::new(request.body().try_clone()?);
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.headers_mut() = request.headers().clone();
    Some(copy)
}
