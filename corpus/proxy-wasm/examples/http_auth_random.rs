//! The SDK's `http_auth_random` example: every request is paused while an
//! HTTP callout to the upstream `httpbin` fetches `/bytes/1`; an even byte
//! lets the request through, an odd one answers `403 Access forbidden.`.
//! Responses get `powered-by: proxy-wasm`.
use log::trace;
use proxy_wasm::traits::*;
use proxy_wasm::types::*;
use std::time::Duration;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Trace);
    proxy_wasm::set_http_context(|_, _| -> Box<dyn HttpContext> { Box::new(HttpAuthRandom) });
}}

struct HttpAuthRandom;

impl HttpContext for HttpAuthRandom {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        self.dispatch_http_call(
            "httpbin",
            vec![(":method", "GET"), (":path", "/bytes/1"), (":authority", "httpbin.org")],
            None,
            vec![],
            Duration::from_secs(1),
        )
        .unwrap();
        Action::Pause
    }

    fn on_http_response_headers(&mut self, _: usize, _: bool) -> Action {
        self.set_http_response_header("powered-by", Some("proxy-wasm"));
        Action::Continue
    }
}

impl Context for HttpAuthRandom {
    fn on_http_call_response(&mut self, _: u32, _: usize, body_size: usize, _: usize) {
        if let Some(body) = self.get_http_call_response_body(0, body_size) {
            if !body.is_empty() && body[0] % 2 == 0 {
                trace!("Access granted.");
                self.resume_http_request();
                return;
            }
        }
        trace!("Access forbidden.");
        self.send_http_response(403, vec![("powered-by", "proxy-wasm")], Some(b"Access forbidden.\n"));
    }
}
