//! Calls WASI preview 1 functions directly (no std wrapper between) and
//! prints one line per case: what each call returned, as an errno name,
//! and what it did. `compiler/cli/tests/wasi.rs` checks every line.
//!
//! Usage: `wasi_calls` with an empty writable host directory preopened as
//! `/data` (descriptor 3) and stdin a pipe holding some bytes;
//! `wasi_calls wait-stdin` only waits (poll_oneoff) for stdin to become
//! readable, with no clock: only the call's deadline ends it.

#![allow(clippy::missing_safety_doc)]

type Fd = u32;

#[link(wasm_import_module = "wasi_snapshot_preview1")]
extern "C" {
    fn fd_fdstat_get(fd: Fd, out: *mut u8) -> u16;
    fn fd_fdstat_set_rights(fd: Fd, base: u64, inheriting: u64) -> u16;
    fn fd_fdstat_set_flags(fd: Fd, flags: u16) -> u16;
    fn fd_prestat_dir_name(fd: Fd, buf: *mut u8, len: usize) -> u16;
    fn path_open(
        fd: Fd,
        dirflags: u32,
        path: *const u8,
        len: usize,
        oflags: u16,
        base: u64,
        inheriting: u64,
        fdflags: u16,
        out: *mut Fd,
    ) -> u16;
    fn fd_close(fd: Fd) -> u16;
    fn fd_sync(fd: Fd) -> u16;
    fn fd_datasync(fd: Fd) -> u16;
    fn fd_read(fd: Fd, iovs: *const Iovec, n: usize, out: *mut usize) -> u16;
    fn fd_write(fd: Fd, iovs: *const Iovec, n: usize, out: *mut usize) -> u16;
    fn fd_seek(fd: Fd, offset: i64, whence: u8, out: *mut u64) -> u16;
    fn fd_allocate(fd: Fd, offset: u64, len: u64) -> u16;
    fn fd_advise(fd: Fd, offset: u64, len: u64, advice: u8) -> u16;
    fn fd_filestat_get(fd: Fd, out: *mut u8) -> u16;
    fn fd_filestat_set_times(fd: Fd, atim: u64, mtim: u64, flags: u16) -> u16;
    fn path_filestat_get(fd: Fd, flags: u32, path: *const u8, len: usize, out: *mut u8) -> u16;
    fn path_filestat_set_times(fd: Fd, flags: u32, path: *const u8, len: usize, atim: u64, mtim: u64, fst: u16)
        -> u16;
    fn path_link(fd: Fd, flags: u32, old: *const u8, old_len: usize, new_fd: Fd, new: *const u8, new_len: usize)
        -> u16;
    fn path_symlink(old: *const u8, old_len: usize, fd: Fd, new: *const u8, new_len: usize) -> u16;
    fn path_readlink(fd: Fd, path: *const u8, len: usize, buf: *mut u8, buf_len: usize, out: *mut usize) -> u16;
    fn path_unlink_file(fd: Fd, path: *const u8, len: usize) -> u16;
    fn path_create_directory(fd: Fd, path: *const u8, len: usize) -> u16;
    fn path_remove_directory(fd: Fd, path: *const u8, len: usize) -> u16;
    fn poll_oneoff(subs: *const u8, events: *mut u8, n: usize, out: *mut usize) -> u16;
    fn clock_time_get(id: u32, precision: u64, out: *mut u64) -> u16;
    fn sock_accept(fd: Fd, flags: u16, out: *mut Fd) -> u16;
    fn sock_recv(fd: Fd, iovs: *const Iovec, n: usize, flags: u16, out: *mut usize, oflags: *mut u16) -> u16;
    fn sock_send(fd: Fd, iovs: *const Iovec, n: usize, flags: u16, out: *mut usize) -> u16;
    fn sock_shutdown(fd: Fd, how: u8) -> u16;
    fn proc_raise(sig: u8) -> u16;
}

#[repr(C)]
struct Iovec {
    buf: *const u8,
    len: usize,
}

