//! [`WasiCtx`], the state one WASI program sees (arguments, environment,
//! stdio, preopened directories and the descriptors it opened), and
//! [`WasiCtxBuilder`].

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Cursor, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use super::types::rights;

/// Why a [`WasiCtxBuilder`] could not build its context.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WasiError {
    /// A host directory to preopen could not be opened.
    #[error("cannot preopen {}: {source}", path.display())]
    Preopen {
        /// The host directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A host path given to preopen is not a directory.
    #[error("cannot preopen {}: not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// An argument or environment entry holds a NUL byte, or an
    /// environment name holds `=`.
    #[error("invalid {what}: {value:?}")]
    Invalid {
        /// "argument" or "environment variable".
        what: &'static str,
        /// The offending text.
        value: String,
    },
}

/// What a descriptor refers to.
pub(crate) enum Kind {
    /// Standard input, output or error (descriptors 0, 1 and 2 until the
    /// program renumbers them).
    Stdio(Stdio),
    /// A file opened by the program.
    File(File),
    /// A directory: a preopen (with its guest name) or opened by the program.
    Dir { dir: File, preopen: Option<String> },
    /// A listening socket the embedder granted
    /// ([`WasiCtxBuilder::preopen_socket`]).
    Listener(TcpListener),
    /// A connection accepted from a granted listener.
    Stream(TcpStream),
}

/// Where a standard stream comes from or goes to.
pub(crate) enum Stdio {
    /// This process's stdin, stdout or stderr.
    HostStdin,
    HostStdout,
    HostStderr,
    /// Bytes the embedder gave ([`WasiCtxBuilder::stdin_bytes`]).
    Input(Cursor<Arc<[u8]>>),
    /// A writer the embedder gave ([`WasiCtxBuilder::stdout`],
    /// [`WasiCtxBuilder::stderr`]).
    Output(Box<dyn Write + Send>),
}

impl Stdio {
    /// Whether the program reads it (rather than writes it).
    fn is_input(&self) -> bool {
        matches!(self, Stdio::HostStdin | Stdio::Input(_))
    }

    /// Its WASI file type: the host's streams are reported as character
    /// devices; the embedder's are not terminals (so, for example,
    /// wasi-libc does not line-buffer them), and of no other type.
    pub fn filetype(&self) -> u8 {
        match self {
            Stdio::HostStdin | Stdio::HostStdout | Stdio::HostStderr => super::types::filetype::CHARACTER_DEVICE,
            Stdio::Input(_) | Stdio::Output(_) => super::types::filetype::UNKNOWN,
        }
    }
}

/// One open descriptor.
pub(crate) struct Descriptor {
    pub kind: Kind,
    /// The `fdflags` it has (set at open, changed by `fd_fdstat_set_flags`).
    pub fdflags: u16,
    /// The rights it has ([`rights`]): checked before each syscall on it.
    pub base: u64,
    /// The most rights a descriptor opened through it may have.
    pub inheriting: u64,
}

impl Descriptor {
    /// A descriptor with the full rights its kind supports.
    pub fn new(kind: Kind, fdflags: u16) -> Descriptor {
        let (base, inheriting) = match &kind {
            Kind::Stdio(stream) if stream.is_input() => (rights::STDIN, 0),
            Kind::Stdio(_) => (rights::STDOUT, 0),
            Kind::File(_) => (rights::FILE, 0),
            Kind::Dir { .. } => (rights::DIRECTORY, rights::DIRECTORY_INHERITING),
            Kind::Listener(_) | Kind::Stream(_) => (rights::SOCKET, rights::SOCKET),
        };
        Descriptor { kind, fdflags, base, inheriting }
    }
}

/// The most descriptors one program may have open.
pub(crate) const MAX_FDS: usize = 1024;

/// The WASI state of one program: build it with [`WasiCtx::builder`] and
/// give it to a store with [`crate::Store::set_wasi`]. Deny by default: no
/// stdio, no files, no environment unless the builder grants them.
pub struct WasiCtx {
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) fds: BTreeMap<u32, Descriptor>,
    /// The origin of the monotonic clock.
    pub(crate) start: Instant,
}

