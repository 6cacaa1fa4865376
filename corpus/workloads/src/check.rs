//! Deterministic input generation and output checksums shared by the workloads.

/// A xorshift64 generator with a fixed seed: the same sequence on every
/// platform, native or wasm.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A value in `0..bound` (`bound > 0`).
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    /// One of `items` (non-empty).
    pub(crate) fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// A word-at-a-time multiply-rotate hash over everything a workload outputs
/// (cheap next to the work it checks; lengths are mixed in, so moving bytes
/// between two outputs changes it).
pub(crate) struct Checksum(u64);

impl Checksum {
    pub(crate) fn new() -> Self {
        Checksum(0xcbf2_9ce4_8422_2325)
    }

    fn word(&mut self, word: u64) {
        self.0 = (self.0 ^ word).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(29);
    }

    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.word(u64::from_le_bytes(word));
        }
        for &b in chunks.remainder() {
            self.word(u64::from(b));
        }
        self.word(bytes.len() as u64);
    }

    pub(crate) fn u64(&mut self, value: u64) {
        self.word(value);
    }

    pub(crate) fn finish(&self) -> u64 {
        self.0
    }
}