const FD_READ: u64 = 1 << 1;
const FD_SEEK: u64 = 1 << 2;
const FD_WRITE: u64 = 1 << 6;
const FD_ALLOCATE: u64 = 1 << 8;
const PATH_OPEN: u64 = 1 << 13;
const FD_READDIR: u64 = 1 << 14;
const FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
const O_CREAT: u16 = 1;
const O_DIRECTORY: u16 = 2;
const O_TRUNC: u16 = 8;
const APPEND: u16 = 1;
const FOLLOW: u32 = 1;
const ATIM: u16 = 1;
const ATIM_NOW: u16 = 2;
const MTIM: u16 = 4;
const MTIM_NOW: u16 = 8;

fn name(e: u16) -> String {
    match e {
        0 => "OK".into(),
        8 => "EBADF".into(),
        20 => "EEXIST".into(),
        28 => "EINVAL".into(),
        31 => "EISDIR".into(),
        32 => "ELOOP".into(),
        44 => "ENOENT".into(),
        52 => "ENOSYS".into(),
        53 => "ENOTCONN".into(),
        54 => "ENOTDIR".into(),
        57 => "ENOTSOCK".into(),
        58 => "ENOTSUP".into(),
        76 => "ENOTCAPABLE".into(),
        other => format!("errno {other}"),
    }
}

fn show(what: &str, e: u16) {
    println!("{what}: {}", name(e));
}

/// `(base, inheriting, filetype, flags)` of `fd`.
unsafe fn fdstat(fd: Fd) -> (u64, u64, u8, u16) {
    let mut b = [0u8; 24];
    assert_eq!(fd_fdstat_get(fd, b.as_mut_ptr()), 0);
    let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
    (u64_at(8), u64_at(16), b[0], u16::from_le_bytes([b[2], b[3]]))
}

unsafe fn open(dir: Fd, path: &str, oflags: u16, base: u64, inheriting: u64, fdflags: u16) -> Result<Fd, u16> {
    let mut fd = 0;
    match path_open(dir, 0, path.as_ptr(), path.len(), oflags, base, inheriting, fdflags, &mut fd) {
        0 => Ok(fd),
        e => Err(e),
    }
}

unsafe fn write(fd: Fd, data: &[u8]) -> Result<usize, u16> {
    let iov = Iovec { buf: data.as_ptr(), len: data.len() };
    let mut n = 0;
    match fd_write(fd, &iov, 1, &mut n) {
        0 => Ok(n),
        e => Err(e),
    }
}

unsafe fn read(fd: Fd, len: usize) -> Result<Vec<u8>, u16> {
    let mut buf = vec![0u8; len];
    let iov = Iovec { buf: buf.as_mut_ptr(), len };
    let mut n = 0;
    match fd_read(fd, &iov, 1, &mut n) {
        0 => Ok(buf[..n].to_vec()),
        e => Err(e),
    }
}

/// `(nlink, size, atim, mtim)` of a 64-byte filestat.
fn stat_fields(b: &[u8; 64]) -> (u64, u64, u64, u64) {
    let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
    (u64_at(24), u64_at(32), u64_at(40), u64_at(48))
}

unsafe fn fstat(fd: Fd) -> (u64, u64, u64, u64) {
    let mut b = [0u8; 64];
    assert_eq!(fd_filestat_get(fd, b.as_mut_ptr()), 0);
    stat_fields(&b)
}

unsafe fn pstat(dir: Fd, path: &str, flags: u32) -> Result<(u64, u64, u64, u64), u16> {
    let mut b = [0u8; 64];
    match path_filestat_get(dir, flags, path.as_ptr(), path.len(), b.as_mut_ptr()) {
        0 => Ok(stat_fields(&b)),
        e => Err(e),
    }
}

fn clock_sub(userdata: u64, id: u32, timeout: u64, flags: u16) -> [u8; 48] {
    let mut s = [0u8; 48];
    s[0..8].copy_from_slice(&userdata.to_le_bytes());
    s[8] = 0;
    s[16..20].copy_from_slice(&id.to_le_bytes());
    s[24..32].copy_from_slice(&timeout.to_le_bytes());
    s[40..42].copy_from_slice(&flags.to_le_bytes());
    s
}

