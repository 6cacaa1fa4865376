//! Compression: DEFLATE compress and decompress (miniz_oxide, pure Rust) of a
//! 16 KiB body that mixes repetitive text with incompressible bytes, with the
//! round trip checked.

use miniz_oxide::{deflate::compress_to_vec, inflate::decompress_to_vec_with_limit};

use crate::check::{Checksum, Rng};

const BODY: usize = 16 << 10;
const WORDS: [&str; 8] = ["GET ", "/api/v1/", "users", "orders", " 200 ", "application/json", "\r\n", "{\"id\":"];

fn body(rng: &mut Rng) -> Vec<u8> {
    let mut body = Vec::with_capacity(BODY + 64);
    while body.len() < BODY {
        if rng.below(8) == 0 {
            body.extend((0..rng.below(48)).map(|_| rng.next() as u8));
        } else {
            body.extend_from_slice(rng.pick(&WORDS).as_bytes());
        }
    }
    body.truncate(BODY);
    body
}

/// `n` times: change a few bytes of the body, compress it at level 6,
/// decompress the result and check it is the body again. A failed round trip
/// panics (in wasm: traps), so it cannot pass as a checksum.
pub fn deflate(n: u32) -> u64 {
    let mut rng = Rng::new(0x6465_666c);
    let mut body = body(&mut rng);
    let mut sum = Checksum::new();
    for _ in 0..n {
        for _ in 0..4 {
            let at = rng.below(BODY as u64) as usize;
            body[at] = rng.next() as u8;
        }
        let compressed = compress_to_vec(&body, 6);
        let restored = decompress_to_vec_with_limit(&compressed, BODY).expect("compressed body decompresses");
        assert!(restored == body, "DEFLATE round trip changed the body");
        sum.bytes(&compressed);
    }
    sum.finish()
}
