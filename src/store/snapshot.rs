//! One side of a change, readable by path: a commit's tree, the staged index, or the working tree.

use std::path::PathBuf;

use gix::ObjectId;

use super::diff::StagedIndex;
use super::{Error, Repo, Result};

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