impl std::fmt::Debug for WasiCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasiCtx").field("args", &self.args).field("fds", &self.fds.len()).finish()
    }
}

impl WasiCtx {
    /// A builder with nothing granted.
    pub fn builder() -> WasiCtxBuilder {
        WasiCtxBuilder::default()
    }

    /// The descriptor `fd`, or `EBADF`.
    pub(crate) fn get(&mut self, fd: u32) -> Result<&mut Descriptor, super::Errno> {
        self.fds.get_mut(&fd).ok_or(super::Errno::BADF)
    }

    /// Adds a descriptor at the lowest free number.
    pub(crate) fn insert(&mut self, d: Descriptor) -> Result<u32, super::Errno> {
        if self.fds.len() >= MAX_FDS {
            return Err(super::Errno::MFILE);
        }
        let mut fd = 0;
        while self.fds.contains_key(&fd) {
            fd += 1;
        }
        self.fds.insert(fd, d);
        Ok(fd)
    }
}

/// Builds a [`WasiCtx`].
///
/// A command-line program run by a command-line host:
///
/// ```no_run
/// # fn main() -> Result<(), wasmc_loader::wasi::WasiError> {
/// use wasmc_loader::wasi::WasiCtx;
/// let ctx = WasiCtx::builder()
///     .args(["prog", "--verbose"])
///     .env("LANG", "C")
///     .inherit_stdio()
///     .preopen_dir("/srv/data", "/data")?
///     .build()?;
/// # Ok(()) }
/// ```
///
/// A program run per request by a server: the request body as its stdin,
/// its stdout kept (at most 1 MiB) as the response, its stderr to the
/// server's log.
///
/// ```
/// # fn main() -> Result<(), wasmc_loader::wasi::WasiError> {
/// use wasmc_loader::wasi::{OutputBuffer, WasiCtx};
/// # let body = b"{}".to_vec();
/// let response = OutputBuffer::new(1 << 20);
/// let ctx = WasiCtx::builder()
///     .stdin_bytes(body)
///     .stdout(response.clone())
///     .stderr(std::io::sink()) // or a writer into the server's log
///     .build()?;
/// // ... run the program in a store holding `ctx`, then:
/// let bytes: Vec<u8> = response.take();
/// # Ok(()) }
/// ```
#[derive(Default)]
pub struct WasiCtxBuilder {
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// Descriptors 0, 1 and 2: closed where `None`.
    stdio: [Option<Stdio>; 3],
    preopens: Vec<(File, String)>,
    sockets: Vec<TcpListener>,
}

impl WasiCtxBuilder {
    /// The program's arguments, `argv[0]` (its name) first.
    pub fn args<S: Into<String>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Adds one environment variable.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Gives the program this process's stdin, stdout and stderr as
    /// descriptors 0, 1 and 2. A stream given nothing is closed (`EBADF`).
    ///
    /// This and the methods below each replace what an earlier call gave
    /// the same stream.
    pub fn inherit_stdio(self) -> Self {
        self.inherit_stdin().inherit_stdout().inherit_stderr()
    }

    /// Gives the program this process's stdin as descriptor 0.
    pub fn inherit_stdin(mut self) -> Self {
        self.stdio[0] = Some(Stdio::HostStdin);
        self
    }

    /// Gives the program this process's stdout as descriptor 1.
    pub fn inherit_stdout(mut self) -> Self {
        self.stdio[1] = Some(Stdio::HostStdout);
        self
    }

    /// Gives the program this process's stderr as descriptor 2.
    pub fn inherit_stderr(mut self) -> Self {
        self.stdio[2] = Some(Stdio::HostStderr);
        self
    }

