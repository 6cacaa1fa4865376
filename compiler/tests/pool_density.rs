//! Density: how many live instances of a small plugin one process holds.
//! Explicit bounds-check mode must hold at least 50,000; guard mode's limit
//! (address space: 6 GiB per memory) is measured and reported, and running
//! out of address space is an error, never a crash (checked in a child
//! process with a lowered `RLIMIT_AS`, this test binary started again).

mod common;

use std::process::Command;

use common::module;
use wasmc_loader::{BoundsChecks, Error, Instance, InstancePool, Linker, PoolConfig, Store, Val};

const PLUGIN: &str = r#"(module
  (memory (export "mem") 1 2)
  (table 4 funcref)
  (global $calls (mut i32) (i32.const 0))
  (func $double (param i32) (result i32) (i32.add (local.get 0) (local.get 0)))
  (elem (i32.const 0) $double)
  (data (i32.const 0) "plugin")
  (func (export "handle") (param i32) (result i32)
    (i32.store (i32.const 64) (local.get 0))
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (i32.add (i32.load8_u (i32.const 0))
      (call_indirect (param i32) (result i32) (i32.load (i32.const 64)) (i32.const 0)))))"#;

/// (address space, resident) of this process in bytes, and its mappings.
fn usage() -> (u64, u64, usize) {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let mut fields = statm.split_whitespace().map(|f| f.parse::<u64>().unwrap());
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
    let (size, resident) = (fields.next().unwrap() * page, fields.next().unwrap() * page);
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap().lines().count();
    (size, resident, maps)
}

const LIVE: usize = 50_000;
const PER_STORE: usize = 1_000;

#[test]
fn explicit_mode_holds_50000_live_plugin_instances() {
    let m = module(PLUGIN, BoundsChecks::Explicit);
    let before = usage();
    // Resetting 50,000 slots would keep 50,000 x 16 KiB resident by
    // default (`keep_resident_bytes`): a pool this large discards instead.
    let config = PoolConfig { capacity: LIVE as u32, keep_resident_bytes: 0, ..PoolConfig::default() };
    let pool = InstancePool::new(&m, config).unwrap();
    let linker = Linker::new();
    let mut stores = Vec::new();
    for _ in 0..LIVE / PER_STORE {
        let mut store = Store::default();
        let instances: Vec<Instance> =
            (0..PER_STORE).map(|_| pool.instantiate(&mut store, &linker).expect("instantiate")).collect();
        stores.push((store, instances));
    }
    for (i, (store, instances)) in stores.iter_mut().enumerate() {
        for (j, inst) in instances.iter().enumerate() {
            let arg = (i * PER_STORE + j) as i32;
            let out = inst.call(&mut *store, "handle", &[Val::I32(arg)]).unwrap();
            let expected = i32::from(b'p') + 2 * arg;
            assert!(matches!(out[..], [Val::I32(v)] if v == expected), "{out:?}");
        }
    }
    let live: usize = stores.iter().map(|(_, v)| v.len()).sum();
    assert_eq!(live, LIVE);
    assert_eq!(pool.available(), 0);
    let after = usage();
    let per = |a: u64, b: u64| a.saturating_sub(b) / LIVE as u64;
    println!(
        "explicit mode: {LIVE} live instances; per instance {} B address space, {} B resident; \
         {} mappings in the process; pool reserved {} B",
        per(after.0, before.0),
        per(after.1, before.1),
        after.2,
        pool.reserved_bytes(),
    );
    assert!(per(after.0, before.0) <= 512 * 1024, "address space per instance too large");
    drop(stores);
    assert_eq!(pool.available(), LIVE);
}

#[test]
fn guard_mode_limit_is_measured_and_exceeding_it_is_an_error() {
    let m = module(PLUGIN, BoundsChecks::Guard);
    let fits = |capacity: u32| InstancePool::new(&m, PoolConfig { capacity, ..PoolConfig::default() });
    let (mut lo, mut hi) = (0u32, 1 << 20);
    while lo + 1 < hi {
        let mid = lo + (hi - lo) / 2;
        match fits(mid) {
            Ok(_) => lo = mid,
            Err(Error::Resource(_)) => hi = mid,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    match fits(hi) {
        Err(Error::Resource(msg)) => assert!(msg.message().contains("address space"), "{msg}"),
        other => panic!("expected a resource error, got {other:?}"),
    }
    println!("guard mode: at most {lo} instances of a one-memory module fit in this process's address space");
    assert!(lo >= 1);
}

const CHILD_VAR: &str = "WASMC_POOL_DENSITY_CHILD";

/// In the child: with 64 GiB of address space, guard-mode instantiation
/// fails cleanly after about ten instances, pooled or not.
#[test]
fn child_entry() {
    if std::env::var(CHILD_VAR).is_err() {
        return;
    }
    let limit = libc::rlimit { rlim_cur: 64 << 30, rlim_max: 64 << 30 };
    // SAFETY: setrlimit with a valid struct only lowers this process's limit.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) }, 0);
    let m = module(PLUGIN, BoundsChecks::Guard);
    let mut store = Store::default();
    let mut count = 0;
    let err = loop {
        match Instance::new(&mut store, &m, &Linker::new()) {
            Ok(_) => count += 1,
            Err(e) => break e,
        }
        assert!(count <= 11, "64 GiB cannot hold {count} guard memories");
    };
    assert!(matches!(&err, Error::Resource(msg) if msg.message().contains("cannot map linear memory")), "{err}");
    assert!(count >= 1);
    drop(store);
    match InstancePool::new(&m, PoolConfig { capacity: 20, ..PoolConfig::default() }) {
        Err(Error::Resource(msg)) => assert!(msg.message().contains("address space"), "{msg}"),
        other => panic!("expected a resource error, got {other:?}"),
    }
    println!("child: {count} guard instances fit in 64 GiB, then: {err}");
}

#[test]
fn guard_mode_address_space_exhaustion_is_an_error_not_a_crash() {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(CHILD_VAR, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("guard instances fit in 64 GiB"), "{stdout}");
    println!("{}", stdout.lines().find(|l| l.contains("child:")).unwrap_or(""));
}
