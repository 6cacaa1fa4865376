//! An HTTP header filter in plain Rust: parse raw HTTP/1.1 request heads,
//! apply allow/deny rules, rewrite headers, and write the forwarded head, as
//! a gateway plugin would.

use crate::check::{Checksum, Rng};

const REQUESTS: u64 = 120;
const METHODS: [&str; 6] = ["GET", "POST", "PUT", "DELETE", "PATCH", "TRACE"];
const PATHS: [&str; 6] = ["/", "/api/v1/users", "/admin/config", "/static/logo.png", "/login", "/api/v1/orders/77"];
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];
const ALLOWED_COOKIES: [&str; 2] = ["session", "lang"];
const MAX_HEADERS: usize = 32;

fn request(rng: &mut Rng, i: u64) -> String {
    let mut req = format!("{} {}?id={i} HTTP/1.1\r\n", rng.pick(&METHODS), rng.pick(&PATHS));
    req += &format!("Host: API.Example.com:{}\r\n", [80, 443, 8080][rng.below(3) as usize]);
    req += "User-Agent: Mozilla/5.0 (X11; Linux x86_64) plugin-bench/1.0\r\n";
    req += "Accept: text/html,application/json;q=0.9,*/*;q=0.8\r\nAccept-Encoding: gzip, br\r\n";
    for _ in 0..rng.below(6) {
        req += match rng.below(9) {
            0 => "Connection: keep-alive, X-Debug\r\n",
            1 => "X-Debug: 1\r\n",
            2 => "X-Forwarded-For:   198.51.100.7 \r\n",
            3 => "Authorization: Bearer eyJhbGciOiJFZERTQSJ9.e30.sig\r\n",
            4 => "Cookie: session=abc123; tracking=xyz; lang=de; _ga=GA1.2.3\r\n",
            5 => "Upgrade: websocket\r\n",
            6 => "Bad Header: spaces in name\r\n",
            7 => "X-Request-Id: client-chosen\r\n",
            _ => "Content-Type: application/json; charset=utf-8\r\n",
        };
    }
    req += "\r\n";
    req
}

/// What the filter decided for one request.
enum Verdict {
    Forward(String),
    Deny(u16),
}

fn is_token(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn filter(raw: &str, request_id: u64) -> Verdict {
    let mut lines = raw.split("\r\n");
    let mut start = lines.next().unwrap_or("").split(' ');
    let (Some(method), Some(target), Some("HTTP/1.1"), None) = (start.next(), start.next(), start.next(), start.next())
    else {
        return Verdict::Deny(400);
    };
    if !["GET", "POST", "PUT", "DELETE", "PATCH"].contains(&method) {
        return Verdict::Deny(405);
    }
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines.take_while(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else { return Verdict::Deny(400) };
        if !is_token(name) || value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
            return Verdict::Deny(400);
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    if headers.len() > MAX_HEADERS {
        return Verdict::Deny(431);
    }
    let path = target.split('?').next().unwrap_or(target);
    let authorized = headers.iter().any(|(n, v)| n == "authorization" && v.starts_with("Bearer "));
    if path.starts_with("/admin") && !authorized {
        return Verdict::Deny(401);
    }
    // Headers named by Connection are hop-by-hop too.
    let mut drop: Vec<String> = HOP_BY_HOP.iter().map(|h| h.to_string()).collect();
    for (_, value) in headers.iter().filter(|(n, _)| n == "connection") {
        drop.extend(value.split(',').map(|t| t.trim().to_ascii_lowercase()));
    }
    let mut out = format!("{method} {target} HTTP/1.1\r\n");
    for (name, value) in &headers {
        if drop.contains(name) || name == "x-forwarded-for" || name == "x-request-id" {
            continue;
        }
        match name.as_str() {
            "host" => {
                let host = value.rsplit_once(':').map_or(value.as_str(), |(h, _)| h).to_ascii_lowercase();
                out += &format!("host: {host}\r\n");
            }
            "cookie" => {
                let kept: Vec<&str> = value
                    .split(';')
                    .map(str::trim)
                    .filter(|c| ALLOWED_COOKIES.iter().any(|a| c.split('=').next() == Some(a)))
                    .collect();
                if !kept.is_empty() {
                    out += &format!("cookie: {}\r\n", kept.join("; "));
                }
            }
            _ => out += &format!("{name}: {value}\r\n"),
        }
    }
    out += &format!("x-forwarded-for: 203.0.113.9\r\nx-request-id: {request_id:016x}\r\nvia: 1.1 wasmc-plugin\r\n\r\n");
    Verdict::Forward(out)
}

/// `n` times: filter every request of a fixed batch, each unit with fresh
/// request ids.
pub fn headers(n: u32) -> u64 {
    let mut rng = Rng::new(0x6864_7273);
    let batch: Vec<String> = (0..REQUESTS).map(|i| request(&mut rng, i)).collect();
    let mut sum = Checksum::new();
    for unit in 0..u64::from(n) {
        for (i, raw) in batch.iter().enumerate() {
            match filter(raw, unit << 32 | i as u64) {
                Verdict::Forward(head) => sum.bytes(head.as_bytes()),
                Verdict::Deny(status) => sum.u64(u64::from(status)),
            }
        }
    }
    sum.finish()
}
