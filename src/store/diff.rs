//! What a change touches: the staged change (index against HEAD, using the index's cache-tree to
//! skip unchanged directories, as git does) and commit-against-parent tree diffs. Paths are
//! repository-relative with `/`.

use std::collections::BTreeMap;

use gix::ObjectId;
use gix::bstr::ByteSlice;

use super::{Error, GitError, Repo, Result};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum EntryKind {
    File,
    Executable,
    Symlink,
    Submodule,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub path: String,
    pub kind: ChangeKind,
    pub old: Option<(ObjectId, EntryKind)>,
    pub new: Option<(ObjectId, EntryKind)>,
}

fn kind_of_tree_mode(m: gix::object::tree::EntryMode) -> Option<EntryKind> {
    if m.is_tree() {
        None
    } else if m.is_link() {
        Some(EntryKind::Symlink)
    } else if m.is_commit() {
        Some(EntryKind::Submodule)
    } else if m.value() == 0o100755 {
        Some(EntryKind::Executable)
    } else {
        Some(EntryKind::File)
    }
}

fn kind_of_index_mode(m: gix::index::entry::Mode) -> EntryKind {
    use gix::index::entry::Mode;
    if m.is_submodule() {
        EntryKind::Submodule
    } else if m == Mode::SYMLINK {
        EntryKind::Symlink
    } else if m == Mode::FILE_EXECUTABLE {
        EntryKind::Executable
    } else {
        EntryKind::File
    }
}

type TreeEntries = BTreeMap<Vec<u8>, (gix::object::tree::EntryMode, ObjectId)>;

/// The staged index of the repository (honouring GIT_INDEX_FILE), read without verifying its
/// trailing checksum (git does the same on reads).
pub struct StagedIndex {
    pub file: gix::index::File,
}

impl Repo {
    pub fn load_index(&self) -> Result<StagedIndex> {
        let path = std::env::var_os("GIT_INDEX_FILE")
            .map(std::path::PathBuf::from)
            .map(|p| {
                if p.is_relative() {
                    self.workdir().map(|w| w.join(&p)).unwrap_or(p)
                } else {
                    p
                }
            })
            .unwrap_or_else(|| self.git.index_path());
        let file = if path.exists() {
            gix::index::File::at(&path, self.git.object_hash(), true, Default::default())
                .map_err(|e| Error::git(format!("the index {} is unreadable", path.display()), e))?
        } else {
            gix::index::File::from_state(gix::index::State::new(self.git.object_hash()), path)
        };
        Ok(StagedIndex { file })
    }

    fn tree_entries(&self, tree: ObjectId) -> Result<TreeEntries> {
        let obj = self
            .git
            .find_object(tree)
            .map_err(|e| Error::git(format!("missing tree object {tree}"), e))?;
        let mut out = BTreeMap::new();
        for e in gix::objs::TreeRefIter::from_bytes(&obj.data, self.git.object_hash()) {
            let e = e.map_err(|e| Error::git(format!("corrupt tree {tree}"), e))?;
            let name = e.filename.to_vec();
            // Fail closed on trees git itself would refuse (fsck): a duplicate name is read as
            // one entry by us and as another by other tools, and odd names escape paths.
            if name.is_empty()
                || name == b"."
                || name == b".."
                || name.eq_ignore_ascii_case(b".git")
                || name.contains(&b'/')
            {
                return Err(Error::git(
                    format!("malformed tree {tree}"),
                    GitError::BadEntryName(String::from_utf8_lossy(&name).into_owned()),
                ));
            }
            if out
                .insert(name.clone(), (e.mode, e.oid.to_owned()))
                .is_some()
            {
                return Err(Error::git(
                    format!("malformed tree {tree}"),
                    GitError::DuplicateEntry(String::from_utf8_lossy(&name).into_owned()),
                ));
            }
        }
        Ok(out)
    }

    /// The tree of a commit.
    pub fn commit_tree(&self, commit: ObjectId) -> Result<ObjectId> {
        let c = self
            .git
            .find_commit(commit)
            .map_err(|e| self.missing_commit(commit, e))?;
        c.tree_id()
            .map(|t| t.detach())
            .map_err(|e| Error::git("reading commit tree", e))
    }

