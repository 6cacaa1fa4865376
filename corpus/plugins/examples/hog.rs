//! Misbehaves on `/hog`: allocates 1 MiB blocks until memory runs out
//! (the server's `max_memory_bytes` makes `memory.grow` fail; the
//! allocator then aborts, which is a trap).
use wasmc_plugins::{plugin, Decision, Request};

fn filter(req: &Request) -> Decision {
    if req.path.starts_with("/hog") {
        let mut blocks: Vec<Vec<u8>> = Vec::new();
        loop {
            blocks.push(std::hint::black_box(vec![1u8; 1 << 20]));
        }
    }
    Decision::Allow(Vec::new())
}

plugin!(filter);
