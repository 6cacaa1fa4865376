//! Misbehaves on paths starting with `/bad`: allocates 1 MiB blocks until memory runs out (the host's memory limit makes `memory.grow` fail; the allocator then aborts, a trap). Other requests get `x-survived: hog`.
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
            let mut blocks: Vec<Vec<u8>> = Vec::new();
            loop {
                blocks.push(std::hint::black_box(vec![1u8; 1 << 20]));
            }
        }
        self.add_http_request_header("x-survived", "hog");
        Action::Continue
    }
}
