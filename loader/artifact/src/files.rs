//! Writing artifacts (and key files) so that no reader ever sees a partial
//! file and no loaded module sees its file change.
//!
//! The loader's `Module::from_file` maps the artifact: a file rewritten in
//! place (truncated and written again, as `std::fs::write` does) changes
//! the code of every module already loaded from it, since a private mapping
//! shares the pages it has not copied.
//! [`replace`] instead writes a new file beside the old one (a unique name,
//! created exclusively), flushes it to disk and renames it over the path:
//! a module loaded before keeps the old file (the old inode), one loaded
//! after gets the new one, and nobody sees anything in between.
//! [`create_new`] does the same for files that must not replace anything
//! (secret keys).

use std::fs::{File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tempfile::NamedTempFile;

/// Writes `bytes` to `path` atomically: into a new file in the same
/// directory, created with permission bits `mode` (less the umask), synced
/// to disk, then renamed over `path`. Whatever `path` named before (a
/// file a module is loaded from, for instance) is left untouched, and the
/// temporary file is removed if anything fails. A symlink at `path` is
/// replaced, not followed.
///
/// # Errors
/// The operating system's error, from creating, writing, syncing or
/// renaming.
pub fn replace(path: impl AsRef<Path>, bytes: &[u8], mode: u32) -> io::Result<()> {
    let path = path.as_ref();
    written_beside(path, bytes, mode)?.persist(path).map_err(|e| e.error)?;
    sync_parent(path);
    Ok(())
}

/// Like [`replace`], but refuses (with [`io::ErrorKind::AlreadyExists`]) if
/// `path` already exists, even if it is created meanwhile.
///
/// # Errors
/// As for [`replace`].
pub fn create_new(path: impl AsRef<Path>, bytes: &[u8], mode: u32) -> io::Result<()> {
    let path = path.as_ref();
    written_beside(path, bytes, mode)?.persist_noclobber(path).map_err(|e| e.error)?;
    sync_parent(path);
    Ok(())
}

/// A new file with a unique name (created exclusively) in `dest`'s
/// directory, holding `bytes`, synced; removed when dropped unless
/// persisted.
fn written_beside(dest: &Path, bytes: &[u8], mode: u32) -> io::Result<NamedTempFile> {
    let name =
        dest.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path does not name a file"))?;
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    let mut file = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .permissions(Permissions::from_mode(mode))
        .tempfile_in(parent_of(dest))?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    Ok(file)
}

/// Makes a finished rename durable. Best effort: the rename has happened,
/// and a file system that cannot sync directories is no reason to report
/// failure.
fn sync_parent(path: &Path) {
    if let Ok(dir) = File::open(parent_of(path)) {
        let _ = dir.sync_all();
    }
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(all(test, not(miri)))]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;
    use std::path::PathBuf;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("wasmc-files-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        names
    }

    #[test]
    fn replace_gives_the_path_a_new_inode_and_leaves_the_old_file_alone() {
        let dir = scratch("replace");
        let path = dir.join("a.cwasm");
        replace(&path, b"first", 0o644).unwrap();
        let old = File::open(&path).unwrap();
        let old_inode = old.metadata().unwrap().ino();
        replace(&path, b"second, longer", 0o644).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second, longer");
        assert_ne!(std::fs::metadata(&path).unwrap().ino(), old_inode);
        // The file opened before still holds what it held.
        assert_eq!(std::io::read_to_string(old).unwrap(), "first");
        assert_eq!(names(&dir), ["a.cwasm"], "no temporary file is left");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn create_new_refuses_an_existing_file_and_sets_the_mode() {
        let dir = scratch("create");
        let path = dir.join("k.key");
        create_new(&path, b"secret", 0o600).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let err = create_new(&path, b"other", 0o600).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"secret");
        assert_eq!(names(&dir), ["k.key"], "no temporary file is left");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_failed_write_leaves_nothing_behind() {
        let dir = scratch("fail");
        // Renaming a file over a directory fails after the temporary exists.
        std::fs::create_dir(dir.join("taken")).unwrap();
        std::fs::write(dir.join("taken/inside"), b"x").unwrap();
        assert!(replace(dir.join("taken"), b"bytes", 0o644).is_err());
        assert_eq!(names(&dir), ["taken"]);
        assert!(replace(dir.join("missing/a.cwasm"), b"bytes", 0o644).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}
