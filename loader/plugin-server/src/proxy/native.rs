//! Filters written in Rust inside the proxy (`native = "..."` in the
//! configuration), behind the same chain as Proxy-Wasm filters: the
//! baseline a wasm filter's cost is measured against. There is one, the
//! logic of the Rust SDK's `http_headers` example
//! (`corpus/proxy-wasm/examples/http_headers.rs`) line for line.

use std::sync::Arc;

use wasmc_proxy_wasm::{Action, HeaderMap, LocalResponse, LogLevel, Logger};

/// The native filters, by the name `native = "..."` gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NativeKind {
    /// [`HttpHeaders`].
    HttpHeaders,
}

impl NativeKind {
    /// The filter called `name`, if there is one.
    pub fn from_name(name: &str) -> Option<NativeKind> {
        match name {
            "http_headers" => Some(NativeKind::HttpHeaders),
            _ => None,
        }
    }
}

/// The first context id of a stream: 1 is the root context, as in a VM.
const FIRST_STREAM: u32 = 2;

/// The `http_headers` example natively: logs every request and response
/// header at `Info`; answers `/hello` itself with `200 Hello, World!`;
/// adds `x-wasm-filter: http_headers` to requests and removes
/// `x-remove-me`; adds `powered-by: proxy-wasm` to responses and removes
/// `server`; logs `#N completed.` at `Trace` when a stream ends. Its log
/// lines are the wasm filter's, through the same [`Logger`]; it formats
/// them only when their level is enabled.
pub struct HttpHeaders {
    name: String,
    log_level: LogLevel,
    logger: Arc<dyn Logger>,
    next_context: u32,
}

impl HttpHeaders {
    /// The filter named `name` (in its log lines), logging at `log_level`
    /// and above to `logger`.
    pub fn new(name: String, log_level: LogLevel, logger: Arc<dyn Logger>) -> HttpHeaders {
        HttpHeaders { name, log_level, logger, next_context: FIRST_STREAM }
    }

    fn log(&self, level: LogLevel, message: impl FnOnce() -> String) {
        if level >= self.log_level {
            self.logger.log(&self.name, level, &message());
        }
    }

    /// A new stream's context id.
    pub fn create_stream(&mut self) -> u32 {
        let context = self.next_context;
        self.next_context = context.checked_add(1).unwrap_or(FIRST_STREAM);
        context
    }

    pub fn on_request_headers(&self, context: u32, headers: &mut HeaderMap) -> Action {
        for (name, value) in headers.iter() {
            self.log(LogLevel::Info, || format!("#{context} -> {name}: {}", String::from_utf8_lossy(value)));
        }
        if headers.get(":path") == Some(b"/hello") {
            return Action::Respond(LocalResponse {
                status: 200,
                details: String::new(),
                headers: HeaderMap::from_pairs([("hello", "World"), ("powered-by", "proxy-wasm")]),
                body: b"Hello, World!\n".to_vec(),
            });
        }
        headers.append("x-wasm-filter", "http_headers");
        headers.remove("x-remove-me");
        Action::Continue
    }

    pub fn on_response_headers(&self, context: u32, headers: &mut HeaderMap) -> Action {
        for (name, value) in headers.iter() {
            self.log(LogLevel::Info, || format!("#{context} <- {name}: {}", String::from_utf8_lossy(value)));
        }
        headers.insert("powered-by", "proxy-wasm");
        headers.remove("server");
        Action::Continue
    }

    pub fn end_stream(&self, context: u32) {
        self.log(LogLevel::Trace, || format!("#{context} completed."));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Lines(Mutex<Vec<String>>);

    impl Logger for Lines {
        fn log(&self, plugin: &str, level: LogLevel, message: &str) {
            self.0.lock().unwrap().push(format!("{plugin} {level:?} {message}"));
        }
    }

    #[test]
    fn acts_as_the_sdk_example() {
        let lines = Arc::new(Lines::default());
        let mut filter = HttpHeaders::new("h".into(), LogLevel::Trace, lines.clone());
        let c = filter.create_stream();
        assert_eq!(c, 2);
        let mut request = HeaderMap::from_pairs([(":path", "/x"), ("x-remove-me", "1"), ("X-Remove-Me", "2")]);
        assert_eq!(filter.on_request_headers(c, &mut request), Action::Continue);
        assert_eq!(request, HeaderMap::from_pairs([(":path", "/x"), ("x-wasm-filter", "http_headers")]));
        let mut response = HeaderMap::from_pairs([(":status", "200"), ("server", "u"), ("powered-by", "a")]);
        assert_eq!(filter.on_response_headers(c, &mut response), Action::Continue);
        assert_eq!(response, HeaderMap::from_pairs([(":status", "200"), ("powered-by", "proxy-wasm")]));
        filter.end_stream(c);
        let hello = filter.on_request_headers(filter.next_context, &mut HeaderMap::from_pairs([(":path", "/hello")]));
        let Action::Respond(local) = hello else { panic!("{hello:?}") };
        assert_eq!((local.status, local.body.as_slice()), (200, &b"Hello, World!\n"[..]));
        assert_eq!(local.headers.get_str("hello"), Some("World"));
        let lines = lines.0.lock().unwrap();
        assert_eq!(lines[0], "h Info #2 -> :path: /x");
        assert_eq!(lines[3], "h Info #2 <- :status: 200");
        assert_eq!(lines[6], "h Trace #2 completed.");
    }

    #[test]
    fn formats_nothing_below_its_level() {
        let lines = Arc::new(Lines::default());
        let mut filter = HttpHeaders::new("h".into(), LogLevel::Warn, lines.clone());
        let c = filter.create_stream();
        filter.on_request_headers(c, &mut HeaderMap::from_pairs([(":path", "/x")]));
        filter.end_stream(c);
        assert!(lines.0.lock().unwrap().is_empty());
    }
}
