//! Creating links: `path_link` (hard links) and `path_symlink`, both
//! inside a directory the program holds.

use super::mem::Env;
use super::path::parent_and_name;
use super::pathops::{dir_and_path, need};
use super::types::{flags, rights};
use super::{Args, Errno};

/// The name to give the host for the last component of `path`: a
/// trailing slash is kept, so the host reports what it means (a name
/// with a slash must be a directory).
fn host_name(path: &str, name: String) -> String {
    if path.ends_with('/') {
        name + "/"
    } else {
        name
    }
}

/// A hard link `new` (beneath `new_fd`) to `old` (beneath `old_fd`).
/// Following a symlink at `old` is not offered (`EINVAL`), as in
/// wasmtime: the link would be made to whatever the symlink names.
pub(crate) fn path_link(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let (old_fd, old_flags, old_ptr, old_len) = (a.u32(0), a.u32(1), a.u32(2), a.u32(3));
    let (new_fd, new_ptr, new_len) = (a.u32(4), a.u32(5), a.u32(6));
    need(env, new_fd, rights::PATH_LINK_TARGET)?;
    let (old_dir, old_path) = dir_and_path(env, old_fd, old_ptr, old_len)?;
    let (new_dir, new_path) = dir_and_path(env, new_fd, new_ptr, new_len)?;
    if old_flags & flags::LOOKUP_SYMLINK_FOLLOW != 0 {
        return Err(Errno::INVAL);
    }
    let (old_parent, old_name) = parent_and_name(&old_dir, &old_path)?;
    let (new_parent, new_name) = parent_and_name(&new_dir, &new_path)?;
    let (old_name, new_name) = (host_name(&old_path, old_name), host_name(&new_path, new_name));
    Ok(rustix::fs::linkat(
        &old_parent,
        old_name.as_str(),
        &new_parent,
        new_name.as_str(),
        rustix::fs::AtFlags::empty(),
    )?)
}

/// A symlink at `new` (beneath `fd`) whose text is `old`. The text is
/// not resolved now, only when the link is followed, and then beneath the
/// directory that follows it: a relative text that climbs out (`../x`)
/// is stored as the spec allows but following it fails with
/// `ENOTCAPABLE`. An absolute text can never resolve inside a sandbox
/// and is refused (`ENOTCAPABLE`).
pub(crate) fn path_symlink(env: &mut Env<'_, '_>, a: &Args<'_>) -> Result<(), Errno> {
    let (old_ptr, old_len, fd, new_ptr, new_len) = (a.u32(0), a.u32(1), a.u32(2), a.u32(3), a.u32(4));
    env.ctx.get(fd)?;
    need(env, fd, rights::PATH_SYMLINK)?;
    let target = env.string(old_ptr, old_len)?;
    let (dir, path) = dir_and_path(env, fd, new_ptr, new_len)?;
    if target.contains('\0') {
        return Err(Errno::INVAL);
    }
    if target.starts_with('/') {
        return Err(Errno::NOTCAPABLE);
    }
    let (parent, name) = parent_and_name(&dir, &path)?;
    let name = host_name(&path, name);
    Ok(rustix::fs::symlinkat(target.as_str(), &parent, name.as_str())?)
}
