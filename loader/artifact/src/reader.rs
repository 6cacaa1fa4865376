//! Reading an artifact's file on any host (no unsafe code, no mapping):
//! where its parts lie, whether its checksum holds, what its metadata says.
//!
//! Checks, in order: ELF structure and machine, the sections every artifact
//! has, the image section's alignment, the signature section's layout, the
//! metadata header (magic, version), the checksum (when asked), then, in
//! [`Layout::metadata`], the metadata's head and the target triple against
//! the ELF machine. Every range handed out lies inside the file, so damaged
//! input gives an error, never a panic.
//!
//! What a signature proves and whether this host can run the code are the
//! loader's questions: it verifies the signature between [`Layout::read`]
//! and [`Layout::metadata`], so no metadata from an unproven file is decoded
//! on a signed load.

use std::ops::Range;

use wasmc_abi::artifact::{self, CHECKSUM_LEN};
use wasmc_abi::meta::{MappedLists, ModuleMeta};
use wasmc_targets::Arch;

use crate::checksum::{self, Mismatch};
use crate::keys::KeyId;
use crate::sections::{ArtifactFile, FormatError};
use crate::signature::SignatureSection;

/// The architecture an ELF `e_machine` value stands for, if wasmc builds
/// artifacts for it.
pub fn arch_of_machine(machine: u16) -> Option<Arch> {
    match machine {
        object::elf::EM_X86_64 => Some(Arch::X86_64),
        object::elf::EM_AARCH64 => Some(Arch::Aarch64),
        _ => None,
    }
}

/// Whether [`Layout::read`] verifies the checksum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checksum {
    /// Compare the stored checksum with the file's contents.
    Verify,
    /// Trust the file's integrity (saves one pass over it).
    Skip,
}

/// Where an artifact's parts lie in its file, every range inside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// The architecture of the ELF machine.
    pub arch: Arch,
    /// The encoded metadata, after its header.
    pub meta: Range<usize>,
    /// The machine code.
    pub text: Range<usize>,
    /// The data-segment contents.
    pub data: Range<usize>,
    /// The memory image: empty, or aligned to
    /// [`IMAGE_ALIGN`](wasmc_abi::artifact::IMAGE_ALIGN) in the file.
    pub image: Range<usize>,
    /// The checksum section.
    pub checksum: Range<usize>,
    /// The signature section.
    pub signature: Range<usize>,
    /// The key id in the signature section, if the artifact is signed (read,
    /// not verified).
    pub signed_by: Option<KeyId>,
}

impl Layout {
    /// Checks the structure of `bytes` (the whole file) up to and including
    /// the checksum, whatever architecture it is for.
    ///
    /// # Errors
    /// [`FormatError::NotElf`], [`FormatError::Corrupt`],
    /// [`FormatError::MissingSection`], [`FormatError::UnknownMachine`],
    /// [`FormatError::Header`] and [`FormatError::Checksum`].
    pub fn read(bytes: &[u8], checksum: Checksum) -> Result<Layout, FormatError> {
        let elf = ArtifactFile::parse(bytes)?;
        let arch = arch_of_machine(elf.machine()).ok_or(FormatError::UnknownMachine(elf.machine()))?;
        let meta = elf.section(artifact::SECTION_META)?;
        let text = elf.section(artifact::SECTION_TEXT)?;
        let data = elf.section(artifact::SECTION_DATA)?;
        let image = elf.section(artifact::SECTION_IMAGE)?;
        if !image.is_empty() && image.start as u64 % artifact::IMAGE_ALIGN != 0 {
            return Err(FormatError::Corrupt("the image section is not aligned in the file".into()));
        }
        let sum = elf.section(artifact::SECTION_CHECKSUM)?;
        let sig = elf.section(artifact::SECTION_SIGNATURE)?;
        let signed_by = SignatureSection::decode(&bytes[sig.clone()])?.map(|s| s.key_id);
        let encoded = artifact::check_header(&bytes[meta.clone()]).map_err(FormatError::Header)?;
        if sum.len() != CHECKSUM_LEN {
            return Err(FormatError::Corrupt(format!(
                "checksum section is {} bytes, expected {CHECKSUM_LEN}",
                sum.len()
            )));
        }
        if checksum == Checksum::Verify {
            checksum::verify(bytes, sum.clone())
                .map_err(|Mismatch { expected, actual }| FormatError::Checksum { expected, actual })?;
        }
        let meta = meta.start + artifact::HEADER_LEN..meta.start + artifact::HEADER_LEN + encoded.len();
        Ok(Layout { arch, meta, text, data, image, checksum: sum, signature: sig, signed_by })
    }

    /// Decodes the metadata's head (its per-function lists stay in place,
    /// see [`MappedLists`]), checks it against the sections' sizes, and
    /// checks that the target triple names the ELF machine's architecture.
    ///
    /// # Errors
    /// [`FormatError::Metadata`], [`FormatError::UnknownTarget`], and
    /// [`FormatError::Corrupt`] when the triple contradicts the machine.
    pub fn metadata(&self, bytes: &[u8]) -> Result<ModuleMeta<MappedLists>, FormatError> {
        let meta = ModuleMeta::read(&bytes[self.meta.clone()]).map_err(FormatError::Metadata)?;
        meta.validate_head(self.text.len() as u64, self.data.len() as u64, self.image.len() as u64)
            .map_err(FormatError::Metadata)?;
        self.check_triple(&meta.triple)?;
        Ok(meta)
    }

    fn check_triple(&self, triple: &str) -> Result<(), FormatError> {
        match Arch::from_triple(triple) {
            None => Err(FormatError::UnknownTarget(triple.to_string())),
            Some(arch) if arch != self.arch => Err(FormatError::Corrupt(format!(
                "the ELF machine ({}) contradicts the recorded target {triple}",
                self.arch
            ))),
            Some(_) => Ok(()),
        }
    }
}

/// What an artifact says about itself, read without loading it: for tools
/// such as `wasmc inspect`, on any host, whatever architecture it targets.
#[derive(Clone, Debug)]
pub struct ArtifactInfo {
    /// The decoded and validated metadata, its lists included.
    pub meta: ModuleMeta,
    /// Bytes of machine code.
    pub text_size: usize,
    /// Bytes of data-segment contents.
    pub data_size: usize,
    /// The id of the key that signed the artifact, if it is signed (not
    /// verified: that takes the key, which the loader's signed loads do).
    pub signed_by: Option<KeyId>,
}

impl ArtifactInfo {
    /// Checks the artifact's format and checksum and decodes and validates
    /// all its metadata.
    ///
    /// # Errors
    /// Every error of [`Layout::read`] and [`Layout::metadata`].
    pub fn read(bytes: &[u8]) -> Result<ArtifactInfo, FormatError> {
        let layout = Layout::read(bytes, Checksum::Verify)?;
        let meta = ModuleMeta::decode(&bytes[layout.meta.clone()]).map_err(FormatError::Metadata)?;
        meta.validate(layout.text.len() as u64, layout.data.len() as u64, layout.image.len() as u64)
            .map_err(FormatError::Metadata)?;
        layout.check_triple(&meta.triple)?;
        Ok(ArtifactInfo {
            meta,
            text_size: layout.text.len(),
            data_size: layout.data.len(),
            signed_by: layout.signed_by,
        })
    }
}
