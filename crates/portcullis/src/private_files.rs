//! Files that hold secrets — the SQLite database (the signing keys' private
//! halves, the password hashes), the HS256 secret, the TLS private key —
//! and who besides their owner may read them.
//!
//! The database is created here, empty and with mode 0600, before SQLite
//! opens it: `O_CREAT | O_EXCL` with the mode, so there is no moment at which
//! the file exists with wider permissions, and nothing depends on the
//! process's umask (a process-wide umask would also reach every other file
//! the process and its tests create). SQLite gives its `-wal` and `-shm`
//! files the database file's own mode when it creates them.
//!
//! Files that already exist are not changed behind the operator's back: a
//! file others may read is reported at start with its path and mode, for the
//! operator to fix.

use std::io;
use std::path::Path;

/// Who, besides the owner, must not be able to use a file for a warning to
/// be spared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Neither the file's group nor other users.
    Owner,
    /// Other users; the group may read it (a TLS key shared through a group
    /// such as `ssl-cert`, as certificate tools set it up).
    OwnerAndGroup,
}

impl Audience {
    /// The permission bits that go beyond this audience.
    fn excess(self) -> u32 {
        match self {
            Audience::Owner => 0o077,
            Audience::OwnerAndGroup => 0o007,
        }
    }
}

/// Creates `path` empty, readable and writable by its owner only, unless it
/// exists already. `Ok(true)` when it was created.
#[cfg(unix)]
pub fn create_private(path: &Path) -> io::Result<bool> {
    use std::os::unix::fs::OpenOptionsExt;

    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// Elsewhere the file is left for its opener to create.
#[cfg(not(unix))]
pub fn create_private(_path: &Path) -> io::Result<bool> {
    Ok(false)
}

/// The file's permission bits, when it can be read (following symlinks).
#[cfg(unix)]
pub fn mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;

    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

/// Elsewhere there are no mode bits.
#[cfg(not(unix))]
pub fn mode(_path: &Path) -> Option<u32> {
    None
}

/// Sets the file's mode to `mode`; whether it could.
#[cfg(unix)]
pub fn restrict(path: &Path, mode: u32) -> bool {
    use std::os::unix::fs::PermissionsExt;

    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).is_ok()
}

/// Elsewhere there are no mode bits to set.
#[cfg(not(unix))]
pub fn restrict(_path: &Path, _mode: u32) -> bool {
    false
}

/// Logs a warning, with the path and the mode, when users beyond
/// `audience` may use the file at `path`; `holds` says what is in it.
pub fn warn_if_exposed(path: &Path, holds: &str, audience: Audience) {
    let Some(mode) = mode(path) else {
        return;
    };
    if mode & audience.excess() == 0 {
        return;
    }
    let fix = match audience {
        Audience::Owner => "chmod 600",
        Audience::OwnerAndGroup => "chmod 640 (or 600)",
    };
    tracing::warn!(
        path = %path.display(),
        mode = %format!("{mode:04o}"),
        "{} holds {holds} and other users may read it; restrict it ({fix})",
        path.display(),
    );
}
