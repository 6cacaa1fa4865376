//! Serves one connection on a listening socket the embedder granted
//! (`WasiCtxBuilder::preopen_socket`, found as descriptor 3 with no
//! preopened directories): accepts, receives (first peeking, then reading
//! everything up to the peer's shutdown), sends it back prefixed with
//! `echo: `, shuts down, and prints what it did. The WASI calls are made
//! directly: Rust std has no wasip1 socket API.

type Fd = u32;

#[link(wasm_import_module = "wasi_snapshot_preview1")]
extern "C" {
    fn sock_accept(fd: Fd, flags: u16, out: *mut Fd) -> u16;
    fn sock_recv(fd: Fd, iovs: *const Iovec, n: usize, flags: u16, out: *mut usize, oflags: *mut u16) -> u16;
    fn sock_send(fd: Fd, iovs: *const Iovec, n: usize, flags: u16, out: *mut usize) -> u16;
    fn sock_shutdown(fd: Fd, how: u8) -> u16;
    fn fd_fdstat_get(fd: Fd, out: *mut u8) -> u16;
    fn fd_close(fd: Fd) -> u16;
}

#[repr(C)]
struct Iovec {
    buf: *const u8,
    len: usize,
}

const RECV_PEEK: u16 = 1;
const SHUT_WR: u8 = 2;

unsafe fn recv(fd: Fd, buf: &mut [u8], flags: u16) -> (u16, usize) {
    let iov = Iovec { buf: buf.as_mut_ptr(), len: buf.len() };
    let (mut n, mut oflags) = (0, 0);
    let e = sock_recv(fd, &iov, 1, flags, &mut n, &mut oflags);
    (e, n)
}

fn main() {
    unsafe {
        let mut stat = [0u8; 24];
        assert_eq!(fd_fdstat_get(3, stat.as_mut_ptr()), 0);
        println!("descriptor 3 filetype {}", stat[0]);
        let mut conn = 0;
        let e = sock_accept(3, 0, &mut conn);
        println!("accept: {e}");
        if e != 0 {
            return;
        }
        println!("sock_shutdown on the listener: {}", sock_shutdown(3, 3));
        let mut buf = [0u8; 256];
        let (e, n) = recv(conn, &mut buf[..1], RECV_PEEK);
        println!("peek: {e} {:?}", std::str::from_utf8(&buf[..n]).unwrap());
        let mut got = Vec::new();
        loop {
            let (e, n) = recv(conn, &mut buf, 0);
            if e != 0 || n == 0 {
                println!("recv ended: {e}");
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        println!("received {:?}", String::from_utf8_lossy(&got));
        let reply = [b"echo: ".as_slice(), &got].concat();
        let iov = Iovec { buf: reply.as_ptr(), len: reply.len() };
        let mut sent = 0;
        println!("send: {} {sent_len}", sock_send(conn, &iov, 1, 0, &mut sent), sent_len = reply.len());
        println!("sent {sent}");
        println!("shutdown: {}", sock_shutdown(conn, SHUT_WR));
        println!("close: {}", fd_close(conn));
    }
}
