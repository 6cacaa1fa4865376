//! Builds wasmc artifacts by hand (no compiler): an ELF object with the
//! sections `wasmc_abi::artifact` describes, and the checksum filled in.

#![allow(dead_code)]

use object::write::Object;
use object::{Architecture, BinaryFormat, Endianness, SectionKind};
use wasmc_abi::artifact::{self, TEXT_ALIGN};
use wasmc_abi::meta::*;
use wasmc_abi::BoundsChecks;

/// The host's triple, as the compiler would record it.
pub fn host_triple() -> &'static str {
    wasmc_targets::host_arch().linux_triple()
}

/// Metadata with nothing in it but what every artifact has.
pub fn empty_meta() -> ModuleMeta {
    ModuleMeta {
        compiler_version: "test".into(),
        triple: host_triple().into(),
        preset: "test".into(),
        cpu_features: vec![],
        bounds_checks: BoundsChecks::Guard,
        opt_level: "none".into(),
        name: None,
        types: vec![],
        imports: vec![],
        tables: vec![],
        memories: vec![],
        globals: vec![],
        const_ops: vec![],
        start: None,
        elements: vec![],
        data: vec![],
        trampolines: vec![],
        fuel_metering: false,
        memory_image: None,
        lists: Default::default(),
    }
}

/// Pieces of an artifact that tests may spoil.
pub struct Parts {
    pub architecture: Architecture,
    pub header: Vec<u8>,
    pub meta: ModuleMeta,
    pub text: Vec<u8>,
    pub data: Vec<u8>,
    pub with_checksum_section: bool,
}

impl Parts {
    pub fn new(meta: ModuleMeta, text: Vec<u8>, data: Vec<u8>) -> Parts {
        let architecture = match wasmc_targets::host_arch() {
            wasmc_targets::Arch::X86_64 => Architecture::X86_64,
            wasmc_targets::Arch::Aarch64 => Architecture::Aarch64,
        };
        Parts {
            architecture,
            header: artifact::encode_header().to_vec(),
            meta,
            text,
            data,
            with_checksum_section: true,
        }
    }

    /// Writes the ELF file, checksum included.
    pub fn build(&self) -> Vec<u8> {
        let mut obj = Object::new(BinaryFormat::Elf, self.architecture, Endianness::Little);
        let text = obj.add_section(Vec::new(), artifact::SECTION_TEXT.as_bytes().to_vec(), SectionKind::Text);
        let mut code = self.text.clone();
        let padded = code.len().div_ceil(TEXT_ALIGN as usize).max(1) * TEXT_ALIGN as usize;
        code.resize(padded, 0xcc);
        obj.section_mut(text).set_data(code, TEXT_ALIGN);
        let meta = obj.add_section(Vec::new(), artifact::SECTION_META.as_bytes().to_vec(), SectionKind::ReadOnlyData);
        let mut meta_bytes = self.header.clone();
        meta_bytes.extend(self.meta.encode());
        obj.section_mut(meta).set_data(meta_bytes, 8);
        let data = obj.add_section(Vec::new(), artifact::SECTION_DATA.as_bytes().to_vec(), SectionKind::ReadOnlyData);
        obj.section_mut(data).set_data(self.data.clone(), 1);
        let image = obj.add_section(Vec::new(), artifact::SECTION_IMAGE.as_bytes().to_vec(), SectionKind::ReadOnlyData);
        obj.section_mut(image).set_data(Vec::new(), 1);
        if self.with_checksum_section {
            let sum =
                obj.add_section(Vec::new(), artifact::SECTION_CHECKSUM.as_bytes().to_vec(), SectionKind::ReadOnlyData);
            obj.section_mut(sum).set_data(vec![0u8; artifact::CHECKSUM_LEN], 4);
        }
        let sig = obj.add_section(Vec::new(), artifact::SECTION_SIGNATURE.as_bytes().to_vec(), SectionKind::Other);
        obj.section_mut(sig).set_data(vec![0u8; artifact::SIGNATURE_LEN], 8);
        let mut bytes = obj.write().expect("write ELF");
        if self.with_checksum_section {
            fill_checksum(&mut bytes);
        }
        bytes
    }
}

/// Computes and stores the checksum of a written artifact.
pub fn fill_checksum(bytes: &mut [u8]) {
    wasmc_artifact::checksum::fill(bytes).expect("own artifact has a checksum section");
}

/// A small valid module: one function `f: () -> ()` whose code is a
/// single return instruction, and a memory with one data segment.
pub fn tiny_module() -> (ModuleMeta, Vec<u8>, Vec<u8>) {
    let mut meta = empty_meta();
    meta.types.push(FuncType::default());
    meta.lists.funcs.push(FuncDef { type_index: 0, code_offset: 0, code_len: 4, wasm_offset: 0x20 });
    meta.trampolines.push(TypeTrampolines { entry: 0, host: None });
    meta.memories.push(MemoryType { min_pages: 1, max_pages: None });
    meta.data.push(DataSegment {
        mode: DataMode::Active { memory: 0, offset: ConstExpr::I32(8) },
        data_offset: 0,
        len: 5,
    });
    meta.lists.exports.push(Export { name: "f".into(), kind: ExternKind::Func, index: 0 });
    meta.lists.exports.push(Export { name: "memory".into(), kind: ExternKind::Memory, index: 0 });
    // `ret` on x86_64, `ret` on aarch64.
    let text = match wasmc_targets::host_arch() {
        wasmc_targets::Arch::X86_64 => vec![0xc3, 0xcc, 0xcc, 0xcc],
        wasmc_targets::Arch::Aarch64 => vec![0xc0, 0x03, 0x5f, 0xd6],
    };
    (meta, text, b"hello".to_vec())
}

/// Loads artifact bytes that a test built (or damaged) itself.
pub fn load(bytes: &[u8]) -> Result<wasmc_loader::Module, wasmc_loader::LoadError> {
    // SAFETY: tests load only artifacts they built themselves.
    unsafe { wasmc_loader::Module::from_bytes(bytes) }
}

/// Loads an artifact file that a test wrote (or damaged) itself.
pub fn load_file(path: impl AsRef<std::path::Path>) -> Result<wasmc_loader::Module, wasmc_loader::LoadError> {
    // SAFETY: tests load only artifacts they built themselves.
    unsafe { wasmc_loader::Module::from_file(path) }
}

/// A command that runs `program`, a binary built for this test's target.
///
/// When the tests themselves run under an emulator (cargo's `runner`, e.g.
/// `qemu-aarch64` on an x86_64 host, where the kernel cannot exec aarch64
/// binaries without binfmt), a child must run under it too:
/// `scripts/test-aarch64` names it in `WASMC_TEST_RUNNER` (a space-separated
/// command), and it is put in front of `program`.
pub fn command(program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
    let runner = std::env::var("WASMC_TEST_RUNNER").unwrap_or_default();
    let mut runner = runner.split_whitespace();
    match runner.next() {
        Some(emulator) => {
            let mut command = std::process::Command::new(emulator);
            command.args(runner).arg(program);
            command
        }
        None => std::process::Command::new(program),
    }
}
