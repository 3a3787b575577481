//! Opening one attachment beneath a workspace root without following any symlink,
//! and without blocking on FIFOs or devices.
//!
//! Linux: `openat2(root_fd, rel, O_NONBLOCK, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`,
//! so the kernel itself refuses a symlink at any component and any escape from the
//! root. Other Unix systems (and Linux kernels before 5.6): a walk from the root's
//! descriptor, one component at a time, each opened with `O_NOFOLLOW`. Elsewhere: a
//! portable fallback that refuses paths whose components are symlinks before it
//! opens them; it narrows the race but cannot close it (documented in docs/behaviour.md).
//!
//! Whatever the way in, the caller checks the *open handle* (fstat), and the bytes
//! sent are read from that same handle.

use std::{
    fs::File,
    io,
    path::{Component, Path},
};

/// Why a path could not be opened beneath its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenFailure {
    NotFound,
    /// The path is, or passes through, a symbolic link.
    Symlink,
    /// The kernel says the path leads out of the root.
    Escapes,
    /// A socket (it cannot be opened as a file at all).
    Socket,
    Other(String),
}

impl OpenFailure {
    fn from_io(error: &io::Error) -> Self {
        #[cfg(unix)]
        {
            use rustix::io::Errno;
            match error.raw_os_error().map(Errno::from_raw_os_error) {
                Some(Errno::NOENT) | Some(Errno::NOTDIR) => return OpenFailure::NotFound,
                Some(Errno::LOOP) => return OpenFailure::Symlink,
                Some(Errno::XDEV) => return OpenFailure::Escapes,
                Some(Errno::NXIO) => return OpenFailure::Socket,
                _ => {}
            }
        }
        if error.kind() == io::ErrorKind::NotFound {
            OpenFailure::NotFound
        } else {
            OpenFailure::Other(error.to_string())
        }
    }
}

/// Open `relative` (normal components only: the caller has folded `.` and `..`)
/// beneath the directory `root`, read-only and without blocking. The handle is
/// switched back to blocking reads before it is returned.
pub fn open_beneath(root: &Path, relative: &Path) -> Result<File, OpenFailure> {
    debug_assert!(
        relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
    );
    let file = platform::open(root, relative).map_err(|e| OpenFailure::from_io(&e))?;
    platform::make_blocking(&file).map_err(|e| OpenFailure::Other(e.to_string()))?;
    Ok(file)
}

#[cfg(unix)]
mod platform {
    use std::{fs::File, io, os::fd::OwnedFd, path::Path};

    use rustix::{
        fs::{AtFlags, FileType, Mode, OFlags, fcntl_getfl, fcntl_setfl, openat, statat},
        io::Errno,
    };

    /// The flags of the final open: never blocks (FIFOs), never becomes our
    /// controlling terminal, never follows a final symlink.
    fn leaf_flags() -> OFlags {
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::NOFOLLOW | OFlags::CLOEXEC
    }

    fn open_root(root: &Path) -> io::Result<OwnedFd> {
        Ok(openat(
            rustix::fs::CWD,
            root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?)
    }

    pub fn open(root: &Path, relative: &Path) -> io::Result<File> {
        let root_fd = open_root(root)?;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            use rustix::fs::ResolveFlags;
            let resolve =
                ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
            match rustix::fs::openat2(&root_fd, relative, leaf_flags(), Mode::empty(), resolve) {
                Ok(fd) => return Ok(File::from(fd)),
                // No openat2 here (old kernel, or a seccomp filter that refuses it):
                // walk instead.
                Err(Errno::NOSYS) | Err(Errno::PERM) => {}
                Err(errno) => return Err(errno.into()),
            }
        }
        walk(root_fd, relative)
    }

    /// One component at a time from the root's descriptor, each with O_NOFOLLOW.
    pub fn walk(root_fd: OwnedFd, relative: &Path) -> io::Result<File> {
        let mut components = relative.components().peekable();
        let mut dir = root_fd;
        while let Some(component) = components.next() {
            let name = component.as_os_str();
            if components.peek().is_none() {
                return Ok(File::from(openat(&dir, name, leaf_flags(), Mode::empty())?));
            }
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            dir = match openat(&dir, name, flags, Mode::empty()) {
                Ok(next) => next,
                // O_DIRECTORY | O_NOFOLLOW on a symlink says ENOTDIR on some
                // systems: tell a link apart from a plain file.
                Err(errno) => {
                    let is_link = statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW)
                        .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Symlink);
                    return Err(if is_link { Errno::LOOP } else { errno }.into());
                }
            };
        }
        Err(io::Error::new(io::ErrorKind::NotFound, "empty path"))
    }

    pub fn make_blocking(file: &File) -> io::Result<()> {
        let flags = fcntl_getfl(file)?;
        fcntl_setfl(file, flags - OFlags::NONBLOCK)?;
        Ok(())
    }

    #[cfg(test)]
    pub fn walk_from(root: &Path, relative: &Path) -> io::Result<File> {
        walk(open_root(root)?, relative)
    }
}

#[cfg(not(unix))]
mod platform {
    use std::{fs::File, io, path::Path};

    /// Refuse any component that is a symlink (or reparse point), then open.
    pub fn open(root: &Path, relative: &Path) -> io::Result<File> {
        let mut path = root.to_path_buf();
        for component in relative.components() {
            path.push(component);
            if std::fs::symlink_metadata(&path)?.file_type().is_symlink() {
                return Err(io::Error::new(
                    io::ErrorKind::Other,
                    "the path passes through a symbolic link",
                ));
            }
        }
        File::open(&path)
    }

    pub fn make_blocking(_: &File) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn tree() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ws");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/a.txt"), "inside").unwrap();
        std::fs::write(dir.path().join("secret.txt"), "outside").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), root.join("link.txt")).unwrap();
        std::os::unix::fs::symlink(dir.path(), root.join("up")).unwrap();
        std::os::unix::fs::symlink("sub", root.join("sub-alias")).unwrap();
        (dir, root)
    }

    #[test]
    fn both_ways_in_open_plain_files_and_refuse_every_symlink() {
        let (_dir, root) = tree();
        type Opener = fn(&Path, &Path) -> io::Result<File>;
        let ways: [(&str, Opener); 2] = [("open", platform::open), ("walk", platform::walk_from)];
        for (way, open) in ways {
            let read = |rel: &str| {
                open(&root, Path::new(rel)).map(|f| std::io::read_to_string(f).unwrap())
            };
            assert_eq!(read("sub/a.txt").unwrap(), "inside", "{way}");
            for rel in ["link.txt", "up/secret.txt", "sub-alias/a.txt"] {
                let error = read(rel).unwrap_err();
                assert_eq!(
                    OpenFailure::from_io(&error),
                    OpenFailure::Symlink,
                    "{way} {rel}"
                );
            }
            let error = read("sub/missing").unwrap_err();
            assert_eq!(OpenFailure::from_io(&error), OpenFailure::NotFound, "{way}");
        }
    }

    #[test]
    fn a_fifo_opens_without_blocking() {
        let (_dir, root) = tree();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            root.join("pipe"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let file = open_beneath(&root, Path::new("pipe")).unwrap();
        assert!(!file.metadata().unwrap().is_file());
    }
}
