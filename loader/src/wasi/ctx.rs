//! [`WasiCtx`], the state one WASI program sees (arguments, environment,
//! stdio, preopened directories and the descriptors it opened), and
//! [`WasiCtxBuilder`].

use std::collections::BTreeMap;
use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
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
    /// The host's stdin, stdout or stderr (0, 1, 2).
    Stdin,
    Stdout,
    Stderr,
    /// A file opened by the program.
    File(File),
    /// A directory: a preopen (with its guest name) or opened by the program.
    Dir {
        dir: File,
        preopen: Option<String>,
    },
    /// A listening socket the embedder granted
    /// ([`WasiCtxBuilder::preopen_socket`]).
    Listener(TcpListener),
    /// A connection accepted from a granted listener.
    Stream(TcpStream),
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
            Kind::Stdin => (rights::STDIN, 0),
            Kind::Stdout | Kind::Stderr => (rights::STDOUT, 0),
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
#[derive(Default)]
pub struct WasiCtxBuilder {
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdio: bool,
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
    /// descriptors 0, 1 and 2 (otherwise they are closed: `EBADF`).
    pub fn inherit_stdio(mut self) -> Self {
        self.stdio = true;
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

    /// The context: stdio (if inherited) at 0-2, preopens from 3 on, in
    /// the order given, then granted sockets.
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
        if self.stdio {
            fds.insert(0, Descriptor::new(Kind::Stdin, 0));
            fds.insert(1, Descriptor::new(Kind::Stdout, 0));
            fds.insert(2, Descriptor::new(Kind::Stderr, 0));
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
