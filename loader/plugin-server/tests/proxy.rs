//! Starts `wasmc-proxy` on loopback with a chain of the Rust SDK filters
//! (`corpus/proxy-wasm`, compiled here with the wasmc library) in front of
//! a small upstream server started by the test, and checks each filter's
//! behaviour through real HTTP requests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Proxy {
    child: Child,
    addr: String,
    admin: String,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An upstream on loopback: `/bytes/1` answers one even byte (the auth
/// filter's callout), `/secret` a body with a secret, anything else echoes
/// the request head it received. Every answer carries `server: upstream`.
fn upstream() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut head = String::new();
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    head.push_str(&line);
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let mut trailers = String::new();
                if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
                    (body, trailers) = read_chunked(&mut reader);
                }
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                if let Some(rest) = path.strip_prefix("/chunked") {
                    let trailer = if rest == "-trailer" { "x-checksum: 42\r\n" } else { "" };
                    let _ = write!(
                        conn,
                        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n\
                         c\r\nthis is a se\r\nc\r\ncret message\r\n0\r\n{trailer}\r\n"
                    );
                    return;
                }
                let answer: Vec<u8> = match path.as_str() {
                    "/bytes/1" => vec![42],
                    "/secret" => b"this is a secret message".to_vec(),
                    _ => format!("upstream saw:\n{head}body: {}\ntrailers: {trailers}", String::from_utf8_lossy(&body))
                        .into_bytes(),
                };
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\nserver: upstream\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    answer.len()
                );
                let _ = conn.write_all(&answer);
            });
        }
    });
    addr
}

/// Reads a chunked body after its head: the data and the trailer lines.
fn read_chunked(reader: &mut impl BufRead) -> (Vec<u8>, String) {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size).unwrap();
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk).unwrap();
        body.extend_from_slice(&chunk[..size]);
    }
    let mut trailers = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
            break;
        }
        trailers.push_str(&line);
    }
    (body, trailers)
}

fn compile(name: &str, dir: &Path) -> PathBuf {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../corpus/proxy-wasm").join(format!("{name}.wasm"));
    write_artifact(&std::fs::read(&src).unwrap(), &dir.join(format!("{name}.cwasm")))
}

/// Compiles a filter written in text to `NAME.cwasm` in a directory of its
/// own (for this process).
fn compile_text(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wasmc-proxy-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    write_artifact(&wat::parse_str(text).unwrap(), &dir.join(format!("{name}.cwasm")))
}

/// Compiles `wasm` and writes the artifact to `out`.
fn write_artifact(wasm: &[u8], out: &Path) -> PathBuf {
    std::fs::write(out, wasmc::compile(wasm, &wasmc::CompileOptions::default()).unwrap()).unwrap();
    out.to_path_buf()
}

/// Starts the proxy with `workers` workers and the corpus filters
/// `filters` (name, extra TOML lines; with `native = ...` or `artifact =
/// ...` in them, that filter instead of the corpus one), in that order, in front of
/// `upstream` (also reachable as `httpbin`; `dead` is a closed port).
fn start(upstream: &str, workers: usize, filters: &[(&str, &str)]) -> Proxy {
    start_with(upstream, workers, filters).0
}

/// [`start`], also giving the configuration file and its text.
fn start_with(upstream: &str, workers: usize, filters: &[(&str, &str)]) -> (Proxy, PathBuf, String) {
    start_configured(upstream, workers, "", filters, None)
}

