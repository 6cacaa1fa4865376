//! A Proxy-Wasm host on the wasmc loader: runs HTTP filters written with
//! the Proxy-Wasm SDKs (Rust, C++, Go, AssemblyScript), compiled ahead of
//! time by `wasmc`, with ABI v0.2.1 or v0.2.0.
//!
//! A [`Plugin`] is a compiled module with its configuration, linked once
//! and shared by all workers. Each worker thread has its own [`Vm`] of the
//! plugin (one instance and its root context) and drives it: it starts
//! an [`HttpStream`] per request, hands the filter headers, bodies and
//! trailers, gets an [`Action`] back, performs the HTTP calls the filter
//! made ([`Vm::take_http_calls`]) and delivers their answers, and calls
//! [`Vm::poll`] for ticks and queues. Every callback runs under the
//! plugin's deadline and memory limit; one that fails discards the VM, a
//! new one starts, and the request gets the plugin's [`FailurePolicy`]
//! (in [`Failure::action`]).
//!
//! ```no_run
//! use wasmc_proxy_wasm::{Action, HeaderMap, Plugin, PluginConfig, StreamInfo, Vm};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // SAFETY: our pipeline compiled the filter with wasmc.
//! let module = unsafe { wasmc_loader::Module::from_file("http_headers.cwasm") }?;
//! let plugin = Plugin::new(&module, PluginConfig::new("headers"))?;
//! let mut vm = Vm::new(&plugin)?;                     // one per worker thread
//! let stream = vm.create_http_stream(StreamInfo::default())?;
//! let mut headers = HeaderMap::from_pairs([(":method", "GET"), (":path", "/hello")]);
//! match vm.on_request_headers(&stream, &mut headers, true) {
//!     Ok(Action::Respond(r)) => println!("filter answered {}", r.status),
//!     Ok(action) => println!("{action:?}, headers now {headers:?}"),
//!     Err(failure) => println!("{failure}; the request gets {:?}", failure.action),
//! }
//! vm.end_http_stream(stream)?;
//! # Ok(())
//! # }
//! ```

mod abi;
mod guest;
mod hostcalls;
mod live;
mod maps;
mod outcome;
mod plugin;
mod shared;
mod state;
mod vm;

pub use abi::{AbiVersion, LogLevel, MetricType};
pub use maps::HeaderMap;
pub use outcome::{Action, Failure, FilterError, HttpStream, PendingHttpCall};
pub use plugin::{FailurePolicy, Logger, Plugin, PluginConfig, PluginError, StderrLogger};
pub use shared::{Metric, Shared};
pub use state::{HttpCall, HttpCallResponse, LocalResponse, StreamInfo};
pub use vm::{Vm, RESTART_BACKOFF};