    /// HEAD's tree, or None on an unborn branch.
    pub fn head_tree(&self) -> Result<Option<ObjectId>> {
        match self.head_commit()? {
            Some(c) => Ok(Some(self.commit_tree(c)?)),
            None => Ok(None),
        }
    }

    /// Every file under `tree` (recursively), reported as `kind` changes.
    fn all_files(
        &self,
        tree: ObjectId,
        prefix: &str,
        kind: ChangeKind,
        out: &mut Vec<Change>,
    ) -> Result<()> {
        for (name, (mode, id)) in self.tree_entries(tree)? {
            let path = join(prefix, &name);
            match kind_of_tree_mode(mode) {
                None => self.all_files(id, &path, kind, out)?,
                Some(k) => out.push(match kind {
                    ChangeKind::Deleted => Change {
                        path,
                        kind,
                        old: Some((id, k)),
                        new: None,
                    },
                    _ => Change {
                        path,
                        kind,
                        old: None,
                        new: Some((id, k)),
                    },
                }),
            }
        }
        Ok(())
    }

    /// The files that differ between two trees (None = the empty tree).
    pub fn diff_trees(&self, old: Option<ObjectId>, new: Option<ObjectId>) -> Result<Vec<Change>> {
        let mut out = Vec::new();
        self.diff_trees_into(old, new, "", &mut out)?;
        Ok(out)
    }

    fn diff_trees_into(
        &self,
        old: Option<ObjectId>,
        new: Option<ObjectId>,
        prefix: &str,
        out: &mut Vec<Change>,
    ) -> Result<()> {
        if old == new {
            return Ok(());
        }
        let a = match old {
            Some(t) => self.tree_entries(t)?,
            None => BTreeMap::new(),
        };
        let b = match new {
            Some(t) => self.tree_entries(t)?,
            None => BTreeMap::new(),
        };
        let mut names: Vec<&Vec<u8>> = a.keys().chain(b.keys()).collect();
        names.sort();
        names.dedup();
        for name in names {
            let path = join(prefix, name);
            let ea = a.get(name).map(|(m, id)| (kind_of_tree_mode(*m), *id));
            let eb = b.get(name).map(|(m, id)| (kind_of_tree_mode(*m), *id));
            match (ea, eb) {
                (Some((None, ta)), Some((None, tb))) => {
                    self.diff_trees_into(Some(ta), Some(tb), &path, out)?
                }
                (ea, eb) => {
                    // Trees on one side only: every file below is added or deleted.
                    let (fa, fb) = (
                        ea.and_then(|(k, id)| k.map(|k| (id, k))),
                        eb.and_then(|(k, id)| k.map(|k| (id, k))),
                    );
                    if let Some((None, ta)) = ea {
                        self.all_files(ta, &path, ChangeKind::Deleted, out)?;
                    }
                    if let Some((None, tb)) = eb {
                        self.all_files(tb, &path, ChangeKind::Added, out)?;
                    }
                    push_file_change(out, path, fa, fb);
                }
            }
        }
        Ok(())
    }

    /// The staged change: the index against HEAD's tree (the empty tree before the first commit).
    pub fn staged_changes(&self, index: &StagedIndex) -> Result<Vec<Change>> {
        // Concluding a merge too: everything against HEAD, the branch the merge lands on (the
        // hook links the merged commits' operations, see `merge_heads`).
        let head = self.head_tree()?;
        self.staged_changes_against(index, head)
    }

    /// The index against any tree.
    pub fn staged_changes_against(
        &self,
        index: &StagedIndex,
        tree: Option<ObjectId>,
    ) -> Result<Vec<Change>> {
        let state = &index.file;
        let mut out = Vec::new();
        self.diff_index_into(state, tree, state.tree(), b"", state.entries(), &mut out)?;
        Ok(out)
    }

