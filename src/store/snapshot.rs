//! One side of a change, readable by path: a commit's tree, the staged index, or the working tree.
//! Judging reads a side only through [`Side`], so decisions can also be tested on in-memory sides
//! ([`MemorySide`]).

use std::collections::BTreeMap;
use std::path::PathBuf;

use gix::ObjectId;

use super::diff::{Change, ChangeKind, EntryKind, StagedIndex};
use super::{Error, Repo, Result};

/// Reading one side of history: what verification needs of a tree, an index or a directory.
pub trait Side {
    /// The text of the file at `path`, or None when there is none.
    fn read_string(&self, path: &str) -> Result<Option<String>>;
    /// File names directly in `dir` (empty when there is no such directory).
    fn list_dir(&self, dir: &str) -> Result<Vec<String>>;
    /// The names of every entry directly in `dir` (`""` is the root): files, directories,
    /// symlinks and submodules. Used to find paths that differ only in case or normalisation.
    fn list_entries(&self, dir: &str) -> Result<Vec<String>> {
        self.list_dir(dir)
    }
}

pub enum Snapshot<'a> {
    /// A tree (None: the empty tree, before the first commit).
    Tree(Option<ObjectId>),
    Index(&'a StagedIndex),
    WorkTree(PathBuf),
}

/// Reads files of one side of a change.
pub struct SideReader<'a> {
    pub repo: &'a Repo,
    pub snapshot: Snapshot<'a>,
}

impl SideReader<'_> {
    pub fn read(&self, path: &str) -> Result<Option<Vec<u8>>> {
        match &self.snapshot {
            Snapshot::Tree(t) => self.repo.file_in_tree(*t, path),
            Snapshot::Index(i) => match i.blob_id(path) {
                Some(id) => self.repo.blob(id).map(Some),
                None => Ok(None),
            },
            Snapshot::WorkTree(root) => {
                let p = root.join(path);
                match std::fs::read(&p) {
                    Ok(b) => Ok(Some(b)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(Error::io(&p, e)),
                }
            }
        }
    }

    pub fn read_string(&self, path: &str) -> Result<Option<String>> {
        self.read(path)?
            .map(|b| {
                String::from_utf8(b).map_err(|_| Error::Usage(format!("{path} is not UTF-8 text")))
            })
            .transpose()
    }

    /// File names directly in `dir`.
    pub fn list_dir(&self, dir: &str) -> Result<Vec<String>> {
        match &self.snapshot {
            Snapshot::Tree(t) => self.repo.list_dir_in_tree(*t, dir),
            Snapshot::Index(i) => Ok(i.list_dir(dir)),
            Snapshot::WorkTree(root) => {
                let d = root.join(dir);
                match std::fs::read_dir(&d) {
                    Ok(rd) => Ok(rd
                        .filter_map(|e| e.ok())
                        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
                    Err(e) => Err(Error::io(&d, e)),
                }
            }
        }
    }
}

impl Side for SideReader<'_> {
    fn read_string(&self, path: &str) -> Result<Option<String>> {
        SideReader::read_string(self, path)
    }
    fn list_dir(&self, dir: &str) -> Result<Vec<String>> {
        SideReader::list_dir(self, dir)
    }
    fn list_entries(&self, dir: &str) -> Result<Vec<String>> {
        match &self.snapshot {
            Snapshot::Tree(t) => self.repo.list_entries_in_tree(*t, dir),
            Snapshot::Index(i) => Ok(i.list_entries(dir)),
            Snapshot::WorkTree(root) => {
                let d = root.join(dir);
                match std::fs::read_dir(&d) {
                    Ok(rd) => Ok(rd
                        .filter_map(|e| e.ok())
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
                    Err(e) => Err(Error::io(&d, e)),
                }
            }
        }
    }
}

/// A side held in memory, path to text: for tests of decisions that would otherwise need a
/// repository.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemorySide {
    pub files: BTreeMap<String, String>,
}

impl MemorySide {
    pub fn new() -> Self {
        Self::default()
    }

    /// The same side with `path` holding `text`.
    pub fn with(mut self, path: &str, text: impl Into<String>) -> Self {
        self.files.insert(path.to_string(), text.into());
        self
    }

    /// The same side without `path`.
    pub fn without(mut self, path: &str) -> Self {
        self.files.remove(path);
        self
    }

    /// The changes from `self` to `new`, sorted by path, as a tree diff reports them (every
    /// file is a regular file; object ids are the ids of the texts as git blobs).
    pub fn changes_to(&self, new: &MemorySide) -> Vec<Change> {
        let blob = |text: &str| {
            let id = gix::objs::compute_hash(
                gix::hash::Kind::Sha1,
                gix::objs::Kind::Blob,
                text.as_bytes(),
            )
            .unwrap_or_else(|_| ObjectId::null(gix::hash::Kind::Sha1));
            (id, EntryKind::File)
        };
        let mut paths: Vec<&String> = self.files.keys().chain(new.files.keys()).collect();
        paths.sort();
        paths.dedup();
        paths
            .into_iter()
            .filter_map(|path| {
                let (old, new) = (self.files.get(path), new.files.get(path));
                let kind = match (old, new) {
                    (None, Some(_)) => ChangeKind::Added,
                    (Some(_), None) => ChangeKind::Deleted,
                    (Some(a), Some(b)) if a != b => ChangeKind::Modified,
                    _ => return None,
                };
                Some(Change {
                    path: path.clone(),
                    kind,
                    old: old.map(|t| blob(t)),
                    new: new.map(|t| blob(t)),
                })
            })
            .collect()
    }
}

impl Side for MemorySide {
    fn read_string(&self, path: &str) -> Result<Option<String>> {
        Ok(self.files.get(path).cloned())
    }

    fn list_dir(&self, dir: &str) -> Result<Vec<String>> {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        Ok(self
            .files
            .keys()
            .filter_map(|p| p.strip_prefix(&prefix))
            .filter(|rest| !rest.contains('/'))
            .map(str::to_string)
            .collect())
    }

    fn list_entries(&self, dir: &str) -> Result<Vec<String>> {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{}/", dir.trim_end_matches('/'))
        };
        let mut names: Vec<String> = self
            .files
            .keys()
            .filter_map(|p| p.strip_prefix(&prefix))
            .map(|rest| rest.split('/').next().unwrap_or(rest).to_string())
            .collect();
        names.dedup();
        Ok(names)
    }
}
