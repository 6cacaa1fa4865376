//! Compiler-only tests: artifacts are decoded back with `object` and
//! `wasmc-abi` (no loader involved) and checked against the contract.

use object::{Object, ObjectSection};
use wasmc::{compile, BoundsChecks, CompileError, CompileOptions, OptLevel};
use wasmc_abi::artifact::{
    check_header, CHECKSUM_LEN, IMAGE_ALIGN, IMAGE_MIN_DATA_BYTES, SECTION_CHECKSUM, SECTION_DATA, SECTION_IMAGE,
    SECTION_META, SECTION_TEXT, TEXT_ALIGN,
};
use wasmc_abi::meta::{ExternKind, ImageRun, ImportType, ModuleMeta, ValType};
use wasmc_abi::TrapKind;

const TARGETS: [&str; 2] = ["x86_64", "graviton3"];
const MODES: [BoundsChecks; 2] = [BoundsChecks::Guard, BoundsChecks::Explicit];

fn options(target: &str, mode: BoundsChecks) -> CompileOptions {
    CompileOptions {
        target: wasmc_targets::resolve(Some(target)).unwrap(),
        opt_level: OptLevel::Speed,
        bounds_checks: mode,
        ..CompileOptions::default()
    }
}

/// What a test needs from a decoded artifact.
struct Artifact {
    meta: ModuleMeta,
    text: Vec<u8>,
    data: Vec<u8>,
    image: Vec<u8>,
}

/// Decodes and checks an artifact the way the loader will.
fn inspect(bytes: &[u8], target: &str) -> Artifact {
    let file = object::File::parse(bytes).expect("artifact is an ELF file");
    let expected = match wasmc_targets::resolve(Some(target)).unwrap().arch {
        wasmc_targets::Arch::X86_64 => object::Architecture::X86_64,
        wasmc_targets::Arch::Aarch64 => object::Architecture::Aarch64,
    };
    assert_eq!(file.architecture(), expected);
    assert!(file.is_little_endian());
    for section in file.sections() {
        assert_eq!(section.relocations().count(), 0, "section {:?} has relocations", section.name());
    }

    let text = file.section_by_name(SECTION_TEXT).expect(".text");
    let (text_offset, text_len) = text.file_range().expect(".text is in the file");
    assert_eq!(text_offset % TEXT_ALIGN, 0, ".text file offset is not TEXT_ALIGN-aligned");
    assert!(text_len > 0 && text_len % TEXT_ALIGN == 0, ".text is not padded to TEXT_ALIGN");

    let sum = file.section_by_name(SECTION_CHECKSUM).expect("checksum section");
    let (sum_offset, sum_len) = sum.file_range().unwrap();
    assert_eq!(sum_len as usize, CHECKSUM_LEN);
    let mut zeroed = bytes.to_vec();
    let range = sum_offset as usize..(sum_offset + sum_len) as usize;
    let stored = zeroed[range.clone()].to_vec();
    zeroed[range].fill(0);
    assert_eq!(&stored[..4], &crc32_bitwise(&zeroed).to_le_bytes(), "checksum");
    assert_eq!(&stored[4..], &[0; 4]);

    let meta_bytes = file.section_by_name(SECTION_META).expect("meta").data().unwrap();
    let meta = ModuleMeta::decode(check_header(meta_bytes).expect("header")).expect("metadata decodes");
    let data = file.section_by_name(SECTION_DATA).expect("data").data().unwrap().to_vec();
    let image_section = file.section_by_name(SECTION_IMAGE).expect("image");
    let image = image_section.data().unwrap().to_vec();
    if let Some((offset, len @ 1..)) = image_section.file_range() {
        assert_eq!(len % IMAGE_ALIGN, 0, "the image section is not a whole number of runs");
        assert_eq!(offset % IMAGE_ALIGN, 0, "the image section is not IMAGE_ALIGN-aligned in the file");
    }
    let text = text.data().unwrap().to_vec();
    meta.validate(text.len() as u64, data.len() as u64, image.len() as u64).expect("metadata validates");
    Artifact { meta, text, data, image }
}

