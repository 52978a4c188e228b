//! `git ops merge-driver %O %A %B %P`: reads the three versions, merges with
//! [`git_ops::engine::merge`], and writes the result over ours (%A).

use std::path::{Path, PathBuf};

use super::error::{Context, Result};

use git_ops::engine::merge::{Error, merge};
use git_ops::store::{self, fsutil};

use super::common::Ctx;
use super::rejected;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The common ancestor's version (%O).
    pub base: PathBuf,
    /// Our version (%A); the merge result is written here.
    pub ours: PathBuf,
    /// Their version (%B).
    pub theirs: PathBuf,
    /// The path in the repository (%P), for messages.
    pub path: Option<String>,
}

/// `reading PATH: <cause>`, as the driver has always said it.
fn read(path: &Path) -> Result<String> {
    fsutil::read_text(path).or_else(|e| match e {
        store::Error::Io { error, .. } => {
            Err(error).with_context(|| format!("reading {}", path.display()))
        }
        other => Err(other.into()),
    })
}

pub fn run(_ctx: &Ctx, args: Args) -> Result<u8> {
    let _base = read(&args.base)?;
    let ours = read(&args.ours)?;
    let theirs = read(&args.theirs)?;
    let name = args.path.as_deref().unwrap_or("ledger file");
    match merge(&ours, &theirs) {
        Ok(m) => {
            fsutil::write_atomic(&args.ours, m.text.as_bytes(), None)?;
            if m.conflicts.is_empty() {
                Ok(0)
            } else {
                Err(rejected(format!(
                    "{name}: {}; both versions are in the file between conflict markers (if they are two different records that drew the same id: `git merge --abort`, then `git ops renumber` where the record was not pushed yet, and merge again)",
                    Error::Conflict(m.conflicts)
                )))
            }
        }
        Err(e) => Err(rejected(format!("{name}: {e}"))),
    }
}
