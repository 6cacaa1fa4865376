//! Sets a file's access and modification times with `File::set_times`
//! (WASI `fd_filestat_set_times`) and prints what the file then reports.
//! Its output is the same natively and under WASI (`scripts/build-corpus`
//! records the native one in `set_times.expected`).
//!
//! Usage: `set_times DIR` (a writable directory: `/data` under WASI).

use std::fs::{self, File, FileTimes};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn since_epoch(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "/data".to_string());
    let path = format!("{dir}/times.txt");
    let file = File::create(&path).expect("create");
    let accessed = UNIX_EPOCH + Duration::new(1_000_000_000, 0);
    let modified = UNIX_EPOCH + Duration::new(1_234_567_890, 500_000_000);
    file.set_times(FileTimes::new().set_accessed(accessed).set_modified(modified)).expect("set_times");
    let meta = fs::metadata(&path).expect("metadata");
    println!("accessed {}", since_epoch(meta.accessed().expect("atime")));
    println!("modified {}", since_epoch(meta.modified().expect("mtime")));
    // Only the modification time, through a second handle.
    let again = File::options().write(true).open(&path).expect("reopen");
    again.set_modified(UNIX_EPOCH + Duration::new(2_000_000_000, 1)).expect("set_modified");
    let meta = fs::metadata(&path).expect("metadata");
    println!("accessed {}", since_epoch(meta.accessed().expect("atime")));
    println!("modified {}", since_epoch(meta.modified().expect("mtime")));
    fs::remove_file(&path).expect("remove");
    println!("done");
}
