//! Between hyper's types and the filters' header maps, and the HTTP/1.1
//! client that forwards requests and performs the filters' HTTP calls
//! (on connections kept by [`Pool`]).

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use tokio::sync::mpsc;
use wasmc_proxy_wasm::HeaderMap;

use super::pool::{Connection, Pool};

/// A body to send: pieces already there, then its trailers, then the
/// frames still to come from the task that runs them through the filters
/// (a streamed body). A streamed body whose task stops without ending it
/// ends in an error, so hyper aborts the message rather than end it early.
#[derive(Debug, Default)]
pub struct Frames {
    chunks: VecDeque<Bytes>,
    trailers: Option<hyper::HeaderMap>,
    rest: Option<mpsc::Receiver<Streamed>>,
    /// A streamed body's length, from the `content-length` its head kept.
    length: Option<u64>,
}

/// What the filters' task sends a streamed body.
pub enum Streamed {
    Frame(Frame<Bytes>),
    /// The body ended well.
    End,
}

/// A streamed body that ended before its end: the message is aborted.
#[derive(Debug)]
pub struct Aborted;

impl std::fmt::Display for Aborted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the body was cut off by the proxy")
    }
}

impl std::error::Error for Aborted {}

/// How many frames a streamed body holds between the filters' task and
/// the connection that writes them.
const STREAM_FRAMES: usize = 4;

impl Frames {
    /// A body of `chunks` then `trailers` (invalid trailer names or values
    /// are an error).
    pub fn new(chunks: Vec<Vec<u8>>, trailers: Option<&HeaderMap>) -> Result<Frames, String> {
        let trailers = match trailers {
            Some(map) => hyper_trailers(map)?,
            None => None,
        };
        let chunks = chunks.into_iter().filter(|c| !c.is_empty()).map(Bytes::from).collect();
        Ok(Frames { chunks, trailers, rest: None, length: None })
    }

    /// A body of one piece.
    pub fn full(body: impl Into<Vec<u8>>) -> Frames {
        Frames { chunks: VecDeque::from([Bytes::from(body.into())]), trailers: None, rest: None, length: None }
    }

    /// A streamed body and the sink that feeds it. Its length is the
    /// `content-length` of `head` if the filters left one (as in Envoy, a
    /// filter that changes a body's length removes it; if it does not,
    /// hyper cuts the message off where the lengths disagree); else the
    /// body goes chunked.
    pub fn streamed(head: &HeaderMap) -> (Frames, Sink) {
        let (tx, rx) = mpsc::channel(STREAM_FRAMES);
        let length = head.get_str("content-length").and_then(|l| l.trim().parse().ok());
        (Frames { rest: Some(rx), length, ..Frames::default() }, Sink::Stream(tx))
    }

    /// A copy, to send again; `None` for a streamed body.
    pub fn try_clone(&self) -> Option<Frames> {
        self.rest.is_none().then(|| Frames {
            chunks: self.chunks.clone(),
            trailers: self.trailers.clone(),
            rest: None,
            length: None,
        })
    }
}

/// Trailers for hyper; `None` when there are none.
fn hyper_trailers(map: &HeaderMap) -> Result<Option<hyper::HeaderMap>, String> {
    if map.is_empty() {
        return Ok(None);
    }
    let mut headers = hyper::HeaderMap::new();
    copy_headers(map, &mut headers)?;
    Ok(Some(headers))
}

