//! Starts the real server on loopback with the corpus plugins (compiled
//! here with the wasmc library) and sends it real HTTP/1.1 requests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The server process; killed when the test ends, however it ends.
struct Running {
    child: Child,
    addr: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn compile_plugin(name: &str, dir: &std::path::Path) -> PathBuf {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../corpus/plugins").join(format!("{name}.wasm"));
    let wasm = std::fs::read(&src).expect("plugin .wasm in corpus");
    let artifact = wasmc::compile(&wasm, &wasmc::CompileOptions::default()).expect("plugin compiles");
    let out = dir.join(format!("{name}.cwasm"));
    std::fs::write(&out, artifact).expect("write artifact");
    out
}

fn start(plugins: &[&str], extra: &[&str]) -> Running {
    let dir = std::env::temp_dir().join(format!("wasmc-plugin-server-{}-{}", std::process::id(), plugins.join("-")));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wasmc-plugin-server"));
    cmd.args(["--listen", "127.0.0.1:0"]).args(extra);
    for p in plugins {
        cmd.arg("--plugin").arg(compile_plugin(p, &dir));
    }
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("server starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("first line");
    let addr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    Running { child, addr }
}

/// Sends one request; returns the status and the raw head + body.
fn get(server: &Running, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut stream = TcpStream::connect(&server.addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer");
    let status = answer.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, answer.to_ascii_lowercase())
}

#[test]
fn allow_list_allows_denies_and_adds_headers() {
    let server = start(&["allow_list"], &[]);
    let (status, answer) = get(&server, "/hello", &[]);
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("x-plugin: allow-list"), "{answer}");
    assert!(answer.contains("x-method-seen: get"), "{answer}");
    assert!(answer.contains("hello from upstream: get /hello"), "{answer}");
    assert_eq!(get(&server, "/admin/users", &[]).0, 403);
    assert_eq!(get(&server, "/private/x", &[]).0, 401);
    assert_eq!(get(&server, "/private/x", &[("X-Api-Key", "secret")]).0, 200);
    assert_eq!(get(&server, "/private/x", &[("X-Api-Key", "wrong")]).0, 401);
}

#[test]
fn a_trapping_plugin_fails_its_request_and_the_server_keeps_serving() {
    let server = start(&["trap", "allow_list"], &["--fail-status", "502"]);
    for _ in 0..3 {
        let (status, answer) = get(&server, "/trap", &[]);
        assert_eq!(status, 502, "{answer}");
        assert!(answer.contains("plugin trap failed"), "{answer}");
        let (status, answer) = get(&server, "/fine", &[]);
        assert_eq!(status, 200, "{answer}");
        assert!(answer.contains("x-plugin: allow-list"), "{answer}");
    }
}

#[test]
fn a_memory_hog_hits_its_limit_and_the_server_keeps_serving() {
    let server = start(&["hog"], &["--max-memory-mib", "8"]);
    for _ in 0..3 {
        let (status, answer) = get(&server, "/hog", &[]);
        assert_eq!(status, 500, "{answer}");
        assert!(answer.contains("plugin hog failed"), "{answer}");
        assert_eq!(get(&server, "/fine", &[]).0, 200);
    }
}

/// The store's deadline stops the spinning call inside wasm: the answer is
/// the plugin's failure status (not the server's 504 backstop),
/// and the blocking thread is free again, so many such requests in a row
/// do not use up the pool.
#[test]
fn an_endless_plugin_hits_the_deadline_and_the_server_keeps_serving() {
    let server = start(&["spin", "allow_list"], &["--timeout-ms", "200"]);
    for _ in 0..3 {
        let (status, answer) = get(&server, "/spin", &[]);
        assert_eq!(status, 500, "{answer}");
        assert!(answer.contains("plugin spin failed"), "{answer}");
        assert_eq!(get(&server, "/fine", &[]).0, 200);
    }
}