fn fd_sub(userdata: u64, kind: u8, fd: Fd) -> [u8; 48] {
    let mut s = [0u8; 48];
    s[0..8].copy_from_slice(&userdata.to_le_bytes());
    s[8] = kind;
    s[16..20].copy_from_slice(&fd.to_le_bytes());
    s
}

/// Polls; returns `(userdata, error, type, nbytes)` per event.
unsafe fn poll(subs: &[[u8; 48]]) -> Result<Vec<(u64, u16, u8, u64)>, u16> {
    let input: Vec<u8> = subs.concat();
    let mut out = vec![0u8; 32 * subs.len().max(1)];
    let mut n = 0;
    match poll_oneoff(input.as_ptr(), out.as_mut_ptr(), subs.len(), &mut n) {
        0 => Ok(out[..32 * n]
            .chunks(32)
            .map(|e| {
                let u64_at = |i: usize| u64::from_le_bytes(e[i..i + 8].try_into().unwrap());
                (u64_at(0), u16::from_le_bytes([e[8], e[9]]), e[10], u64_at(16))
            })
            .collect()),
        e => Err(e),
    }
}

unsafe fn now(id: u32) -> u64 {
    let mut t = 0;
    assert_eq!(clock_time_get(id, 1, &mut t), 0);
    t
}

unsafe fn rights() {
    let mut name = [0u8; 5];
    assert_eq!(fd_prestat_dir_name(3, name.as_mut_ptr(), 5), 0);
    assert_eq!(&name, b"/data");
    let (base, inheriting, ty, _) = fdstat(3);
    println!("preopen filetype {ty}");
    for (right, label) in
        [(FD_READ, "FD_READ"), (FD_WRITE, "FD_WRITE"), (FD_SEEK, "FD_SEEK"), (FD_FILESTAT_SET_SIZE, "FD_FILESTAT_SET_SIZE")]
    {
        println!("preopen has {label}: {}", base & right != 0);
    }
    println!("preopen has PATH_OPEN and FD_READDIR: {}", base & (PATH_OPEN | FD_READDIR) == PATH_OPEN | FD_READDIR);
    println!("preopen passes on FD_READ|FD_WRITE: {}", inheriting & (FD_READ | FD_WRITE) == FD_READ | FD_WRITE);
    match open(3, ".", O_DIRECTORY, base, inheriting, 0) {
        Ok(fd) => {
            println!("open . with the preopen's rights: OK, same rights: {}", fdstat(fd).0 == base);
            fd_close(fd);
        }
        Err(e) => show("open . with the preopen's rights", e),
    }
    show("open . O_DIRECTORY with FD_WRITE", open(3, ".", O_DIRECTORY, FD_READ | FD_WRITE, 0, 0).err().unwrap_or(0));

    let w = open(3, "file.txt", O_CREAT | O_TRUNC, FD_READ | FD_WRITE | FD_SEEK, 0, 0).unwrap();
    write(w, b"0123456789").unwrap();
    fd_close(w);
    let r = open(3, "file.txt", 0, FD_READ | FD_SEEK, 0, 0).unwrap();
    let (base, _, ty, _) = fdstat(r);
    println!("read-only file filetype {ty}, FD_READ {}, FD_WRITE {}", base & FD_READ != 0, base & FD_WRITE != 0);
    show("write to a read-only file", write(r, b"x").err().unwrap_or(0));
    show("drop FD_READ", fd_fdstat_set_rights(r, base & !FD_READ, 0));
    show("read after dropping FD_READ", read(r, 4).err().unwrap_or(0));
    show("regain FD_READ", fd_fdstat_set_rights(r, base, 0));
    fd_close(r);
}

