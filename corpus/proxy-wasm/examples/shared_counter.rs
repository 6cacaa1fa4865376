//! Shared data, a tick, a shared queue, a metric and properties. The root
//! context makes the shared counters `requests` and `ticks` if they do not
//! exist yet and sets a 10 ms tick period in `proxy_on_vm_start`; each tick adds
//! one to the shared `ticks` with compare-and-swap. Each request adds one
//! to the shared `requests` (compare-and-swap, retried on a mismatch, so
//! counts from every VM of the plugin add up), increments the counter metric
//! `shared_counter_requests`, and queues its path on the shared queue
//! `paths`, which the root context drains in `proxy_on_queue_ready` into the
//! shared `last_path`. Responses carry `x-request-count`, `x-ticks`,
//! `x-last-path`, `x-plugin-name`, `x-root-id`, `x-method`, `x-path` and
//! `x-source`, read from shared data and properties.
use log::warn;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::*;
use proxy_wasm::types::*;
use std::time::Duration;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Trace);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(CounterRoot { queue: 0, metric: 0 }) });
}}

/// Adds `delta` to the shared counter `key`, retrying on a CAS mismatch;
/// returns the new value.
fn add_shared(ctx: &dyn Context, key: &str, delta: u64) -> u64 {
    loop {
        let (value, cas) = ctx.get_shared_data(key);
        let current = value.map(|v| u64::from_le_bytes(v.try_into().unwrap_or([0; 8]))).unwrap_or(0);
        let next = current + delta;
        match ctx.set_shared_data(key, Some(&next.to_le_bytes()), cas) {
            Ok(()) => return next,
            Err(Status::CasMismatch) => continue,
            Err(e) => panic!("set_shared_data: {e:?}"),
        }
    }
}

fn read_shared(ctx: &dyn Context, key: &str) -> Vec<u8> {
    ctx.get_shared_data(key).0.unwrap_or_default()
}

fn property(ctx: &dyn Context, path: Vec<&str>) -> String {
    ctx.get_property(path).map(|v| String::from_utf8_lossy(&v).into_owned()).unwrap_or_default()
}

struct CounterRoot {
    queue: u32,
    metric: u32,
}

impl Context for CounterRoot {}

impl RootContext for CounterRoot {
    fn on_vm_start(&mut self, _: usize) -> bool {
        // Counters are made once, by the first VM of the plugin (VMs that
        // start together both write 0); from then on every update is a
        // compare-and-swap.
        for key in ["requests", "ticks"] {
            if self.get_shared_data(key).0.is_none() {
                self.set_shared_data(key, Some(&0u64.to_le_bytes()), None).unwrap();
            }
        }
        self.set_tick_period(Duration::from_millis(10));
        self.queue = self.register_shared_queue("paths");
        self.metric = hostcalls::define_metric(MetricType::Counter, "shared_counter_requests").unwrap();
        true
    }

    fn on_tick(&mut self) {
        add_shared(self, "ticks", 1);
    }

    fn on_queue_ready(&mut self, queue_id: u32) {
        while let Ok(Some(path)) = self.dequeue_shared_queue(queue_id) {
            if let Err(e) = self.set_shared_data("last_path", Some(&path), None) {
                warn!("last_path: {e:?}");
            }
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Counter { queue: self.queue, metric: self.metric, count: 0 }))
    }
}

struct Counter {
    queue: u32,
    metric: u32,
    count: u64,
}

impl Context for Counter {}

impl HttpContext for Counter {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        self.count = add_shared(self, "requests", 1);
        hostcalls::increment_metric(self.metric, 1).unwrap();
        let path = property(self, vec!["request", "path"]);
        self.enqueue_shared_queue(self.queue, Some(path.as_bytes())).unwrap();
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _: usize, _: bool) -> Action {
        let ticks = u64::from_le_bytes(read_shared(self, "ticks").try_into().unwrap_or([0; 8]));
        let last_path = String::from_utf8_lossy(&read_shared(self, "last_path")).into_owned();
        let headers = [
            ("x-request-count", self.count.to_string()),
            ("x-ticks", ticks.to_string()),
            ("x-last-path", last_path),
            ("x-plugin-name", property(self, vec!["plugin_name"])),
            ("x-root-id", property(self, vec!["plugin_root_id"])),
            ("x-method", property(self, vec!["request", "method"])),
            ("x-path", property(self, vec!["request", "path"])),
            ("x-source", property(self, vec!["source", "address"])),
        ];
        for (name, value) in &headers {
            self.add_http_response_header(name, value);
        }
        Action::Continue
    }
}