    /// The other parents of a merge being concluded (`MERGE_HEAD`).
    pub fn merge_heads(&self) -> Result<Vec<ObjectId>> {
        let path = self.git_dir().join("MERGE_HEAD");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&path, e)),
        };
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                ObjectId::from_hex(l.trim().as_bytes())
                    .map_err(|e| Error::git(path.display().to_string(), e))
            })
            .collect()
    }

    fn diff_index_into(
        &self,
        state: &gix::index::State,
        tree: Option<ObjectId>,
        cache: Option<&gix::index::extension::Tree>,
        prefix: &[u8],
        entries: &[gix::index::Entry],
        out: &mut Vec<Change>,
    ) -> Result<()> {
        // The cache-tree records the tree this part of the index would write; if it is valid and
        // equals HEAD's tree here, nothing below changed.
        if let (Some(c), Some(t)) = (cache, tree)
            && c.num_entries.is_some()
            && c.id == t
        {
            return Ok(());
        }
        let mut tree_side = match tree {
            Some(t) => self.tree_entries(t)?,
            None => BTreeMap::new(),
        };
        let prefix_str = String::from_utf8_lossy(prefix).into_owned();
        let mut i = 0;
        while i < entries.len() {
            let full = entries[i].path(state);
            let rel = &full[prefix.len()..];
            if let Some(slash) = rel.find_byte(b'/') {
                let name = rel[..slash].to_vec();
                let mut dir_prefix = prefix.to_vec();
                dir_prefix.extend_from_slice(&name);
                dir_prefix.push(b'/');
                let len = entries[i..].partition_point(|e| e.path(state).starts_with(&dir_prefix));
                let sub_cache = cache.and_then(|c| {
                    c.children
                        .iter()
                        .find(|t| t.name.as_slice() == name.as_slice())
                });
                let path = join(&prefix_str, &name);
                let sub_tree = match tree_side.remove(&name) {
                    Some((m, id)) => match kind_of_tree_mode(m) {
                        None => Some(id),
                        Some(k) => {
                            push_file_change(out, path.clone(), Some((id, k)), None);
                            None
                        }
                    },
                    None => None,
                };
                self.diff_index_into(
                    state,
                    sub_tree,
                    sub_cache,
                    &dir_prefix,
                    &entries[i..i + len],
                    out,
                )?;
                i += len;
            } else {
                let e = &entries[i];
                let name = rel.to_vec();
                let path = join(&prefix_str, &name);
                let new = Some((e.id, kind_of_index_mode(e.mode)));
                // Unmerged paths have several stages; one change for the path is enough.
                let mut j = i + 1;
                while j < entries.len() && entries[j].path(state) == full {
                    j += 1;
                }
                let conflicted = j > i + 1 || e.stage_raw() != 0;
                match tree_side.remove(&name) {
                    Some((m, id)) => match kind_of_tree_mode(m) {
                        None => {
                            self.all_files(id, &path, ChangeKind::Deleted, out)?;
                            push_file_change(out, path, None, new);
                        }
                        Some(k) => {
                            if conflicted || id != e.id || k != kind_of_index_mode(e.mode) {
                                out.push(Change {
                                    path,
                                    kind: ChangeKind::Modified,
                                    old: Some((id, k)),
                                    new,
                                });
                            }
                        }
                    },
                    None => push_file_change(out, path, None, new),
                }
                i = j;
            }
        }
        for (name, (m, id)) in tree_side {
            let path = join(&prefix_str, &name);
            match kind_of_tree_mode(m) {
                None => self.all_files(id, &path, ChangeKind::Deleted, out)?,
                Some(k) => push_file_change(out, path, Some((id, k)), None),
            }
        }
        Ok(())
    }

    /// The bytes of the blob `id`.
    pub fn blob(&self, id: ObjectId) -> Result<Vec<u8>> {
        let obj = self
            .git
            .find_object(id)
            .map_err(|e| Error::git(format!("missing object {id}"), e))?;
        Ok(obj.data.clone())
    }

    /// The bytes of `path` in `tree`, if it is a file there.
    pub fn file_in_tree(&self, tree: Option<ObjectId>, path: &str) -> Result<Option<Vec<u8>>> {
        let Some(mut tree) = tree else {
            return Ok(None);
        };
        let mut parts = path.split('/').peekable();
        while let Some(part) = parts.next() {
            let entries = self.tree_entries(tree)?;
            let Some((mode, id)) = entries.get(part.as_bytes()) else {
                return Ok(None);
            };
            if parts.peek().is_none() {
                return match kind_of_tree_mode(*mode) {
                    Some(EntryKind::File | EntryKind::Executable) => self.blob(*id).map(Some),
                    _ => Ok(None),
                };
            }
            if !mode.is_tree() {
                return Ok(None);
            }
            tree = *id;
        }
        Ok(None)
    }

    /// The names of the files directly in directory `dir` of `tree`.
    pub fn list_dir_in_tree(&self, tree: Option<ObjectId>, dir: &str) -> Result<Vec<String>> {
        let Some(mut t) = tree else {
            return Ok(Vec::new());
        };
        for part in dir.split('/') {
            let entries = self.tree_entries(t)?;
            match entries.get(part.as_bytes()) {
                Some((m, id)) if m.is_tree() => t = *id,
                _ => return Ok(Vec::new()),
            }
        }
        Ok(self
            .tree_entries(t)?
            .into_iter()
            .filter(|(_, (m, _))| m.is_blob())
            .map(|(n, _)| String::from_utf8_lossy(&n).into_owned())
            .collect())
    }
}

