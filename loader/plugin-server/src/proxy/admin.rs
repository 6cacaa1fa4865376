//! The admin server: `GET /metrics` lists every filter's metrics, one per
//! line, as `filter.metric kind value` (a histogram's value is the sum of
//! what it recorded, followed by its count).

use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;

use hyper::StatusCode;
use hyper_util::rt::TokioIo;
use wasmc_proxy_wasm::{MetricType, Plugin};

use super::http::text;

/// The metrics of `plugins`, as `GET /metrics` shows them.
pub fn render(plugins: &[Plugin]) -> String {
    let mut out = String::new();
    for plugin in plugins {
        for m in plugin.shared().metrics() {
            let name = &plugin.config().name;
            let _ = match m.kind {
                MetricType::Counter => writeln!(out, "{name}.{} counter {}", m.name, m.value),
                MetricType::Gauge => writeln!(out, "{name}.{} gauge {}", m.name, m.value),
                MetricType::Histogram => writeln!(out, "{name}.{} histogram {} {}", m.name, m.value, m.count),
            };
        }
    }
    out
}

/// Serves `GET /metrics` on `addr` from a thread of its own.
pub fn start(addr: SocketAddr, plugins: Vec<Plugin>) -> Result<SocketAddr, String> {
    let listener = std::net::TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    std::thread::Builder::new()
        .name("admin".into())
        .spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
                while let Ok((stream, _)) = listener.accept().await {
                    let plugins = plugins.clone();
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                            let body = if req.uri().path() == "/metrics" {
                                text(StatusCode::OK, render(&plugins))
                            } else {
                                text(StatusCode::NOT_FOUND, "try /metrics\n".into())
                            };
                            async move { Ok::<_, Infallible>(body) }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            })
        })
        .map_err(|e| e.to_string())?;
    Ok(bound)
}
