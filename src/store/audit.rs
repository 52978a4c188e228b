//! The local audit log (seed 003: "privileged actions are logged"): one JSON object per line in
//! `$XDG_STATE_HOME/git-ops/audit.jsonl` (default `~/.local/state/git-ops/audit.jsonl`). It never
//! holds a secret: times, the repository, the action, ids, the signer's name and key
//! fingerprint, and the result.

use std::io::Write;
use std::path::PathBuf;

use serde::Serialize;

use super::{Error, Result};

#[derive(Debug, Serialize)]
pub struct Entry<'a> {
    pub time: String,
    pub repo: String,
    pub action: &'a str,
    pub ids: Vec<String>,
    pub signer: Option<String>,
    pub fingerprint: Option<String>,
    pub result: String,
}

pub fn log_path() -> Option<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_STATE_HOME").filter(|x| !x.is_empty()) {
        return Some(PathBuf::from(x).join("git-ops/audit.jsonl"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state/git-ops/audit.jsonl"))
}

/// Appends one line. Each line is written with a single `write` on a file opened for appending,
/// so concurrent writers do not interleave within a line.
pub fn append(entry: &Entry<'_>) -> Result<()> {
    let Some(path) = log_path() else {
        return Ok(());
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut line = serde_json::to_string(entry).map_err(|e| Error::Usage(e.to_string()))?;
    line.push('\n');
    let mut f = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?
    };
    f.write_all(line.as_bytes())
        .map_err(|e| Error::io(&path, e))
}