impl Body for Frames {
    type Data = Bytes;
    type Error = Aborted;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Aborted>>> {
        let this = self.get_mut();
        if let Some(chunk) = this.chunks.pop_front() {
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        if let Some(trailers) = this.trailers.take() {
            return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
        }
        let Some(rest) = &mut this.rest else { return Poll::Ready(None) };
        let next = match rest.poll_recv(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(next) => next,
        };
        match next {
            Some(Streamed::Frame(frame)) => Poll::Ready(Some(Ok(frame))),
            Some(Streamed::End) => {
                this.rest = None;
                Poll::Ready(None)
            }
            None => {
                this.rest = None;
                Poll::Ready(Some(Err(Aborted)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty() && self.trailers.is_none() && self.rest.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        let len = self.chunks.iter().map(|c| c.len() as u64).sum();
        // With trailers or frames to come the length is left open, so
        // HTTP/1.1 goes chunked and can carry them.
        match (&self.trailers, &self.rest, self.length) {
            (None, None, _) => SizeHint::with_exact(len),
            (None, Some(_), Some(length)) => SizeHint::with_exact(length),
            _ => {
                let mut hint = SizeHint::new();
                hint.set_lower(len);
                hint
            }
        }
    }
}

/// Where the filters' task puts a body's pieces and trailers as they come
/// out of the chain: a streamed body ([`Frames::streamed`]) or a buffer
/// sent once whole.
pub enum Sink {
    Stream(mpsc::Sender<Streamed>),
    Buffer { chunks: Vec<Vec<u8>>, trailers: Option<HeaderMap> },
}

/// The receiving side of a streamed body is gone (the connection closed).
#[derive(Debug)]
pub struct Closed;

impl Sink {
    /// An empty buffer.
    pub fn buffer() -> Sink {
        Sink::Buffer { chunks: Vec::new(), trailers: None }
    }

    /// Passes a piece on (an empty one is dropped).
    pub async fn data(&mut self, chunk: Vec<u8>) -> Result<(), Closed> {
        if chunk.is_empty() {
            return Ok(());
        }
        match self {
            Sink::Stream(tx) => tx.send(Streamed::Frame(Frame::data(Bytes::from(chunk)))).await.map_err(|_| Closed),
            Sink::Buffer { chunks, .. } => {
                chunks.push(chunk);
                Ok(())
            }
        }
    }

    /// Passes the trailers on (invalid names or values are an error).
    pub async fn trailers(&mut self, map: HeaderMap) -> Result<(), String> {
        match self {
            Sink::Stream(tx) => match hyper_trailers(&map)? {
                Some(t) => tx.send(Streamed::Frame(Frame::trailers(t))).await.map_err(|_| Closed.to_string()),
                None => Ok(()),
            },
            Sink::Buffer { trailers, .. } => {
                *trailers = Some(map);
                Ok(())
            }
        }
    }

    /// Ends the body well.
    pub async fn end(&mut self) -> Result<(), Closed> {
        match self {
            Sink::Stream(tx) => tx.send(Streamed::End).await.map_err(|_| Closed),
            Sink::Buffer { .. } => Ok(()),
        }
    }
}

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the receiver of the body went away")
    }
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// Longer than the limit.
    TooLarge,
    /// The connection failed.
    Read(String),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::TooLarge => f.write_str("body over the size limit"),
            BodyError::Read(e) => f.write_str(e),
        }
    }
}

/// Reads a whole body of at most `limit` bytes: its pieces as they came,
/// and its trailers.
pub async fn read_body<B>(mut body: B, limit: usize) -> Result<(Vec<Vec<u8>>, Option<HeaderMap>), BodyError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let mut chunks = Vec::new();
    let mut trailers = None;
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyError::Read(e.to_string()))?;
        match frame.into_data() {
            Ok(data) => {
                total += data.len();
                if total > limit {
                    return Err(BodyError::TooLarge);
                }
                chunks.push(data.to_vec());
            }
            Err(frame) => {
                if let Ok(headers) = frame.into_trailers() {
                    trailers = Some(HeaderMap::from_pairs(&headers));
                }
            }
        }
    }
    Ok((chunks, trailers))
}

/// Headers that belong to one connection, never forwarded; and
/// `content-length`, which hyper sets from the body a filter may have
/// changed. (`trailer` is forwarded: it names the trailers to come, and
/// hyper sends only declared ones; see [`declare_trailers`].)
const NOT_FORWARDED: [&str; 7] =
    ["connection", "keep-alive", "proxy-connection", "te", "transfer-encoding", "upgrade", "content-length"];

/// Names `trailers` in the `trailer` header of `head` (hyper sends only
/// declared trailers), as filters may have added some.
pub fn declare_trailers(head: &mut HeaderMap, trailers: Option<&HeaderMap>) {
    let Some(trailers) = trailers.filter(|t| !t.is_empty()) else { return };
    let mut names: Vec<&str> = trailers.iter().map(|(n, _)| n).collect();
    names.dedup();
    head.insert("trailer", names.join(", "));
}

