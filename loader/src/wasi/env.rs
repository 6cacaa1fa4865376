//! Arguments, environment, clocks, randomness and `sched_yield`.

use std::time::{SystemTime, UNIX_EPOCH};

use super::mem::Env;
use super::{Args, Errno};

/// Writes a list of strings as WASI does: an array of pointers at
/// `ptrs`, the NUL-terminated strings one after another at `buf`.
fn put_strings(env: &mut Env<'_, '_>, items: &[String], ptrs: u32, buf: u32) -> Result<(), Errno> {
    let mut at = buf;
    for (i, s) in items.iter().enumerate() {
        env.write_u32(ptrs.checked_add(4 * i as u32).ok_or(Errno::FAULT)?, at)?;
        let mut bytes = s.as_bytes().to_vec();
        bytes.push(0);
        env.write(at, &bytes)?;
        at = at.checked_add(bytes.len() as u32).ok_or(Errno::FAULT)?;
    }
    Ok(())
}

/// Writes the count of `items` and the bytes their strings need.
fn put_sizes(env: &mut Env<'_, '_>, items: &[String], count_ptr: u32, size_ptr: u32) -> Result<(), Errno> {
    let size: usize = items.iter().map(|s| s.len() + 1).sum();
    env.write_u32(count_ptr, items.len() as u32)?;
    env.write_u32(size_ptr, u32::try_from(size).map_err(|_| Errno::OVERFLOW)?)
}

fn environ(env: &Env<'_, '_>) -> Vec<String> {
    env.ctx.env.iter().map(|(k, v)| format!("{k}={v}")).collect()
}

pub(crate) fn args_get(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let args = env.ctx.args.clone();
    put_strings(env, &args, a.u32(0), a.u32(1))
}

pub(crate) fn args_sizes_get(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let args = env.ctx.args.clone();
    put_sizes(env, &args, a.u32(0), a.u32(1))
}

pub(crate) fn environ_get(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let vars = environ(env);
    put_strings(env, &vars, a.u32(0), a.u32(1))
}

pub(crate) fn environ_sizes_get(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let vars = environ(env);
    put_sizes(env, &vars, a.u32(0), a.u32(1))
}

/// Clock ids: realtime, monotonic, process and thread CPU time.
fn clock_now(env: &Env<'_, '_>, id: u32) -> Result<u64, Errno> {
    let nanos = |d: std::time::Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    let cpu = |c: rustix::time::ClockId| {
        let t = rustix::time::clock_gettime(c);
        (t.tv_sec.max(0) as u64).saturating_mul(1_000_000_000).saturating_add(t.tv_nsec.max(0) as u64)
    };
    match id {
        0 => Ok(nanos(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default())),
        1 => Ok(nanos(env.ctx.start.elapsed())),
        2 => Ok(cpu(rustix::time::ClockId::ProcessCPUTime)),
        3 => Ok(cpu(rustix::time::ClockId::ThreadCPUTime)),
        _ => Err(Errno::INVAL),
    }
}

pub(crate) fn clock_res_get(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    if a.u32(0) > 3 {
        return Err(Errno::INVAL);
    }
    env.write_u64(a.u32(1), 1)
}

pub(crate) fn clock_time_get(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let now = clock_now(env, a.u32(0))?;
    env.write_u64(a.u32(2), now)
}

/// Bytes of randomness written between two deadline checks.
const RANDOM_CHUNK: u32 = 1 << 20;

/// Fills the program's buffer in place, a chunk at a time, so that a huge
/// request neither makes a host buffer of its size nor outlives the deadline
/// (an interrupted call has filled a prefix).
pub(crate) fn random_get(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let (ptr, len) = (a.u32(0), a.u32(1));
    env.read(ptr, len)?;
    let mut done = 0;
    while done < len {
        let step = (len - done).min(RANDOM_CHUNK);
        env.budget(u64::from(step))?;
        let (_, buf) = env.ctx_and_bytes_mut(ptr + done, step)?;
        let mut filled = 0;
        while filled < buf.len() {
            filled += rustix::rand::getrandom(&mut buf[filled..], rustix::rand::GetRandomFlags::empty())?;
        }
        done += step;
    }
    Ok(())
}

pub(crate) fn sched_yield(_env: &mut Env<'_, '_>, _a: &Args<'_>) -> Result<(), Errno> {
    std::thread::yield_now();
    Ok(())
}
