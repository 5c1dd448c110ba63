//! Exclusive PID lock files (`flock`), so that two processes never act on the same run
//! directory or write the same store.
//!
//! `levee run` takes `levee.lock` in the directory of its control socket (default
//! /run/levee) before it opens the store, binds a socket or starts a stage, and holds
//! it for the life of the process; the store takes `<db>.lock` as its only writer. The
//! kernel releases a lock when its holder exits, however it exits, so a crash never
//! leaves a stale lock behind. `flock` locks are independent of the POSIX locks SQLite
//! takes on the database file itself.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The daemon's lock file in its run directory.
pub const INSTANCE_LOCK: &str = "levee.lock";

/// Why a lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum PidLockError {
    /// Another process holds it.
    #[error("another levee is already running (PID {pid}, lock {path})")]
    Held {
        /// The lock file.
        path: PathBuf,
        /// The PID the holder wrote, or "unknown".
        pid: String,
    },
    /// The lock file could not be created or locked.
    #[error("lock file {path}: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// A held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct PidLock {
    _file: File,
}

impl PidLock {
    /// Takes the lock at `path` (its directory created if missing) and writes this
    /// process's PID into it.
    pub fn acquire(path: &Path) -> Result<PidLock, PidLockError> {
        let io = |source| PidLockError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        // 0600 and no symlinks: a user who can read the lock could hold it and keep
        // levee from starting, and a planted link would have us truncate its target.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            return Err(io(std::io::Error::other("not a regular file")));
        }
        if meta.permissions().mode() & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(io)?;
        }
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                let pid = match pid.trim() {
                    "" => "unknown".to_string(),
                    p => p.to_string(),
                };
                return Err(PidLockError::Held {
                    path: path.to_path_buf(),
                    pid,
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "{}", std::process::id()))
            .map_err(io)?;
        Ok(PidLock { _file: file })
    }

    /// The daemon's lock in `run_dir`, with a message that says what to do when another
    /// daemon holds it.
    pub fn instance(run_dir: &Path) -> anyhow::Result<PidLock> {
        PidLock::acquire(&run_dir.join(INSTANCE_LOCK)).map_err(|e| match e {
            PidLockError::Held { ref pid, .. } => anyhow::anyhow!(
                "{e}: stop it first (systemctl stop levee, or kill {pid}), or give this one \
                 its own control.socket and store.path"
            ),
            PidLockError::Io { .. } => anyhow::anyhow!(
                "{e} (run levee as root, or as the user that owns {})",
                run_dir.display()
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_pid_and_the_lock_is_free_after_drop() {
        let dir = std::env::temp_dir().join(format!("levee-pidlock-{}", std::process::id()));
        let first = PidLock::instance(&dir).unwrap();
        let path = dir.join(INSTANCE_LOCK);
        let me = std::process::id().to_string();
        assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), me);
        // flock locks belong to the open file description: a second open in the same
        // process conflicts, as a second process would.
        match PidLock::acquire(&path) {
            Err(PidLockError::Held { pid, .. }) => assert_eq!(pid, me),
            other => panic!("expected Held, got {other:?}"),
        }
        let msg = PidLock::instance(&dir).unwrap_err().to_string();
        assert!(
            msg.contains(&format!("PID {me}")) && msg.contains("stop it first"),
            "{msg}"
        );
        drop(first);
        let again = PidLock::instance(&dir).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        drop(again);
        // A symlink planted where the lock goes is refused, its target untouched.
        let target = dir.join("precious");
        std::fs::write(&target, "keep").unwrap();
        let link = dir.join("link.lock");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(matches!(
            PidLock::acquire(&link),
            Err(PidLockError::Io { .. })
        ));
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
