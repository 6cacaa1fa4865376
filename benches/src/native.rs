//! Native Rust versions of the `.wat` corpus programs the execution
//! benchmark runs, the same algorithm step for step (as
//! `corpus/native/workloads.c`), so each returns what the wasm export
//! returns (checked by the tests below).

use std::hint::black_box;

/// `fib.wat` `fib`: recursive Fibonacci.
pub fn fib(n: u32) -> u32 {
    if n < 2 {
        n
    } else {
        fib(black_box(n - 1)).wrapping_add(fib(n - 2))
    }
}

/// `sieve.wat` `count_primes`: primes below `n` by the sieve of Eratosthenes.
pub fn count_primes(n: u32) -> u32 {
    let n = n as usize;
    let mut mem = vec![1u8; n.max(2)];
    let mut i = 2;
    while i * i <= n {
        if mem[i] != 0 {
            let mut j = i * i;
            while j < n {
                mem[j] = 0;
                j += i;
            }
        }
        i += 1;
    }
    mem.iter().take(n).skip(2).map(|&b| u32::from(b)).sum()
}

/// `crc32.wat` `run`: fills `n` bytes (after "wasmc") with xorshift output
/// and returns their CRC-32.
pub fn crc32_run(n: u32) -> u32 {
    let n = n as usize;
    let mut mem = vec![0u8; n.max(5)];
    mem[..5].copy_from_slice(b"wasmc");
    let mut x: u32 = 2_463_534_242;
    for byte in mem.iter_mut().take(n).skip(5) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *byte = x as u8;
    }
    let mut c = 0xffff_ffffu32;
    for &byte in &mem[..n] {
        c ^= u32::from(byte);
        for _ in 0..8 {
            c = (c >> 1) ^ (0xEDB8_8320 & 0u32.wrapping_sub(c & 1));
        }
    }
    !c
}

/// `matmul.wat` `matmul`: multiplies two `n` x `n` f64 matrices and returns
/// the sum of the product's elements.
pub fn matmul(n: u32) -> f64 {
    let n = n as usize;
    let mut a = vec![0f64; n * n];
    let mut b = vec![0f64; n * n];
    let mut c = vec![0f64; n * n];
    for i in 0..n {
        for j in 0..n {
            a[i * n + j] = f64::from((i + j) as u32 as i32);
            b[i * n + j] = f64::from((i as u32).wrapping_sub(j as u32) as i32);
        }
    }
    let mut sum = 0.0;
    for i in 0..n {
        for j in 0..n {
            let mut acc = 0.0;
            for k in 0..n {
                acc += a[i * n + k] * b[k * n + j];
            }
            c[i * n + j] = acc;
            sum += acc;
        }
    }
    black_box(&c);
    sum
}

#[cfg(test)]
mod tests {
    // The values of corpus/expected.txt.
    #[test]
    fn native_versions_compute_what_the_corpus_expects() {
        assert_eq!(super::fib(20), 6765);
        assert_eq!(super::count_primes(100_000), 9592);
        assert_eq!(super::crc32_run(5), 1_544_923_301);
        assert_eq!(super::crc32_run(100_000), 2_121_084_035);
        assert_eq!(super::matmul(32), 2_793_472.0);
    }
}
