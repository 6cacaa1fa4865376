//! The wasmc artifact file, as both sides see it: the compiler writes and
//! signs it, the loader checks it, and neither links the other to do so.
//!
//! [`wasmc_abi::artifact`] names the sections and their sizes; this crate
//! holds the code that works on a whole file:
//!
//! * [`sections`]: where a named section's contents lie in the file;
//! * [`reader`]: the whole file read on any host: its [`Layout`], the
//!   checksum, the metadata, and the [`ArtifactInfo`] tools print;
//! * [`checksum`]: the CRC-32 in `.wasmc.sum`, computed, filled in and
//!   verified here and nowhere else;
//! * [`signature`]: the message an Ed25519 signature covers and the layout of
//!   `.wasmc.sig` (signing is the compiler's, verifying the loader's: this
//!   crate has no cryptography but the key id's SHA-256);
//! * [`keys`]: key ids and the one-line key-file format;
//! * [`files`]: writing an artifact or a key by rename, so no reader ever
//!   sees a partial file.
//!
//! What it leaves out: the ELF *writer* stays in the compiler (the only
//! writer), so the loader, which links this crate, does not link `object`'s
//! writer; and the loader's own questions (does a trusted key's signature
//! verify, can this host run the code) stay in the loader, with its error
//! type.
//!
//! ```
//! # fn demo(mut artifact: Vec<u8>) -> Result<(), wasmc_artifact::FormatError> {
//! use wasmc_abi::artifact::SECTION_CHECKSUM;
//! use wasmc_artifact::{checksum, sections::ArtifactFile};
//!
//! checksum::fill(&mut artifact)?;
//! let sum = ArtifactFile::parse(&artifact)?.section(SECTION_CHECKSUM)?;
//! assert!(checksum::verify(&artifact, sum).is_ok());
//! # Ok(())
//! # }
//! ```

pub mod checksum;
pub mod files;
pub mod keys;
pub mod reader;
pub mod sections;
pub mod signature;

pub use keys::{KeyError, KeyId};
pub use reader::{ArtifactInfo, Layout};
pub use sections::FormatError;