/// [`start_with`] with `top` added to the file's top-level settings, and at
/// most `max_files` open descriptors for the proxy (`ulimit -n`) if given.
fn start_configured(
    upstream: &str,
    workers: usize,
    top: &str,
    filters: &[(&str, &str)],
    max_files: Option<u32>,
) -> (Proxy, PathBuf, String) {
    static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("wasmc-proxy-test-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dead = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut config = format!(
        "listen = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\nworkers = {workers}\nupstream = \"backend\"\nmax_body_bytes = 65536\n\
         {top}\n[upstreams]\nbackend = \"{upstream}\"\nhttpbin = \"{upstream}\"\ndead = \"{dead}\"\n"
    );
    for (name, extra) in filters {
        // A native filter, or one compiled by the test, names itself in
        // `extra`; the others are compiled from the corpus.
        if extra.contains("native = ") || extra.contains("artifact = ") {
            config.push_str(&format!("[[filters]]\nname = \"{name}\"\n{extra}\n"));
            continue;
        }
        let artifact = compile(name, &dir);
        config.push_str(&format!("[[filters]]\nname = \"{name}\"\nartifact = \"{}\"\n{extra}\n", artifact.display()));
    }
    let path = dir.join("proxy.toml");
    std::fs::write(&path, &config).unwrap();
    let mut command = match max_files {
        None => Command::new(env!("CARGO_BIN_EXE_wasmc-proxy")),
        Some(n) => {
            let mut sh = Command::new("sh");
            sh.args(["-c", &format!("ulimit -n {n} && exec \"$0\" \"$@\""), env!("CARGO_BIN_EXE_wasmc-proxy")]);
            sh
        }
    };
    let mut child = command.arg(&path).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("the proxy starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let mut urls = line.split_whitespace().filter_map(|w| w.strip_prefix("http://"));
    let addr = urls.next().unwrap_or_else(|| panic!("no address in {line:?}")).to_string();
    let admin = urls.next().unwrap_or_else(|| panic!("no admin address in {line:?}")).to_string();
    (Proxy { child, addr, admin }, path, config)
}

struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

fn get(addr: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    request(addr, "GET", path, headers)
}

fn request(addr: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\nConnection: close\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    // A body the proxy streamed with no length (a filter removed it) comes chunked.
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        String::from_utf8_lossy(&read_chunked(&mut body.as_bytes()).0).into_owned()
    } else {
        body.to_string()
    };
    Reply { status, head: head.to_string(), body }
}

