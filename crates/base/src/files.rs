//! Files the lab keeps are the user's alone: folders 0700 and owned by the user, files 0600,
//! created new (never through a symlink or over another's file) and put in place whole, by a
//! rename from a temporary file in the same folder. Files the user names are read only when
//! they are regular files within a size limit.

use std::{
    io::{self, Write as _},
    path::Path,
};

/// Creates `dir` (and its parents) for this user only, or makes an existing one so: a folder
/// another user owns, or a symlink where the folder should be, is refused.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)?;
    let meta = std::fs::symlink_metadata(dir)?;
    if !meta.is_dir() {
        return Err(io::Error::other(format!(
            "{} is not a folder (a link or a file is in its place)",
            dir.display()
        )));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me {
            return Err(io::Error::other(format!(
                "{} belongs to another user (uid {}); Session Lab keeps its files only in a \
                 folder of its own user",
                dir.display(),
                meta.uid()
            )));
        }
        if meta.mode() & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    Ok(())
}

/// Creates `path` new, readable and writable by this user only, with `contents`, flushed to
/// disk. Fails if anything (a file, a symlink) is already there.
pub fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Puts `contents` at `path` whole and private: written to a new temporary file of this process
/// beside it, then renamed over it (a rename replaces a symlink at `path`, never its target).
pub fn replace_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = path.with_file_name(format!(
        ".{name}.{}.{:08x}.tmp",
        std::process::id(),
        rand::random::<u32>()
    ));
    if let Err(err) = write_private(&temporary, contents) {
        let _ = std::fs::remove_file(&temporary);
        return Err(err);
    }
    std::fs::rename(&temporary, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
}

/// Why a file the user named could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A folder, a FIFO, a device: only regular files are read.
    #[error("{path} is not a regular file")]
    NotAFile {
        /// The path given.
        path: String,
    },
    /// Larger than the reader takes.
    #[error("{path} is {kib} KiB; at most {limit_kib} KiB is read")]
    TooLarge {
        /// The path given.
        path: String,
        /// Its size.
        kib: u64,
        /// The limit.
        limit_kib: u64,
    },
    /// The system refused.
    #[error("could not read {path}: {source}")]
    Io {
        /// The path given.
        path: String,
        /// What the system said.
        source: io::Error,
    },
}

impl ReadError {
    /// Whether there is no such file.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

/// Reads a regular file of at most `limit` bytes. A FIFO or a device (`/dev/zero`) is refused
/// before anything is read — it is opened without waiting for a writer, and checked again once
/// open — and a larger file is refused by its size, never read whole first.
pub fn read_regular_file(path: &Path, limit: usize) -> Result<Vec<u8>, ReadError> {
    use std::io::Read as _;
    let shown = path.display().to_string();
    let io_error = |source| ReadError::Io {
        path: shown.clone(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(io_error)?;
    let meta = file.metadata().map_err(io_error)?;
    if !meta.is_file() {
        return Err(ReadError::NotAFile { path: shown });
    }
    if meta.len() > limit as u64 {
        return Err(ReadError::TooLarge {
            path: shown,
            kib: meta.len() / 1024,
            limit_kib: limit as u64 / 1024,
        });
    }
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() > limit {
        return Err(ReadError::TooLarge {
            path: shown,
            kib: bytes.len() as u64 / 1024,
            limit_kib: limit as u64 / 1024,
        });
    }
    Ok(bytes)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!(
            "session-lab-files-{name}-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ))
    }

    /// Folders are 0700 (an existing open one is closed), files 0600, and a file is replaced
    /// whole, a symlink in its place replaced rather than followed.
    #[test]
    fn kept_files_are_private() {
        let dir = scratch("private").join("nested");
        create_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let file = dir.join("lab.json");
        replace_private(&file, b"one").unwrap();
        replace_private(&file, b"two").unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"two");
        assert_eq!(mode(&file), 0o600);
        let elsewhere = scratch("target");
        std::fs::write(&elsewhere, b"someone else's").unwrap();
        let link = dir.join("linked.json");
        std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
        assert!(
            write_private(&link, b"x").is_err(),
            "never written through a link"
        );
        replace_private(&link, b"mine").unwrap();
        assert_eq!(std::fs::read(&elsewhere).unwrap(), b"someone else's");
        assert!(std::fs::symlink_metadata(&link).unwrap().is_file());
        assert!(matches!(
            read_regular_file(Path::new("/dev/zero"), 1024),
            Err(ReadError::NotAFile { .. })
        ));
        let fifo = dir.join("fifo");
        let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid C string; mkfifo only creates the node.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        assert!(matches!(
            read_regular_file(&fifo, 1024),
            Err(ReadError::NotAFile { .. })
        ));
        assert!(matches!(
            read_regular_file(&file, 2),
            Err(ReadError::TooLarge { .. })
        ));
        assert_eq!(read_regular_file(&file, 1024).unwrap(), b"two");
        let not_a_dir = dir.join("file-not-dir");
        std::fs::write(&not_a_dir, b"").unwrap();
        assert!(create_private_dir(&not_a_dir).is_err());
    }
}
