//! Crash-safe file replacement: a temporary file (in the same directory, or in the git directory
//! on the same filesystem), fsync, rename, and an fsync of the directory, so a file is either as
//! before or wholly new.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use super::{Error, Result};

/// The text of the file at `path`, which may lie outside the repository (git hands the merge
/// driver temporary files).
pub fn read_text(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

/// Replaces `path` with `bytes` atomically. `mode` applies to a new file (0o600 for keys).
pub fn write_atomic(path: &Path, bytes: &[u8], mode: Option<u32>) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".git-ops-tmp-")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    if let Some(mode) = mode {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(mode))
            .map_err(|e| Error::io(tmp.path(), e))?;
    } else if let Ok(meta) = fs::metadata(path) {
        // Keep the mode of the file being replaced.
        fs::set_permissions(tmp.path(), meta.permissions())
            .map_err(|e| Error::io(tmp.path(), e))?;
    } else {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o644))
            .map_err(|e| Error::io(tmp.path(), e))?;
    }
    tmp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    sync_dir(dir)
}

/// Replaces `path` with `bytes` atomically, making the temporary file in `tmp_dir` (in the git
/// directory, so a crash leaves nothing in the work tree). When `tmp_dir` is on another
/// filesystem than `path` (rename fails with EXDEV), falls back to [`write_atomic`].
pub fn write_atomic_via(path: &Path, bytes: &[u8], tmp_dir: &Path) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    fs::create_dir_all(tmp_dir).map_err(|e| Error::io(tmp_dir, e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".git-ops-tmp-")
        .tempfile_in(tmp_dir)
        .map_err(|e| Error::io(tmp_dir, e))?;
    let perms = match fs::metadata(path) {
        Ok(meta) => meta.permissions(),
        Err(_) => {
            use std::os::unix::fs::PermissionsExt;
            fs::Permissions::from_mode(0o644)
        }
    };
    fs::set_permissions(tmp.path(), perms).map_err(|e| Error::io(tmp.path(), e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    match tmp.persist(path) {
        Ok(_) => sync_dir(dir),
        Err(e) if e.error.kind() == std::io::ErrorKind::CrossesDevices => {
            write_atomic(path, bytes, None)
        }
        Err(e) => Err(Error::io(path, e.error)),
    }
}

pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// An exclusive advisory lock (flock) held until dropped.
pub struct FileLock {
    _file: File,
}

impl FileLock {
    /// Waits for the lock on `path`, creating the file if needed.
    pub fn acquire(path: &Path) -> Result<FileLock> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        file.lock().map_err(|e| Error::io(path, e))?;
        Ok(FileLock { _file: file })
    }
}