#[test]
fn sdk_filters_act_on_real_requests_and_misbehaving_ones_fail_only_their_own() {
    let proxy = start(
        &upstream(),
        2,
        &[
            ("http_headers", ""),
            ("http_auth_random", ""),
            ("http_body", ""),
            ("http_config", "configuration = \"configured\""),
            ("shared_counter", ""),
            ("trap", "failure_status = 503"),
            ("spin", "timeout_ms = 50\nfailure_status = 504"),
        ],
    );

    let hello = get(&proxy.addr, "/hello", &[]);
    assert_eq!((hello.status, hello.body.as_str()), (200, "Hello, World!\n"), "{}", hello.head);
    assert_eq!(hello.header("hello").as_deref(), Some("World"));

    let echo = get(&proxy.addr, "/echo", &[("x-remove-me", "1")]);
    assert_eq!(echo.status, 200, "{}\n{}", echo.head, echo.body);
    assert!(echo.body.contains("x-wasm-filter: http_headers"), "{}", echo.body);
    assert!(!echo.body.contains("x-remove-me"), "{}", echo.body);
    assert!(echo.body.contains("x-survived: spin"), "{}", echo.body);
    assert_eq!(echo.header("powered-by").as_deref(), Some("proxy-wasm"));
    assert_eq!(echo.header("server"), None, "http_headers removes it");
    assert_eq!(echo.header("custom-header").as_deref(), Some("configured"));
    assert_eq!(echo.header("x-plugin-name").as_deref(), Some("shared_counter"));
    assert_eq!(echo.header("x-path").as_deref(), Some("/echo"));
    assert!(echo.header("x-source").is_some_and(|s| s.starts_with("127.0.0.1:")), "{}", echo.head);

    let secret = get(&proxy.addr, "/secret", &[]);
    assert_eq!(secret.body, "Original message body (24 bytes) redacted.\n", "{}", secret.head);

    let trap = get(&proxy.addr, "/bad/trap", &[]);
    assert_eq!(trap.status, 503, "{}", trap.head);
    // The trap filter's VM on that worker was recreated: requests pass again.
    for _ in 0..4 {
        let again = get(&proxy.addr, "/echo", &[]);
        assert_eq!(again.status, 200, "{}", again.head);
    }

    // Each worker's VM ticks every 10 ms (its worker polls it) and adds to
    // the shared `ticks` with compare-and-swap: after 200 ms there are at
    // least 10, whatever the load on the machine.
    std::thread::sleep(Duration::from_millis(200));
    let ticks: u64 = get(&proxy.addr, "/echo", &[]).header("x-ticks").unwrap().parse().unwrap();
    assert!(ticks >= 10, "{ticks} ticks");

    // Every request so far went through shared_counter on one of two workers.
    let metrics = get(&proxy.admin, "/metrics", &[]);
    assert!(metrics.body.contains("shared_counter.shared_counter_requests counter"), "{}", metrics.body);
    let counted: i64 = metrics
        .body
        .lines()
        .find_map(|l| l.strip_prefix("shared_counter.shared_counter_requests counter "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    // /hello was answered by http_headers before shared_counter; /bad/trap
    // reached shared_counter before the trap filter.
    assert_eq!(counted, 8, "{}", metrics.body);
}

#[test]
fn a_spinning_filter_is_stopped_at_its_deadline_and_frees_the_only_worker() {
    let proxy = start(&upstream(), 1, &[("spin", "timeout_ms = 50\nfailure_status = 504")]);
    let started = Instant::now();
    let spun = get(&proxy.addr, "/bad", &[]);
    assert_eq!(spun.status, 504, "{}", spun.head);
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    let next = get(&proxy.addr, "/good", &[]);
    assert_eq!(next.status, 200, "{}", next.head);
    assert!(next.body.contains("x-survived: spin"), "{}", next.body);
}

#[test]
fn a_callout_to_a_dead_upstream_fails_only_that_request() {
    let proxy = start(&upstream(), 1, &[("dead_callout", "")]);
    let failed = get(&proxy.addr, "/", &[]);
    assert_eq!((failed.status, failed.body.as_str()), (502, "callout failed\n"), "{}", failed.head);
    let answered = get(&proxy.addr, "/", &[("x-upstream", "httpbin")]);
    assert_eq!(answered.status, 200, "{}", answered.head);
    assert!(answered.body.contains("x-callout-status: 200"), "{}", answered.body);
}

#[test]
fn a_reload_under_load_swaps_a_filter_without_failing_a_request() {
    let (proxy, path, config) =
        start_with(&upstream(), 2, &[("http_config", "configuration = \"v1\""), ("shared_counter", "")]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (addr, stop) = (proxy.addr.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let r = get(&addr, "/", &[]);
                    assert_eq!(r.status, 200, "{}\n{}", r.head, r.body);
                    let count: usize = r.header("x-request-count").unwrap().parse().unwrap();
                    seen.push((r.header("custom-header").unwrap(), count));
                }
                seen
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&path, config.replace("configuration = \"v1\"", "configuration = \"v2\"")).unwrap();
    let reloaded = request(&proxy.admin, "POST", "/reload", &[]);
    assert_eq!((reloaded.status, reloaded.body.as_str()), (200, "reloaded: version 1\n"));
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen: Vec<(String, usize)> = clients.into_iter().flat_map(|c| c.join().expect("no request failed")).collect();
    assert!(seen.iter().any(|(h, _)| h == "v1") && seen.iter().any(|(h, _)| h == "v2"), "{seen:?}");
    // The shared counter went on across the reload: every count once.
    let mut counts: Vec<usize> = seen.iter().map(|(_, c)| *c).collect();
    counts.sort_unstable();
    assert_eq!(counts, (1..=seen.len()).collect::<Vec<_>>());

    // A configuration that does not load leaves the filters as they are.
    std::fs::write(&path, "listen = ").unwrap();
    let refused = request(&proxy.admin, "POST", "/reload", &[]);
    assert_eq!(refused.status, 500, "{}", refused.body);
    assert_eq!(get(&proxy.addr, "/", &[]).header("custom-header").as_deref(), Some("v2"));
}

#[test]
fn with_trust_keys_only_signed_filters_load() {
    let dir = std::env::temp_dir().join(format!("wasmc-proxy-trust-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = wasmc::sign::generate().unwrap();
    let (_, public) = wasmc::sign::write_key_pair(&dir.join(format!("ci-{}", std::process::id())), &key).unwrap();
    let unsigned = compile("http_headers", &dir);
    let signed = dir.join("http_headers.signed.cwasm");
    std::fs::write(&signed, wasmc::sign::sign_artifact(&std::fs::read(&unsigned).unwrap(), &key).unwrap()).unwrap();
    let upstream = upstream();
    // The key comes from the file for the refused start, from --trust for
    // the accepted one.
    let run = |artifact: &Path, in_file: bool| {
        let trust = if in_file { format!("trust = [\"{}\"]\n", public.display()) } else { String::new() };
        let config = format!(
            "listen = \"127.0.0.1:0\"\nupstream = \"backend\"\n{trust}[upstreams]\nbackend = \"{upstream}\"\n\
             [[filters]]\nname = \"headers\"\nartifact = \"{}\"\n",
            artifact.display()
        );
        let path = dir.join("trust.toml");
        std::fs::write(&path, config).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_wasmc-proxy"));
        command.arg(&path);
        if !in_file {
            command.arg("--trust").arg(&public);
        }
        command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
    };
    let refused = run(&unsigned, true).wait_with_output().unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("filter headers") && stderr.contains("sign"), "{stderr}");

    let mut child = run(&signed, false);
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let proxy = Proxy {
        child,
        addr: line.split_whitespace().find_map(|w| w.strip_prefix("http://")).unwrap().into(),
        admin: String::new(),
    };
    assert_eq!(get(&proxy.addr, "/hello", &[]).body, "Hello, World!\n");
}

/// Sends `raw` (a whole request) and returns the response head, its body
/// de-chunked and its trailer lines.
fn exchange_raw(addr: &str, raw: &[u8]) -> (String, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    stream.write_all(raw).unwrap();
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let (body, trailers) = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        read_chunked(&mut reader)
    } else {
        let mut body = Vec::new();
        reader.read_to_end(&mut body).unwrap();
        (body, String::new())
    };
    (head, String::from_utf8_lossy(&body).into_owned(), trailers)
}

#[test]
fn chunked_bodies_and_trailers_go_through_the_filters() {
    let proxy = start(&upstream(), 1, &[("http_headers", ""), ("http_body", "")]);
    // The upstream answers in two pieces: http_body holds the first piece,
    // sees the secret across both at the end and rewrites the body.
    let (head, body, _) =
        exchange_raw(&proxy.addr, b"GET /chunked HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body, "Original message body (24 bytes) redacted.\n", "{head}");
    // With a trailer, the end of the stream comes with the trailer, not
    // with a body piece (as in Envoy): http_body, which waits for the end
    // in its body callback, lets the held body through unchanged, and the
    // trailer reaches a client that accepts trailers.
    let (head, body, trailers) = exchange_raw(
        &proxy.addr,
        b"GET /chunked-trailer HTTP/1.1\r\nHost: test\r\nTE: trailers\r\nConnection: close\r\n\r\n",
    );
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body, "this is a secret message", "{head}");
    assert_eq!(trailers.trim(), "x-checksum: 42", "{head}");

    // A chunked request with a trailer reaches the upstream whole.
    let (head, body, _) = exchange_raw(
        &proxy.addr,
        b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
          3\r\nhel\r\n2\r\nlo\r\n0\r\nx-sum: 7\r\n\r\n",
    );
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(body.contains("body: hello\n"), "{body}");
    assert!(body.contains("trailers: x-sum: 7"), "{body}");
    assert!(body.contains("x-wasm-filter: http_headers"), "{body}");

    // A body over max_body_bytes (64 KiB here) is refused, and the proxy
    // goes on serving.
    let mut big = b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n".to_vec();
    big.resize(big.len() + 100_000, b'x');
    let (head, _, _) = exchange_raw(&proxy.addr, &big);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert_eq!(get(&proxy.addr, "/echo", &[]).status, 200);
}

#[test]
fn the_native_header_filter_acts_as_the_wasm_one() {
    let upstream = upstream();
    let wasm = start(&upstream, 1, &[("http_headers", "")]);
    let native = start(&upstream, 1, &[("native_headers", "native = \"http_headers\"")]);
    let bare = start(&upstream, 1, &[]);
    let without_date = |r: &Reply| -> Vec<String> {
        r.head.lines().filter(|l| !l.to_ascii_lowercase().starts_with("date:")).map(str::to_string).collect()
    };
    for (path, headers) in [
        ("/hello", &[][..]),
        ("/echo", &[("x-remove-me", "1"), ("x-keep", "2")][..]),
        ("/hello?x", &[("X-Remove-Me", "a")][..]),
    ] {
        let (w, n) = (get(&wasm.addr, path, headers), get(&native.addr, path, headers));
        assert_eq!((w.status, &w.body), (n.status, &n.body), "{path}");
        assert_eq!(without_date(&w), without_date(&n), "{path}");
    }
    let echo = get(&native.addr, "/echo", &[("x-remove-me", "1")]);
    assert!(echo.body.contains("x-wasm-filter: http_headers") && !echo.body.contains("x-remove-me"), "{}", echo.body);
    assert_eq!((echo.header("powered-by").as_deref(), echo.header("server")), (Some("proxy-wasm"), None));
    let hello = get(&native.addr, "/hello", &[]);
    assert_eq!(
        (hello.status, hello.body.as_str(), hello.header("hello").as_deref()),
        (200, "Hello, World!\n", Some("World"))
    );
    // Without the filter, the request and response go through untouched.
    let echo = get(&bare.addr, "/echo", &[("x-remove-me", "1")]);
    assert!(echo.body.contains("x-remove-me: 1") && !echo.body.contains("x-wasm-filter"), "{}", echo.body);
    assert_eq!(echo.header("server").as_deref(), Some("upstream"));
}

/// A keep-alive upstream: answers `ok` on each connection until it has
/// answered `close_after` requests on it (then it closes it, with no
/// `connection: close`; when `swallow`, only once it has read one more
/// request, left unanswered) or a request waited longer than `idle`.
/// Returns its address and the numbers of connections it accepted and
/// requests it read.
fn keep_alive_upstream(
    close_after: usize,
    idle: Duration,
    swallow: bool,
) -> (String, [std::sync::Arc<std::sync::atomic::AtomicUsize>; 2]) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let counters: [std::sync::Arc<std::sync::atomic::AtomicUsize>; 2] = Default::default();
    let [accepted, requests] = counters.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let requests = requests.clone();
            std::thread::spawn(move || {
                conn.set_read_timeout(Some(idle)).unwrap();
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut conn = conn;
                for n in 0..close_after.saturating_add(usize::from(swallow)) {
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    requests.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if n == close_after {
                        return;
                    }
                    if conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, counters)
}

#[test]
fn upstream_connections_are_reused_and_replaced_when_the_upstream_closes_them() {
    use std::sync::atomic::Ordering::SeqCst;
    // One worker: requests one after another share one upstream connection.
    let (addr, [accepted, _]) = keep_alive_upstream(usize::MAX, Duration::from_secs(60), false);
    let proxy = start(&addr, 1, &[]);
    for _ in 0..20 {
        let r = get(&proxy.addr, "/", &[]);
        assert_eq!((r.status, r.body.as_str()), (200, "ok"), "{}", r.head);
    }
    assert_eq!(accepted.load(SeqCst), 1);

    // An upstream that closes each connection after 3 answers, and idle
    // ones after 100 ms: every request is still answered, on new
    // connections as needed.
    let (addr, [accepted, _]) = keep_alive_upstream(3, Duration::from_millis(100), false);
    let proxy = start(&addr, 1, &[]);
    for n in 0..12 {
        if n % 4 == 3 {
            std::thread::sleep(Duration::from_millis(300));
        }
        let r = get(&proxy.addr, "/", &[]);
        assert_eq!((r.status, r.body.as_str()), (200, "ok"), "request {n}: {}", r.head);
    }
    assert!(accepted.load(SeqCst) >= 4, "{} connections", accepted.load(SeqCst));
    // An upstream that answers one request per connection, then reads the
    // next and closes without answering: every request sent on a reused
    // connection is lost. A GET goes out again on a new connection; a POST,
    // which the upstream may have acted on, does not: 502, read once.
    let (swallowing, [_, read]) = keep_alive_upstream(1, Duration::from_secs(60), true);
    let proxy = start(&swallowing, 1, &[]);
    for n in 0..10 {
        let r = get(&proxy.addr, "/", &[]);
        assert_eq!((r.status, r.body.as_str()), (200, "ok"), "request {n}: {}", r.head);
    }
    let before = read.load(SeqCst);
    assert_eq!(request(&proxy.addr, "POST", "/", &[]).status, 502);
    assert_eq!(read.load(SeqCst) - before, 1, "the POST was sent once");
    assert_eq!(request(&proxy.addr, "POST", "/", &[]).status, 200, "on a new connection");
}

/// A filter whose root context counts, in the counters `root_done` and
/// `root_deleted`, the calls of `proxy_on_done` and `proxy_on_delete` it
/// gets, and is done at once.
const LIFECYCLE: &str = r#"(module
  (import "env" "proxy_define_metric" (func $define (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_increment_metric" (func $increment (param i32 i64) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "root_doneroot_deleted")
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 1024))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func $count (param $name i32) (param $len i32)
    (drop (call $define (i32.const 0) (local.get $name) (local.get $len) (i32.const 64)))
    (drop (call $increment (i32.load (i32.const 64)) (i64.const 1))))
  (func (export "proxy_on_done") (param i32) (result i32)
    (if (i32.eq (local.get 0) (i32.const 1)) (then (call $count (i32.const 0) (i32.const 9))))
    (i32.const 1))
  (func (export "proxy_on_delete") (param i32)
    (if (i32.eq (local.get 0) (i32.const 1)) (then (call $count (i32.const 9) (i32.const 12))))))"#;

#[test]
fn a_reload_shuts_down_the_root_contexts_of_the_vms_it_replaced() {
    let artifact = compile_text("lifecycle", LIFECYCLE);
    let extra = format!("artifact = \"{}\"", artifact.display());
    let (proxy, _, _) = start_with(&upstream(), 2, &[("lifecycle", &extra)]);
    assert_eq!(get(&proxy.addr, "/", &[]).status, 200);
    let metrics = || get(&proxy.admin, "/metrics", &[]).body;
    assert!(!metrics().contains("root_done"), "{}", metrics());
    let reloaded = request(&proxy.admin, "POST", "/reload", &[]);
    assert_eq!(reloaded.status, 200, "{}", reloaded.body);
    // Each of the two workers shuts its replaced VM down within a few
    // polls, proxy_on_done then proxy_on_delete, once each; so was the VM
    // the reload started to check the new filter, when it let it go.
    let t0 = Instant::now();
    let expected = ["lifecycle.root_done counter 3", "lifecycle.root_deleted counter 3"];
    while !expected.iter().all(|line| metrics().contains(line)) {
        assert!(t0.elapsed() < Duration::from_secs(10), "{}", metrics());
        std::thread::sleep(Duration::from_millis(20));
    }
    // The new VMs serve, and are not shut down.
    assert_eq!(get(&proxy.addr, "/", &[]).status, 200);
    std::thread::sleep(Duration::from_millis(100));
    assert!(expected.iter().all(|line| metrics().contains(line)), "{}", metrics());
}

/// Reads a request or response head, line by line, up to its blank line.
fn read_head(reader: &mut impl BufRead) -> String {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
            return head;
        }
        head.push_str(&line);
    }
}

