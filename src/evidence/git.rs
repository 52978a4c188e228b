//! Git evidence: HEAD's commit (full and short), the current branch, and whether tracked files
//! differ from HEAD. Runs the `git` binary, as the seed does, so that whatever the operator's git
//! sees (worktrees, `GIT_DIR`, `safe.directory`) is what gets recorded.

use std::path::Path;
use std::process::Command;

use super::host::{self, OnCap};
use super::{Error, Limits};
use crate::model::record::GitEvidence;

/// Enough `git status` output to know the tree is dirty; the rest is not needed.
const STATUS_PEEK: usize = 4096;

pub fn collect(dir: &Path, limits: &Limits) -> Result<GitEvidence, Error> {
    let out = git(
        dir,
        &["rev-parse", "--verify", "-q", "HEAD^{commit}"],
        limits,
    )?;
    if !out.success() {
        if out.stderr.is_empty() {
            // `-q` silences only "Needed a single revision": HEAD names no commit.
            return Err(Error::Other(
                "HEAD does not name a commit yet; make a first commit, or leave out the git evidence"
                    .into(),
            ));
        }
        return Err(out.failure("git rev-parse HEAD"));
    }
    let commit = out.stdout_text().trim().to_string();

    let out = git(dir, &["rev-parse", "--short", &commit], limits)?;
    if !out.success() {
        return Err(out.failure("git rev-parse --short HEAD"));
    }
    let commit_short = out.stdout_text().trim().to_string();

    // Exit 1 with no output is a detached HEAD; anything on stderr is a real failure.
    let out = git(dir, &["symbolic-ref", "--short", "-q", "HEAD"], limits)?;
    let branch = match out.status.and_then(|s| s.code()) {
        Some(0) => Some(out.stdout_text().trim().to_string()).filter(|b| !b.is_empty()),
        Some(1) if out.stderr.is_empty() => None,
        _ => return Err(out.failure("git symbolic-ref --short -q HEAD")),
    };

    // Any output at all means dirty, so the child is cut off after a peek; without optional
    // locks a killed `git status` leaves no stale index.lock behind.
    let peek = Limits {
        max_bytes: STATUS_PEEK.min(limits.max_bytes),
        ..*limits
    };
    let out = host::run(
        git_command(dir).args(["status", "--porcelain", "--untracked-files=no"]),
        &peek,
        OnCap::Truncate,
    )?;
    if !out.truncated && !out.success() {
        return Err(out.failure("git status --porcelain --untracked-files=no"));
    }
    let dirty = !out.stdout.is_empty();

    Ok(GitEvidence {
        commit,
        commit_short,
        branch,
        dirty,
    })
}

fn git_command(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C")
        .arg(dir)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("GIT_TERMINAL_PROMPT", "0");
    cmd
}

fn git(dir: &Path, args: &[&str], limits: &Limits) -> Result<host::Output, Error> {
    host::run(git_command(dir).args(args), limits, OnCap::Fail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::testkit::{git_repo, run_git};

    #[test]
    fn commit_branch_and_dirty_flag_follow_the_repository() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        git_repo(dir);
        let limits = Limits::default();

        let e = collect(dir, &limits).unwrap_err();
        assert!(e.to_string().contains("HEAD does not name a commit"), "{e}");

        std::fs::write(dir.join("a.txt"), "one\n").unwrap();
        run_git(dir, &["add", "a.txt"]);
        run_git(dir, &["commit", "-q", "-m", "first"]);
        let head = run_git(dir, &["rev-parse", "HEAD"]);
        let g = collect(dir, &limits).unwrap();
        assert_eq!(g.commit, head);
        assert_eq!(g.commit.len(), 40);
        assert!(head.starts_with(&g.commit_short) && g.commit_short.len() >= 7);
        assert_eq!(g.branch.as_deref(), Some("main"));
        assert!(!g.dirty);

        // An untracked file does not make the tree dirty; a modified tracked file does.
        std::fs::write(dir.join("new.txt"), "x\n").unwrap();
        assert!(!collect(dir, &limits).unwrap().dirty);
        std::fs::write(dir.join("a.txt"), "two\n").unwrap();
        assert!(collect(dir, &limits).unwrap().dirty);
        // A staged change is dirty too; committing it makes the tree clean again.
        run_git(dir, &["add", "a.txt"]);
        assert!(collect(dir, &limits).unwrap().dirty);
        run_git(dir, &["commit", "-q", "-m", "second"]);
        assert!(!collect(dir, &limits).unwrap().dirty);

        run_git(dir, &["checkout", "-q", "--detach"]);
        let g = collect(dir, &limits).unwrap();
        assert_eq!(g.branch, None);
        assert_eq!(g.commit, run_git(dir, &["rev-parse", "HEAD"]));
        run_git(dir, &["checkout", "-q", "-b", "ops/feature"]);
        assert_eq!(
            collect(dir, &limits).unwrap().branch.as_deref(),
            Some("ops/feature")
        );
    }

    #[test]
    fn a_tree_with_many_changes_is_dirty_without_reading_all_of_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        git_repo(dir);
        for i in 0..600 {
            std::fs::write(
                dir.join(format!("file-with-a-longish-name-{i:04}.txt")),
                "a",
            )
            .unwrap();
        }
        run_git(dir, &["add", "."]);
        run_git(dir, &["commit", "-q", "-m", "many"]);
        for i in 0..600 {
            std::fs::write(
                dir.join(format!("file-with-a-longish-name-{i:04}.txt")),
                "b",
            )
            .unwrap();
        }
        let g = collect(dir, &Limits::default()).unwrap();
        assert!(g.dirty);
        assert!(
            !dir.join(".git/index.lock").exists(),
            "a cut-off git status must not leave a lock"
        );
    }

    #[test]
    fn not_a_repository_is_an_error_naming_git() {
        let tmp = tempfile::tempdir().unwrap();
        let e = collect(tmp.path(), &Limits::default()).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("not a git repository"), "{msg}");
        assert!(msg.starts_with("`git rev-parse HEAD` failed"), "{msg}");
    }
}
