//! Between hyper's types and the filters' header maps, and the HTTP/1.1
//! client that forwards requests and performs the filters' HTTP calls.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use wasmc_proxy_wasm::HeaderMap;

/// Headers that belong to one connection, never forwarded; and
/// `content-length`, which hyper sets from the body a filter may have
/// changed.
const NOT_FORWARDED: [&str; 8] =
    ["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "content-length"];

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
    for (name, value) in &parts.headers {
        map.append(name.as_str(), value.as_bytes());
    }
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
pub fn response(map: &HeaderMap, body: Vec<u8>) -> Response<Full<Bytes>> {
    let status = map.get_str(":status").and_then(|s| s.parse::<u16>().ok()).unwrap_or(200);
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    if let Err(e) = copy_headers(map, response.headers_mut()) {
        return text(StatusCode::BAD_GATEWAY, format!("invalid response header: {e}\n"));
    }
    response
}

/// A plain-text response.
pub fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
}

/// Sends the request `head` (`:method`, `:path`, `:authority` and headers)
/// with `body` to `addr` and returns the response head (with `:status`)
/// and body. One connection per request.
pub async fn send(
    addr: &str,
    head: &HeaderMap,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<(HeaderMap, Vec<u8>), String> {
    match tokio::time::timeout(timeout, exchange(addr, head, body)).await {
        Ok(result) => result,
        Err(_) => Err(format!("{addr}: no answer within {timeout:?}")),
    }
}

async fn exchange(addr: &str, head: &HeaderMap, body: Vec<u8>) -> Result<(HeaderMap, Vec<u8>), String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| format!("{addr}: {e}"))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| format!("{addr}: {e}"))?;
    tokio::task::spawn_local(async move {
        let _ = connection.await;
    });
    let mut request = Request::new(Full::new(Bytes::from(body)));
    *request.method_mut() =
        head.get(":method").unwrap_or(b"GET").try_into().map_err(|e| format!("request method: {e}"))?;
    *request.uri_mut() = head.get_str(":path").unwrap_or("/").parse().map_err(|e| format!("request path: {e}"))?;
    copy_headers(head, request.headers_mut())?;
    if let Some(authority) = head.get(":authority").filter(|a| !a.is_empty()) {
        let host = HeaderValue::try_from(authority).map_err(|e| format!(":authority: {e}"))?;
        request.headers_mut().insert(hyper::header::HOST, host);
    }
    let response = sender.send_request(request).await.map_err(|e| format!("{addr}: {e}"))?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map_err(|e| format!("{addr}: {e}"))?.to_bytes().to_vec();
    let mut map = HeaderMap::new();
    map.append(":status", parts.status.as_str());
    for (name, value) in &parts.headers {
        map.append(name.as_str(), value.as_bytes());
    }
    Ok((map, body))
}
