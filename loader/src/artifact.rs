//! Reading and checking an artifact's bytes (no mapping, no unsafe code).
//!
//! Checks, in order: ELF structure, ELF machine against the host, the
//! sections every artifact has, the metadata header (magic, version), the
//! checksum (unless trusted), the signature (for signed loads), metadata decoding and validation, the target
//! triple, and the CPU features. Every range read from the file is checked
//! by `object` or here, so damaged input gives an error, never a panic.

use object::read::elf::{ElfFile64, FileHeader};
use object::{Endianness, Object, ObjectSection};
use wasmc_abi::artifact::{self, CHECKSUM_LEN, KEY_ID_LEN};
use wasmc_abi::meta::{MappedLists, ModuleMeta};
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
    if !bytes.starts_with(&object::elf::ELFMAG) {
        return Err(LoadError::NotElf("the file does not start with the ELF magic".into()));
    }
    let elf = ElfFile64::<Endianness>::parse(bytes)
        .map_err(|e| LoadError::Corrupt(format!("cannot parse the ELF file: {e}")))?;
    let machine = elf.elf_header().e_machine(elf.endian());
    let Some(elf_arch) = arch_of_machine(machine) else {
        return Err(wrong_arch(format!("ELF machine {machine}")));
    };

    let section = |name: &'static str| -> Result<(FileRange, &[u8]), LoadError> {
        let s = elf.section_by_name(name).ok_or(LoadError::MissingSection(name))?;
        let data = s.data().map_err(|e| LoadError::Corrupt(format!("section {name}: {e}")))?;
        let offset = match s.file_range() {
            Some((offset, _)) => usize::try_from(offset)
                .map_err(|_| LoadError::Corrupt(format!("section {name} lies outside the file")))?,
            None if data.is_empty() => 0,
            None => return Err(LoadError::Corrupt(format!("section {name} has no file contents"))),
        };
        let range = FileRange { offset, len: data.len() };
        if range.offset.checked_add(range.len).map_or(true, |end| end > bytes.len()) {
            return Err(LoadError::Corrupt(format!("section {name} lies outside the file")));
        }
        Ok((range, data))
    };
    let (meta_range, meta_bytes) = section(artifact::SECTION_META)?;
    let (text, _) = section(artifact::SECTION_TEXT)?;
    let (data, _) = section(artifact::SECTION_DATA)?;
    let (image, _) = section(artifact::SECTION_IMAGE)?;
    if image.len != 0 && image.offset as u64 % artifact::IMAGE_ALIGN != 0 {
        return Err(LoadError::Corrupt("the image section is not aligned in the file".into()));
    }
    let (sum, sum_bytes) = section(artifact::SECTION_CHECKSUM)?;
    let (sig, sig_bytes) = section(artifact::SECTION_SIGNATURE)?;
    let signed_by = signature::signer(sig_bytes)?;

    let encoded = artifact::check_header(meta_bytes).map_err(LoadError::Header)?;

    if sum.len != CHECKSUM_LEN {
        return Err(LoadError::Corrupt(format!("checksum section is {} bytes, expected {CHECKSUM_LEN}", sum.len)));
    }
    match checksum {
        Checksum::Skip => {}
        Checksum::Verify => verify_checksum(bytes, sum, sum_bytes)?,
        Checksum::Signed(keys) => {
            verify_checksum(bytes, sum, sum_bytes)?;
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

/// CRC-32 of the file with the checksum bytes zeroed, compared with the
/// stored value.
fn verify_checksum(bytes: &[u8], sum: FileRange, stored: &[u8]) -> Result<(), LoadError> {
    let expected = u32::from_le_bytes([stored[0], stored[1], stored[2], stored[3]]);
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&bytes[..sum.offset]);
    hasher.update(&[0u8; CHECKSUM_LEN]);
    hasher.update(&bytes[sum.end()..]);
    let actual = hasher.finalize();
    if actual != expected {
        return Err(LoadError::Checksum { expected, actual });
    }
    Ok(())
}

#[cfg(test)]
#[path = "artifact_tests.rs"]
mod tests;