#[test]
fn a_request_body_reaches_the_upstream_before_the_client_has_sent_it_all() {
    // The upstream reports the first piece of the body it reads, then
    // reads the rest and answers with all of it.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let upstream = listener.local_addr().unwrap().to_string();
    let (first_tx, first_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        let head = read_head(&mut reader);
        assert!(head.to_ascii_lowercase().contains("content-length: 10"), "{head}");
        let mut first = [0; 5];
        reader.read_exact(&mut first).unwrap();
        first_tx.send(first).unwrap();
        let mut rest = [0; 5];
        reader.read_exact(&mut rest).unwrap();
        let body = format!("got: {}{}", String::from_utf8_lossy(&first), String::from_utf8_lossy(&rest));
        let mut conn = conn;
        write!(conn, "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()).unwrap();
    });
    let proxy = start(&upstream, 1, &[("http_headers", "")]);
    let mut client = TcpStream::connect(&proxy.addr).unwrap();
    client.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    client
        .write_all(b"POST /slow HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhello")
        .unwrap();
    // The upstream has the first half while the client still holds the
    // second: the proxy forwarded it as it came.
    let first = first_rx.recv_timeout(Duration::from_secs(20)).expect("the first piece reached the upstream");
    assert_eq!(&first, b"hello");
    client.write_all(b"world").unwrap();
    let mut answer = String::new();
    client.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("got: helloworld"), "{answer}");
}

