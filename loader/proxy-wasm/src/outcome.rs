//! What a call into a filter gives the embedder: an [`Action`] for the
//! stream, or a [`Failure`] with the plugin's failure policy.

use wasmc_loader::{Error, TrapKind};

use crate::state::{HttpCall, LocalResponse};

/// What the embedder does next with a stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Go on: forward what the filter left (headers, body, trailers).
    Continue,
    /// Hold the stream until the filter resumes it (the answer of an
    /// HTTP call is delivered, or more body arrives).
    Pause,
    /// Answer downstream with this response instead of going on.
    Respond(LocalResponse),
    /// Reset the stream (`proxy_close_stream`).
    Close,
}

/// Why a call into the filter did not give an action.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    /// The callback trapped, ran past its deadline or out of memory; the
    /// VM was discarded.
    #[error("{callback} failed")]
    Callback {
        /// The export called.
        callback: &'static str,
        /// The loader's error (a [`wasmc_loader::Trap`] for a trap or a
        /// deadline).
        #[source]
        error: Error,
    },
    /// `proxy_on_vm_start` or `proxy_on_configure` returned false.
    #[error("{0} returned false")]
    Refused(&'static str),
    /// The VM could not be made (instantiation, WASI, a callback of the
    /// wrong type).
    #[error("cannot start the VM")]
    Start(#[source] Error),
    /// The stream (or HTTP call) belonged to a VM discarded since.
    #[error("the stream's VM was discarded after a failure")]
    StaleStream,
    /// The VM could not be started again a moment ago; the next attempt
    /// waits until [`RESTART_BACKOFF`](crate::RESTART_BACKOFF) has passed.
    #[error("the VM is not running: its last start failed less than {:?} ago", crate::RESTART_BACKOFF)]
    NotRunning,
    /// The VM was shut down ([`crate::Vm::shutdown`]).
    #[error("the VM was shut down")]
    ShutDown,
}

impl FilterError {
    /// Whether the filter ran past its deadline.
    pub fn timed_out(&self) -> bool {
        matches!(self, FilterError::Callback { error: Error::Trap(t), .. } if t.kind == TrapKind::Interrupted)
    }
}

/// A failed call into the filter, with what the request gets instead.
#[derive(Debug, thiserror::Error)]
#[error("filter {plugin}: {error}")]
pub struct Failure {
    /// The plugin's name.
    pub plugin: String,
    /// What went wrong.
    #[source]
    pub error: FilterError,
    /// The plugin's failure policy for the request: `Respond` with the
    /// configured status when failing closed, `Continue` when failing open.
    pub action: Action,
}

/// An HTTP stream (one request and its response) of a [`crate::Vm`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpStream {
    context: u32,
    generation: u64,
}

impl HttpStream {
    /// The filter's context id for this stream.
    pub fn context_id(&self) -> u32 {
        self.context
    }
}

/// An HTTP call, tagged with the VM generation that made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingHttpCall {
    /// What to send.
    pub call: HttpCall,
    generation: u64,
}

impl HttpStream {
    pub(crate) fn new(context: u32, generation: u64) -> HttpStream {
        HttpStream { context, generation }
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }
}

impl PendingHttpCall {
    pub(crate) fn new(call: HttpCall, generation: u64) -> PendingHttpCall {
        PendingHttpCall { call, generation }
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }
}
