//! The repository: discovery (honouring GIT_DIR and friends, as hooks need), config, HEAD, blobs
//! at a commit and remote-tracking branches.

use std::path::{Path, PathBuf};

use gix::ObjectId;

use super::{Error, GitError, Result};

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
        if let Ok(mut r) = self.git.find_reference(rev)
            && let Ok(c) = r.peel_to_commit()
        {
            return Ok(c.id);
        }
        // Anything else (HEAD~3, a short id, main@{1}): ask git, which defines the syntax.
        let out = std::process::Command::new("git")
            .arg("--git-dir")
            .arg(self.git_dir())
            .args(["rev-parse", "--verify", "--quiet", "--end-of-options"])
            .arg(format!("{rev}^{{commit}}"))
            .output()
            .map_err(|e| Error::git("running git rev-parse", e))?;
        let hex = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !out.status.success() || hex.is_empty() {
            return Err(Error::Usage(format!("unknown revision {rev:?}")));
        }
        ObjectId::from_hex(hex.as_bytes())
            .map_err(|e| Error::Usage(format!("unknown revision {rev:?}: {e}")))
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
                format!("git config {key}"),
                GitError::command(&out.stderr),
            ));
        }
        Ok(())
    }
}

/// A commit's parents, message and committer time.
pub struct CommitInfo {
    pub id: ObjectId,
    pub parents: Vec<ObjectId>,
    pub message: String,
    pub time: i64,
}

impl Repo {
    /// The error for a commit that cannot be read: [`Error::Shallow`] when the clone is shallow
    /// (the commit is past its boundary), else git trouble.
    pub(crate) fn missing_commit(
        &self,
        id: ObjectId,
        e: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        if self.git.is_shallow().unwrap_or(false) {
            Error::Shallow {
                commit: id.to_string(),
            }
        } else {
            Error::git(format!("missing commit {id}"), e)
        }
    }

    pub fn commit_info(&self, id: ObjectId) -> Result<CommitInfo> {
        let c = self
            .git
            .find_commit(id)
            .map_err(|e| self.missing_commit(id, e))?;
        let parents = c.parent_ids().map(|p| p.detach()).collect();
        let message = c
            .message_raw()
            .map(|m| m.to_string())
            .map_err(|e| Error::git("reading commit message", e))?;
        let time = c
            .time()
            .map(|t| t.seconds)
            .map_err(|e| Error::git("reading commit time", e))?;
        Ok(CommitInfo {
            id,
            parents,
            message,
            time,
        })
    }

    /// Commits reachable from `tip` but not from any of `hidden`, oldest first.
    pub fn commits_between(&self, tip: ObjectId, hidden: &[ObjectId]) -> Result<Vec<ObjectId>> {
        let hidden: Vec<ObjectId> = hidden
            .iter()
            .copied()
            .filter(|h| self.git.has_object(*h))
            .collect();
        let walk = self
            .git
            .rev_walk([tip])
            .with_hidden(hidden)
            .all()
            .map_err(|e| Error::git(format!("walking history from {tip}"), e))?;
        let mut out = Vec::new();
        for info in walk {
            let info = info.map_err(|e| Error::git(format!("walking history from {tip}"), e))?;
            out.push(info.id);
        }
        out.reverse();
        Ok(out)
    }