/// An upstream that answers one request with a body of `first` and then,
/// once `go` says so, `rest` (with a content-length for both).
fn paced_upstream(first: &'static str, rest: &'static str, go: std::sync::mpsc::Receiver<()>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        read_head(&mut BufReader::new(conn.try_clone().unwrap()));
        let length = first.len() + rest.len();
        write!(conn, "HTTP/1.1 200 OK\r\ncontent-length: {length}\r\nconnection: close\r\n\r\n{first}").unwrap();
        conn.flush().unwrap();
        // Without the signal, the body stays cut short.
        if go.recv_timeout(Duration::from_secs(20)).is_ok() {
            conn.write_all(rest.as_bytes()).unwrap();
        }
    });
    addr
}

#[test]
fn a_response_body_reaches_the_client_before_the_upstream_has_sent_it_all() {
    let (go, gate) = std::sync::mpsc::channel();
    let proxy = start(&paced_upstream("hello", "world", gate), 1, &[("http_headers", "")]);
    let mut client = TcpStream::connect(&proxy.addr).unwrap();
    client.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    client.write_all(b"GET /slow HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").unwrap();
    let mut reader = BufReader::new(client);
    let head = read_head(&mut reader);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(head.lines().find(|l| l.starts_with("powered-by")), Some("powered-by: proxy-wasm"), "{head}");
    // The filters left the content-length, so the body goes with it.
    assert!(head.to_ascii_lowercase().contains("content-length: 10"), "{head}");
    // The first half came while the upstream still holds the second.
    let mut first = [0; 5];
    reader.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"hello");
    go.send(()).unwrap();
    let mut rest = String::new();
    reader.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "world");
}