/// CRC-32 (IEEE), bitwise: an oracle independent of the product's one
/// (`wasmc_artifact::checksum`), so a wrong polynomial there cannot pass.
fn crc32_bitwise(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// Compiles `wat` for every target and mode, checks each artifact, and
/// runs `check` on it.
fn for_all(wat: &str, check: impl Fn(&Artifact, &str, BoundsChecks)) {
    let wasm = wat::parse_str(wat).unwrap();
    for target in TARGETS {
        for mode in MODES {
            let bytes = compile(&wasm, &options(target, mode)).unwrap_or_else(|e| panic!("{target} {mode:?}: {e}"));
            let a = inspect(&bytes, target);
            assert_eq!(a.meta.bounds_checks, mode);
            assert_eq!(a.meta.preset, target);
            assert_eq!(a.meta.opt_level, "speed");
            assert_eq!(a.meta.trampolines.len(), a.meta.types.len());
            let mut ranges: Vec<_> =
                a.meta.lists.funcs.iter().map(|f| (f.code_offset, f.code_offset + f.code_len)).collect();
            ranges.sort();
            assert!(ranges.windows(2).all(|w| w[0].1 <= w[1].0), "function code overlaps");
            assert!(ranges.iter().all(|r| r.0 % 16 == 0 && r.1 > r.0));
            for t in &a.meta.lists.traps {
                assert!((t.wasm_offset as usize) < wasm.len(), "trap wasm offset {} outside the module", t.wasm_offset);
            }
            check(&a, target, mode);
        }
    }
}

fn export<'a>(meta: &'a ModuleMeta, name: &str) -> &'a wasmc_abi::meta::Export {
    meta.lists.exports.iter().find(|e| e.name == name).unwrap_or_else(|| panic!("no export {name}"))
}

#[test]
fn memory_and_data() {
    let wat = r#"(module
      (memory (export "mem") 1 4)
      (data (i32.const 16) "hello")
      (data "passive")
      (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
      (func (export "store") (param i32 i64) (i64.store offset=8 (local.get 0) (local.get 1)))
      (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
      (func (export "size") (result i32) (memory.size)))"#;
    for_all(wat, |a, _, mode| {
        assert_eq!(a.meta.memories.len(), 1);
        assert_eq!(a.meta.memories[0].min_pages, 1);
        assert_eq!(a.meta.memories[0].max_pages, Some(4));
        assert_eq!(a.meta.data.len(), 2);
        assert_eq!(&a.data[..12], b"hellopassive");
        assert_eq!(export(&a.meta, "mem").kind, ExternKind::Memory);
        assert_eq!(export(&a.meta, "load").index, 0);
        let heap_traps = a.meta.lists.traps.iter().filter(|t| t.kind == TrapKind::MemoryOutOfBounds).count();
        // Loads and stores are recorded as possibly faulting in both modes
        // (explicit mode with Spectre mitigation turns an out-of-bounds
        // address into null, which then faults).
        assert!(heap_traps >= 2, "{mode:?}: {heap_traps} heap trap sites");
    });
}

#[test]
fn constant_data_segments_become_a_memory_image() {
    // Page 0: three segments, the second overwriting part of the first;
    // page 1: nothing; page 2: its last byte; page 3: a segment of zeros,
    // which adds no run.
    let fill = "z".repeat(IMAGE_MIN_DATA_BYTES as usize);
    let wat = &format!(
        r#"(module
      (memory 4)
      (data (i32.const 1024) "{fill}")
      (data (i32.const 16) "hello world")
      (data (i32.const 22) "WASMC")
      (data (i32.const 196607) "\07")
      (data (i32.const 200000) "\00\00\00")
      (data "passive, not in the image"))"#
    );
    for_all(wat, |a, _, _| {
        let page = IMAGE_ALIGN;
        let run = |memory_offset, image_offset| ImageRun { memory: 0, memory_offset, image_offset, len: page };
        assert_eq!(a.meta.memory_image, Some(vec![run(0, 0), run(2 * page, page)]));
        assert_eq!(a.image.len() as u64, 2 * page);
        assert_eq!(&a.image[16..27], b"hello WASMC");
        assert_eq!(a.image[2 * page as usize - 1], 7);
        assert_eq!(a.image.iter().filter(|&&b| b != 0).count(), 12 + fill.len());
    });
}