    /// The program reads `bytes` from descriptor 0 (a request body, say),
    /// then end of file. Reads never wait.
    pub fn stdin_bytes(mut self, bytes: impl Into<Arc<[u8]>>) -> Self {
        self.stdio[0] = Some(Stdio::Input(Cursor::new(bytes.into())));
        self
    }

    /// What the program writes to descriptor 1 goes to `sink`, one
    /// [`Write::write`] per piece of a `fd_write` (at most 64 KiB), on the
    /// thread running the program: to keep it in memory, give an
    /// [`OutputBuffer`](super::OutputBuffer). A piece the sink takes only
    /// in part is a short write, which programs continue; `Ok(0)` (a full
    /// sink) fails the program's write with `ENOSPC`, and an error with the
    /// host `errno` it carries (`EIO` for one without). The sink should
    /// not block: a deadline cannot interrupt it. It is dropped when the
    /// program closes the descriptor or the context is dropped.
    pub fn stdout(mut self, sink: impl Write + Send + 'static) -> Self {
        self.stdio[1] = Some(Stdio::Output(Box::new(sink)));
        self
    }

    /// What the program writes to descriptor 2 goes to `sink`, as for
    /// [`stdout`](Self::stdout).
    pub fn stderr(mut self, sink: impl Write + Send + 'static) -> Self {
        self.stdio[2] = Some(Stdio::Output(Box::new(sink)));
        self
    }

    /// Lets the program use the host directory `host` (and what is below
    /// it, never above) under the name `guest`.
    ///
    /// # Errors
    /// [`WasiError::Preopen`] if it cannot be opened,
    /// [`WasiError::NotADirectory`] if it is not a directory.
    pub fn preopen_dir(mut self, host: impl AsRef<Path>, guest: impl Into<String>) -> Result<Self, WasiError> {
        let host = host.as_ref();
        let dir = File::open(host).map_err(|source| WasiError::Preopen { path: host.to_path_buf(), source })?;
        let is_dir = dir.metadata().map_err(|source| WasiError::Preopen { path: host.to_path_buf(), source })?.is_dir();
        if !is_dir {
            return Err(WasiError::NotADirectory(host.to_path_buf()));
        }
        self.preopens.push((dir, guest.into()));
        Ok(self)
    }

    /// Lets the program accept connections on `listener` (with
    /// `sock_accept`, then `sock_recv`/`sock_send`/`sock_shutdown` on
    /// what it accepted). It gets a descriptor after the preopened
    /// directories; programs find it by trying descriptors, as the usual
    /// wasip1 socket libraries do. No other socket is ever reachable.
    pub fn preopen_socket(mut self, listener: TcpListener) -> Self {
        self.sockets.push(listener);
        self
    }

    /// The context: the standard streams given at 0-2, preopens from 3
    /// on, in the order given, then granted sockets.
    ///
    /// # Errors
    /// [`WasiError::Invalid`] for an argument or variable holding NUL, or a
    /// variable name holding `=`.
    pub fn build(self) -> Result<WasiCtx, WasiError> {
        for a in &self.args {
            if a.contains('\0') {
                return Err(WasiError::Invalid { what: "argument", value: a.clone() });
            }
        }
        for (k, v) in &self.env {
            if k.contains('\0') || k.contains('=') || k.is_empty() || v.contains('\0') {
                return Err(WasiError::Invalid { what: "environment variable", value: format!("{k}={v}") });
            }
        }
        let mut fds = BTreeMap::new();
        for (fd, stream) in (0..).zip(self.stdio) {
            if let Some(stream) = stream {
                fds.insert(fd, Descriptor::new(Kind::Stdio(stream), 0));
            }
        }
        let mut next = 3;
        for (dir, guest) in self.preopens {
            fds.insert(next, Descriptor::new(Kind::Dir { dir, preopen: Some(guest) }, 0));
            next += 1;
        }
        for listener in self.sockets {
            fds.insert(next, Descriptor::new(Kind::Listener(listener), 0));
            next += 1;
        }
        Ok(WasiCtx { args: self.args, env: self.env, fds, start: Instant::now() })
    }
}