    /// Every ref's target commit (peeled), for "already known" sets.
    pub fn all_ref_commits(&self) -> Result<Vec<ObjectId>> {
        let refs = self
            .git
            .references()
            .map_err(|e| Error::git("listing references", e))?;
        let mut out = Vec::new();
        for r in refs
            .all()
            .map_err(|e| Error::git("listing references", e))?
        {
            let mut r = r.map_err(|e| Error::git("reading reference", e))?;
            if let Ok(c) = r.peel_to_commit() {
                out.push(c.id);
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Every ref under `prefix` with the commit it points at (peeled), by full name.
    pub fn named_ref_commits(&self, prefix: &str) -> Result<Vec<(String, ObjectId)>> {
        let refs = self
            .git
            .references()
            .map_err(|e| Error::git("listing references", e))?;
        let mut out = Vec::new();
        for r in refs
            .prefixed(prefix)
            .map_err(|e| Error::git("listing references", e))?
        {
            let mut r = r.map_err(|e| Error::git("reading reference", e))?;
            let name = r.name().as_bstr().to_string();
            if let Ok(c) = r.peel_to_commit() {
                out.push((name, c.id));
            }
        }
        Ok(out)
    }

    /// Commits of the refs under `prefix` (e.g. `refs/remotes/origin/`).
    pub fn ref_commits_under(&self, prefix: &str) -> Result<Vec<ObjectId>> {
        Ok(self
            .named_ref_commits(prefix)?
            .into_iter()
            .map(|(_, c)| c)
            .collect())
    }

    pub fn has_object(&self, id: ObjectId) -> bool {
        self.git.has_object(id)
    }

    /// A view of this repository whose objects include the quarantine of a push in progress
    /// (pre-receive and update hooks run before git moves the pushed objects in). gix does not read
    /// GIT_OBJECT_DIRECTORY, so a throwaway git directory lists both object stores as alternates;
    /// nothing is written into git's own directories.
    pub fn with_push_quarantine(&self) -> Result<Option<(Repo, tempfile::TempDir)>> {
        let Some(quarantine) = std::env::var_os("GIT_OBJECT_DIRECTORY") else {
            return Ok(None);
        };
        let tmp = tempfile::Builder::new()
            .prefix("git-ops-objects-")
            .tempdir()
            .map_err(|e| Error::io(Path::new("temporary directory"), e))?;
        let dir = tmp.path();
        let mut alternates = vec![PathBuf::from(&quarantine)];
        alternates.push(self.common_dir().join("objects"));
        if let Some(more) = std::env::var_os("GIT_ALTERNATE_OBJECT_DIRECTORIES") {
            alternates.extend(std::env::split_paths(&more));
        }
        let text: String = alternates
            .iter()
            .map(|p| {
                let abs = if p.is_relative() {
                    self.common_dir().join(p)
                } else {
                    p.clone()
                };
                format!("{}\n", abs.display())
            })
            .collect();
        let w = |p: PathBuf, t: &str| std::fs::write(&p, t).map_err(|e| Error::io(&p, e));
        for d in ["objects/info", "refs/heads", "refs/tags"] {
            std::fs::create_dir_all(dir.join(d)).map_err(|e| Error::io(dir, e))?;
        }
        w(dir.join("objects/info/alternates"), &text)?;
        w(dir.join("HEAD"), "ref: refs/heads/main\n")?;
        w(
            dir.join("config"),
            "[core]\n\trepositoryformatversion = 0\n\tbare = true\n",
        )?;
        let git = gix::open(dir).map_err(|e| Error::git("opening the push's object view", e))?;
        Ok(Some((Repo { git }, tmp)))
    }
}

impl Repo {
    /// Caches for walking many commits (range checks, pushes): a 96 MiB pack delta cache and a
    /// 32 MiB object cache, which halve the time of a 2,000-commit walk. Hooks on a single commit
    /// do not call this, so they pay nothing for it.
    pub fn prepare_for_walks(&mut self) {
        self.git.objects.set_pack_cache(|| {
            Box::new(gix::odb::pack::cache::lru::MemoryCappedHashmap::new(
                96 << 20,
            ))
        });
        self.git.object_cache_size_if_unset(32 << 20);
    }
}

impl Repo {
    /// The commit an object leads to (itself, or a tag's target, followed through tags), or
    /// None for a tag of a tree or blob.
    pub fn peel_to_commit(&self, id: ObjectId) -> Result<Option<ObjectId>> {
        let mut id = id;
        for _ in 0..16 {
            let obj = self
                .git
                .find_object(id)
                .map_err(|e| Error::git(format!("missing object {id}"), e))?;
            match obj.kind {
                gix::object::Kind::Commit => return Ok(Some(id)),
                gix::object::Kind::Tag => {
                    let text = String::from_utf8_lossy(&obj.data);
                    let target = text
                        .lines()
                        .next()
                        .and_then(|l| l.strip_prefix("object "))
                        .and_then(|h| ObjectId::from_hex(h.trim().as_bytes()).ok())
                        .ok_or(GitError::TagWithoutTarget(id))?;
                    id = target;
                }
                _ => return Ok(None),
            }
        }
        Err(GitError::TagChainTooLong(id).into())
    }
}

impl Repo {
    /// Commits reachable from HEAD that changed `path`, newest first (at most `limit`). Uses the
    /// git binary, whose path-limited log is fast.
    pub fn path_history(&self, path: &str, limit: usize) -> Result<Vec<ObjectId>> {
        if self.head_commit()?.is_none() {
            return Ok(Vec::new());
        }
        let out = std::process::Command::new("git")
            .arg("--git-dir")
            .arg(self.git_dir())
            .args([
                "log",
                "--format=%H",
                &format!("--max-count={limit}"),
                "HEAD",
                "--",
                path,
            ])
            .output()
            .map_err(|e| Error::git("running git log", e))?;
        if !out.status.success() {
            return Err(Error::git(
                format!("git log -- {path}"),
                GitError::command(&out.stderr),
            ));
        }
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                ObjectId::from_hex(l.trim().as_bytes())
                    .map_err(|e| Error::git(format!("git log printed {l:?}"), e))
            })
            .collect()
    }
}

impl Repo {
    /// The best common ancestor of two commits (`git merge-base`), or None for unrelated
    /// histories. Uses the git binary, which sees a push's quarantined objects through the
    /// environment git gives the hook.
    pub fn merge_base(&self, a: ObjectId, b: ObjectId) -> Result<Option<ObjectId>> {
        let out = std::process::Command::new("git")
            .arg("--git-dir")
            .arg(self.git_dir())
            .args(["merge-base", &a.to_string(), &b.to_string()])
            .output()
            .map_err(|e| Error::git("running git merge-base", e))?;
        match out.status.code() {
            Some(0) => {
                let line = String::from_utf8_lossy(&out.stdout);
                ObjectId::from_hex(line.trim().as_bytes())
                    .map(Some)
                    .map_err(|e| Error::git(format!("git merge-base printed {line:?}"), e))
            }
            // Exit 1 with nothing printed: no common ancestor.
            Some(1) if out.stdout.is_empty() && out.stderr.is_empty() => Ok(None),
            _ => Err(Error::git(
                format!("git merge-base {a} {b}"),
                GitError::command(&out.stderr),
            )),
        }
    }
}

impl Repo {
    /// The working trees of the other worktrees of this repository (the main one included when
    /// this is a linked worktree), as far as they can be found: their uncommitted ledger records
    /// take ids too.
    pub fn other_worktree_roots(&self) -> Result<Vec<PathBuf>> {
        let own = self
            .git
            .workdir()
            .and_then(|p| std::fs::canonicalize(p).ok());
        let mut roots = Vec::new();
        let common = std::fs::canonicalize(self.common_dir())
            .unwrap_or_else(|_| self.common_dir().to_path_buf());
        if common.file_name().is_some_and(|n| n == ".git")
            && let Some(main) = common.parent()
        {
            roots.push(main.to_path_buf());
        }
        let proxies = self
            .git
            .worktrees()
            .map_err(|e| Error::git("listing worktrees", e))?;
        for p in proxies {
            if let Ok(base) = p.base() {
                roots.push(base);
            }
        }
        roots.retain(|r| std::fs::canonicalize(r).ok() != own);
        roots.sort();
        roots.dedup();
        Ok(roots)
    }

    /// Whether any remote is configured: then other clones may declare at the same time.
    pub fn has_remotes(&self) -> bool {
        !self.git.remote_names().is_empty()
    }

    /// A path in the git directory shared by all worktrees.
    pub fn path_in_common_dir(&self, rel: &str) -> PathBuf {
        self.common_dir().join(rel)
    }
}
