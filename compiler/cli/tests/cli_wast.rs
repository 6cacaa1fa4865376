//! `wasmc wast` reports each script as soon as it finishes, so that when a
//! run dies (a crash, a kill, an emulator fault) its output shows which
//! scripts had completed.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn wast_prints_each_scripts_line_while_others_still_run() {
    let dir = std::env::temp_dir().join(format!("wasmc-cli-wast-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let quick = dir.join("a_quick.wast");
    std::fs::write(
        &quick,
        r#"(module (func (export "one") (result i32) (i32.const 1))) (assert_return (invoke "one") (i32.const 1))"#,
    )
    .unwrap();
    // Never finishes: the runner has no deadline.
    let endless = dir.join("b_endless.wast");
    std::fs::write(&endless, r#"(module (func (export "spin") (loop (br 0)))) (invoke "spin")"#).unwrap();
    let mut child = common::command(env!("CARGO_BIN_EXE_wasmc"))
        .args(["wast", quick.to_str().unwrap(), endless.to_str().unwrap()])
        .env("RAYON_NUM_THREADS", "2")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("wasmc starts");
    let stdout = child.stdout.take().unwrap();
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        let mut first = String::new();
        let _ = BufReader::new(stdout).read_line(&mut first);
        let _ = lines.send(first);
    });
    // Generous: the first script takes milliseconds natively, seconds under
    // an emulator on a busy machine.
    let first = received.recv_timeout(Duration::from_secs(120));
    child.kill().expect("wasmc is still running");
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let first = first.expect("the quick script's line is printed while the endless one runs");
    assert!(first.ends_with("a_quick.wast: 2 passed, 0 failed\n"), "{first:?}");
}
