//! The numbers of the Proxy-Wasm ABI (v0.2.1, and v0.2.0 which has the same
//! host functions and callbacks for everything implemented here): statuses,
//! map and buffer types, log levels, and the version exports.

/// A host function's result, as the ABI numbers it (`proxy_status_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Status {
    Ok = 0,
    NotFound = 1,
    BadArgument = 2,
    SerializationFailure = 3,
    InvalidMemoryAccess = 6,
    Empty = 7,
    CasMismatch = 8,
    InternalFailure = 10,
    Unimplemented = 12,
}

/// The ABI version a module was built for, from its `proxy_abi_version_*`
/// export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AbiVersion {
    /// `proxy_abi_version_0_2_0` (the Go SDK, older Rust SDKs).
    V0_2_0,
    /// `proxy_abi_version_0_2_1` (Rust SDK 0.2.2 and later, C++ SDK).
    V0_2_1,
}

impl AbiVersion {
    /// The version whose marker export is `name`; `None` for any other
    /// name, v0.1.0's `proxy_abi_version_0_1_0` included (its callbacks
    /// differ and no SDK in use emits it).
    pub fn from_export(name: &str) -> Option<AbiVersion> {
        match name {
            "proxy_abi_version_0_2_0" => Some(AbiVersion::V0_2_0),
            "proxy_abi_version_0_2_1" => Some(AbiVersion::V0_2_1),
            _ => None,
        }
    }
}

/// Log levels (`proxy_log_level_t`), lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Trace = 0,
    Debug = 1,
    Info = 2,
    Warn = 3,
    Error = 4,
    Critical = 5,
}

impl LogLevel {
    /// The level numbered `n` by the ABI.
    pub fn from_abi(n: u32) -> Option<LogLevel> {
        Some(match n {
            0 => LogLevel::Trace,
            1 => LogLevel::Debug,
            2 => LogLevel::Info,
            3 => LogLevel::Warn,
            4 => LogLevel::Error,
            5 => LogLevel::Critical,
            _ => return None,
        })
    }
}

/// `proxy_map_type_t`.
pub mod map_type {
    pub const HTTP_REQUEST_HEADERS: u32 = 0;
    pub const HTTP_REQUEST_TRAILERS: u32 = 1;
    pub const HTTP_RESPONSE_HEADERS: u32 = 2;
    pub const HTTP_RESPONSE_TRAILERS: u32 = 3;
    pub const GRPC_RECEIVE_INITIAL_METADATA: u32 = 4;
    pub const GRPC_RECEIVE_TRAILING_METADATA: u32 = 5;
    pub const HTTP_CALL_RESPONSE_HEADERS: u32 = 6;
    pub const HTTP_CALL_RESPONSE_TRAILERS: u32 = 7;
}

/// `proxy_buffer_type_t`.
pub mod buffer_type {
    pub const HTTP_REQUEST_BODY: u32 = 0;
    pub const HTTP_RESPONSE_BODY: u32 = 1;
    pub const DOWNSTREAM_DATA: u32 = 2;
    pub const UPSTREAM_DATA: u32 = 3;
    pub const HTTP_CALL_RESPONSE_BODY: u32 = 4;
    pub const GRPC_RECEIVE_BUFFER: u32 = 5;
    pub const VM_CONFIGURATION: u32 = 6;
    pub const PLUGIN_CONFIGURATION: u32 = 7;
    pub const FOREIGN_FUNCTION_ARGUMENTS: u32 = 8;
}

/// `proxy_stream_type_t`.
pub mod stream_type {
    pub const HTTP_REQUEST: u32 = 0;
    pub const HTTP_RESPONSE: u32 = 1;
    pub const DOWNSTREAM: u32 = 2;
    pub const UPSTREAM: u32 = 3;
}

/// `proxy_metric_type_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
}

impl MetricType {
    /// The type numbered `n` by the ABI.
    pub fn from_abi(n: u32) -> Option<MetricType> {
        Some(match n {
            0 => MetricType::Counter,
            1 => MetricType::Gauge,
            2 => MetricType::Histogram,
            _ => return None,
        })
    }
}

/// A callback's `proxy_action_t` result: 0 continue, 1 pause.
pub const ACTION_CONTINUE: i32 = 0;
