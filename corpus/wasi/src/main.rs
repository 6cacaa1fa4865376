//! Exercises WASI from Rust std: prints, reads its arguments and
//! environment, reads, writes and lists files under the preopened `/data`,
//! then tries to reach outside it and reports each refusal.
//!
//! Usage: `wasi_demo [FILE [EXIT_CODE]]`, with a host directory preopened
//! as `/data`. FILE (default `hello.txt`) is read from `/data`.

use std::fs;
use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    println!("hello from wasi");
    println!("args: {}", args[1..].join(" "));
    if let Ok(greeting) = std::env::var("GREETING") {
        println!("env GREETING={greeting}");
    }
    let name = args.get(1).map(String::as_str).unwrap_or("hello.txt");
    match fs::read_to_string(format!("/data/{name}")) {
        Ok(text) => println!("read /data/{name}: {}", text.trim_end()),
        Err(e) => println!("read /data/{name} failed: {e}"),
    }
    let out = "/data/out/written.txt";
    let wrote = fs::create_dir_all("/data/out").and_then(|()| fs::write(out, "written by wasm\n"));
    match wrote.and_then(|()| fs::read_to_string(out)) {
        Ok(text) => println!("wrote and read back {out}: {}", text.trim_end()),
        Err(e) => println!("write {out} failed: {e}"),
    }
    match fs::read_dir("/data") {
        Ok(entries) => {
            let mut names: Vec<String> =
                entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
            names.sort();
            println!("ls /data: {}", names.join(" "));
        }
        Err(e) => println!("ls /data failed: {e}"),
    }
    for escape in ["/data/../secret.txt", "/data/sub/../../secret.txt", "/etc/passwd", "/data/link_out"] {
        match fs::read_to_string(escape) {
            Ok(_) => println!("ESCAPED: read {escape}"),
            Err(e) => println!("denied {escape}: {e}"),
        }
    }
    std::io::stdout().flush().ok();
    if let Some(code) = args.get(2).and_then(|c| c.parse::<i32>().ok()) {
        std::process::exit(code);
    }
}
