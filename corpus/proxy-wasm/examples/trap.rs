//! Misbehaves on paths starting with `/bad`: panics in `on_http_request_headers` (`panic = "abort"`: a wasm trap). Other requests get `x-survived: trap`.
use proxy_wasm::traits::*;
use proxy_wasm::types::*;

proxy_wasm::main! {{
    proxy_wasm::set_http_context(|_, _| -> Box<dyn HttpContext> { Box::new(Filter) });
}}

struct Filter;

impl Context for Filter {}

impl HttpContext for Filter {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        let path = self.get_http_request_header(":path").unwrap_or_default();
        if path.starts_with("/bad") {
            panic!("trap filter asked to fail on {path}");
        }
        self.add_http_request_header("x-survived", "trap");
        Action::Continue
    }
}
