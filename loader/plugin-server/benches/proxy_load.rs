//! A load generator on loopback for `wasmc-proxy` (docs/benchmarks.md,
//! "wasmc-proxy: the header filter's cost per request"):
//!
//! ```text
//! cargo bench -p wasmc-plugin-server --bench proxy_load -- [--rounds R] [--requests N]
//!     [--requests-64 N] [--workers W] [--log-level LEVEL] [--memory-only | --latency-only]
//!     [--paired N] [--compare-with OTHER-WASMC-PROXY] [--with-http-config]
//! ```
//!
//! Latency: starts a small keep-alive upstream in this process and three
//! `wasmc-proxy` processes in front of it, one worker each (`--workers`):
//! no filter, the Rust SDK's `http_headers` filter compiled by wasmc, and
//! the same logic as a native filter (`native = "http_headers"`), filters
//! logging at `warn` (`--log-level`).
//!
//! `--with-http-config` adds a configuration: the SDK's `http_config`
//! compiled by wasmc (one response header added, nothing logged: what the
//! host and the crossings cost with little work in the filter).
//! `--compare-with` adds another: the `http_headers` filter in another
//! build of `wasmc-proxy` (an A/B of a change). Each proxy added to the
//! paired run is one more process between two requests to the same proxy,
//! so paired figures compare only within one run.
//!
//! First, one connection to each proxy, interleaved request by request
//! (`--paired` requests each, the configuration order rotating), so that
//! whatever else the machine does hits them alike: per configuration
//! the p50, p90, p99, the proxy's CPU time per request, the p50 added to
//! the proxy without filters, and the median of the paired differences
//! (each request against the no-filter request next to it).
//!
//! Then, at 1 and at 64 concurrent
//! keep-alive connections, it runs rounds in which each configuration in
//! turn (the order rotating every round) gets `--requests` requests per
//! connection (`--requests-64` at 64), one round of warm-up first, and
//! prints per configuration the p50, p90 and p99 latency of every request
//! of every round, the throughput, the proxy's CPU time per request (all
//! its threads, from `/proc/PID/task/*/schedstat`), the p50 and the CPU
//! time each filter adds to the proxy without filters, and the spread of
//! the added p50 over the rounds (median [min, max] of the per-round
//! differences).
//!
//! Memory: for 1, 2 and 4 workers and 0, 1 and 8 header filters (wasm, or
//! native), starts a proxy, sends 64 connections x 50 requests, and reads
//! `VmRSS` from `/proc/PID/status`; prints the table and, per filter, the
//! resident bytes per filter at each worker count and their growth per
//! worker (the least-squares slope over the worker counts).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

const REQUEST: &[u8] = b"GET /echo HTTP/1.1\r\nHost: bench\r\nUser-Agent: proxy_load\r\nAccept: */*\r\n\
    x-remove-me: 1\r\n\r\n";
const ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\nserver: upstream\r\ncontent-type: text/plain\r\n\
    content-length: 13\r\n\r\nhello, world\n";

struct Options {
    rounds: usize,
    requests: usize,
    requests_64: usize,
    workers: usize,
    log_level: String,
    latency: bool,
    memory: bool,
    compare_with: Option<PathBuf>,
    paired: usize,
    with_http_config: bool,
}