/// The filters' view of a request head: `:method`, `:path`,
/// `:authority`, `:scheme`, then its headers.
pub fn request_map(parts: &hyper::http::request::Parts) -> HeaderMap {
    let mut map = HeaderMap::new();
    map.append(":method", parts.method.as_str());
    map.append(":path", parts.uri.path_and_query().map_or("/", |p| p.as_str()));
    let authority = parts
        .headers
        .get(hyper::header::HOST)
        .map(|h| h.as_bytes().to_vec())
        .or_else(|| parts.uri.authority().map(|a| a.as_str().as_bytes().to_vec()))
        .unwrap_or_default();
    map.append(":authority", authority);
    map.append(":scheme", "http");
    map.extend(&parts.headers);
    map
}

/// Copies the non-pseudo, forwardable headers of `map` into `headers`.
fn copy_headers(map: &HeaderMap, headers: &mut hyper::HeaderMap) -> Result<(), String> {
    for (name, value) in map.iter() {
        if name.starts_with(':') || NOT_FORWARDED.contains(&name) {
            continue;
        }
        let name = HeaderName::try_from(name).map_err(|e| format!("header name {name:?}: {e}"))?;
        let value = HeaderValue::try_from(value).map_err(|e| format!("header {name}: {e}"))?;
        headers.append(name, value);
    }
    Ok(())
}

/// A response from a `:status` and the other headers of `map`, and `body`.
pub fn response(map: &HeaderMap, body: Frames) -> Response<Frames> {
    let status = map.get_str(":status").and_then(|s| s.parse::<u16>().ok()).unwrap_or(200);
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    if let Err(e) = copy_headers(map, response.headers_mut()) {
        return text(StatusCode::BAD_GATEWAY, format!("invalid response header: {e}\n"));
    }
    response
}

/// A plain-text response.
pub fn text(status: StatusCode, body: String) -> Response<Frames> {
    let mut response = Response::new(Frames::full(body));
    *response.status_mut() = status;
    response
}

/// A response head, body pieces and trailers.
pub type Exchange = (HeaderMap, Vec<Vec<u8>>, Option<HeaderMap>);

/// Sends the request `head` (`:method`, `:path`, `:authority` and headers)
/// with `body` to `addr`, on an idle connection of `pool` or a new one, and
/// returns the response head (with `:status`), body pieces and trailers (a
/// body over `limit` bytes is an error). The connection goes back to the
/// pool once the response is read.
pub async fn send(
    pool: &Pool,
    addr: &str,
    head: &HeaderMap,
    body: Frames,
    timeout: Duration,
    limit: usize,
) -> Result<Exchange, String> {
    let exchange = async {
        let (map, body, connection) = send_head(pool, addr, head, body).await?;
        let (chunks, trailers) = read_body(body, limit).await.map_err(|e| format!("{addr}: {e}"))?;
        pool.put_back(addr, connection);
        Ok((map, chunks, trailers))
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(result) => result,
        Err(_) => Err(format!("{addr}: no answer within {timeout:?}")),
    }
}

/// Sends a request as [`send`] and returns once the response head came:
/// the head, the body to read and the connection, to give back with
/// [`Pool::put_back`] once the body is read to its end.
pub async fn send_head(
    pool: &Pool,
    addr: &str,
    head: &HeaderMap,
    body: Frames,
) -> Result<(HeaderMap, Incoming, Connection), String> {
    let mut request = Request::new(body);
    *request.method_mut() =
        head.get(":method").unwrap_or(b"GET").try_into().map_err(|e| format!("request method: {e}"))?;
    *request.uri_mut() = head.get_str(":path").unwrap_or("/").parse().map_err(|e| format!("request path: {e}"))?;
    copy_headers(head, request.headers_mut())?;
    if let Some(authority) = head.get(":authority").filter(|a| !a.is_empty()) {
        let host = HeaderValue::try_from(authority).map_err(|e| format!(":authority: {e}"))?;
        request.headers_mut().insert(hyper::header::HOST, host);
    }
    let (response, connection) = pool.send(addr, request).await?;
    let (parts, body) = response.into_parts();
    let mut map = HeaderMap::from_pairs([(":status", parts.status.as_str())]);
    map.extend(&parts.headers);
    Ok((map, body, connection))
}

/// Whether a message with this body can be forwarded as it comes: its
/// length is known (it has no trailers), or its head names its trailers in
/// a `trailer` header (`declares_trailers`). hyper sends only the trailers
/// a message's head declared, so a chunked body that declares none is read
/// whole, to declare the trailers that came (see [`declare_trailers`]).
pub fn streamable(body: &Incoming, declares_trailers: bool) -> bool {
    body.size_hint().exact().is_some() || declares_trailers
}
