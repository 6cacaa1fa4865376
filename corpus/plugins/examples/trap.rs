//! Misbehaves on `/trap`: executes `unreachable` (a wasm trap).
use wasmc_plugins::{plugin, Decision, Request};

fn filter(req: &Request) -> Decision {
    if req.path.starts_with("/trap") {
        core::arch::wasm32::unreachable();
    }
    Decision::Allow(Vec::new())
}

plugin!(filter);
