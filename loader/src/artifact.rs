//! Checking an artifact's bytes before they are mapped (no mapping, no
//! unsafe code).
//!
//! [`wasmc_artifact::reader`] reads the file's layout, checksum and metadata
//! on any host; this module adds the loader's own questions, in order: for
//! a signed load, does a trusted key's signature verify (before any
//! metadata is decoded), and can this host run the code (architecture, CPU
//! features).

use std::ops::Range;

use wasmc_abi::meta::{MappedLists, ModuleMeta};
use wasmc_artifact::reader::{self, Layout};
use wasmc_artifact::FormatError;
use wasmc_targets::{host_arch, Arch};

use crate::error::LoadError;
use crate::signature::{self, TrustedKeys};

/// Where a section's bytes lie in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileRange {
    pub offset: usize,
    pub len: usize,
}

impl From<Range<usize>> for FileRange {
    fn from(range: Range<usize>) -> FileRange {
        FileRange { offset: range.start, len: range.len() }
    }
}

impl FileRange {
    pub(crate) fn end(self) -> usize {
        self.offset + self.len
    }

    pub(crate) fn range(self) -> std::ops::Range<usize> {
        self.offset..self.end()
    }
}

/// A checked artifact: its metadata and where its code and data lie.
#[derive(Debug)]
pub(crate) struct Parsed {
    /// The metadata, its per-function lists left in place (not validated:
    /// see `MappedLists`).
    pub meta: ModuleMeta<MappedLists>,
    /// The encoded metadata (after its header), which `meta.lists` reads.
    pub encoded_meta: FileRange,
    pub text: FileRange,
    pub data: FileRange,
    /// The image section: empty, or aligned to `IMAGE_ALIGN` in the file.
    pub image: FileRange,
}

/// Whether to verify the file checksum, and the signature.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Checksum<'a> {
    Verify,
    Skip,
    /// Verify the checksum, then require a signature by one of these keys.
    Signed(&'a TrustedKeys),
}

fn wrong_arch(artifact: String) -> LoadError {
    LoadError::WrongArchitecture { artifact, host: host_arch().name().to_string() }
}

/// Bytes of an ELF64 file header.
pub(crate) const ELF_HEADER_LEN: usize = 64;

/// The checks that need only the first [`ELF_HEADER_LEN`] bytes (`head`,
/// fewer if the file is shorter) of a file of `file_len` bytes: ELF magic,
/// 64-bit little-endian, a machine artifacts are built for, and section
/// headers inside the file. A file that fails them is refused before the
/// rest of it is read.
pub(crate) fn check_elf_header(head: &[u8], file_len: u64) -> Result<(), LoadError> {
    if file_len == 0 {
        return Err(LoadError::NotElf("the file is empty".into()));
    }
    if !head.starts_with(&object::elf::ELFMAG) {
        return Err(LoadError::NotElf("the file does not start with the ELF magic".into()));
    }
    if head.len() < ELF_HEADER_LEN {
        return Err(LoadError::Corrupt(format!("the file is {file_len} bytes, too short for an ELF header")));
    }
    // ELF64 header: e_ident[4] class, [5] data encoding; e_machine at 18,
    // e_shoff at 40, e_shentsize at 58, e_shnum at 60.
    if head[4] != object::elf::ELFCLASS64 {
        return Err(LoadError::NotElf("not a 64-bit ELF file".into()));
    }
    if head[5] != object::elf::ELFDATA2LSB {
        return Err(LoadError::NotElf("not a little-endian ELF file".into()));
    }
    let u16_at = |at: usize| u64::from(u16::from_le_bytes([head[at], head[at + 1]]));
    let machine = u16::from_le_bytes([head[18], head[19]]);
    if reader::arch_of_machine(machine).is_none() {
        return Err(wrong_arch(format!("ELF machine {machine}")));
    }
    let mut shoff = [0u8; 8];
    shoff.copy_from_slice(&head[40..48]);
    let (shoff, shentsize, shnum) = (u64::from_le_bytes(shoff), u16_at(58), u16_at(60));
    // With more than 0xff00 sections `e_shnum` is 0 and the count lies in
    // the first section header, which must exist anyway.
    let headers_end = shoff.checked_add(shentsize * shnum.max(1));
    if headers_end.map_or(true, |end| end > file_len) {
        return Err(LoadError::Corrupt("the section headers lie outside the file".into()));
    }
    Ok(())
}

/// Runs every check on `bytes` (the whole file): its format, then whether
/// this host can run it.
pub(crate) fn parse(bytes: &[u8], checksum: Checksum<'_>) -> Result<Parsed, LoadError> {
    let parsed = read(bytes, checksum)?;
    check_host(&parsed.meta)?;
    Ok(parsed)
}

/// Checks the format of `bytes` (the whole file), whatever architecture it
/// is for: ELF structure, sections, header, checksum, signature (on signed
/// loads), metadata.
pub(crate) fn read(bytes: &[u8], checksum: Checksum<'_>) -> Result<Parsed, LoadError> {
    let verify = match checksum {
        Checksum::Skip => reader::Checksum::Skip,
        Checksum::Verify | Checksum::Signed(_) => reader::Checksum::Verify,
    };
    let layout = Layout::read(bytes, verify).map_err(format_error)?;
    if let Checksum::Signed(keys) = checksum {
        signature::verify(bytes, layout.checksum.clone().into(), layout.signature.clone().into(), keys)?;
    }
    let meta = layout.metadata(bytes).map_err(format_error)?;
    Ok(Parsed {
        meta,
        encoded_meta: layout.meta.into(),
        text: layout.text.into(),
        data: layout.data.into(),
        image: layout.image.into(),
    })
}

/// Refuses an artifact built for another architecture, or needing CPU
/// features this host lacks (naming them).
fn check_host<L>(meta: &ModuleMeta<L>) -> Result<(), LoadError> {
    match Arch::from_triple(&meta.triple) {
        Some(arch) if arch == host_arch() => {}
        _ => return Err(wrong_arch(meta.triple.clone())),
    }
    let missing = wasmc_targets::missing_features(&meta.cpu_features);
    if !missing.is_empty() {
        return Err(LoadError::MissingCpuFeatures { missing });
    }
    Ok(())
}

/// The loader's error for a file the artifact reader refuses.
pub(crate) fn format_error(e: FormatError) -> LoadError {
    match e {
        FormatError::NotElf(why) => LoadError::NotElf(why),
        FormatError::MissingSection(name) => LoadError::MissingSection(name),
        FormatError::Corrupt(why) => LoadError::Corrupt(why),
        FormatError::UnknownMachine(machine) => wrong_arch(format!("ELF machine {machine}")),
        FormatError::Header(e) => LoadError::Header(e),
        FormatError::Checksum { expected, actual } => LoadError::Checksum { expected, actual },
        FormatError::Metadata(e) => LoadError::Metadata(e),
        FormatError::UnknownTarget(triple) => wrong_arch(triple),
        other => LoadError::Corrupt(other.to_string()),
    }
}

#[cfg(test)]
#[path = "artifact_tests.rs"]
mod tests;