#[test]
fn a_filter_that_buffers_a_streamed_body_still_rewrites_it() {
    // http_body pauses on every piece until the end, then replaces the
    // body: the proxy forwards nothing before and the rewritten body after.
    let (go, gate) = std::sync::mpsc::channel();
    let proxy = start(&paced_upstream("this is a se", "cret message", gate), 1, &[("http_body", "")]);
    let client = std::thread::spawn(move || get(&proxy.addr, "/secret", &[]));
    // Pacing only: the answer is the same whether the upstream's two
    // pieces reach the proxy apart or together.
    std::thread::sleep(Duration::from_millis(100));
    go.send(()).unwrap();
    let reply = client.join().unwrap();
    assert_eq!(reply.status, 200, "{}", reply.head);
    assert_eq!(reply.body, "Original message body (24 bytes) redacted.\n", "{}", reply.head);
}

/// A filter that traps on every body piece, either way.
const BODY_TRAP: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 1024))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_request_body") (param i32 i32 i32) (result i32) unreachable)
  (func (export "proxy_on_response_body") (param i32 i32 i32) (result i32) unreachable))"#;

#[test]
fn a_filter_failing_mid_body_gets_its_policy_or_aborts_a_response_already_begun() {
    let artifact = compile_text("body_trap", BODY_TRAP);
    let extra = format!("artifact = \"{}\"\nfailure_status = 503", artifact.display());

    // A request body: nothing went back to the client yet, so it gets the
    // failure policy's answer.
    let proxy = start(&upstream(), 1, &[("body_trap", &extra)]);
    let (head, _, _) = exchange_raw(
        &proxy.addr,
        b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    );
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");

    // A response body: its head went out already, so the connection is
    // cut off short of the promised length, and no second answer follows.
    let (go, gate) = std::sync::mpsc::channel();
    go.send(()).unwrap();
    let proxy = start(&paced_upstream("hello", "world", gate), 1, &[("body_trap", &extra)]);
    let mut client = TcpStream::connect(&proxy.addr).unwrap();
    client.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    client.write_all(b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    // A reset connection is an error here; either way the answer ends.
    let _ = client.read_to_end(&mut raw);
    let raw = String::from_utf8_lossy(&raw);
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200") && head.contains("content-length: 10"), "{head}");
    assert!(body.len() < 10 && !body.contains("HTTP/1.1"), "{body:?}");
}

/// Whether the peer closed `stream` (or reset it) within `within`, reading
/// and discarding whatever it sent first.
fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let started = Instant::now();
    stream.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let mut buf = [0u8; 1024];
    while started.elapsed() < within {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return true,
        }
    }
    false
}

