//! The repository: discovery (honouring GIT_DIR and friends, as hooks need), config, HEAD, blobs
//! at a commit and remote-tracking branches.

use std::path::{Path, PathBuf};

use gix::ObjectId;

use super::{Error, Result};

pub struct Repo {
    pub(crate) git: gix::Repository,
}

impl Repo {
    /// Finds the repository containing `dir`, as git would (GIT_DIR, GIT_WORK_TREE, worktrees).
    pub fn discover(dir: &Path) -> Result<Repo> {
        let git = gix::discover_with_environment_overrides(dir)
            .map_err(|e| Error::NoRepo(format!("{}: {e}", dir.display())))?;
        Ok(Repo { git })
    }

    /// The working tree; an error in a bare repository.
    pub fn workdir(&self) -> Result<&Path> {
        self.git.workdir().ok_or_else(|| {
            Error::Usage("this command needs a working tree, and the repository is bare".into())
        })
    }

    /// This worktree's private git directory (`.git`, or `.git/worktrees/<name>`).
    pub fn git_dir(&self) -> &Path {
        self.git.git_dir()
    }

    /// The git directory shared by all worktrees.
    pub fn common_dir(&self) -> &Path {
        self.git.common_dir()
    }

    pub fn is_bare(&self) -> bool {
        self.git.workdir().is_none()
    }

    /// The commit HEAD points at, or None on an unborn branch.
    pub fn head_commit(&self) -> Result<Option<ObjectId>> {
        let head = self.git.head().map_err(|e| Error::git("reading HEAD", e))?;
        if head.is_unborn() {
            return Ok(None);
        }
        let id = self
            .git
            .head_id()
            .map_err(|e| Error::git("resolving HEAD", e))?;
        Ok(Some(id.detach()))
    }

    /// Short name of the current branch, if HEAD is on one.
    pub fn head_branch(&self) -> Option<String> {
        self.git
            .head_name()
            .ok()
            .flatten()
            .map(|n| n.shorten().to_string())
    }

    pub fn config_string(&self, key: &str) -> Option<String> {
        self.git
            .config_snapshot()
            .string(key)
            .map(|s| s.to_string())
    }

    /// The bytes of `path` in `commit`'s tree, or None if it has no such file.
    pub fn blob_at(&self, commit: ObjectId, path: &str) -> Result<Option<Vec<u8>>> {
        let commit = self
            .git
            .find_commit(commit)
            .map_err(|e| Error::git("reading commit", e))?;
        let tree = commit.tree().map_err(|e| Error::git("reading tree", e))?;
        let Some(entry) = tree
            .lookup_entry_by_path(path)
            .map_err(|e| Error::git("looking up path", e))?
        else {
            return Ok(None);
        };
        if !entry.mode().is_blob() {
            return Ok(None);
        }
        let obj = entry.object().map_err(|e| Error::git("reading blob", e))?;
        Ok(Some(obj.data.clone()))
    }

    /// The commits of every remote-tracking branch (`refs/remotes/*`), for id allocation.
    pub fn remote_tracking_commits(&self) -> Result<Vec<ObjectId>> {
        let refs = self
            .git
            .references()
            .map_err(|e| Error::git("listing references", e))?;
        let iter = refs
            .remote_branches()
            .map_err(|e| Error::git("listing remote branches", e))?;
        let mut out = Vec::new();
        for r in iter {
            let mut r = r.map_err(|e| Error::git("reading reference", e))?;
            if let Ok(c) = r.peel_to_commit() {
                out.push(c.id);
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Resolves a revision name (a ref or a full/short hex id) to a commit.
    pub fn resolve_commit(&self, rev: &str) -> Result<ObjectId> {
        if let Ok(id) = ObjectId::from_hex(rev.as_bytes())
            && self.git.has_object(id)
        {
            return Ok(id);
        }
        let mut r = self
            .git
            .find_reference(rev)
            .map_err(|e| Error::Usage(format!("unknown revision {rev:?}: {e}")))?;
        let c = r
            .peel_to_commit()
            .map_err(|e| Error::Usage(format!("{rev:?} is not a commit: {e}")))?;
        Ok(c.id)
    }

    pub fn path_in_git_dir(&self, rel: &str) -> PathBuf {
        self.git_dir().join(rel)
    }
}

impl Repo {
    /// Sets a key in the repository's own config (`git config --local`), with the git binary so
    /// that git's locking and file format are respected.
    pub fn set_local_config(&self, key: &str, value: &str) -> Result<()> {
        let out = std::process::Command::new("git")
            .arg("--git-dir")
            .arg(self.common_dir())
            .args(["config", "--local", key, value])
            .output()
            .map_err(|e| Error::git("running git config", e))?;
        if !out.status.success() {
            return Err(Error::git(
                &format!("git config {key}"),
                String::from_utf8_lossy(&out.stderr).trim(),
            ));
        }
        Ok(())
    }
}
