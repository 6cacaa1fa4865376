//! Resolving a guest path relative to a directory descriptor so that it
//! can never name anything outside that directory.
//!
//! The kernel does the work where it can: `openat2` with
//! `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS` (Linux 5.6+) refuses absolute
//! paths, `..` above the directory and symlinks (in any component) that
//! lead out of it, with `EXDEV`, which WASI reports as `ENOTCAPABLE`.
//! Where `openat2` is missing, [`open_walk`] walks the path one component
//! at a time with `O_NOFOLLOW`, keeps the chain of directories for `..`,
//! and refuses every symlink: stricter, never looser.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{Mode, OFlags, ResolveFlags};

use super::Errno;

/// Opens `path` relative to `dir` with `flags` (`O_NOFOLLOW` is added
/// unless `follow`), never outside `dir`.
pub(crate) fn open_beneath(dir: &File, path: &str, flags: OFlags, mode: Mode, follow: bool) -> Result<OwnedFd, Errno> {
    check_path(path)?;
    let flags = flags | OFlags::CLOEXEC | if follow { OFlags::empty() } else { OFlags::NOFOLLOW };
    // openat2 refuses a mode without O_CREAT.
    let mode = if flags.contains(OFlags::CREATE) { mode } else { Mode::empty() };
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
    match rustix::fs::openat2(dir.as_fd(), path, flags, mode, resolve) {
        Ok(fd) => Ok(fd),
        Err(rustix::io::Errno::NOSYS) => open_walk(dir, path, flags, mode),
        Err(e) => Err(e.into()),
    }
}

/// Rejects what is never a valid guest path: empty, or holding NUL.
fn check_path(path: &str) -> Result<(), Errno> {
    if path.contains('\0') {
        return Err(Errno::INVAL);
    }
    if path.is_empty() {
        return Err(Errno::NOENT);
    }
    Ok(())
}