#[test]
fn data_segments_an_image_cannot_replace_are_applied_at_instantiation() {
    let fill = "z".repeat(IMAGE_MIN_DATA_BYTES as usize);
    for wat in [
        // Offset from an imported global.
        format!(r#"(module (global $g (import "env" "g") i32) (memory 1) (data (global.get $g) "{fill}"))"#),
        // Past the initial size: instantiation must trap.
        format!(r#"(module (memory 1) (data (i32.const 65535) "xy") (data (i32.const 0) "{fill}"))"#),
        // An imported memory.
        format!(r#"(module (memory (import "env" "m") 1) (data (i32.const 0) "{fill}"))"#),
        // Too little data to be worth an image.
        r#"(module (memory 1) (data (i32.const 0) "x"))"#.to_string(),
    ] {
        for_all(&wat, |a, _, _| {
            assert_eq!(a.meta.memory_image, None, "{}", &wat[..60.min(wat.len())]);
            assert!(a.image.is_empty());
        });
    }
    // Nothing but zeros and passive segments: an empty image.
    let zeros = "\\00".repeat(IMAGE_MIN_DATA_BYTES as usize);
    for_all(&format!(r#"(module (memory 1) (data (i32.const 9) "{zeros}") (data "p"))"#), |a, _, _| {
        assert_eq!(a.meta.memory_image, Some(vec![]));
        assert!(a.image.is_empty());
    });
}

#[test]
fn tables_call_indirect_and_elements() {
    let wat = r#"(module
      (type $t (func (param i32) (result i32)))
      (table $tab (export "tab") 4 funcref)
      (elem (i32.const 0) $double $inc)
      (elem $p funcref (ref.func $inc) (ref.null func))
      (elem declare func $double)
      (func $double (type $t) (i32.mul (local.get 0) (i32.const 2)))
      (func $inc (type $t) (i32.add (local.get 0) (i32.const 1)))
      (func (export "dispatch") (param i32 i32) (result i32)
        (call_indirect (type $t) (local.get 1) (local.get 0)))
      (func (export "get") (param i32) (result funcref) (table.get $tab (local.get 0)))
      (func (export "set") (param i32) (table.set $tab (local.get 0) (ref.func $double)))
      (func (export "size") (result i32) (table.size $tab))
      (func (export "grow") (param i32) (result i32) (table.grow $tab (ref.null func) (local.get 0)))
      (func (export "init") (table.init $tab $p (i32.const 0) (i32.const 0) (i32.const 2)) (elem.drop $p))
      (func (export "copy") (table.copy (i32.const 0) (i32.const 1) (i32.const 2)))
      (func (export "fill") (table.fill $tab (i32.const 0) (ref.null func) (i32.const 2))))"#;
    for_all(wat, |a, _, _| {
        assert_eq!(a.meta.tables.len(), 1);
        assert_eq!(a.meta.tables[0].element, ValType::FuncRef);
        assert_eq!(a.meta.elements.len(), 3);
        let kinds: Vec<_> = a.meta.lists.traps.iter().map(|t| t.kind).collect();
        for k in [TrapKind::TableOutOfBounds, TrapKind::IndirectCallToNull, TrapKind::BadSignature] {
            assert!(kinds.contains(&k), "no {k:?} trap site");
        }
        assert_eq!(a.meta.lists.func_names.iter().find(|(i, _)| *i == 0).map(|(_, n)| n.as_str()), Some("double"));
    });
}

#[test]
fn imports_get_host_trampolines() {
    let wat = r#"(module
      (type $unused (func (param f64)))
      (import "env" "f" (func $f (param i32 i64) (result f32)))
      (import "env" "g" (global $g (mut i64)))
      (import "env" "m" (memory 1))
      (import "env" "t" (table 2 externref))
      (import "env" "h" (func $h (param i32 i64) (result f32)))
      (func (export "call") (param i32) (result f32)
        (drop (call $h (i32.const 1) (global.get $g)))
        (global.set $g (i64.const 3))
        (i32.store (local.get 0) (i32.const 7))
        (drop (table.get 0 (i32.const 1)))
        (call $f (local.get 0) (i64.const 2))))"#;
    for_all(wat, |a, _, _| {
        assert_eq!(a.meta.imports.len(), 5);
        let ImportType::Func(t) = a.meta.imports[0].ty else { panic!() };
        assert!(a.meta.trampolines[t as usize].host.is_some());
        assert!(a.meta.trampolines[0].host.is_none(), "unused type gets no host trampoline");
        assert_eq!(a.meta.lists.funcs.len(), 1);
        assert_eq!(export(&a.meta, "call").index, 2);
    });
}

#[test]
fn globals_of_every_type() {
    let wat = r#"(module
      (import "env" "base" (global $base i32))
      (global $a (mut i32) (global.get $base))
      (global $b i64 (i64.const -5))
      (global $c (mut f32) (f32.const 1.5))
      (global $d f64 (f64.const 2.5))
      (global $v (mut v128) (v128.const i32x4 1 2 3 4))
      (global $r (mut funcref) (ref.func $f))
      (global $e (mut externref) (ref.null extern))
      (func $f (export "f") (result i32 i64 f32 f64)
        (global.set $a (i32.add (global.get $a) (i32.const 1)))
        (global.set $v (i32x4.add (global.get $v) (global.get $v)))
        (global.set $e (global.get $e))
        (global.set $r (global.get $r))
        (global.get $a) (global.get $b) (global.get $c) (global.get $d)))"#;
    for_all(wat, |a, _, _| {
        assert_eq!(a.meta.globals.len(), 7);
        assert_eq!(a.meta.globals[0].init, wasmc_abi::meta::ConstExpr::GlobalGet(0));
        assert_eq!(a.meta.globals[4].init, wasmc_abi::meta::ConstExpr::V128(0x4_0000_0003_0000_0002_0000_0001));
        assert_eq!(a.meta.globals[5].init, wasmc_abi::meta::ConstExpr::RefFunc(0));
        assert_eq!(a.meta.types[0].results, vec![ValType::I32, ValType::I64, ValType::F32, ValType::F64]);
    });
}

