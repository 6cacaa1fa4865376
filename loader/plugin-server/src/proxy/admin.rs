//! The admin server: `GET /metrics` lists every filter's metrics, one per
//! line, as `filter.metric kind value` (a histogram's value is the sum of
//! what it recorded, followed by its count); `POST /reload` reloads the
//! filters from the configuration file (200 with the new version, or 500
//! with why the current filters stay).

use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use hyper::{Method, StatusCode};
use hyper_util::rt::TokioIo;
use wasmc_proxy_wasm::{MetricType, Plugin};

use std::sync::Arc;

use super::filter::Loaded;
use super::http::text;
use super::Shared;

/// The metrics of `plugins`, as `GET /metrics` shows them.
pub fn render<'a>(plugins: impl Iterator<Item = &'a Plugin>) -> String {
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

/// Serves `GET /metrics` and `POST /reload` on `addr` from a thread of its own.
pub(crate) fn start(addr: SocketAddr, shared: Arc<Shared>) -> Result<SocketAddr, String> {
    let listener = std::net::TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    std::thread::Builder::new()
        .name("admin".into())
        .spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
                loop {
                    let (stream, _) = super::accept(&listener, "admin").await;
                    let header_timeout = Duration::from_millis(shared.current().config.header_timeout_ms);
                    let shared = shared.clone();
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                            let answer = match (req.method(), req.uri().path()) {
                                (&Method::GET, "/metrics") => text(
                                    StatusCode::OK,
                                    render(shared.current().filters.iter().filter_map(Loaded::plugin)),
                                ),
                                // Loading and linking is blocking work, but
                                // the admin thread serves nothing else.
                                (&Method::POST, "/reload") => match shared.reload() {
                                    Ok(version) => text(StatusCode::OK, format!("reloaded: version {version}\n")),
                                    Err(e) => {
                                        eprintln!("reload: {e}");
                                        text(StatusCode::INTERNAL_SERVER_ERROR, format!("reload failed: {e}\n"))
                                    }
                                },
                                _ => text(StatusCode::NOT_FOUND, "GET /metrics or POST /reload\n".into()),
                            };
                            async move { Ok::<_, Infallible>(answer) }
                        });
                        let _ =
                            super::http1_server(header_timeout).serve_connection(TokioIo::new(stream), service).await;
                    });
                }
            })
        })
        .map_err(|e| e.to_string())?;
    Ok(bound)
}
