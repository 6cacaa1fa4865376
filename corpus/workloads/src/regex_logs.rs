//! Regular expressions: the regex crate extracting fields from a mixed log
//! (access-log lines and application lines), as a log-filtering plugin would.

use regex::Regex;

use crate::check::{Checksum, Rng};

const PATHS: [&str; 6] = ["/api/v1/users", "/api/v1/orders", "/static/app.js", "/login", "/admin/settings", "/health"];
const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];
const AGENTS: [&str; 3] = ["Mozilla/5.0 (X11; Linux x86_64)", "curl/8.5.0", "Go-http-client/2.0"];
const LEVELS: [&str; 3] = ["INFO", "WARN", "ERROR"];
const MESSAGES: [&str; 4] = [
    "request failed: timeout after 3000ms",
    "connection refused by upstream db-2",
    "cache miss for key user:42 — refilling",
    "permission denied for tenant acme",
];
const LINES: u64 = 200;

fn log(rng: &mut Rng) -> String {
    let mut text = String::new();
    for i in 0..LINES {
        let (h, m, s) = (rng.below(24), rng.below(60), rng.below(60));
        if rng.below(3) == 0 {
            text += &format!(
                "2026-11-26T{h:02}:{m:02}:{s:02}.{:03}Z {} [worker-{}] {} (req_id={:08x})\n",
                rng.below(1000),
                rng.pick(&LEVELS),
                rng.below(8),
                rng.pick(&MESSAGES),
                rng.next() as u32
            );
        } else {
            let query = if rng.below(2) == 0 { format!("?page={}&sort=name", rng.below(50)) } else { String::new() };
            text += &format!(
                "{}.{}.{}.{} - - [26/Nov/2026:{h:02}:{m:02}:{s:02} +0000] \"{} {}/{}{query} HTTP/1.1\" {} {} \"-\" \"{}\"\n",
                10 + rng.below(200),
                rng.below(256),
                rng.below(256),
                rng.below(256),
                rng.pick(&METHODS),
                rng.pick(&PATHS),
                i,
                [200, 201, 204, 301, 404, 500][rng.below(6) as usize],
                rng.below(100_000),
                rng.pick(&AGENTS)
            );
        }
    }
    text
}

/// `n` times, as a plugin instantiated per request would: compile the
/// patterns, then scan the whole log for captures of every access line and
/// every application line, and for failure words.
pub fn regex(n: u32) -> u64 {
    let text = log(&mut Rng::new(0x7265_6765));
    let mut sum = Checksum::new();
    for unit in 0..n {
        let access = Regex::new(
            r#"(?m)^([0-9]{1,3}(?:\.[0-9]{1,3}){3}) [^ ]+ [^ ]+ \[([^\]]+)\] "([A-Z]+) ([^ "?]+)(?:\?([^ "]*))? HTTP/1\.[01]" ([0-9]{3}) ([0-9]+|-)"#,
        );
        let app = Regex::new(
            r"(?m)^([0-9]{4}-[0-9]{2}-[0-9]{2})T([0-9]{2}:[0-9]{2}:[0-9]{2})\.[0-9]{3}Z (ERROR|WARN|INFO) \[([a-z0-9-]+)\] (.*)$",
        );
        let failure = Regex::new(r"(?-u:\b)(timeout|refused|denied|failed)(?-u:\b)");
        let (Ok(access), Ok(app), Ok(failure)) = (access, app, failure) else { return 0 };
        sum.u64(u64::from(unit));
        let mut bytes_by_status = [0u64; 6];
        for caps in access.captures_iter(&text) {
            let status: u64 = caps[6].parse().unwrap_or(0);
            let size: u64 = caps[7].parse().unwrap_or(0);
            bytes_by_status[(status / 100) as usize % 6] += size;
            sum.bytes(caps[1].as_bytes());
            sum.bytes(caps[4].as_bytes());
            sum.u64(caps.get(5).map_or(0, |q| q.start() as u64));
        }
        for caps in app.captures_iter(&text) {
            if &caps[3] == "ERROR" {
                sum.bytes(caps[2].as_bytes());
                sum.bytes(caps[5].as_bytes());
            }
            sum.bytes(caps[4].as_bytes());
        }
        for m in failure.find_iter(&text) {
            sum.u64(m.start() as u64);
        }
        for total in bytes_by_status {
            sum.u64(total);
        }
    }
    sum.finish()
}