unsafe fn argument_order() {
    let nothing: [Iovec; 0] = [];
    let mut n = 0;
    show("fd_write of no iovecs to fd 99", fd_write(99, nothing.as_ptr(), 0, &mut n));
    show("fd_write of no iovecs to stdout", fd_write(1, nothing.as_ptr(), 0, &mut n));
    show("fd_allocate on a directory", fd_allocate(3, 0, 1));
    show("fd_read on a directory", read(3, 1).err().unwrap_or(0));
    show("fd_sync on a directory", fd_sync(3));
    show("fd_datasync on a directory", fd_datasync(3));
    assert_eq!(path_create_directory(3, "sub".as_ptr(), 3), 0);
    show("path_unlink_file sub/", path_unlink_file(3, "sub/".as_ptr(), 4));
    show("path_unlink_file file.txt/", path_unlink_file(3, "file.txt/".as_ptr(), 9));
    show("fd_filestat_set_times ATIM|ATIM_NOW", fd_filestat_set_times(3, 1, 1, ATIM | ATIM_NOW));
    show("fd_filestat_set_times MTIM|MTIM_NOW", fd_filestat_set_times(3, 1, 1, MTIM | MTIM_NOW));
    show("path_filestat_set_times unknown flag", path_filestat_set_times(3, 0, "sub".as_ptr(), 3, 0, 0, 16));
    assert_eq!(path_remove_directory(3, "sub".as_ptr(), 3), 0);
}

unsafe fn file_calls() {
    let fd = open(3, "file.txt", 0, FD_READ | FD_WRITE | FD_SEEK | FD_ALLOCATE | (1 << 23) | (1 << 3) | (1 << 7) | (1 << 21), 0, 0)
        .unwrap();
    show("fd_advise sequential", fd_advise(fd, 0, 10, 1));
    show("fd_advise advice 9", fd_advise(fd, 0, 10, 9));
    show("fd_allocate to 100 bytes", fd_allocate(fd, 50, 50));
    println!("size after fd_allocate: {}", fstat(fd).1);
    show("fd_allocate within the file", fd_allocate(fd, 0, 10));
    println!("size still: {}", fstat(fd).1);
    show("fd_fdstat_set_flags APPEND", fd_fdstat_set_flags(fd, APPEND));
    println!("flags now: {}", fdstat(fd).3);
    let mut pos = 0;
    fd_seek(fd, 0, 0, &mut pos);
    write(fd, b"end").unwrap();
    println!("size after an appending write at 0: {}", fstat(fd).1);
    show("fd_fdstat_set_flags 0", fd_fdstat_set_flags(fd, 0));
    show("fd_filestat_set_times ATIM|MTIM", fd_filestat_set_times(fd, 1_000_000_000_000_000_000, 1_500_000_000_123_456_789, ATIM | MTIM));
    let (_, _, atim, mtim) = fstat(fd);
    println!("atim {atim} mtim {mtim}");
    let before = now(0);
    show("fd_filestat_set_times MTIM_NOW", fd_filestat_set_times(fd, 0, 0, MTIM_NOW));
    let (_, _, atim2, mtim2) = fstat(fd);
    println!("atim kept: {}, mtim now: {}", atim2 == atim, mtim2 + 1_000_000_000 >= before);
    fd_close(fd);
    show("path_filestat_set_times", path_filestat_set_times(3, 0, "file.txt".as_ptr(), 8, 5_000_000_000, 7_000_000_000, ATIM | MTIM));
    let (_, _, atim, mtim) = pstat(3, "file.txt", 0).unwrap();
    println!("atim {atim} mtim {mtim}");
}

