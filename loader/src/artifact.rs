//! Reading and checking an artifact's bytes (no mapping, no unsafe code).
//!
//! Checks, in order: ELF structure, ELF machine against the host, the
//! sections every artifact has, the metadata header (magic, version), the
//! checksum (unless trusted), the signature (for signed loads), metadata decoding and validation, the target
//! triple, and the CPU features. Every range read from the file is checked
//! by `wasmc_artifact`'s reader or here, so damaged input gives an error,
//! never a panic.

use wasmc_abi::artifact::{self, CHECKSUM_LEN, KEY_ID_LEN};
use wasmc_abi::meta::{MappedLists, ModuleMeta};
use wasmc_artifact::checksum::{self, Mismatch};
use wasmc_artifact::sections::ArtifactFile;
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
    /// The key id in the signature section, if the artifact is signed
    /// (verified only by signed loads).
    pub signed_by: Option<[u8; KEY_ID_LEN]>,
}

/// Whether to verify the file checksum, and the signature.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Checksum<'a> {
    Verify,
    Skip,
    /// Verify the checksum, then require a signature by one of these keys.
    Signed(&'a TrustedKeys),
}

fn arch_of_machine(machine: u16) -> Option<Arch> {
    match machine {
        object::elf::EM_X86_64 => Some(Arch::X86_64),
        object::elf::EM_AARCH64 => Some(Arch::Aarch64),
        _ => None,
    }
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
    if arch_of_machine(machine).is_none() {
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
/// is for: ELF structure, sections, header, checksum, metadata.
pub(crate) fn read(bytes: &[u8], checksum: Checksum<'_>) -> Result<Parsed, LoadError> {
    let elf = ArtifactFile::parse(bytes).map_err(format_error)?;
    let machine = elf.machine();
    let Some(elf_arch) = arch_of_machine(machine) else {
        return Err(wrong_arch(format!("ELF machine {machine}")));
    };

    let section = |name: &'static str| -> Result<FileRange, LoadError> {
        let range = elf.section(name).map_err(format_error)?;
        Ok(FileRange { offset: range.start, len: range.len() })
    };
    let meta_range = section(artifact::SECTION_META)?;
    let text = section(artifact::SECTION_TEXT)?;
    let data = section(artifact::SECTION_DATA)?;
    let image = section(artifact::SECTION_IMAGE)?;
    if image.len != 0 && image.offset as u64 % artifact::IMAGE_ALIGN != 0 {
        return Err(LoadError::Corrupt("the image section is not aligned in the file".into()));
    }
    let sum = section(artifact::SECTION_CHECKSUM)?;
    let sig = section(artifact::SECTION_SIGNATURE)?;
    let signed_by = signature::signer(&bytes[sig.range()])?;
    let meta_bytes = &bytes[meta_range.range()];

    let encoded = artifact::check_header(meta_bytes).map_err(LoadError::Header)?;

    if sum.len != CHECKSUM_LEN {
        return Err(LoadError::Corrupt(format!("checksum section is {} bytes, expected {CHECKSUM_LEN}", sum.len)));
    }
    match checksum {
        Checksum::Skip => {}
        Checksum::Verify => verify_checksum(bytes, sum)?,
        Checksum::Signed(keys) => {
            verify_checksum(bytes, sum)?;
            signature::verify(bytes, sum, sig, keys)?;
        }
    }

    let encoded_meta = FileRange { offset: meta_range.offset + artifact::HEADER_LEN, len: encoded.len() };
    let meta = ModuleMeta::read(encoded).map_err(LoadError::Metadata)?;
    meta.validate_head(text.len as u64, data.len as u64, image.len as u64).map_err(LoadError::Metadata)?;
    match Arch::from_triple(&meta.triple) {
        None => return Err(wrong_arch(meta.triple.clone())),
        Some(arch) if arch != elf_arch => {
            return Err(LoadError::Corrupt(format!(
                "the ELF machine ({elf_arch}) contradicts the recorded target {}",
                meta.triple
            )))
        }
        Some(_) => {}
    }
    Ok(Parsed { meta, encoded_meta, text, data, image, signed_by: signed_by.map(|id| id.0) })
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

/// What an artifact says about itself, read without loading it: for tools
/// such as `wasmc inspect`, on any host, whatever architecture it targets.
#[derive(Clone, Debug)]
pub struct ArtifactInfo {
    /// The decoded and validated metadata.
    pub meta: ModuleMeta,
    /// Bytes of machine code.
    pub text_size: usize,
    /// Bytes of data-segment contents.
    pub data_size: usize,
    /// The id of the key that signed the artifact, if it is signed (not
    /// verified: that takes the key, see `Module::from_file_signed`).
    pub signed_by: Option<[u8; KEY_ID_LEN]>,
}

impl ArtifactInfo {
    /// Checks the artifact's format and checksum and decodes and validates
    /// all its metadata, without mapping it or asking whether this host can
    /// run it.
    pub fn parse(bytes: &[u8]) -> Result<ArtifactInfo, LoadError> {
        let parsed = read(bytes, Checksum::Verify)?;
        let meta = ModuleMeta::decode(&bytes[parsed.encoded_meta.offset..parsed.encoded_meta.end()])
            .map_err(LoadError::Metadata)?;
        meta.validate(parsed.text.len as u64, parsed.data.len as u64, parsed.image.len as u64)
            .map_err(LoadError::Metadata)?;
        Ok(ArtifactInfo { meta, text_size: parsed.text.len, data_size: parsed.data.len, signed_by: parsed.signed_by })
    }
}

/// The stored checksum (of `sum`'s [`CHECKSUM_LEN`] bytes) compared with
/// the file's contents.
fn verify_checksum(bytes: &[u8], sum: FileRange) -> Result<(), LoadError> {
    checksum::verify(bytes, sum.range())
        .map_err(|Mismatch { expected, actual }| LoadError::Checksum { expected, actual })
}

/// The loader's error for a file the artifact reader refuses.
pub(crate) fn format_error(e: FormatError) -> LoadError {
    match e {
        FormatError::NotElf(why) => LoadError::NotElf(why),
        FormatError::MissingSection(name) => LoadError::MissingSection(name),
        FormatError::Corrupt(why) => LoadError::Corrupt(why),
        other => LoadError::Corrupt(other.to_string()),
    }
}

#[cfg(test)]
#[path = "artifact_tests.rs"]
mod tests;
