//! Commit message files of the commit hooks: reading them, and adding a trailer with git's own
//! `git interpret-trailers`, which knows where a trailer block starts better than we could.

use std::path::Path;

use super::{Error, Result};

/// The text of a commit message file.
pub fn read_message(file: &Path) -> Result<String> {
    std::fs::read_to_string(file).map_err(|e| Error::io(file, e))
}

/// Adds `key: value` to the trailers of the message in `file`, in place, unless the same trailer
/// is already there. False when git refused (it has said why on stderr).
pub fn add_trailer(file: &Path, key: &str, value: &str) -> Result<bool> {
    let status = std::process::Command::new("git")
        .args([
            "interpret-trailers",
            "--in-place",
            "--if-exists",
            "addIfDifferent",
            "--trailer",
        ])
        .arg(format!("{key}: {value}"))
        .arg(file)
        .status()
        .map_err(|e| Error::git("running git interpret-trailers", e))?;
    Ok(status.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_a_trailer_once() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("COMMIT_EDITMSG");
        std::fs::write(&file, "Scale web\n\nMore words.\n").unwrap();
        assert!(add_trailer(&file, "Ops-Id", "OPS-2026-01-27-011").unwrap());
        assert!(add_trailer(&file, "Ops-Id", "OPS-2026-01-27-011").unwrap());
        assert_eq!(
            read_message(&file).unwrap(),
            "Scale web\n\nMore words.\n\nOps-Id: OPS-2026-01-27-011\n"
        );
    }

    #[test]
    fn a_missing_file_is_an_io_error() {
        let tmp = tempfile::tempdir().unwrap();
        let err = read_message(&tmp.path().join("nope")).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err:?}");
    }
}