fn options() -> Options {
    let mut o = Options {
        rounds: 10,
        requests: 3000,
        requests_64: 100,
        workers: 1,
        log_level: "warn".into(),
        latency: true,
        memory: true,
        compare_with: None,
        paired: 50_000,
        with_http_config: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--rounds" => o.rounds = value().parse().expect("--rounds N"),
            "--requests" => o.requests = value().parse().expect("--requests N"),
            "--requests-64" => o.requests_64 = value().parse().expect("--requests-64 N"),
            "--workers" => o.workers = value().parse().expect("--workers N"),
            "--log-level" => o.log_level = value(),
            "--memory-only" => o.latency = false,
            "--compare-with" => o.compare_with = Some(PathBuf::from(value())),
            "--paired" => o.paired = value().parse().expect("--paired N"),
            "--latency-only" => o.memory = false,
            "--with-http-config" => o.with_http_config = true,
            // What cargo bench passes.
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    o
}

/// The upstream: answers every request on a connection with [`ANSWER`].
fn upstream() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let _ = conn.set_nodelay(true);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                loop {
                    // A request of the load: a head and no body.
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    if conn.write_all(ANSWER).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

struct Proxy {
    child: Child,
    addr: String,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `wasmc-proxy` with `workers` workers and `filters` (TOML of
/// `[[filters]]` tables) in front of `upstream`.
fn proxy(dir: &Path, upstream: &str, workers: usize, filters: &str) -> Proxy {
    proxy_from(Path::new(env!("CARGO_BIN_EXE_wasmc-proxy")), dir, upstream, workers, filters)
}

/// [`proxy`], from the binary at `binary`.
fn proxy_from(binary: &Path, dir: &Path, upstream: &str, workers: usize, filters: &str) -> Proxy {
    static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let config = format!(
        "listen = \"127.0.0.1:0\"\nworkers = {workers}\nupstream = \"backend\"\n\
         [upstreams]\nbackend = \"{upstream}\"\n{filters}"
    );
    let path = dir.join(format!("proxy-{n}.toml"));
    std::fs::write(&path, config).unwrap();
    let mut child = Command::new(binary)
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("wasmc-proxy starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.split_whitespace().find_map(|w| w.strip_prefix("http://")).expect("an address").to_string();
    Proxy { child, addr }
}

/// A keep-alive client connection.
struct Client {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
    line: String,
}

impl Client {
    fn new(addr: &str) -> Client {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        Client { reader: BufReader::new(stream.try_clone().unwrap()), stream, line: String::new() }
    }

    /// Sends [`REQUEST`] and reads the answer; returns its head.
    fn get(&mut self) -> String {
        self.stream.write_all(REQUEST).unwrap();
        let mut head = String::new();
        let mut length = 0;
        loop {
            self.line.clear();
            assert!(self.reader.read_line(&mut self.line).unwrap() > 0, "the proxy closed the connection");
            if self.line == "\r\n" {
                break;
            }
            if let Some(v) = self.line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            head.push_str(&self.line);
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        head
    }
}

/// CPU time of process `pid` so far, all threads, in ns.
fn cpu_ns(pid: u32) -> u64 {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("/proc/PID/task");
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Latencies (ns) and the wall time of `per_connection` requests on each
/// of `clients`, started together.
fn run(clients: &mut [Client], per_connection: usize) -> (Vec<u64>, Duration) {
    let barrier = Arc::new(Barrier::new(clients.len() + 1));
    let (latencies, wall) = std::thread::scope(|s| {
        let threads: Vec<_> = clients
            .iter_mut()
            .map(|client| {
                let barrier = barrier.clone();
                s.spawn(move || {
                    let mut latencies = Vec::with_capacity(per_connection);
                    barrier.wait();
                    for _ in 0..per_connection {
                        let started = Instant::now();
                        client.get();
                        latencies.push(started.elapsed().as_nanos() as u64);
                    }
                    latencies
                })
            })
            .collect();
        barrier.wait();
        let started = Instant::now();
        let latencies: Vec<u64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
        (latencies, started.elapsed())
    });
    (latencies, wall)
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at] as f64 / 1000.0
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Compiles `corpus/proxy-wasm/NAME.wasm` into `dir`; returns the artifact's path.
fn compile_filter(dir: &Path, name: &str) -> PathBuf {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../corpus/proxy-wasm/{name}.wasm"));
    let artifact = wasmc::compile(&std::fs::read(src).unwrap(), &wasmc::CompileOptions::default()).unwrap();
    let out = dir.join(format!("{name}.cwasm"));
    std::fs::write(&out, artifact).unwrap();
    out
}

/// The configuration of one `http_config` filter: it adds
/// `custom-header: proxy_load` to every response.
fn config_filter(artifact: &Path, log_level: &str) -> String {
    format!(
        "[[filters]]\nname = \"config\"\nartifact = \"{}\"\nconfiguration = \"proxy_load\"\nlog_level = \"{log_level}\"\n",
        artifact.display()
    )
}

fn wasm_filters(count: usize, artifact: &Path, log_level: &str) -> String {
    (0..count)
        .map(|n| {
            format!(
                "[[filters]]\nname = \"headers{n}\"\nartifact = \"{}\"\nlog_level = \"{log_level}\"\n",
                artifact.display()
            )
        })
        .collect()
}

fn native_filters(count: usize, log_level: &str) -> String {
    (0..count)
        .map(|n| format!("[[filters]]\nname = \"native{n}\"\nnative = \"http_headers\"\nlog_level = \"{log_level}\"\n"))
        .collect()
}

fn latency(o: &Options, dir: &Path, artifact: &Path) {
    let upstream = upstream();
    let mut configs = vec![
        ("no filter", String::new()),
        ("wasm http_headers", wasm_filters(1, artifact, &o.log_level)),
        ("native http_headers", native_filters(1, &o.log_level)),
    ];
    if o.with_http_config {
        configs.push(("wasm http_config", config_filter(&compile_filter(dir, "http_config"), &o.log_level)));
    }
    let mut proxies: Vec<Proxy> = configs.iter().map(|(_, f)| proxy(dir, &upstream, o.workers, f)).collect();
    if let Some(other) = &o.compare_with {
        configs.push(("wasm, --compare-with", wasm_filters(1, artifact, &o.log_level)));
        proxies.push(proxy_from(other, dir, &upstream, o.workers, &configs[configs.len() - 1].1));
    }
    // Each configuration is what it says: its filter acts, or nothing does.
    for (proxy, (name, _)) in proxies.iter().zip(&configs) {
        let head = Client::new(&proxy.addr).get().to_ascii_lowercase();
        let headers_filter = head.contains("powered-by: proxy-wasm") && !head.contains("server: upstream");
        let config_filter = head.contains("custom-header: proxy_load");
        let expected = (name.contains("http_headers") || name.contains("compare"), name.contains("http_config"));
        assert_eq!((headers_filter, config_filter), expected, "{name}: {head}");
    }
    println!("latency: {} worker(s) per proxy, filters logging at {}", o.workers, o.log_level);
    paired(&proxies, &configs, o.paired);
    if o.rounds == 0 {
        return;
    }
    println!("\nrounds: {} after one of warm-up, configurations in turn", o.rounds);
    for (connections, per_connection) in [(1, o.requests), (64, o.requests_64)] {
        let mut clients: Vec<Vec<Client>> =
            proxies.iter().map(|p| (0..connections).map(|_| Client::new(&p.addr)).collect()).collect();
        let mut latencies: Vec<Vec<u64>> = vec![Vec::new(); configs.len()];
        let mut walls = vec![Duration::ZERO; configs.len()];
        let mut round_p50: Vec<Vec<f64>> = vec![Vec::new(); configs.len()];
        let mut cpu = vec![0u64; configs.len()];
        for round in 0..=o.rounds {
            for k in 0..configs.len() {
                let c = (k + round) % configs.len();
                let pid = proxies[c].child.id();
                let before = cpu_ns(pid);
                let (mut l, wall) = run(&mut clients[c], per_connection);
                if round == 0 {
                    continue;
                }
                cpu[c] += cpu_ns(pid) - before;
                l.sort_unstable();
                round_p50[c].push(percentile(&l, 0.5));
                latencies[c].extend(l);
                walls[c] += wall;
            }
        }
        println!("\n{connections} connection(s), {per_connection} requests each per round:");
        println!(
            "{:<22} {:>8} {:>8} {:>8} {:>8} {:>11} {:>11} {:>22} {:>9}",
            "configuration",
            "p50 µs",
            "p90 µs",
            "p99 µs",
            "req/s",
            "CPU µs/req",
            "added p50",
            "added p50 per round",
            "added CPU"
        );
        let mut p50 = Vec::new();
        let mut cpu_per_request = Vec::new();
        for (c, (name, _)) in configs.iter().enumerate() {
            latencies[c].sort_unstable();
            let l = &latencies[c];
            let rate = l.len() as f64 / walls[c].as_secs_f64();
            p50.push(percentile(l, 0.5));
            cpu_per_request.push(cpu[c] as f64 / 1000.0 / l.len() as f64);
            let added = p50[c] - p50[0];
            let mut per_round: Vec<f64> = round_p50[c].iter().zip(&round_p50[0]).map(|(a, b)| a - b).collect();
            let (lo, mid, hi) = if per_round.is_empty() {
                (0.0, 0.0, 0.0)
            } else {
                let mid = median(&mut per_round);
                (per_round[0], mid, per_round[per_round.len() - 1])
            };
            println!(
                "{name:<22} {:>8.1} {:>8.1} {:>8.1} {rate:>8.0} {:>11.2} {added:>11.2} {:>22} {:>9.2}",
                p50[c],
                percentile(l, 0.9),
                percentile(l, 0.99),
                cpu_per_request[c],
                format!("{mid:.2} [{lo:.2}, {hi:.2}]"),
                cpu_per_request[c] - cpu_per_request[0],
            );
        }
        let (wasm, native) = (p50[1] - p50[0], p50[2] - p50[0]);
        let (wasm_cpu, native_cpu) = (cpu_per_request[1] - cpu_per_request[0], cpu_per_request[2] - cpu_per_request[0]);
        // A ratio to a difference within the noise would mean nothing.
        let ratio =
            if native_cpu > 0.5 { format!("{:.1}x", wasm_cpu / native_cpu) } else { "native within noise".into() };
        println!(
            "wasm against native: p50 {:.3}x; added p50 {wasm:.2} against {native:.2} µs; \
             added CPU per request {wasm_cpu:.2} against {native_cpu:.2} µs ({ratio})",
            p50[1] / p50[2],
        );
    }
}

/// One connection to each proxy, used in turn request by request.
fn paired(proxies: &[Proxy], configs: &[(&str, String)], requests: usize) {
    if requests == 0 {
        return;
    }
    let mut clients: Vec<Client> = proxies.iter().map(|p| Client::new(&p.addr)).collect();
    for _ in 0..1000 {
        clients.iter_mut().for_each(|c| drop(c.get()));
    }
    let k = clients.len();
    let before: Vec<u64> = proxies.iter().map(|p| cpu_ns(p.child.id())).collect();
    let mut latencies = vec![Vec::with_capacity(requests); k];
    for i in 0..requests {
        for j in 0..k {
            let c = (i + j) % k;
            let started = Instant::now();
            clients[c].get();
            latencies[c].push(started.elapsed().as_nanos() as u64);
        }
    }
    let cpu: Vec<f64> = proxies
        .iter()
        .zip(&before)
        .map(|(p, b)| (cpu_ns(p.child.id()) - b) as f64 / 1000.0 / requests as f64)
        .collect();
    println!("\n1 connection per proxy, interleaved request by request, {requests} requests each:");
    println!(
        "{:<22} {:>8} {:>8} {:>8} {:>11} {:>11} {:>13} {:>9}",
        "configuration", "p50 µs", "p90 µs", "p99 µs", "CPU µs/req", "added p50", "paired added", "added CPU"
    );
    let mut p50 = Vec::new();
    for c in 0..k {
        let mut paired: Vec<f64> =
            latencies[c].iter().zip(&latencies[0]).map(|(a, b)| (*a as f64 - *b as f64) / 1000.0).collect();
        let paired = median(&mut paired);
        let mut sorted = latencies[c].clone();
        sorted.sort_unstable();
        p50.push(percentile(&sorted, 0.5));
        println!(
            "{:<22} {:>8.1} {:>8.1} {:>8.1} {:>11.2} {:>11.2} {paired:>13.2} {:>9.2}",
            configs[c].0,
            p50[c],
            percentile(&sorted, 0.9),
            percentile(&sorted, 0.99),
            cpu[c],
            p50[c] - p50[0],
            cpu[c] - cpu[0],
        );
    }
}

/// `VmRSS` of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

fn memory(o: &Options, dir: &Path, artifact: &Path) {
    let upstream = upstream();
    let workers = [1usize, 2, 4];
    let counts = [0usize, 1, 8];
    println!("\nresident memory (VmRSS, KiB) after 64 connections x 50 requests:");
    println!("{:<22} {:>10} {:>10} {:>10}", "filters", "1 worker", "2 workers", "4 workers");
    let mut table: Vec<(String, Vec<u64>)> = Vec::new();
    for kind in ["wasm", "native"] {
        for &count in &counts {
            if count == 0 && kind == "native" {
                continue;
            }
            let filters = match kind {
                "wasm" => wasm_filters(count, artifact, &o.log_level),
                _ => native_filters(count, &o.log_level),
            };
            let row: Vec<u64> = workers
                .iter()
                .map(|&w| {
                    let p = proxy(dir, &upstream, w, &filters);
                    let mut clients: Vec<Client> = (0..64).map(|_| Client::new(&p.addr)).collect();
                    run(&mut clients, 50);
                    drop(clients);
                    std::thread::sleep(Duration::from_millis(300));
                    rss_kib(p.child.id())
                })
                .collect();
            let name = if count == 0 { "none".to_string() } else { format!("{count} {kind}") };
            println!("{name:<22} {:>10} {:>10} {:>10}", row[0], row[1], row[2]);
            table.push((name, row));
        }
    }
    let none = table[0].1.clone();
    let mean_w = workers.iter().sum::<usize>() as f64 / workers.len() as f64;
    for (name, row) in &table[1..] {
        let count: f64 = name.split(' ').next().and_then(|n| n.parse().ok()).unwrap_or(1.0);
        let per_filter: Vec<f64> = row.iter().zip(&none).map(|(r, n)| (*r as f64 - *n as f64) / count).collect();
        let mean = per_filter.iter().sum::<f64>() / per_filter.len() as f64;
        let (num, den) = workers.iter().zip(&per_filter).fold((0.0, 0.0), |(num, den), (&w, &p)| {
            (num + (w as f64 - mean_w) * (p - mean), den + (w as f64 - mean_w).powi(2))
        });
        println!(
            "{name}: per filter {:.0} / {:.0} / {:.0} KiB at 1 / 2 / 4 workers; per worker per filter {:.0} KiB (slope)",
            per_filter[0],
            per_filter[1],
            per_filter[2],
            num / den
        );
    }
}

fn main() {
    let o = options();
    let dir = std::env::temp_dir().join(format!("wasmc-proxy-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let artifact = compile_filter(&dir, "http_headers");
    if o.latency {
        latency(&o, &dir, &artifact);
    }
    if o.memory {
        memory(&o, &dir, &artifact);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
