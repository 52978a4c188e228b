//! The active operation (`git ops use <id>`): the operation whose `Ops-Id:` trailer the next
//! commits get. It is kept in the git directory, so it never enters the working tree.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::{Error, Repo, Result, fsutil};
use crate::model::RecordId;

/// The file, relative to the git directory.
pub const ACTIVE_FILE: &str = "git-ops/active-operation";

/// The active operation, if one is set. A file that does not hold an id is a usage error that
/// says how to get rid of it.
pub fn read(repo: &Repo) -> Result<Option<RecordId>> {
    let path = repo.path_in_git_dir(ACTIVE_FILE);
    match std::fs::read_to_string(&path) {
        Ok(t) => t.trim().parse().map(Some).map_err(|e| {
            Error::Usage(format!(
                "{} is corrupt ({e}); run `git ops use --clear`",
                path.display()
            ))
        }),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// Makes `id` the active operation (replacing the file atomically).
pub fn write(repo: &Repo, id: &RecordId) -> Result<()> {
    fsutil::write_atomic(
        &repo.path_in_git_dir(ACTIVE_FILE),
        format!("{id}\n").as_bytes(),
        None,
    )
}

/// Forgets the active operation; false when none was set.
pub fn clear(repo: &Repo) -> Result<bool> {
    let path = repo.path_in_git_dir(ACTIVE_FILE);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// The git directory of a hook's repository without opening it: hooks run at the top of the
/// working tree, where `.git` is the directory or a `gitdir:` file. This keeps the hooks that
/// run on every commit cheap when there is nothing for them to do. None when it cannot tell.
pub fn quick_git_dir(cwd: &Path) -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("GIT_DIR") {
        let d = PathBuf::from(d);
        return Some(if d.is_relative() { cwd.join(d) } else { d });
    }
    let dot = cwd.join(".git");
    if dot.is_dir() {
        return Some(dot);
    }
    let text = std::fs::read_to_string(&dot).ok()?;
    let target = PathBuf::from(text.strip_prefix("gitdir:")?.trim());
    Some(if target.is_relative() {
        cwd.join(target)
    } else {
        target
    })
}

/// Whether an active operation may be set, judged without opening the repository: false only
/// when the git directory is known and holds no active-operation file.
pub fn maybe_set(cwd: &Path) -> bool {
    quick_git_dir(cwd).is_none_or(|dir| dir.join(ACTIVE_FILE).exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_in(dir: &Path) -> Repo {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["init", "-q", "-b", "main"])
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .unwrap();
        assert!(out.status.success());
        Repo::discover(dir).unwrap()
    }

    #[test]
    fn write_read_clear_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = repo_in(tmp.path());
        assert_eq!(read(&repo).unwrap(), None);
        assert!(!maybe_set(tmp.path()), "no file: nothing to do");
        let id: RecordId = "OPS-2026-01-27-011".parse().unwrap();
        write(&repo, &id).unwrap();
        assert_eq!(read(&repo).unwrap(), Some(id));
        assert!(maybe_set(tmp.path()));
        assert!(clear(&repo).unwrap());
        assert!(!clear(&repo).unwrap(), "clearing twice finds nothing");
        assert_eq!(read(&repo).unwrap(), None);
    }

    #[test]
    fn a_corrupt_file_is_a_usage_error_that_says_what_to_do() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = repo_in(tmp.path());
        let path = repo.path_in_git_dir(ACTIVE_FILE);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "not an id\n").unwrap();
        let err = read(&repo).unwrap_err();
        assert!(matches!(err, Error::Usage(_)), "{err:?}");
        assert!(err.to_string().contains("git ops use --clear"), "{err}");
    }

    #[test]
    fn quick_git_dir_follows_a_gitdir_file() {
        let tmp = tempfile::tempdir().unwrap();
        // Only when GIT_DIR is unset does the probe look at `.git`; the test process never sets it.
        if std::env::var_os("GIT_DIR").is_some() {
            return;
        }
        std::fs::write(tmp.path().join(".git"), "gitdir: elsewhere/wt\n").unwrap();
        assert_eq!(
            quick_git_dir(tmp.path()),
            Some(tmp.path().join("elsewhere/wt"))
        );
        let plain = tempfile::tempdir().unwrap();
        assert_eq!(quick_git_dir(plain.path()), None);
    }
}
