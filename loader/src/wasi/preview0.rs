//! WASI preview 0 (`wasi_unstable`), which older toolchains and SDKs still
//! import (AssemblyScript's, C++ filters built for Envoy, old `wasm32-wasi`
//! programs).
//!
//! Preview 0 is preview 1 with the same functions and types except for
//! three layouts and one enum, and without `sock_accept`:
//!
//! * `whence` of `fd_seek`: `cur` 0, `end` 1, `set` 2 (preview 1: `set`,
//!   `cur`, `end`);
//! * `filestat`: the link count is a `u32`, so the struct is 56 bytes and
//!   everything after the link count is 8 bytes earlier
//!   (`fd_filestat_get`, `path_filestat_get`);
//! * a clock `subscription` of `poll_oneoff` starts with an `identifier`
//!   (56 bytes, the clock's fields 8 bytes later).
//!
//! Everything else is defined once, in [`super::SYSCALLS`], and serves both
//! module names.

use super::mem::Env;
use super::{fd, pathops, poll, Args, Errno, Syscall};
use crate::Val;

/// The import module name.
pub const MODULE: &str = "wasi_unstable";

/// What preview 0 has instead of a preview-1 function: another
/// implementation, or nothing (`None`: not in preview 0).
pub(super) const CHANGED: &[(&str, Option<Syscall>)] = &[
    ("fd_seek", Some(fd_seek)),
    ("fd_filestat_get", Some(fd_filestat_get)),
    ("path_filestat_get", Some(path_filestat_get)),
    ("poll_oneoff", Some(poll_oneoff)),
    ("sock_accept", None),
];

/// `fd_seek` with preview 0's `whence`.
fn fd_seek(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let whence = match a.u32(2) {
        0 => 1, // cur
        1 => 2, // end
        2 => 0, // set
        _ => return Err(Errno::INVAL),
    };
    let args = [Val::I32(a.u32(0) as i32), Val::I64(a.u64(1) as i64), Val::I32(whence), Val::I32(a.u32(3) as i32)];
    fd::fd_seek(env, &Args(&args))
}

fn fd_filestat_get(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let stat = fd::fd_filestat(env, a.u32(0))?;
    env.write(a.u32(1), &narrow_filestat(&stat))
}

fn path_filestat_get(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let stat = pathops::path_filestat(env, a)?;
    env.write(a.u32(4), &narrow_filestat(&stat))
}

fn poll_oneoff(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    poll::poll_oneoff_in(env, a, &poll::PREVIEW0)
}

/// A preview-1 `filestat` (64 bytes) in preview 0's layout (56 bytes): the
/// device, inode and file type where they were, the link count as a `u32`
/// (saturated) at 20, the size and the three times from 24.
fn narrow_filestat(stat: &[u8; 64]) -> [u8; 56] {
    let mut out = [0u8; 56];
    out[..17].copy_from_slice(&stat[..17]);
    let links = u64::from_le_bytes(stat[24..32].try_into().expect("8 bytes"));
    out[20..24].copy_from_slice(&u32::try_from(links).unwrap_or(u32::MAX).to_le_bytes());
    out[24..56].copy_from_slice(&stat[32..64]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filestat_narrows_to_preview_0s_layout() {
        let mut stat = [0u8; 64];
        stat[0..8].copy_from_slice(&7u64.to_le_bytes()); // dev
        stat[8..16].copy_from_slice(&9u64.to_le_bytes()); // ino
        stat[16] = 4; // regular file
        stat[24..32].copy_from_slice(&(u64::from(u32::MAX) + 5).to_le_bytes()); // nlink
        stat[32..40].copy_from_slice(&1234u64.to_le_bytes()); // size
        stat[40..48].copy_from_slice(&1u64.to_le_bytes()); // atim
        stat[48..56].copy_from_slice(&2u64.to_le_bytes()); // mtim
        stat[56..64].copy_from_slice(&3u64.to_le_bytes()); // ctim
        let out = narrow_filestat(&stat);
        let u64_at = |i: usize| u64::from_le_bytes(out[i..i + 8].try_into().unwrap());
        assert_eq!((u64_at(0), u64_at(8), out[16]), (7, 9, 4));
        assert_eq!(u32::from_le_bytes(out[20..24].try_into().unwrap()), u32::MAX);
        assert_eq!((u64_at(24), u64_at(32), u64_at(40), u64_at(48)), (1234, 1, 2, 3));
    }
}