#[test]
fn simd_multi_value_bulk_memory_and_reference_types() {
    let wat = r#"(module
      (memory 1)
      (data $d "abcdef")
      (func (export "simd") (param v128 v128) (result v128)
        (i8x16.swizzle (f32x4.ceil (local.get 0)) (i16x8.q15mulr_sat_s (local.get 0) (local.get 1))))
      (func (export "lanes") (param i32) (result v128 i64)
        (v128.load8_splat (local.get 0))
        (i64x2.extract_lane 1 (i64x2.splat (i64.const 9))))
      (func (export "swap") (param i32 i64) (result i64 i32) (local.get 1) (local.get 0))
      (func (export "block") (result i32 i32)
        (block (result i32 i32) (i32.const 1) (i32.const 2)))
      (func (export "bulk") (param i32 i32 i32)
        (memory.copy (local.get 0) (local.get 1) (local.get 2))
        (memory.fill (local.get 0) (i32.const 0) (local.get 2))
        (memory.init $d (local.get 0) (i32.const 0) (i32.const 3))
        (data.drop $d))
      (func (export "is_null") (param externref) (result i32) (ref.is_null (local.get 0)))
      (func (export "select") (param funcref funcref i32) (result funcref)
        (select (result funcref) (local.get 0) (local.get 1) (local.get 2))))"#;
    for_all(wat, |a, target, _| {
        assert_eq!(a.meta.types.iter().filter(|t| t.params.contains(&ValType::V128)).count(), 1);
        if target == "x86_64" {
            for f in ["sse3", "ssse3", "sse4.1"] {
                assert!(a.meta.cpu_features.iter().any(|c| c == f), "x86_64 artifacts require {f}");
            }
        } else {
            assert_eq!(a.meta.cpu_features, vec!["lse".to_string(), "paca".to_string()]);
        }
    });
}

