//! The loader refuses damaged or foreign artifacts with a precise error,
//! and never panics on them.

mod common;

use common::{empty_meta, load, load_file, tiny_module, Parts};
use wasmc_abi::artifact::HeaderError;
use wasmc_loader::{Instance, Linker, LoadError, Module, Store};

fn tiny() -> Parts {
    let (meta, text, data) = tiny_module();
    Parts::new(meta, text, data)
}

#[test]
fn a_valid_artifact_loads_from_bytes_and_file() {
    let bytes = tiny().build();
    let module = load(&bytes).expect("load from bytes");
    assert_eq!(module.exports().count(), 2);
    assert_eq!(module.data_size(), 5);
    assert_eq!(module.text_size(), 65536);

    let dir = std::env::temp_dir().join(format!("wasmc-loader-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tiny.cwasm");
    std::fs::write(&path, &bytes).unwrap();
    let module = load_file(&path).expect("load from file");
    // SAFETY: the file was just written by this test.
    let trusted = unsafe { Module::from_file_trusted(&path) }.expect("trusted load");
    let names = |m: &Module| m.exports().map(|e| (e.name.to_string(), e.kind, e.index)).collect::<Vec<_>>();
    assert_eq!(names(&trusted), names(&module));
    assert_eq!((trusted.text_size(), trusted.data_size()), (module.text_size(), module.data_size()));

    let mut store = Store::default();
    let instance = Instance::new(&mut store, &module, &Linker::new()).expect("instantiate");
    instance.call(&mut store, "f", &[]).expect("call f");
    let memory = instance.get_memory(&store, "memory").unwrap();
    assert_eq!(&memory.data(&store)[8..13], b"hello");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn wrong_magic_and_version_are_header_errors() {
    let mut parts = tiny();
    parts.header[0] = b'X';
    let err = load(&parts.build()).unwrap_err();
    assert!(matches!(err, LoadError::Header(HeaderError::BadMagic)), "{err}");

    let mut parts = tiny();
    parts.header[8] = parts.header[8].wrapping_add(1);
    let err = load(&parts.build()).unwrap_err();
    assert!(matches!(err, LoadError::Header(HeaderError::Version { .. })), "{err}");
    assert!(err.to_string().contains("format version"), "{err}");
}

#[test]
fn every_truncation_is_refused_without_panicking() {
    let bytes = tiny().build();
    let mut lengths: Vec<usize> = (0..256).collect();
    lengths.extend((256..bytes.len()).step_by(61));
    lengths.extend(bytes.len() - 64..bytes.len());
    for len in lengths {
        let result = load(&bytes[..len]);
        assert!(result.is_err(), "a prefix of {len} of {} bytes loaded", bytes.len());
    }
}

#[test]
fn flipped_bytes_are_refused() {
    let bytes = tiny().build();
    // Every byte after the ELF header: the checksum (or a structural check)
    // must catch it.
    for i in (64..bytes.len()).step_by(37) {
        let mut damaged = bytes.clone();
        damaged[i] ^= 0x5a;
        assert!(load(&damaged).is_err(), "flip at {i} loaded");
    }
    // A flip inside the code is exactly a checksum error.
    let text_at = 65536;
    let mut damaged = bytes.clone();
    damaged[text_at] ^= 1;
    let err = load(&damaged).unwrap_err();
    assert!(matches!(err, LoadError::Checksum { .. }), "{err}");
}

#[test]
fn trusted_loading_skips_only_the_checksum() {
    let bytes = tiny().build();
    let mut damaged = bytes.clone();
    damaged[65536 + 100] ^= 1; // padding after the code
    let dir = std::env::temp_dir().join(format!("wasmc-loader-trusted-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("damaged.cwasm");
    std::fs::write(&path, &damaged).unwrap();
    assert!(matches!(load_file(&path), Err(LoadError::Checksum { .. })));
    // SAFETY: the test knows what it changed.
    assert!(unsafe { Module::from_file_trusted(&path) }.is_ok());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn foreign_architectures_are_refused() {
    let mut parts = tiny();
    (parts.architecture, parts.meta.triple) = match wasmc_targets::host_arch() {
        wasmc_targets::Arch::X86_64 => (object::Architecture::Aarch64, "aarch64-unknown-linux-gnu".into()),
        wasmc_targets::Arch::Aarch64 => (object::Architecture::X86_64, "x86_64-unknown-linux-gnu".into()),
    };
    let foreign = parts.build();
    let err = load(&foreign).unwrap_err();
    assert!(matches!(err, LoadError::WrongArchitecture { .. }), "{err}");
    // Tools can still read what a foreign artifact is.
    let info = wasmc_artifact::ArtifactInfo::read(&foreign).unwrap();
    assert_eq!(info.meta.triple, parts.meta.triple);

    // An ELF machine that contradicts the recorded triple is damage.
    let mut parts = tiny();
    parts.architecture = match wasmc_targets::host_arch() {
        wasmc_targets::Arch::X86_64 => object::Architecture::Aarch64,
        wasmc_targets::Arch::Aarch64 => object::Architecture::X86_64,
    };
    assert!(matches!(load(&parts.build()), Err(LoadError::Corrupt(_))));

    let mut parts = tiny();
    parts.meta.triple = "riscv64gc-unknown-linux-gnu".into();
    let err = load(&parts.build()).unwrap_err();
    assert!(
        matches!(err, LoadError::WrongArchitecture { ref artifact, .. } if artifact.starts_with("riscv64")),
        "{err}"
    );
}

#[test]
fn missing_cpu_features_are_named() {
    let mut parts = tiny();
    parts.meta.cpu_features = vec!["made-up-feature".into()];
    let err = load(&parts.build()).unwrap_err();
    match &err {
        LoadError::MissingCpuFeatures { missing } => assert_eq!(missing, &["made-up-feature".to_string()]),
        other => panic!("unexpected error {other}"),
    }
    assert_eq!(err.to_string(), "artifact needs CPU features this host lacks: made-up-feature");
}

/// The per-function lists are read in place and checked where used, so
/// that loading costs the same whatever their length: a dangling record
/// (possible only in an artifact loaded without its checksum, or written
/// by a broken compiler) is refused at its use, and `ArtifactInfo::read`
/// (`wasmc inspect`) checks every record up front.
#[test]
fn inconsistent_list_records_are_refused_where_used() {
    let mut parts = tiny();
    parts.meta.lists.exports.push(wasmc_abi::meta::Export {
        name: "nothing".into(),
        kind: wasmc_abi::meta::ExternKind::Func,
        index: 3,
    });
    let bytes = parts.build();
    let err = wasmc_artifact::ArtifactInfo::read(&bytes).unwrap_err();
    assert!(matches!(err, wasmc_artifact::FormatError::Metadata(_)), "{err}");
    let module = load(&bytes).expect("loads: the lists are checked at use");
    let mut store = Store::default();
    let instance = Instance::new(&mut store, &module, &Linker::new()).expect("instantiate");
    assert!(instance.get_export(&store, "nothing").is_none());
    instance.call(&mut store, "f", &[]).expect("call f");

    let mut parts = tiny();
    parts.meta.lists.funcs[0].code_len = 1 << 20;
    let bytes = parts.build();
    let err = wasmc_artifact::ArtifactInfo::read(&bytes).unwrap_err();
    assert!(matches!(err, wasmc_artifact::FormatError::Metadata(_)), "{err}");
    let module = load(&bytes).expect("loads: the lists are checked at use");
    let err = Instance::new(&mut Store::default(), &module, &Linker::new()).unwrap_err();
    assert!(err.to_string().contains("defined function 0"), "{err}");
}

#[test]
fn other_refusals() {
    let err = load(b"not an elf file").unwrap_err();
    assert!(matches!(err, LoadError::NotElf(_)), "{err}");

    let mut parts = tiny();
    parts.with_checksum_section = false;
    let err = load(&parts.build()).unwrap_err();
    assert!(matches!(err, LoadError::MissingSection(".wasmc.sum")), "{err}");

    let mut parts = Parts::new(empty_meta(), vec![], vec![]);
    parts.meta.start = Some(3);
    let err = load(&parts.build()).unwrap_err();
    assert!(matches!(err, LoadError::Metadata(_)), "{err}");

    let err = load_file("/nonexistent/file.cwasm").unwrap_err();
    assert!(matches!(err, LoadError::Io { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/file.cwasm"));
}
