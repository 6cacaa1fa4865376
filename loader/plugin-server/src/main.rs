//! `wasmc-plugin-server`: an HTTP server whose requests pass through
//! wasmc-compiled request-filter plugins (see the crate's README).
//!
//! ```text
//! wasmc-plugin-server [--listen ADDR] [--timeout-ms N] [--max-memory-mib N] [--fail-status N] --plugin FILE.cwasm...
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use wasmc_loader::Module;
use wasmc_plugin_server::{encode_request, proxy, Decision, Limits, Plugin};

const USAGE: &str = "usage: wasmc-plugin-server [--listen ADDR] [--timeout-ms N] [--max-memory-mib N] \
                     [--fail-status N] [--plugin FILE.cwasm ...]";

/// How long a client may take to send a request head, or keep a connection
/// idle, before it is closed.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything a request handler needs.
struct Server {
    plugins: Vec<Plugin>,
    limits: Limits,
    /// The status answered when a plugin fails (traps, times out, ...).
    fail_status: StatusCode,
}

struct Options {
    listen: SocketAddr,
    plugins: Vec<String>,
    limits: Limits,
    fail_status: u16,
}

fn parse(args: Vec<String>) -> Result<Options, String> {
    let mut o = Options {
        listen: ([127, 0, 0, 1], 8080).into(),
        plugins: Vec::new(),
        limits: Limits::default(),
        fail_status: 500,
    };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"));
        let number = |v: String| v.parse::<u64>().map_err(|_| format!("{flag}: not a number: {v}"));
        match flag.as_str() {
            "--listen" => o.listen = value()?.parse().map_err(|e| format!("--listen: {e}"))?,
            "--plugin" => o.plugins.push(value()?),
            "--timeout-ms" => o.limits.timeout = Duration::from_millis(number(value()?)?),
            "--max-memory-mib" => o.limits.max_memory_bytes = number(value()?)? << 20,
            "--fail-status" => {
                o.fail_status = u16::try_from(number(value()?)?).map_err(|_| "--fail-status: not a status")?
            }
            _ => return Err(format!("unknown argument {flag}\n{USAGE}")),
        }
    }
    if o.plugins.is_empty() {
        eprintln!("wasmc-plugin-server: no --plugin given: requests pass unfiltered");
    }
    Ok(o)
}

fn main() -> std::process::ExitCode {
    match start(std::env::args().skip(1).collect()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wasmc-plugin-server: {e}");
            std::process::ExitCode::from(1)
        }
    }
}

fn start(args: Vec<String>) -> Result<(), String> {
    let options = parse(args)?;
    let mut plugins = Vec::new();
    for path in &options.plugins {
        // SAFETY: the operator names artifacts their own pipeline compiled
        // with wasmc; loading native code is only as safe as its origin.
        let module =
            unsafe { Module::from_file(path) }.map_err(|e| format!("{path}: {}", wasmc_loader::error_chain(&e)))?;
        let name = std::path::Path::new(path).file_stem().map_or(path.clone(), |s| s.to_string_lossy().into_owned());
        plugins.push(Plugin::new(name, module, &options.limits).map_err(|e| format!("{path}: {e}"))?);
    }
    let fail_status = StatusCode::from_u16(options.fail_status).map_err(|e| format!("--fail-status: {e}"))?;
    let server = Arc::new(Server { plugins, limits: options.limits, fail_status });
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(serve(server, options.listen))
}

async fn serve(server: Arc<Server>, addr: SocketAddr) -> Result<(), String> {
    let listener = TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let names: Vec<&str> = server.plugins.iter().map(|p| p.name.as_str()).collect();
    // The first line on stdout tells scripts and tests where we listen.
    println!("listening on http://{local} with plugins: {}", names.join(", "));
    loop {
        let (stream, _) = proxy::accept(&listener, "plugin server").await;
        let server = server.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(server.clone(), req));
            if let Err(e) = proxy::http1_server(HEADER_TIMEOUT).serve_connection(TokioIo::new(stream), service).await {
                eprintln!("connection: {e}");
            }
        });
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
}

/// Runs the request through every plugin in order, then answers.
///
/// Plugin calls are synchronous CPU work, so they run on tokio's blocking
/// pool (`spawn_blocking`), never on the reactor threads: a slow plugin
/// cannot stall other connections. Each call is stopped by its store's
/// deadline (see `Plugin::call`), which frees the thread; the wait here is
/// a backstop a little longer than all the deadlines together, answered
/// with 504.
async fn handle(server: Arc<Server>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (method, path) = (req.method().to_string(), req.uri().path().to_string());
    let encoded = encode_request(&method, &path, req.headers().iter().map(|(n, v)| (n.as_str(), v.as_bytes())));
    let timeout = server.limits.timeout * server.plugins.len() as u32 + Duration::from_millis(100);
    let worker = server.clone();
    let job = tokio::task::spawn_blocking(move || {
        let mut added = Vec::new();
        for plugin in &worker.plugins {
            match plugin.call(&encoded, &worker.limits) {
                Ok(Decision::Allow(headers)) => added.extend(headers),
                Ok(Decision::Deny(status)) => return Err((plugin.name.clone(), Ok(status))),
                Err(e) => return Err((plugin.name.clone(), Err(e.to_string()))),
            }
        }
        Ok(added)
    });
    let outcome = match tokio::time::timeout(timeout, job).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(join)) => return Ok(text(server.fail_status, format!("plugin panicked: {join}\n"))),
        Err(_) => return Ok(text(StatusCode::GATEWAY_TIMEOUT, "plugin timed out\n".into())),
    };
    Ok(match outcome {
        Ok(headers) => {
            let mut response = text(StatusCode::OK, format!("hello from upstream: {method} {path}\n"));
            for (name, value) in headers {
                let (Ok(name), Ok(value)) =
                    (hyper::header::HeaderName::try_from(name), hyper::header::HeaderValue::try_from(value))
                else {
                    return Ok(text(server.fail_status, "plugin set an invalid header\n".into()));
                };
                response.headers_mut().append(name, value);
            }
            response
        }
        Err((name, Ok(status))) => match StatusCode::from_u16(status) {
            Ok(status) => text(status, format!("denied by plugin {name}\n")),
            Err(_) => text(server.fail_status, format!("plugin {name} answered invalid status {status}\n")),
        },
        Err((name, Err(error))) => {
            eprintln!("plugin {name} failed on {method} {path}: {error}");
            text(server.fail_status, format!("plugin {name} failed\n"))
        }
    })
}
