//! Hashing: SHA-256 (the sha2 crate, portable code in both builds) over a
//! 64 KiB buffer, fed in uneven pieces as a streaming hasher would see them.

use sha2::{Digest, Sha256};

use crate::check::{Checksum, Rng};

const BUFFER: usize = 64 << 10;

/// `n` times: hash the buffer, then write the digest into it, so every unit
/// hashes different data and depends on the one before.
pub fn sha2(n: u32) -> u64 {
    let mut rng = Rng::new(0x7368_6132);
    let mut buffer: Vec<u8> = (0..BUFFER).map(|_| rng.next() as u8).collect();
    let mut sum = Checksum::new();
    for unit in 0..n as usize {
        let mut hasher = Sha256::new();
        let mut rest = &buffer[..];
        let mut piece = 1;
        while !rest.is_empty() {
            let (head, tail) = rest.split_at(piece.min(rest.len()));
            hasher.update(head);
            rest = tail;
            piece = piece * 3 % 4093 + 1;
        }
        let digest = hasher.finalize();
        sum.bytes(&digest);
        let at = unit * 32 % (BUFFER - 32);
        buffer[at..at + 32].copy_from_slice(&digest);
    }
    sum.finish()
}
