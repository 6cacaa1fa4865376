//! Signing artifacts with Ed25519, and the key pairs that do it.
//!
//! [`generate`] makes a key pair and [`write_key_pair`] stores it as
//! `NAME.key` (secret, mode 0600) and `NAME.pub` (public), in the one-line
//! text format of [`wasmc_artifact::keys`]. [`sign_artifact`] fills the
//! signature section of an artifact and recomputes its checksum; the loader
//! verifies with `Module::from_file_signed`. The signed message and the
//! section's layout are [`wasmc_artifact::signature`]'s, shared with the
//! loader. Ed25519 is deterministic, so
//! signing the same artifact with the same key gives the same bytes.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signer, SigningKey};
use wasmc_abi::artifact::{
    check_header, CHECKSUM_LEN, SECTION_CHECKSUM, SECTION_DATA, SECTION_IMAGE, SECTION_META, SECTION_SIGNATURE,
    SECTION_TEXT, SIGNATURE_LEN,
};
use wasmc_abi::meta::ModuleMeta;
use wasmc_artifact::keys::{key_text, parse_key_text, KeyId, PUBLIC_KEY_HEADER, SECRET_KEY_HEADER};
use wasmc_artifact::sections::ArtifactFile;
use wasmc_artifact::signature::{signed_message, SignatureSection};
use wasmc_artifact::{checksum, files};
use wasmc_targets::Arch;

/// Why a key could not be made, read or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// A key file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The secret key file is not in the expected format.
    #[error("{}: not a wasmc secret key file: expected one line `{SECRET_KEY_HEADER} <64 hex digits>`", .0.display())]
    Format(PathBuf),
    /// The secret key file can be read by other users.
    #[error("{}: secret key file is readable by other users (mode {mode:o}); run `chmod 600` on it", path.display())]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The operating system could not supply random bytes for a new key.
    #[error("no randomness for a new key: {0}")]
    Random(String),
    /// The bytes to sign are not a well-formed artifact.
    #[error("cannot sign: {0}")]
    NotAnArtifact(String),
}

/// An Ed25519 secret key.
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// The 32 bytes of the matching public key.
    pub fn public_bytes(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }

    /// The id of the matching public key, as stored in signatures.
    pub fn key_id(&self) -> KeyId {
        KeyId::of(&self.public_bytes())
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey(public key id {})", self.key_id())
    }
}

/// A new random key pair, from the operating system's random source.
pub fn generate() -> Result<SecretKey, SignError> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| SignError::Random(e.to_string()))?;
    Ok(SecretKey(SigningKey::from_bytes(&seed)))
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SignError + '_ {
    move |source| SignError::Io { path: path.to_path_buf(), source }
}

/// Writes `NAME.key` (mode 0600) and `NAME.pub` for `name`; refuses to
/// overwrite either. Returns both paths.
pub fn write_key_pair(name: &Path, key: &SecretKey) -> Result<(PathBuf, PathBuf), SignError> {
    let mut secret_path = name.as_os_str().to_owned();
    secret_path.push(".key");
    let mut public_path = name.as_os_str().to_owned();
    public_path.push(".pub");
    let (secret_path, public_path) = (PathBuf::from(secret_path), PathBuf::from(public_path));
    for (path, mode, text) in [
        (&secret_path, 0o600, key_text(SECRET_KEY_HEADER, &key.0.to_bytes())),
        (&public_path, 0o644, key_text(PUBLIC_KEY_HEADER, &key.public_bytes())),
    ] {
        // Written whole to a new file and linked into place: never a
        // half-written key, and never over an existing file.
        files::create_new(path, text.as_bytes(), mode).map_err(io_err(path))?;
    }
    Ok((secret_path, public_path))
}

/// Reads a secret key file; refuses one that other users can read.
pub fn read_secret_key(path: &Path) -> Result<SecretKey, SignError> {
    let mode = std::fs::metadata(path).map_err(io_err(path))?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(SignError::Permissions { path: path.to_path_buf(), mode: mode & 0o777 });
    }
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    let bytes = parse_key_text(&text, SECRET_KEY_HEADER).ok_or_else(|| SignError::Format(path.to_path_buf()))?;
    Ok(SecretKey(SigningKey::from_bytes(&bytes)))
}

/// Signs an artifact (signed or not) with `key`: fills its signature
/// section and recomputes its checksum. The artifact's format, checksum,
/// metadata and ELF machine are checked first.
pub fn sign_artifact(artifact: &[u8], key: &SecretKey) -> Result<Vec<u8>, SignError> {
    let not_artifact = |e: &dyn std::fmt::Display| SignError::NotAnArtifact(e.to_string());
    let file = ArtifactFile::parse(artifact).map_err(|e| not_artifact(&e))?;
    let section = |name| file.section(name).map_err(|e| not_artifact(&e));
    let sum = file.fixed_section(SECTION_CHECKSUM, "checksum section", CHECKSUM_LEN).map_err(|e| not_artifact(&e))?;
    let sig =
        file.fixed_section(SECTION_SIGNATURE, "signature section", SIGNATURE_LEN).map_err(|e| not_artifact(&e))?;
    checksum::verify(artifact, sum.clone()).map_err(|e| not_artifact(&e))?;
    SignatureSection::decode(&artifact[sig.clone()]).map_err(|e| not_artifact(&e))?;
    let encoded = check_header(&artifact[section(SECTION_META)?]).map_err(|e| not_artifact(&e))?;
    let meta = ModuleMeta::decode(encoded).map_err(|e| not_artifact(&e))?;
    let len = |name| section(name).map(|r| r.len() as u64);
    meta.validate(len(SECTION_TEXT)?, len(SECTION_DATA)?, len(SECTION_IMAGE)?).map_err(|e| not_artifact(&e))?;
    let elf_arch = match file.machine() {
        object::elf::EM_X86_64 => Some(Arch::X86_64),
        object::elf::EM_AARCH64 => Some(Arch::Aarch64),
        _ => None,
    };
    if elf_arch.is_none() || Arch::from_triple(&meta.triple) != elf_arch {
        return Err(not_artifact(&format!("the ELF machine contradicts the recorded target {}", meta.triple)));
    }

    let signature = key.0.sign(&signed_message(artifact, sum, sig.clone()));
    let mut signed = artifact.to_vec();
    signed[sig].copy_from_slice(&SignatureSection { key_id: key.key_id(), signature: signature.to_bytes() }.encode());
    checksum::fill(&mut signed).map_err(|e| not_artifact(&e))?;
    Ok(signed)
}
