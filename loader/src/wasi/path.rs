//! Resolving a guest path relative to a directory descriptor so that it
//! can never name anything outside that directory.
//!
//! The kernel does the work where it can: `openat2` with
//! `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS` (Linux 5.6+) refuses absolute
//! paths, `..` above the directory and symlinks (in any component) that
//! lead out of it, with `EXDEV`, which WASI reports as `ENOTCAPABLE`.
//! Where `openat2` is missing (kernels before 5.6, seccomp filters that
//! refuse it, qemu-user), `open_walk` does the same in user space: it
//! walks the path one component at a time with `O_NOFOLLOW`, keeps the
//! chain of directories it went through for `..`, and expands a symlink
//! it meets by reading it and walking its target from where the link is,
//! so `..` in a target cannot climb above the directory either; absolute
//! targets are refused, and more than `MAX_SYMLINKS` expansions are
//! `ELOOP`, as `openat2` has it.

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
        Err(rustix::io::Errno::NOSYS) => open_walk(dir, path, flags, mode, follow),
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

/// Symlinks one resolution may expand (Linux's limit).
const MAX_SYMLINKS: u32 = 40;

/// The fallback resolver: one component at a time, symlinks expanded in
/// user space and never beyond `dir` (see the module documentation). The
/// last component is followed if it is a symlink only when `follow`.
pub(crate) fn open_walk(dir: &File, path: &str, flags: OFlags, mode: Mode, follow: bool) -> Result<OwnedFd, Errno> {
    check_path(path)?;
    let flags = flags.difference(OFlags::NOFOLLOW) | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    // "name/" must name a directory.
    let last_flags = if path.ends_with('/') { flags | OFlags::DIRECTORY } else { flags };
    let dir_flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut chain: Vec<OwnedFd> = vec![rustix::fs::openat(dir.as_fd(), ".", dir_flags, Mode::empty())?];
    // Components still to walk, the next one last.
    let mut pending = Vec::new();
    push_components(&mut pending, path)?;
    let mut expansions = 0;
    while let Some(c) = pending.pop() {
        let is_last = pending.is_empty();
        if c == ".." {
            chain.pop();
            if chain.is_empty() {
                return Err(Errno::NOTCAPABLE);
            }
            if is_last {
                let top = chain.last().ok_or(Errno::NOTCAPABLE)?;
                return Ok(rustix::fs::openat(top, ".", last_flags, mode)?);
            }
            continue;
        }
        let top = chain.last().ok_or(Errno::NOTCAPABLE)?;
        let opened = if is_last {
            rustix::fs::openat(top, c.as_str(), last_flags, mode)
        } else {
            rustix::fs::openat(top, c.as_str(), dir_flags, Mode::empty())
        };
        // `O_NOFOLLOW` refuses a symlink with ELOOP, or ENOTDIR with
        // `O_DIRECTORY`; with `O_PATH` it opens the link itself.
        let link = match &opened {
            Ok(fd) => (is_last && follow) && is_symlink_fd(fd),
            Err(rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR) => (!is_last || follow) && is_symlink_at(top, &c),
            Err(_) => false,
        };
        if link {
            expansions += 1;
            if expansions > MAX_SYMLINKS {
                return Err(Errno::LOOP);
            }
            let target = rustix::fs::readlinkat(top, c.as_str(), Vec::new())?;
            let target = target.to_str().map_err(|_| Errno::ILSEQ)?;
            if target.starts_with('/') || target.is_empty() {
                return Err(Errno::NOTCAPABLE);
            }
            push_components(&mut pending, target)?;
            if pending.is_empty() {
                // A link to ".": the directory it is in.
                pending.push(".".to_string());
            }
            continue;
        }
        let fd = opened?;
        if is_last {
            return Ok(fd);
        }
        chain.push(fd);
    }
    // Only "." components: the directory itself.
    let top = chain.last().ok_or(Errno::NOTCAPABLE)?;
    Ok(rustix::fs::openat(top, ".", last_flags, mode)?)
}

/// Pushes `path`'s components onto `pending` so that the first is popped
/// first; `.` and empty components are dropped, but a lone "." is kept so
/// that a path of dots still names its directory.
fn push_components(pending: &mut Vec<String>, path: &str) -> Result<(), Errno> {
    if path.starts_with('/') {
        return Err(Errno::NOTCAPABLE);
    }
    let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
    if components.is_empty() && pending.is_empty() {
        pending.push(".".to_string());
    }
    pending.extend(components.iter().rev().map(|c| c.to_string()));
    Ok(())
}