/// On aarch64 in guard mode every heap store wider than a byte is preceded
/// by a probe load of its last byte (a second out-of-bounds trap site at
/// the store's wasm offset), so a store straddling the end of memory
/// faults before writing anything; x86_64 and explicit mode need none.
#[test]
fn aarch64_guard_mode_probes_wide_stores() {
    let wat = r#"(module (memory 1)
        (func (export "wide") (param i32 i64) (i64.store offset=3 (local.get 0) (local.get 1)))
        (func (export "byte") (param i32 i32) (i32.store8 (local.get 0) (local.get 1))))"#;
    let wasm = wat::parse_str(wat).unwrap();
    for target in TARGETS {
        for mode in MODES {
            let a = inspect(&compile(&wasm, &options(target, mode)).unwrap(), target);
            let sites = |func: usize, opcode: u8| {
                let f = a.meta.lists.funcs[func];
                let in_func = |t: &&wasmc_abi::meta::TrapSite| {
                    t.code_offset >= f.code_offset && t.code_offset < f.code_offset + f.code_len
                };
                let traps: Vec<_> = a.meta.lists.traps.iter().filter(in_func).collect();
                assert!(traps
                    .iter()
                    .all(|t| t.kind != TrapKind::MemoryOutOfBounds || wasm[t.wasm_offset as usize] == opcode));
                traps.iter().filter(|t| t.kind == TrapKind::MemoryOutOfBounds).count()
            };
            let probed = target == "graviton3" && mode == BoundsChecks::Guard;
            assert_eq!(sites(0, 0x37), if probed { 2 } else { 1 }, "{target} {mode:?}: i64.store");
            assert_eq!(sites(1, 0x3a), 1, "{target} {mode:?}: i32.store8");
        }
    }
}

#[test]
fn trap_sites_carry_the_wasm_offset_of_their_operator() {
    // Cranelift 0.135 turns a branch to a block that does nothing
    // but trap into a conditional trap at the branch: the `unreachable`
    // trap is the `if` (byte 0x04) that leads to it.
    let wat = r#"(module (func (export "f") (param i32) (result i32)
        (if (local.get 0) (then unreachable)) (i32.div_u (i32.const 7) (local.get 0))))"#;
    let wasm = wat::parse_str(wat).unwrap();
    for target in TARGETS {
        for mode in MODES {
            let a = inspect(&compile(&wasm, &options(target, mode)).unwrap(), target);
            let unreachable = a
                .meta
                .lists
                .traps
                .iter()
                .find(|t| t.kind == TrapKind::UnreachableCodeReached)
                .expect("unreachable trap");
            assert_eq!(wasm[unreachable.wasm_offset as usize], 0x04, "offset of the `if` leading to `unreachable`");
            let f = a.meta.lists.funcs[0];
            assert!(unreachable.code_offset >= f.code_offset && unreachable.code_offset < f.code_offset + f.code_len);
            assert!(unreachable.wasm_offset > f.wasm_offset);
            let div =
                a.meta.lists.traps.iter().find(|t| t.kind == TrapKind::IntegerDivisionByZero).expect("division trap");
            assert_eq!(wasm[div.wasm_offset as usize], 0x6e, "offset of `i32.div_u`");
        }
    }
}

#[test]
fn recursion_has_a_stack_check() {
    let wat = r#"(module (func $r (export "r") (param i32) (result i32) (call $r (local.get 0))))"#;
    for_all(wat, |a, _, _| {
        assert!(a.meta.lists.traps.iter().any(|t| t.kind == TrapKind::StackOverflow));
        assert!(!a.text.is_empty());
    });
}

fn many_functions() -> String {
    let mut wat = String::from("(module (memory 1)\n");
    for i in 0..64 {
        wat.push_str(&format!(
            "(func $f{i} (export \"f{i}\") (param i32) (result i32) (i32.add (i32.load offset={} (local.get 0)) (call $g (local.get 0))))\n",
            i * 4
        ));
    }
    wat.push_str("(func $g (param i32) (result i32) (i32.mul (local.get 0) (i32.const 3))))");
    wat
}

#[test]
fn output_is_deterministic() {
    let wasm = wat::parse_str(many_functions()).unwrap();
    for target in TARGETS {
        for mode in MODES {
            let o = options(target, mode);
            let first = compile(&wasm, &o).unwrap();
            for _ in 0..3 {
                assert!(first == compile(&wasm, &o).unwrap(), "{target} {mode:?}: output differs between runs");
            }
            let a = inspect(&first, target);
            assert_eq!(a.meta.lists.funcs.len(), 65);
        }
    }
}

