//! Misbehaves on `/spin`: loops forever (the server's deadline must stop it).
use wasmc_plugins::{plugin, Decision, Request};

fn filter(req: &Request) -> Decision {
    if req.path.starts_with("/spin") {
        let mut x: u64 = 0;
        loop {
            // Opaque to the optimiser: a real, endless loop.
            x = std::hint::black_box(x.wrapping_add(1));
        }
    }
    Decision::Allow(Vec::new())
}

plugin!(filter);