fn is_symlink_fd(fd: &OwnedFd) -> bool {
    rustix::fs::fstat(fd)
        .is_ok_and(|st| rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Symlink)
}

fn is_symlink_at(dir: &OwnedFd, name: &str) -> bool {
    rustix::fs::statat(dir, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
        .is_ok_and(|st| rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Symlink)
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
        // What a hostile program would plant (path_symlink) to get a
        // user-space resolver to lose track of where it is: a link to a
        // subdirectory followed by "..", links whose targets climb, and a
        // link inside a subdirectory pointing back at a climbing link.
        link("sub", "to_sub");
        link("sub/../..", "climb");
        link("../to_parent", "sub/back");
        link("to_sub/..", "sub_parent");
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
        "to_sub/../../secret.txt",
        "climb/secret.txt",
        "sub/back/secret.txt",
        "sub_parent/../secret.txt",
        "to_sub/back/secret.txt",
    ];

    type Resolver = fn(&File, &str, OFlags, Mode, bool) -> Result<OwnedFd, Errno>;

    /// What both resolvers must do: refuse every escape (as not capable when
    /// the target exists), follow symlinks that stay inside, and refuse a
    /// final symlink without `follow`.
    fn refuses_every_escape_and_allows_inside(name: &str, open: Resolver) {
        let (root, dir) = sandbox(name);
        for path in ESCAPES {
            let r = open(&dir, path, OFlags::RDONLY, Mode::empty(), true);
            let e = r.err().unwrap_or_else(|| panic!("{path} escaped"));
            assert!(e == Errno::NOTCAPABLE || e == Errno::NOENT, "{path}: {e:?}");
        }
        // Escapes that exist must be refused as not capable, not missing.
        for path in ["../secret.txt", "/etc/passwd", "to_etc", "chain_out", "sub/../../secret.txt", "to_parent"] {
            let r = open(&dir, path, OFlags::RDONLY, Mode::empty(), true);
            assert_eq!(r.err(), Some(Errno::NOTCAPABLE), "{path}");
        }
        let ok = |p: &str| read(open(&dir, p, OFlags::RDONLY, Mode::empty(), true).unwrap());
        assert_eq!(ok("file.txt"), "in");
        assert_eq!(ok("sub/../file.txt"), "in");
        assert_eq!(ok("./sub/deep.txt"), "deep");
        assert_eq!(ok("to_file"), "in");
        assert_eq!(ok("chain_in"), "in");
        // Links that stay inside still resolve where the kernel would.
        assert_eq!(ok("to_sub/../file.txt"), "in");
        assert_eq!(ok("to_sub/deep.txt"), "deep");
        assert_eq!(ok("sub_parent/file.txt"), "in");
        // Without follow, the last component may not be a symlink.
        assert_eq!(open(&dir, "to_file", OFlags::RDONLY, Mode::empty(), false).err(), Some(Errno::LOOP));
        // An O_PATH open follows a final symlink only when asked to.
        let size = |follow| {
            let fd = open(&dir, "to_file", OFlags::PATH, Mode::empty(), follow).unwrap();
            rustix::fs::fstat(&fd).unwrap().st_size
        };
        assert_eq!((size(true), size(false)), (2, "file.txt".len() as i64));
        // "name/" names a directory.
        assert_eq!(open(&dir, "file.txt/", OFlags::RDONLY, Mode::empty(), true).err(), Some(Errno::NOTDIR));
        std::os::unix::fs::symlink("self_loop", root.join("inside/self_loop")).unwrap();
        assert_eq!(open(&dir, "self_loop", OFlags::RDONLY, Mode::empty(), true).err(), Some(Errno::LOOP));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn openat2_refuses_every_escape_and_allows_inside() {
        refuses_every_escape_and_allows_inside("openat2", open_beneath);
    }

    /// The resolver for kernels (and emulators) without `openat2` gives the
    /// same answers.
    #[test]
    fn the_fallback_walk_refuses_every_escape_and_allows_inside() {
        refuses_every_escape_and_allows_inside("walk", open_walk);
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