impl Repo {
    /// The names of every entry (files, directories, symlinks, submodules) directly in directory
    /// `dir` of `tree` (`""` is the root).
    pub fn list_entries_in_tree(&self, tree: Option<ObjectId>, dir: &str) -> Result<Vec<String>> {
        let Some(mut t) = tree else {
            return Ok(Vec::new());
        };
        for part in dir.split('/').filter(|p| !p.is_empty()) {
            let entries = self.tree_entries(t)?;
            match entries.get(part.as_bytes()) {
                Some((m, id)) if m.is_tree() => t = *id,
                _ => return Ok(Vec::new()),
            }
        }
        Ok(self
            .tree_entries(t)?
            .into_keys()
            .map(|n| String::from_utf8_lossy(&n).into_owned())
            .collect())
    }
}

impl StagedIndex {
    /// The staged blob of `path`, if it is a regular file in the index.
    pub fn blob_id(&self, path: &str) -> Option<ObjectId> {
        let e = self.file.entry_by_path(path.as_bytes().as_bstr())?;
        matches!(
            kind_of_index_mode(e.mode),
            EntryKind::File | EntryKind::Executable
        )
        .then_some(e.id)
    }

    /// The names of every staged entry directly in directory `dir`, directories included (`""`
    /// is the root).
    pub fn list_entries(&self, dir: &str) -> Vec<String> {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{}/", dir.trim_end_matches('/'))
        };
        let state = &self.file;
        let mut names: Vec<String> = state
            .prefixed_entries(prefix.as_bytes().as_bstr())
            .unwrap_or_default()
            .iter()
            .filter_map(|e| {
                let p = e.path(state).to_str_lossy().into_owned();
                let rest = p.strip_prefix(&prefix)?;
                Some(rest.split('/').next().unwrap_or(rest).to_string())
            })
            .collect();
        names.dedup();
        names
    }

    /// Staged files directly in directory `dir`.
    pub fn list_dir(&self, dir: &str) -> Vec<String> {
        let prefix = format!("{dir}/");
        let state = &self.file;
        state
            .prefixed_entries(prefix.as_bytes().as_bstr())
            .unwrap_or_default()
            .iter()
            .filter_map(|e| {
                let p = e.path(state).to_str_lossy().into_owned();
                let rest = p.strip_prefix(&prefix)?.to_string();
                (!rest.contains('/')).then_some(rest)
            })
            .collect()
    }
}

fn join(prefix: &str, name: &[u8]) -> String {
    let name = String::from_utf8_lossy(name);
    if prefix.is_empty() {
        name.into_owned()
    } else if prefix.ends_with('/') {
        format!("{prefix}{name}")
    } else {
        format!("{prefix}/{name}")
    }
}

fn push_file_change(
    out: &mut Vec<Change>,
    path: String,
    old: Option<(ObjectId, EntryKind)>,
    new: Option<(ObjectId, EntryKind)>,
) {
    let kind = match (&old, &new) {
        (None, None) => return,
        (None, Some(_)) => ChangeKind::Added,
        (Some(_), None) => ChangeKind::Deleted,
        (Some(a), Some(b)) if a == b => return,
        _ => ChangeKind::Modified,
    };
    out.push(Change {
        path,
        kind,
        old,
        new,
    });
}