/// A client that sends its request head a byte at a time and never ends
/// it, or keeps a connection idle after a request, is disconnected after
/// `header_timeout_ms`; a prompt one is served.
#[test]
fn a_client_too_slow_with_its_head_or_idle_too_long_is_disconnected() {
    let (proxy, _, _) = start_configured(&upstream(), 1, "header_timeout_ms = 300", &[], None);
    let mut slow = TcpStream::connect(&proxy.addr).unwrap();
    let started = Instant::now();
    for byte in b"GET / HTTP/1.1\r\nHost: slow\r\nX-Drip: " {
        if slow.write_all(&[*byte]).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(closed_within(&mut slow, Duration::from_secs(5)), "a dripping head was not cut off");
    // Cut off by the timeout, not at once for something it sent.
    assert!(started.elapsed() >= Duration::from_millis(250), "cut off after {:?}", started.elapsed());

    let mut idle = TcpStream::connect(&proxy.addr).unwrap();
    idle.write_all(b"GET /idle HTTP/1.1\r\nHost: idle\r\n\r\n").unwrap();
    let mut reader = BufReader::new(idle.try_clone().unwrap());
    let head = read_head(&mut reader);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(!closed_within(&mut idle, Duration::from_millis(100)), "closed at once, not kept alive: {head}");
    assert!(closed_within(&mut idle, Duration::from_secs(5)), "an idle keep-alive connection stayed open");

    assert_eq!(get(&proxy.addr, "/after", &[]).status, 200);
}

/// Out of file descriptors, the proxy neither spins on `accept` nor stops
/// accepting: it waits, and serves again once connections close.
#[test]
fn out_of_descriptors_the_proxy_waits_and_then_serves_again() {
    let (proxy, _, _) = start_configured(&upstream(), 1, "", &[], Some(48));
    assert_eq!(get(&proxy.addr, "/before", &[]).status, 200);
    // More connections than descriptors left: the last ones wait in the
    // listen queue while `accept` fails with EMFILE.
    let hogs: Vec<TcpStream> = (0..80).map(|_| TcpStream::connect(&proxy.addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    let cpu = |pid: u32| -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        // utime and stime, fields 14 and 15, after the command in parentheses.
        let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        ticks as f64 / 100.0
    };
    let (before, started) = (cpu(proxy.child.id()), Instant::now());
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu(proxy.child.id()) - before;
    assert!(used < 0.3 * started.elapsed().as_secs_f64(), "{used} s of CPU in a second out of descriptors");
    drop(hogs);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut stream = TcpStream::connect(&proxy.addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        stream.write_all(b"GET /again HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "not serving again: {answer:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