/// The fallback resolver: one component at a time, no symlinks at all.
pub(crate) fn open_walk(dir: &File, path: &str, flags: OFlags, mode: Mode) -> Result<OwnedFd, Errno> {
    check_path(path)?;
    if path.starts_with('/') {
        return Err(Errno::NOTCAPABLE);
    }
    let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
    let dir_flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut chain: Vec<OwnedFd> = vec![rustix::fs::openat(dir.as_fd(), ".", dir_flags, Mode::empty())?];
    let Some((last, parents)) = components.split_last() else {
        // "." or "./": the directory itself.
        return Ok(rustix::fs::openat(dir.as_fd(), ".", flags | OFlags::NOFOLLOW, mode)?);
    };
    for c in parents {
        if *c == ".." {
            chain.pop();
            if chain.is_empty() {
                return Err(Errno::NOTCAPABLE);
            }
            continue;
        }
        let top = chain.last().ok_or(Errno::NOTCAPABLE)?;
        let next = rustix::fs::openat(top, *c, dir_flags, Mode::empty()).map_err(|e| {
            // O_DIRECTORY | O_NOFOLLOW on a symlink fails with ENOTDIR.
            let is_link = rustix::fs::statat(top, *c, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
                .is_ok_and(|st| rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Symlink);
            if is_link {
                Errno::NOTCAPABLE
            } else {
                symlink_refused(e)
            }
        })?;
        chain.push(next);
    }
    if *last == ".." {
        chain.pop();
        let top = chain.last().ok_or(Errno::NOTCAPABLE)?;
        return Ok(rustix::fs::openat(top, ".", flags | OFlags::NOFOLLOW, mode)?);
    }
    let top = chain.last().ok_or(Errno::NOTCAPABLE)?;
    rustix::fs::openat(top, *last, flags | OFlags::NOFOLLOW, mode).map_err(symlink_refused)
}

/// `O_NOFOLLOW` on a symlink fails with `ELOOP`: the fallback refuses
/// symlinks as not capable.
fn symlink_refused(e: rustix::io::Errno) -> Errno {
    match e {
        rustix::io::Errno::LOOP => Errno::NOTCAPABLE,
        other => other.into(),
    }
}

/// Splits `path` into the directory holding its last component (opened
/// beneath `dir`, as an `O_PATH` descriptor) and that component's name,
/// for operations on a name (mkdir, unlink, rename, readlink). The name
/// is never empty, `.` or `..`, and holds no `/`.
pub(crate) fn parent_and_name(dir: &File, path: &str) -> Result<(OwnedFd, String), Errno> {
    check_path(path)?;
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        // "/" or "///": absolute.
        return Err(Errno::NOTCAPABLE);
    }
    let (parent, name) = match trimmed.rfind('/') {
        Some(0) => return Err(Errno::NOTCAPABLE),
        Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
        None => (".", trimmed),
    };
    if name == "." || name == ".." {
        return Err(Errno::INVAL);
    }
    let parent = open_beneath(dir, parent, OFlags::PATH | OFlags::DIRECTORY, Mode::empty(), true)?;
    Ok((parent, name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sandbox `root/inside` with a file, a subdirectory, and links
    /// in and out; a secret file beside `inside`.
    fn sandbox(name: &str) -> (std::path::PathBuf, File) {
        let root = std::env::temp_dir().join(format!("wasmc-wasi-path-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let inside = root.join("inside");
        std::fs::create_dir_all(inside.join("sub")).unwrap();
        std::fs::write(inside.join("file.txt"), "in").unwrap();
        std::fs::write(inside.join("sub/deep.txt"), "deep").unwrap();
        std::fs::write(root.join("secret.txt"), "secret").unwrap();
        let link = |target: &str, at: &str| std::os::unix::fs::symlink(target, inside.join(at)).unwrap();
        link("/etc/passwd", "to_etc");
        link("../secret.txt", "to_secret");
        link("file.txt", "to_file");
        link("to_secret", "chain_out");
        link("to_file", "chain_in");
        link("/", "to_root");
        link("..", "to_parent");
        let dir = File::open(&inside).unwrap();
        (root, dir)
    }

    fn read(fd: OwnedFd) -> String {
        std::io::read_to_string(File::from(fd)).unwrap()
    }

    const ESCAPES: &[&str] = &[
        "..",
        "../secret.txt",
        "../..",
        "../../etc/passwd",
        "/etc/passwd",
        "/",
        "sub/../../secret.txt",
        "a/../../x",
        "sub/../..",
        "to_etc",
        "to_secret",
        "chain_out",
        "to_root/etc/passwd",
        "to_parent/secret.txt",
        "to_parent",
    ];

    #[test]
    fn openat2_refuses_every_escape_and_allows_inside() {
        let (root, dir) = sandbox("openat2");
        for path in ESCAPES {
            let r = open_beneath(&dir, path, OFlags::RDONLY, Mode::empty(), true);
            let e = r.err().unwrap_or_else(|| panic!("{path} escaped"));
            assert!(e == Errno::NOTCAPABLE || e == Errno::NOENT, "{path}: {e:?}");
        }
        // Escapes that exist must be refused as not capable, not missing.
        for path in ["../secret.txt", "/etc/passwd", "to_etc", "chain_out", "sub/../../secret.txt"] {
            let r = open_beneath(&dir, path, OFlags::RDONLY, Mode::empty(), true);
            assert_eq!(r.err(), Some(Errno::NOTCAPABLE), "{path}");
        }
        let ok = |p: &str| read(open_beneath(&dir, p, OFlags::RDONLY, Mode::empty(), true).unwrap());
        assert_eq!(ok("file.txt"), "in");
        assert_eq!(ok("sub/../file.txt"), "in");
        assert_eq!(ok("./sub/deep.txt"), "deep");
        assert_eq!(ok("to_file"), "in");
        assert_eq!(ok("chain_in"), "in");
        // Without follow, the last component may not be a symlink.
        assert_eq!(open_beneath(&dir, "to_file", OFlags::RDONLY, Mode::empty(), false).err(), Some(Errno::LOOP));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn the_fallback_walk_refuses_every_escape_and_allows_inside() {
        let (root, dir) = sandbox("walk");
        for path in ESCAPES {
            let r = open_walk(&dir, path, OFlags::RDONLY, Mode::empty());
            let e = r.err().unwrap_or_else(|| panic!("{path} escaped"));
            assert!(e == Errno::NOTCAPABLE || e == Errno::NOENT, "{path}: {e:?}");
        }
        let ok = |p: &str| read(open_walk(&dir, p, OFlags::RDONLY, Mode::empty()).unwrap());
        assert_eq!(ok("file.txt"), "in");
        assert_eq!(ok("sub/../file.txt"), "in");
        assert_eq!(ok("./sub/deep.txt"), "deep");
        // The fallback refuses symlinks altogether.
        assert_eq!(open_walk(&dir, "to_file", OFlags::RDONLY, Mode::empty()).err(), Some(Errno::NOTCAPABLE));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn names_for_name_operations_stay_inside() {
        let (root, dir) = sandbox("names");
        assert_eq!(parent_and_name(&dir, "sub/new").map(|(_, n)| n).ok(), Some("new".to_string()));
        assert_eq!(parent_and_name(&dir, "sub/new/").map(|(_, n)| n).ok(), Some("new".to_string()));
        assert_eq!(parent_and_name(&dir, "new").map(|(_, n)| n).ok(), Some("new".to_string()));
        assert_eq!(parent_and_name(&dir, "/tmp").err(), Some(Errno::NOTCAPABLE));
        assert_eq!(parent_and_name(&dir, "../x").err(), Some(Errno::NOTCAPABLE));
        assert_eq!(parent_and_name(&dir, "to_parent/x").err(), Some(Errno::NOTCAPABLE));
        assert_eq!(parent_and_name(&dir, "sub/..").err(), Some(Errno::INVAL));
        assert_eq!(parent_and_name(&dir, "").err(), Some(Errno::NOENT));
        std::fs::remove_dir_all(root).unwrap();
    }
}
