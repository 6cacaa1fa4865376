//! Memory images: a fresh instance of a module with enough constant data
//! gets its memory's initial contents mapped copy-on-write from the
//! artifact (the file itself, or the sealed in-memory copy of artifact
//! bytes), not copied; its writes stay private, the file never changes,
//! and the contents equal applying the segments in order.

mod common;

use common::{artifact, image_module, load, MODES};
use wasmc_loader::{BoundsChecks, Instance, Linker, Module, Store, Val};

const FILL: usize = 70_000;

/// The memory the segments describe, built independently of wasmc.
fn expected() -> Vec<u8> {
    let mut memory = vec![0u8; 4 * 65536];
    for (i, b) in memory[100..100 + FILL].iter_mut().enumerate() {
        *b = if i % 2 == 0 { b'a' } else { b'b' };
    }
    memory[101..104].copy_from_slice(b"XYZ");
    memory[200000..200003].copy_from_slice(b"far");
    memory
}

/// Lines of /proc/self/maps naming `what`.
/// The /proc/self/maps line of the mapping holding `addr` (tests run in
/// parallel, so counting mappings by name would race with other tests).
fn mapping_at(addr: *const u8) -> String {
    let addr = addr as usize;
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let line = maps.lines().find(|l| {
        let range = l.split_whitespace().next().unwrap();
        let (start, end) = range.split_once('-').unwrap();
        let (start, end) = (usize::from_str_radix(start, 16).unwrap(), usize::from_str_radix(end, 16).unwrap());
        (start..end).contains(&addr)
    });
    line.unwrap_or_else(|| panic!("no mapping holds {addr:#x}")).to_string()
}

fn check_instances(m: &Module, mapped_from: &str, mode: BoundsChecks) {
    let (mut s1, mut s2) = (Store::default(), Store::default());
    let i1 = Instance::new(&mut s1, m, &Linker::new()).unwrap();
    let i2 = Instance::new(&mut s2, m, &Linker::new()).unwrap();
    let mem1 = i1.get_memory(&s1, "mem").unwrap();
    let mem2 = i2.get_memory(&s2, "mem").unwrap();
    for (i, base) in [mem1.data(&s1).as_ptr(), mem2.data(&s2).as_ptr()].into_iter().enumerate() {
        let line = mapping_at(base);
        assert!(line.contains(mapped_from), "{mode:?}: instance {i}'s memory does not map {mapped_from}: {line}");
    }
    let expected = expected();
    assert!(mem1.data(&s1) == &expected[..], "{mode:?}: the image differs from the segments");
    i1.call(&mut s1, "poke", &[Val::I32(101)]).unwrap();
    i1.call(&mut s1, "poke", &[Val::I32(200001)]).unwrap();
    assert_eq!(mem1.data(&s1)[101], 0x21);
    assert!(mem2.data(&s2) == &expected[..], "{mode:?}: a write in one instance shows in another");
    // Growth keeps the contents (in explicit mode the memory moves off the
    // file mapping into one anonymous mapping).
    assert!(matches!(i1.call(&mut s1, "grow", &[Val::I32(2)]).unwrap()[..], [Val::I32(4)]));
    let data = mem1.data(&s1);
    assert_eq!(data.len(), 6 * 65536);
    assert_eq!((&data[100..104], data[200001], data[200002]), (&b"a!YZ"[..], 0x21, b'r'));
    assert!(data[4 * 65536..].iter().all(|&b| b == 0));
    i1.call(&mut s1, "poke", &[Val::I32(5 * 65536)]).unwrap();
    drop((s1, s2));
    let fresh = {
        let mut s = Store::default();
        let i = Instance::new(&mut s, m, &Linker::new()).unwrap();
        i.get_memory(&s, "mem").unwrap().data(&s) == &expected[..]
    };
    assert!(fresh, "{mode:?}: a later instance sees an earlier one's writes");
}

#[test]
fn fresh_instances_map_the_image_from_the_artifact_file() {
    let dir = std::env::temp_dir().join(format!("wasmc-image-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for mode in MODES {
        let path = dir.join(format!("image-{mode:?}.cwasm"));
        let bytes = artifact(&image_module(FILL), mode);
        std::fs::write(&path, &bytes).unwrap();
        // SAFETY: the artifact was compiled just above by this test.
        let m = unsafe { Module::from_file(&path) }.unwrap();
        check_instances(&m, path.to_str().unwrap(), mode);
        assert!(std::fs::read(&path).unwrap() == bytes, "{mode:?}: writes reached the artifact file");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn fresh_instances_map_the_image_from_loaded_bytes() {
    for mode in MODES {
        let m = load(&artifact(&image_module(FILL), mode)).unwrap();
        check_instances(&m, "memfd:wasmc-artifact", mode);
    }
}

#[test]
fn small_data_is_copied_with_the_same_result() {
    for mode in MODES {
        let m = load(&artifact(r#"(module (memory (export "mem") 1) (data (i32.const 3) "abc"))"#, mode)).unwrap();
        let mut s = Store::default();
        let i = Instance::new(&mut s, &m, &Linker::new()).unwrap();
        let data = i.get_memory(&s, "mem").unwrap().data(&s);
        let line = mapping_at(data.as_ptr());
        assert!(!line.contains("memfd:wasmc-artifact"), "{mode:?}: three bytes were mapped: {line}");
        assert_eq!(&data[..7], b"\0\0\0abc\0");
    }
}
