//! The verified-state cache of `git ops verify` (docs/THREAT_MODEL.md, "The verify cache"): the
//! verdict of the last run of the working tree's ledger, under `.git/git-ops/verify-cache.json`
//! of this worktree, keyed by a SHA-256 over everything that verdict was computed from.
//!
//! The key covers the policy file's bytes (and so the key set, which lives in it), every entry of
//! the ledger directory (name, kind, bytes), HEAD, every ref with its target (tags, branches,
//! remote-tracking branches: the tag checks and the earlier policies are read through them),
//! `.git/shallow`, this code's cache format and the crate version. A run whose key differs, or a
//! file that is missing, unreadable, not ours or of another version, is a cold run. Nothing else
//! is trusted: the cache only lets a run skip work whose every input hashes to what was verified.

use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::fsutil::write_atomic;
use super::{Error, Repo, Result};

/// Bumped whenever what is cached, or what the key covers, changes.
pub const FORMAT: u32 = 1;

/// The cache file, in this worktree's private git directory.
pub const CACHE_FILE: &str = "git-ops/verify-cache.json";

/// The directories of the working tree the verdict reads.
const POLICY_PATH: &str = crate::model::policy::POLICY_PATH;
const LEDGER_DIR: &str = crate::model::policy::LEDGER_DIR;

/// A key of the verified state, as lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateKey(pub String);

/// The key of what `verify` of the working tree at `root` would read now. Reading it costs one
/// pass over the ledger's bytes and the refs, no parsing.
pub fn state_key(repo: &Repo, root: &Path) -> Result<StateKey> {
    let mut h = Sha256::new();
    let field = |h: &mut Sha256, bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(
        &mut h,
        format!(
            "git-ops verify cache {FORMAT} {}",
            env!("CARGO_PKG_VERSION")
        )
        .as_bytes(),
    );
    // The policy, or that it is missing / unreadable (the cold run then reports why).
    match fs::read(root.join(POLICY_PATH)) {
        Ok(b) => {
            field(&mut h, b"policy");
            field(&mut h, &b);
        }
        Err(e) => field(&mut h, format!("no policy: {:?}", e.kind()).as_bytes()),
    }
    // Every entry of the ledger directory, as `ledger::load_files` sees them.
    let dir = root.join(LEDGER_DIR);
    match fs::read_dir(&dir) {
        Ok(entries) => {
            let mut names = Vec::new();
            for e in entries {
                let e = e.map_err(|e| Error::io(&dir, e))?;
                names.push(e.file_name().to_string_lossy().into_owned());
            }
            names.sort();
            for name in names {
                let path = dir.join(&name);
                field(&mut h, name.as_bytes());
                let meta = fs::symlink_metadata(&path).map_err(|e| Error::io(&path, e))?;
                if meta.is_file() {
                    let bytes = fs::read(&path).map_err(|e| Error::io(&path, e))?;
                    field(&mut h, b"file");
                    field(&mut h, &bytes);
                } else {
                    field(
                        &mut h,
                        format!("not a file: {:?}", meta.file_type()).as_bytes(),
                    );
                }
            }
        }
        Err(e) if e.kind() == ErrorKind::NotFound => field(&mut h, b"no ledger"),
        Err(e) => return Err(Error::io(&dir, e)),
    }
    // HEAD, and every ref with what it points at.
    match repo.head_commit()? {
        Some(c) => field(&mut h, c.as_bytes()),
        None => field(&mut h, b"unborn"),
    }
    if let Some(b) = repo.head_branch() {
        field(&mut h, b.as_bytes());
    }
    let refs = repo
        .git
        .references()
        .map_err(|e| Error::git("listing references", e))?;
    let mut all = Vec::new();
    for r in refs
        .all()
        .map_err(|e| Error::git("listing references", e))?
    {
        let r = r.map_err(|e| Error::git("reading reference", e))?;
        let target = match r.target() {
            gix::refs::TargetRef::Object(id) => id.to_hex().to_string(),
            gix::refs::TargetRef::Symbolic(name) => format!("ref: {}", name.as_bstr()),
        };
        all.push((r.name().as_bstr().to_string(), target));
    }
    all.sort();
    field(&mut h, format!("{} refs", all.len()).as_bytes());
    for (name, target) in all {
        field(&mut h, name.as_bytes());
        field(&mut h, target.as_bytes());
    }
    // A shallow clone lacks objects the tag checks may read; deepening it changes the verdict.
    match fs::read(repo.path_in_common_dir("shallow")) {
        Ok(b) => {
            field(&mut h, b"shallow");
            field(&mut h, &b);
        }
        Err(_) => field(&mut h, b"complete"),
    }
    let digest = h.finalize();
    Ok(StateKey(
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
    ))
}

/// The cached payload stored under `key`, or None when there is none, it is unreadable, of
/// another format or version, or for another key: all of which mean a cold run.
pub fn load(repo: &Repo, key: &StateKey) -> Option<serde_json::Value> {
    let bytes = fs::read(repo.path_in_git_dir(CACHE_FILE)).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let ours = v.get("format")?.as_u64()? == u64::from(FORMAT)
        && v.get("version")?.as_str()? == env!("CARGO_PKG_VERSION")
        && v.get("key")?.as_str()? == key.0;
    if !ours {
        return None;
    }
    v.get("payload").cloned()
}

/// Stores `payload` under `key`, replacing the file atomically. A cache that cannot be written
/// is not an error of the command: the next run is cold.
pub fn save(repo: &Repo, key: &StateKey, payload: serde_json::Value) {
    let doc = serde_json::json!({
        "format": FORMAT,
        "version": env!("CARGO_PKG_VERSION"),
        "key": key.0,
        "payload": payload,
    });
    if let Ok(bytes) = serde_json::to_vec(&doc) {
        let _ = write_atomic(&repo.path_in_git_dir(CACHE_FILE), &bytes, Some(0o600));
    }
}
