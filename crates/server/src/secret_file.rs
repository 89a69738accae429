//! The kept secret: made once, in the platform's data directory, readable by its owner only,
//! and used by every Session Lab process of that user on that machine — so sessions in a
//! SQLite file or in Redis survive a restart, and two processes continue each other's sessions,
//! without a `--secret` flag. (express-session makes the secret a required option for this
//! reason; Jupyter keeps its cookie secret in a 0600 file the same way.)

use std::{
    io::{self, Read as _},
    path::{Path, PathBuf},
};

use super::config::Secret;
use crate::files::{create_private_dir, write_private};

/// How many random bytes a kept secret has (the size of the cookie key).
const SECRET_BYTES: usize = 64;

/// Why the kept secret could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    /// Others than its owner may read it.
    #[error(
        "the secret file {path} can be read by others (mode {mode:o}); make it private with \
         `chmod 600 {path}`, or give a secret with --secret or SESSION_LAB_SECRET"
    )]
    TooOpen {
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// It is not a secret this program wrote.
    #[error(
        "the secret file {path} is not one Session Lab wrote ({why}); move it away to have a new \
         one made, or give a secret with --secret"
    )]
    Malformed {
        /// The file.
        path: String,
        /// What is wrong with it.
        why: String,
    },
    /// It could not be read or written.
    #[error("cannot use the secret file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        source: io::Error,
    },
}

/// Where the secret is kept when none is given: `session-lab/secret` in the platform's data
/// directory (on Linux `$XDG_DATA_HOME`, by default `~/.local/share`).
pub fn default_secret_path() -> PathBuf {
    crate::data_dir().join("secret")
}

/// The secret kept at `path`, made there first if there is none; `true` when it was made now.
/// Two processes starting at once get the same secret: the file appears whole or not at all.
pub fn load_or_create(path: &Path) -> Result<(Secret, bool), SecretFileError> {
    let shown = path.display().to_string();
    let io_error = |source| SecretFileError::Io {
        path: shown.clone(),
        source,
    };
    match read(path) {
        Ok(secret) => return Ok((secret, false)),
        Err(SecretFileError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    create_private_dir(dir).map_err(io_error)?;
    let mut bytes = [0u8; SECRET_BYTES];
    rand::fill(&mut bytes[..]);
    let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    // Written whole to a file of its own, then linked into place: a reader never sees half a
    // secret, and of two processes racing, the second finds the first one's file.
    let temporary = dir.join(format!(
        ".secret.{}.{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let written = write_private(&temporary, text.as_bytes());
    let linked = written.and_then(|()| std::fs::hard_link(&temporary, path));
    let _ = std::fs::remove_file(&temporary);
    match linked {
        Ok(()) => Ok((Secret::from_key_bytes(&bytes), true)),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => read(path).map(|s| (s, false)),
        Err(err) => Err(io_error(err)),
    }
}

/// Reads a kept secret, refusing a file others may read.
fn read(path: &Path) -> Result<Secret, SecretFileError> {
    let shown = path.display().to_string();
    let mut file = std::fs::File::open(path).map_err(|source| SecretFileError::Io {
        path: shown.clone(),
        source,
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = file
            .metadata()
            .map_err(|source| SecretFileError::Io {
                path: shown.clone(),
                source,
            })?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(SecretFileError::TooOpen {
                path: shown,
                mode: mode & 0o777,
            });
        }
    }
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|source| SecretFileError::Io {
            path: shown.clone(),
            source,
        })?;
    let text = text.trim();
    let malformed = |why: &str| SecretFileError::Malformed {
        path: shown.clone(),
        why: why.to_owned(),
    };
    if text.len() != SECRET_BYTES * 2 {
        return Err(malformed("it is not 128 hexadecimal digits"));
    }
    let mut bytes = [0u8; SECRET_BYTES];
    for (byte, pair) in bytes.iter_mut().zip(text.as_bytes().chunks(2)) {
        let pair = std::str::from_utf8(pair).map_err(|_| malformed("it is not text"))?;
        *byte = u8::from_str_radix(pair, 16).map_err(|_| malformed("it is not hexadecimal"))?;
    }
    Ok(Secret::from_key_bytes(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "session-lab-secret-{name}-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        dir.join("nested").join("secret")
    }

    /// The first use makes the secret, owner-only; later uses read the same one.
    #[test]
    fn made_once_then_kept() {
        let path = scratch("kept");
        let (first, created) = load_or_create(&path).unwrap();
        assert!(created);
        let (again, created) = load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(first.fingerprint(), again.fingerprint());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(path.parent().unwrap().parent().unwrap());
    }

    /// Processes starting at once (threads here) all end up with one secret.
    #[test]
    fn racing_starts_agree() {
        let path = scratch("race");
        let prints: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| load_or_create(&path).unwrap().0.fingerprint()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(prints.iter().all(|p| *p == prints[0]), "{prints:?}");
        let _ = std::fs::remove_dir_all(path.parent().unwrap().parent().unwrap());
    }

    /// A secret file others can read is refused, with what to do about it; so is a file
    /// that is not a secret.
    #[cfg(unix)]
    #[test]
    fn open_or_foreign_files_are_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let path = scratch("open");
        load_or_create(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_create(&path).unwrap_err();
        assert!(matches!(err, SecretFileError::TooOpen { mode: 0o644, .. }));
        assert!(err.to_string().contains("chmod 600"), "{err}");
        std::fs::write(&path, "not a secret").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            load_or_create(&path).unwrap_err(),
            SecretFileError::Malformed { .. }
        ));
        let _ = std::fs::remove_dir_all(path.parent().unwrap().parent().unwrap());
    }
}
