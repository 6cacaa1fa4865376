//! The artifact file: an ELF object whose sections the compiler writes and
//! the loader reads.
//!
//! | section             | written by            | read by                 | contents |
//! |---------------------|-----------------------|-------------------------|----------|
//! | [`SECTION_TEXT`]    | compiler (codegen)    | loader (mapped R+X)     | machine code of every function and trampoline, calls already resolved; starts on a [`TEXT_ALIGN`] boundary in the file and is padded to one |
//! | [`SECTION_META`]    | compiler (`meta`)     | loader, `wasmc inspect` | [`HEADER_LEN`] bytes of header (magic, format version), then the encoded [`crate::meta::ModuleMeta`] |
//! | [`SECTION_DATA`]    | compiler              | loader (instantiation)  | bytes of every data segment, back to back; segments refer to ranges of it |
//! | [`SECTION_IMAGE`]   | compiler              | loader (mapped copy-on-write into memories) | the defined memories' initial contents, as the runs of [`crate::meta::ModuleMeta::memory_image`]; starts on an [`IMAGE_ALIGN`] boundary in the file; empty without an image |
//! | [`SECTION_CHECKSUM`]| compiler, last        | loader (unless trusted) | [`CHECKSUM_LEN`] bytes: CRC-32 (IEEE) of the whole file computed with its own four bytes zeroed, little-endian, then four zero bytes the CRC covers |
//! | [`SECTION_SIGNATURE`]| compiler (`--sign`), before the checksum | loader (signed loads), `wasmc inspect` | [`SIGNATURE_LEN`] bytes, all zero when unsigned; else the signer's [`KEY_ID_LEN`]-byte key id (first bytes of SHA-256 of the Ed25519 public key), the 64-byte Ed25519 signature, then [`SIGNATURE_LEN`] − 72 zero bytes |
//!
//! The signature covers the whole file with the contents of both
//! [`SECTION_CHECKSUM`] and [`SECTION_SIGNATURE`] zeroed; the checksum is
//! computed last, over the signed file, so a signed file still carries a
//! checksum that catches damage.
//!
//! The text needs no relocation at load time: calls between functions are
//! PC-relative and resolved by the compiler, and everything else is reached
//! through the `VMContext`.

/// The section holding machine code.
pub const SECTION_TEXT: &str = ".text";
/// The section holding the header and the encoded module metadata.
pub const SECTION_META: &str = ".wasmc.meta";
/// The section holding data-segment bytes.
pub const SECTION_DATA: &str = ".wasmc.data";
/// The section holding initial memory images.
pub const SECTION_IMAGE: &str = ".wasmc.image";
/// The section holding the file checksum.
pub const SECTION_CHECKSUM: &str = ".wasmc.sum";

/// The section holding the optional Ed25519 signature.
pub const SECTION_SIGNATURE: &str = ".wasmc.sig";

/// Length of the signature section's contents: key id, signature, reserved zeros.
pub const SIGNATURE_LEN: usize = 80;

/// Length of the key id at the start of the signature section.
pub const KEY_ID_LEN: usize = 8;

/// Length of the Ed25519 signature that follows the key id.
pub const ED25519_SIGNATURE_LEN: usize = 64;

/// File alignment (and padding) of the text section, so the loader can map
/// it straight from the file on hosts with pages of up to this size.
pub const TEXT_ALIGN: u64 = 65536;

/// File alignment of the image section, and the granularity of its runs
/// (offsets and lengths in memory and in the section): the loader maps runs
/// straight from the file on hosts with pages of up to this size. It is
/// also the wasm page size, so a run never crosses a memory's initial size.
pub const IMAGE_ALIGN: u64 = 65536;

/// Modules with fewer bytes of active data segments get no memory image:
/// copying that little at instantiation is cheaper than mapping a run, and
/// a run (at least [`IMAGE_ALIGN`] bytes) would grow the file more than
/// the data it replaces.
pub const IMAGE_MIN_DATA_BYTES: u64 = 16 * 1024;

/// First bytes of the metadata section.
pub const MAGIC: [u8; 8] = *b"WASMCAOT";

/// Version of everything in this crate that an artifact depends on: bump it
/// whenever the metadata encoding, the vmctx layout, the builtins or the
/// trampoline conventions change. Version 2 added [`SECTION_SIGNATURE`], the
/// runtime-limits pointer in the vmctx header and fuel metering in the
/// metadata; version 3 added [`SECTION_IMAGE`] and the memory image in the
/// metadata; version 4 stores the per-function lists as fixed-size records
/// the loader reads in place ([`crate::meta::MappedLists`]); version 5:
/// fuel-metered code stores its fuel count before the bulk-memory, table
/// and grow builtins and reloads it after, because the builtins now charge
/// fuel by the bytes and elements they touch (a version-4 metered artifact
/// would overwrite those charges); version 6: code from wasmc's own
/// translator on Cranelift 0.135, whose `tail` convention returns results
/// that do not fit in registers through a caller-provided area (an
/// implicit return pointer) instead of on the stack, so wasm functions of
/// version-5 and version-6 artifacts cannot call each other; version 7: two
/// builtins more ([`crate::builtins::Builtin::Memmove`] and `Memset`), which
/// small `memory.copy` and `memory.fill` call after checking bounds and
/// charging fuel inline; version 8: constant expressions of several
/// instructions ([`crate::meta::ConstExpr::Ops`], Wasm 3.0's extended
/// constant expressions) and the metadata's list of their instructions,
/// and a checksum that covers its section's four reserved bytes.
/// Artifacts load if and only if it matches.
pub const FORMAT_VERSION: u32 = 8;

/// Length of the metadata header: magic, then the format version as u32 LE,
/// then four reserved zero bytes.
pub const HEADER_LEN: usize = 16;

/// Length of the checksum section's contents.
pub const CHECKSUM_LEN: usize = 8;

/// Writes the metadata header.
pub fn encode_header() -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(&MAGIC);
    h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h
}

/// What is wrong with a metadata header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// Fewer than [`HEADER_LEN`] bytes.
    Truncated,
    /// The bytes do not start with [`MAGIC`]: not a wasmc artifact.
    BadMagic,
    /// A wasmc artifact of another format version.
    Version {
        /// The version in the file.
        found: u32,
    },
}

impl core::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            HeaderError::Truncated => f.write_str("metadata header is truncated"),
            HeaderError::BadMagic => f.write_str("metadata does not start with the wasmc magic"),
            HeaderError::Version { found } => {
                write!(f, "artifact format version {found}, but this loader reads version {FORMAT_VERSION}")
            }
        }
    }
}

/// Checks the metadata header and returns the bytes after it.
pub fn check_header(meta: &[u8]) -> Result<&[u8], HeaderError> {
    if meta.len() < HEADER_LEN {
        return Err(HeaderError::Truncated);
    }
    if meta[..8] != MAGIC {
        return Err(HeaderError::BadMagic);
    }
    let found = u32::from_le_bytes([meta[8], meta[9], meta[10], meta[11]]);
    if found != FORMAT_VERSION {
        return Err(HeaderError::Version { found });
    }
    Ok(&meta[HEADER_LEN..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_refusals() {
        let h = encode_header();
        assert_eq!(check_header(&h), Ok(&[][..]));
        assert_eq!(check_header(&h[..10]), Err(HeaderError::Truncated));
        let mut bad = h;
        bad[0] = b'X';
        assert_eq!(check_header(&bad), Err(HeaderError::BadMagic));
        let mut newer = h;
        newer[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
        assert_eq!(check_header(&newer), Err(HeaderError::Version { found: FORMAT_VERSION + 1 }));
    }
}
