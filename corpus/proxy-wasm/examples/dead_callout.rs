//! Calls out to the upstream `dead` (which the host cannot reach) and
//! pauses the request. A callout that fails comes back through
//! `proxy_on_http_call_response` without headers or body: the filter then
//! answers `502 callout failed`. If the host refuses the callout at once
//! (an unknown upstream), it answers `500 callout refused`. A callout that
//! does answer lets the request through with `x-callout-status`.
use proxy_wasm::traits::*;
use proxy_wasm::types::*;
use std::time::Duration;

proxy_wasm::main! {{
    proxy_wasm::set_http_context(|_, _| -> Box<dyn HttpContext> { Box::new(DeadCallout) });
}}

struct DeadCallout;

impl HttpContext for DeadCallout {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        let upstream = self.get_http_request_header("x-upstream").unwrap_or_else(|| "dead".to_string());
        let call = self.dispatch_http_call(
            &upstream,
            vec![(":method", "GET"), (":path", "/"), (":authority", "dead")],
            None,
            vec![],
            Duration::from_millis(200),
        );
        match call {
            Ok(_) => Action::Pause,
            Err(_) => {
                self.send_http_response(500, vec![], Some(b"callout refused\n"));
                Action::Pause
            }
        }
    }
}

impl Context for DeadCallout {
    fn on_http_call_response(&mut self, _: u32, num_headers: usize, _: usize, _: usize) {
        match self.get_http_call_response_header(":status") {
            Some(status) if num_headers > 0 => {
                self.add_http_request_header("x-callout-status", &status);
                self.resume_http_request();
            }
            _ => self.send_http_response(502, vec![], Some(b"callout failed\n")),
        }
    }
}