#[test]
fn opt_levels_and_names_round_trip() {
    for level in [OptLevel::None, OptLevel::Speed, OptLevel::Size] {
        assert_eq!(OptLevel::from_name(level.name()), Some(level));
        let wasm = wat::parse_str(many_functions()).unwrap();
        let mut o = options("x86_64", BoundsChecks::Guard);
        o.opt_level = level;
        let a = inspect(&compile(&wasm, &o).unwrap(), "x86_64");
        assert_eq!(a.meta.opt_level, level.name());
    }
    assert_eq!(OptLevel::from_name("fast"), None);
    let d = CompileOptions::default();
    assert_eq!((d.opt_level, d.bounds_checks), (OptLevel::Speed, BoundsChecks::Guard));
}

fn assert_invalid(wasm: &[u8], what: &str) -> usize {
    match compile(wasm, &CompileOptions::default()) {
        Err(CompileError::Invalid { offset, .. }) => offset,
        Ok(bytes) => panic!("{what}: expected CompileError::Invalid, got a {}-byte artifact", bytes.len()),
        Err(e) => panic!("{what}: expected CompileError::Invalid, got {e}"),
    }
}

#[test]
fn invalid_and_malformed_input_is_an_error_not_a_panic() {
    // Random bytes, with and without a valid header.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for len in 0..200 {
        let mut bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        assert_invalid(&bytes, "random bytes");
        if bytes.len() >= 8 {
            bytes[..8].copy_from_slice(b"\0asm\x01\0\0\0");
            // Usually invalid, but an 8-byte header alone is a valid module:
            // either way, no panic.
            let _ = compile(&bytes, &CompileOptions::default());
        }
    }

    // Every strict prefix of a valid module: invalid, except the few that
    // end on a section boundary before the function section.
    let wasm = wat::parse_str(many_functions()).unwrap();
    let mut valid_prefixes = 0;
    for len in 0..wasm.len() {
        match compile(&wasm[..len], &CompileOptions::default()) {
            Err(CompileError::Invalid { offset, .. }) => {
                assert!(offset <= len, "offset {offset} past the end of a {len}-byte prefix")
            }
            Ok(_) => valid_prefixes += 1,
            Err(e) => panic!("truncated module: {e}"),
        }
    }
    assert!(valid_prefixes <= 3, "{valid_prefixes} prefixes compiled");

    let type_error = wat::parse_str(r#"(module (func (result i32) (i64.const 1)))"#).unwrap();
    let offset = assert_invalid(&type_error, "type error");
    assert!(offset > 8 && offset < type_error.len());

    let multi_memory = wat::parse_str(r#"(module (memory 1) (memory 1))"#).unwrap();
    assert_invalid(&multi_memory, "multi-memory");

    let threads = wat::parse_str(
        r#"(module (memory 1 1 shared)
        (func (result i32) (i32.atomic.load (i32.const 0))))"#,
    )
    .unwrap();
    assert_invalid(&threads, "threads");

    let atomics_only = wat::parse_str(r#"(module (memory 1) (func (atomic.fence)))"#).unwrap();
    assert_invalid(&atomics_only, "atomic.fence");

    let exceptions = wat::parse_str(r#"(module (tag $e) (func (throw $e)))"#).unwrap();
    assert_invalid(&exceptions, "exception handling");

    let memory64 = wat::parse_str(r#"(module (memory i64 1))"#).unwrap();
    assert_invalid(&memory64, "memory64");
}

#[test]
fn unknown_targets_are_target_errors() {
    let wasm = wat::parse_str("(module)").unwrap();
    let mut o = CompileOptions::default();
    o.target.triple = "not-a-triple".into();
    assert!(matches!(compile(&wasm, &o), Err(CompileError::Target(_))));
}

#[test]
fn an_empty_module_still_has_a_text_page() {
    let wasm = wat::parse_str("(module)").unwrap();
    for target in TARGETS {
        let a = inspect(&compile(&wasm, &options(target, BoundsChecks::Guard)).unwrap(), target);
        assert!(a.meta.lists.funcs.is_empty() && a.meta.types.is_empty());
        assert_eq!(a.text.len() as u64, TEXT_ALIGN);
    }
}
