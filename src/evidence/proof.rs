//! The proof file: full SHA-256 (the seed kept 16 hex digits; a digest worth recording is worth
//! recording whole), size and modification time.

use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::time::Instant;

use sha2::{Digest, Sha256};

use super::{Error, Limits};
use crate::model::Timestamp;
use crate::model::record::ProofFile;

/// Hashes the file at `path`. Failures are recorded in `ProofFile::error`, with the path kept.
pub fn collect(path: &Path, limits: &Limits) -> ProofFile {
    let shown = path.display().to_string();
    match digest(path, &shown, limits) {
        Ok((sha256, size, mtime)) => ProofFile {
            path: shown,
            sha256: Some(sha256),
            size_bytes: Some(size),
            mtime_utc: mtime,
            error: None,
        },
        Err(e) => ProofFile {
            path: shown,
            sha256: None,
            size_bytes: None,
            mtime_utc: None,
            error: Some(e.to_string()),
        },
    }
}

/// The whole file is hashed, however large, in 64 KiB steps; the timeout is checked between
/// steps, so a huge file or a slow disk ends in an error rather than a stalled deploy.
fn digest(
    path: &Path,
    shown: &str,
    limits: &Limits,
) -> Result<(String, u64, Option<Timestamp>), Error> {
    let meta = fs::metadata(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => Error::NoSuchFile(shown.to_string()),
        _ => Error::io(format!("cannot read {shown}"), e),
    })?;
    // Checked before opening: opening a FIFO would block until a writer came along.
    check_regular(&meta, shown)?;
    let mut file = File::open(path).map_err(|e| Error::io(format!("cannot open {shown}"), e))?;
    // Checked again on the open file, in case the path was swapped in between.
    let meta = file
        .metadata()
        .map_err(|e| Error::io(format!("cannot read {shown}"), e))?;
    check_regular(&meta, shown)?;

    let deadline = Instant::now() + limits.timeout;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(format!("cannot read {shown}"), e)),
        };
        hasher.update(&buf[..n]);
        size += n as u64;
        if Instant::now() >= deadline {
            return Err(Error::Other(format!(
                "hashing {shown} took longer than {}; stopped after {size} bytes",
                super::human_duration(limits.timeout)
            )));
        }
    }
    let sha256 = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mtime = meta
        .modified()
        .ok()
        .map(|t| Timestamp::from_datetime(chrono::DateTime::<chrono::Utc>::from(t)));
    Ok((sha256, size, mtime))
}

fn check_regular(meta: &Metadata, shown: &str) -> Result<(), Error> {
    let ft = meta.file_type();
    if ft.is_file() {
        return Ok(());
    }
    if ft.is_dir() {
        return Err(Error::IsDirectory(shown.to_string()));
    }
    let kind = if ft.is_fifo() {
        "FIFO (named pipe)"
    } else if ft.is_char_device() {
        "character device"
    } else if ft.is_block_device() {
        "block device"
    } else if ft.is_socket() {
        "socket"
    } else {
        "special file"
    };
    Err(Error::NotRegularFile {
        path: shown.to_string(),
        kind,
    })
}

#[cfg(test)]
mod tests {
    use std::process::Command;
    use std::time::Duration;

    use super::*;

    fn sha256sum(path: &Path) -> String {
        let out = Command::new("sha256sum").arg(path).output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()[..64].to_string()
    }

    #[test]
    fn digest_size_and_mtime_match_the_coreutils() {
        let tmp = tempfile::tempdir().unwrap();
        let limits = Limits::default();
        // Empty, small, and spanning several read steps with a ragged end.
        for (name, len) in [("empty", 0usize), ("small", 11), ("big", 3 * 65536 + 123)] {
            let path = tmp.path().join(name);
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            fs::write(&path, &data).unwrap();
            let touch = Command::new("touch")
                .args(["-d", "2026-01-27T06:15:28Z"])
                .arg(&path)
                .status()
                .unwrap();
            assert!(touch.success());

            let pf = collect(&path, &limits);
            assert_eq!(pf.error, None);
            assert_eq!(pf.path, path.display().to_string());
            assert_eq!(
                pf.sha256.as_deref(),
                Some(sha256sum(&path).as_str()),
                "{name}"
            );
            assert_eq!(pf.size_bytes, Some(len as u64));
            assert_eq!(
                pf.mtime_utc.unwrap().to_string(),
                "2026-01-27T06:15:28Z",
                "{name}"
            );
        }
    }

    #[test]
    fn missing_directory_and_special_files_are_specific_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let limits = Limits::default();

        let missing = tmp.path().join("nope.txt");
        let pf = collect(&missing, &limits);
        assert_eq!(pf.path, missing.display().to_string());
        assert_eq!(pf.sha256, None);
        assert_eq!(pf.size_bytes, None);
        assert_eq!(
            pf.error.as_deref(),
            Some(format!("{} does not exist", missing.display()).as_str())
        );

        let pf = collect(tmp.path(), &limits);
        assert_eq!(
            pf.error.as_deref(),
            Some(format!("{} is a directory, not a file", tmp.path().display()).as_str())
        );

        let pf = collect(Path::new("/dev/null"), &limits);
        assert_eq!(
            pf.error.as_deref(),
            Some("/dev/null is a character device, not a regular file")
        );

        // A FIFO with no writer would block an open(); it must be refused without opening it.
        let fifo = tmp.path().join("fifo");
        assert!(
            Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let t = Instant::now();
        let pf = collect(&fifo, &limits);
        assert!(
            pf.error
                .unwrap()
                .ends_with("is a FIFO (named pipe), not a regular file")
        );
        assert!(t.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn a_symlink_to_a_file_is_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("proof.txt");
        fs::write(&target, "proof\n").unwrap();
        let link = tmp.path().join("latest");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let pf = collect(&link, &Limits::default());
        assert_eq!(pf.sha256.as_deref(), Some(sha256sum(&target).as_str()));
        assert_eq!(pf.path, link.display().to_string());
    }
}