unsafe fn links() {
    show("path_link file.txt hard.txt", path_link(3, 0, "file.txt".as_ptr(), 8, 3, "hard.txt".as_ptr(), 8));
    println!("nlink of file.txt: {}", pstat(3, "file.txt", 0).unwrap().0);
    show("path_link onto an existing name", path_link(3, 0, "file.txt".as_ptr(), 8, 3, "hard.txt".as_ptr(), 8));
    show("path_link to ../escape", path_link(3, 0, "file.txt".as_ptr(), 8, 3, "../escape".as_ptr(), 9));
    show("path_symlink file.txt soft", path_symlink("file.txt".as_ptr(), 8, 3, "soft".as_ptr(), 4));
    let mut buf = [0u8; 64];
    let mut n = 0;
    path_readlink(3, "soft".as_ptr(), 4, buf.as_mut_ptr(), 64, &mut n);
    println!("soft -> {}", std::str::from_utf8(&buf[..n]).unwrap());
    println!("size through soft: {}", pstat(3, "soft", FOLLOW).unwrap().1);
    show("path_symlink ../outside out", path_symlink("../outside".as_ptr(), 10, 3, "out".as_ptr(), 3));
    show("follow out", pstat(3, "out", FOLLOW).err().unwrap_or(0));
    let mut fd = 0;
    show("open out following it", path_open(3, FOLLOW, "out".as_ptr(), 3, 0, FD_READ, 0, 0, &mut fd));
    show("open out not following it", open(3, "out", 0, FD_READ, 0, 0).err().unwrap_or(0));
    show("path_symlink /etc/passwd abs", path_symlink("/etc/passwd".as_ptr(), 11, 3, "abs".as_ptr(), 3));
    show("path_symlink x ../escape", path_symlink("x".as_ptr(), 1, 3, "../escape".as_ptr(), 9));
    for name in ["hard.txt", "soft", "out"] {
        assert_eq!(path_unlink_file(3, name.as_ptr(), name.len()), 0);
    }
}

unsafe fn polling() {
    show("poll_oneoff with no subscriptions", poll(&[]).err().unwrap_or(0));
    let start = now(1);
    let events = poll(&[clock_sub(7, 1, 30_000_000, 0)]).unwrap();
    println!("relative clock: events {:?}, waited 30 ms: {}", events, now(1) - start >= 30_000_000);
    let start = now(1);
    let events = poll(&[clock_sub(8, 1, start + 30_000_000, 1)]).unwrap();
    println!("absolute clock: events {:?}, waited until then: {}", events, now(1) >= start + 30_000_000);
    let events = poll(&[clock_sub(9, 0, 0, 1)]).unwrap();
    println!("realtime clock in the past: {events:?}");
    let fd = open(3, "file.txt", 0, FD_READ | FD_SEEK | (1 << 27), 0, 0).unwrap();
    let mut pos = 0;
    fd_seek(fd, 4, 0, &mut pos);
    let events = poll(&[fd_sub(1, 1, fd), clock_sub(2, 1, 5_000_000_000, 0)]).unwrap();
    println!("file readable: {events:?}");
    fd_close(fd);
    let events = poll(&[fd_sub(3, 2, 1), clock_sub(2, 1, 5_000_000_000, 0)]).unwrap();
    println!("stdout (a pipe) writable: {events:?}");
    let events = poll(&[fd_sub(4, 1, 0), clock_sub(2, 1, 5_000_000_000, 0)]).unwrap();
    println!("stdin (a pipe with data) readable: {:?}", events.iter().map(|e| (e.0, e.1, e.2)).collect::<Vec<_>>());
    let events = poll(&[fd_sub(5, 1, 99)]).unwrap();
    println!("bad descriptor: {events:?}");
}

unsafe fn sockets() {
    let mut fd = 0;
    let mut n = 0;
    let mut flags = 0;
    let buf = [0u8; 4];
    let iov = Iovec { buf: buf.as_ptr(), len: 4 };
    show("sock_accept on a directory", sock_accept(3, 0, &mut fd));
    show("sock_recv on stdin", sock_recv(0, &iov, 1, 0, &mut n, &mut flags));
    show("sock_send on stdout", sock_send(1, &iov, 1, 0, &mut n));
    show("sock_shutdown on stdout", sock_shutdown(1, 3));
    show("sock_shutdown on fd 99", sock_shutdown(99, 3));
    show("proc_raise", proc_raise(2));
}

fn main() {
    unsafe {
        if std::env::args().nth(1).as_deref() == Some("wait-stdin") {
            println!("waiting for stdin");
            let events = poll(&[fd_sub(1, 1, 0)]);
            println!("stdin ready: {events:?}");
            return;
        }
        rights();
        argument_order();
        file_calls();
        links();
        polling();
        sockets();
        assert_eq!(path_unlink_file(3, "file.txt".as_ptr(), 8), 0);
        println!("done");
    }
}
