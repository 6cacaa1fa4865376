//! Finding a named section's contents in an artifact's ELF file (no unsafe
//! code). Every range handed out lies inside the file.
//!
//! [`FormatError`] is every reason this crate refuses a file.

use std::ops::Range;

use object::read::elf::{ElfFile64, FileHeader};
use object::{Endianness, Object as _, ObjectSection as _};

/// Why the bytes are not an artifact's ELF file, or lack a section.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// Not an ELF file at all.
    #[error("{0}")]
    NotElf(String),
    /// An ELF file whose structure is damaged or cut short, or a section
    /// of the wrong size or outside the file.
    #[error("{0}")]
    Corrupt(String),
    /// A section every artifact has is absent.
    #[error("section {0} is missing")]
    MissingSection(&'static str),
    /// An ELF machine wasmc builds no artifacts for.
    #[error("ELF machine {0} is not one wasmc compiles for")]
    UnknownMachine(u16),
    /// Wrong metadata magic or format version.
    #[error("{0}")]
    Header(wasmc_abi::artifact::HeaderError),
    /// The stored checksum does not match the file's contents.
    #[error("artifact checksum mismatch (expected {expected:#010x}, computed {actual:#010x}): the file is damaged")]
    Checksum {
        /// The checksum stored in the file.
        expected: u32,
        /// The checksum of the bytes read.
        actual: u32,
    },
    /// The metadata could not be decoded or is inconsistent.
    #[error("{0}")]
    Metadata(wasmc_abi::meta::MetaError),
    /// The metadata names a target triple of no architecture wasmc knows.
    #[error("unknown target {0}")]
    UnknownTarget(String),
}

/// A parsed 64-bit little-endian ELF file, for looking up sections.
pub struct ArtifactFile<'a> {
    elf: ElfFile64<'a, Endianness>,
    len: usize,
}

impl<'a> ArtifactFile<'a> {
    /// Parses the ELF structure of `bytes` (the whole file).
    ///
    /// # Errors
    /// [`FormatError::NotElf`] without the ELF magic, [`FormatError::Corrupt`]
    /// when the structure does not parse.
    pub fn parse(bytes: &'a [u8]) -> Result<ArtifactFile<'a>, FormatError> {
        if !bytes.starts_with(&object::elf::ELFMAG) {
            return Err(FormatError::NotElf("the file does not start with the ELF magic".into()));
        }
        let elf = ElfFile64::<Endianness>::parse(bytes)
            .map_err(|e| FormatError::Corrupt(format!("cannot parse the ELF file: {e}")))?;
        Ok(ArtifactFile { elf, len: bytes.len() })
    }

    /// The ELF header's `e_machine`.
    pub fn machine(&self) -> u16 {
        self.elf.elf_header().e_machine(self.elf.endian())
    }

    /// Where the contents of section `name` lie in the file. A section
    /// with no contents in the file (an empty one) is the empty range
    /// `0..0`.
    ///
    /// # Errors
    /// [`FormatError::MissingSection`] when there is none,
    /// [`FormatError::Corrupt`] when its contents do not lie inside the file.
    pub fn section(&self, name: &'static str) -> Result<Range<usize>, FormatError> {
        let s = self.elf.section_by_name(name).ok_or(FormatError::MissingSection(name))?;
        let data = s.data().map_err(|e| FormatError::Corrupt(format!("section {name}: {e}")))?;
        let outside = || FormatError::Corrupt(format!("section {name} lies outside the file"));
        let offset = match s.file_range() {
            Some((offset, _)) => usize::try_from(offset).map_err(|_| outside())?,
            None if data.is_empty() => 0,
            None => return Err(FormatError::Corrupt(format!("section {name} has no file contents"))),
        };
        let end = offset.checked_add(data.len()).filter(|&end| end <= self.len).ok_or_else(outside)?;
        Ok(offset..end)
    }

    /// Like [`section`](Self::section), for a section that must be exactly
    /// `len` bytes (`kind` names it in the error: "checksum section").
    ///
    /// # Errors
    /// As for `section`, and [`FormatError::Corrupt`] for another size.
    pub fn fixed_section(&self, name: &'static str, kind: &str, len: usize) -> Result<Range<usize>, FormatError> {
        let range = self.section(name)?;
        if range.len() != len {
            return Err(FormatError::Corrupt(format!("{kind} is {} bytes, expected {len}", range.len())));
        }
        Ok(range)
    }
}
