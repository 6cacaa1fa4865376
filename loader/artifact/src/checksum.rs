//! The artifact checksum: CRC-32 (IEEE) of the whole file with the first
//! four bytes of [`SECTION_CHECKSUM`] taken as zero, stored little-endian
//! in those four bytes. The section's other four bytes are zero and
//! covered like the rest of the file, so no byte of an artifact can change
//! unnoticed. It catches damage, not forgery: a signature does that (see
//! [`crate::signature`]).

use std::ops::Range;

use wasmc_abi::artifact::{CHECKSUM_LEN, SECTION_CHECKSUM};

use crate::sections::{ArtifactFile, FormatError};

/// The stored and the computed checksum of a file that does not match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("checksum mismatch: stored {expected:#010x}, computed {actual:#010x}")]
pub struct Mismatch {
    /// The checksum stored in the file.
    pub expected: u32,
    /// The checksum of the file's contents.
    pub actual: u32,
}

/// The checksum of `file` whose checksum section lies at `sum`: CRC-32 of
/// the file with the section's first four bytes (where the checksum is
/// stored) taken as zero (the file is not copied).
///
/// # Panics
/// If `sum` is not [`CHECKSUM_LEN`] bytes inside `file` (ranges from
/// [`ArtifactFile::fixed_section`] are).
pub fn compute(file: &[u8], sum: Range<usize>) -> u32 {
    assert_eq!(sum.len(), CHECKSUM_LEN, "the checksum section is {CHECKSUM_LEN} bytes");
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&file[..sum.start]);
    hasher.update(&[0u8; 4]);
    hasher.update(&file[sum.start + 4..]);
    hasher.finalize()
}

/// Computes the checksum of `file` and stores it in its checksum section
/// (the last step of writing or signing an artifact).
///
/// # Errors
/// When the file is not ELF or its checksum section is missing, of the
/// wrong size or outside the file.
pub fn fill(file: &mut [u8]) -> Result<(), FormatError> {
    let sum = ArtifactFile::parse(file)?.fixed_section(SECTION_CHECKSUM, "checksum section", CHECKSUM_LEN)?;
    file[sum.clone()].fill(0);
    let crc = compute(file, sum.clone());
    file[sum.start..sum.start + 4].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// Compares the checksum stored at `sum` in `file` with its contents.
///
/// # Errors
/// [`Mismatch`] when they differ.
///
/// # Panics
/// As for [`compute`].
pub fn verify(file: &[u8], sum: Range<usize>) -> Result<(), Mismatch> {
    let stored = &file[sum.clone()];
    let expected = u32::from_le_bytes([stored[0], stored[1], stored[2], stored[3]]);
    let actual = compute(file, sum);
    if actual != expected {
        return Err(Mismatch { expected, actual });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_ignores_only_where_it_is_stored_and_catches_any_other_change() {
        let mut file: Vec<u8> = (0..64u8).collect();
        let sum = 16..16 + CHECKSUM_LEN;
        file[sum.clone()].fill(0);
        let crc = compute(&file, sum.clone());
        file[sum.start..sum.start + 4].fill(0xee);
        assert_eq!(compute(&file, sum.clone()), crc);
        file[sum.start..sum.start + 4].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(verify(&file, sum.clone()), Ok(()));
        // Any other byte, the section's reserved four included.
        for at in (0..64).filter(|at| !(sum.start..sum.start + 4).contains(at)) {
            let mut damaged = file.clone();
            damaged[at] ^= 1;
            assert_eq!(verify(&damaged, sum.clone()).unwrap_err().expected, crc, "a flip at {at} went unnoticed");
        }
    }

    #[test]
    fn fill_refuses_what_is_not_an_artifact() {
        assert!(matches!(fill(&mut [0u8; 100]), Err(FormatError::NotElf(_))));
        let mut elf_magic_only = object::elf::ELFMAG.to_vec();
        elf_magic_only.resize(100, 0);
        assert!(matches!(fill(&mut elf_magic_only), Err(FormatError::Corrupt(_))));
    }
}
