//! Content pinning (docs/SIGNED-COMMITS.md): an approver names in their signoff the exact
//! content they reviewed, and where a rule says `pin: tree` only that content lands under the
//! operation.
//!
//! The **pin** of an operation in a commit is the lower-case hex SHA-256 of the lines
//! `<mode> <blob id> <path>\n`, sorted by path (bytewise), of every file of the commit's tree that
//! one of the operation's `allowed_paths` covers, ledger files excepted (the signoffs themselves
//! live there). It names content, not a commit: the same change rebased onto newer approvals, or
//! squashed, keeps its pin. Reproducible with stock tools:
//! `git ls-tree -r --full-tree <commit> -- <paths> | awk '{print $1" "$3" "$4}' | sha256sum`
//! (paths as the operation allows them, files only).

use std::collections::{BTreeMap, BTreeSet};

use gix::ObjectId;
use sha2::{Digest, Sha256};

use super::Finding;
use super::coverage::{allowed_glob, check_on_side};
use super::records::State;
use crate::model::policy::{LEDGER_DIR, Policy};
use crate::model::record::Record;
use crate::model::{RecordId, Role, SignerName, Timestamp};
use crate::store::diff::{Change, EntryKind};
use crate::store::ledger::{LedgerFile, month_path};
use crate::store::snapshot::Side;
use crate::store::{self, Repo};

fn mode(k: EntryKind) -> &'static str {
    match k {
        EntryKind::File => "100644",
        EntryKind::Executable => "100755",
        EntryKind::Symlink => "120000",
        EntryKind::Submodule => "160000",
    }
}

/// The pin of `allowed_paths` in `tree` (see the module's documentation).
pub fn content_pin(
    repo: &Repo,
    tree: ObjectId,
    allowed_paths: &[String],
) -> Result<String, store::Error> {
    let globs: Vec<_> = allowed_paths
        .iter()
        .filter_map(|p| allowed_glob(p))
        .collect();
    let mut lines = BTreeMap::new();
    for c in repo.diff_trees(None, Some(tree))? {
        if c.path.starts_with(&format!("{LEDGER_DIR}/"))
            || !globs.iter().any(|g| g.matches(&c.path))
        {
            continue;
        }
        if let Some((id, kind)) = c.new {
            lines.insert(c.path.clone(), format!("{} {id} {}\n", mode(kind), c.path));
        }
    }
    let mut h = Sha256::new();
    for l in lines.values() {
        h.update(l.as_bytes());
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The pin of operation `record` at `commit`: what `git ops sign --pin <commit>` signs.
pub fn pin_of_record(
    repo: &Repo,
    commit: ObjectId,
    record: &Record,
) -> Result<Option<String>, store::Error> {
    let Some(op) = record.as_operation() else {
        return Ok(None);
    };
    let tree = repo.commit_tree(commit)?;
    content_pin(repo, tree, &op.allowed_paths).map(Some)
}

/// Pinned approvals of `record` that name `pin`: distinct approvers (direct, or the grantee
/// under a grant), and the requester when the risk class allows self-approval.
pub fn pinned_approvals(policy: &Policy, record: &Record, pin: &str) -> usize {
    let self_ok = record
        .as_operation()
        .is_some_and(|op| policy.risk_rule(op.risk_class).self_approval);
    record
        .signoffs()
        .iter()
        .filter(|s| s.pin.as_deref() == Some(pin))
        .filter(|s| s.role == Role::Approver || self_ok)
        .map(|s| s.by.clone())
        .collect::<BTreeSet<SignerName>>()
        .len()
}

/// Approvals a pinned change needs under `record`: those of its risk class and of every rule
/// that governs `path`, and at least one.
fn pinned_required(policy: &Policy, record: &Record, path: &str) -> usize {
    let risk = record
        .as_operation()
        .map(|op| policy.risk_rule(op.risk_class).approvals)
        .unwrap_or(u32::MAX);
    let rule = policy
        .rules_for(path)
        .filter_map(|r| r.approvals)
        .max()
        .unwrap_or(0);
    risk.max(rule).max(1) as usize
}

/// What the pin rule needs to judge one commit.
pub struct PinCheck<'a> {
    pub repo: &'a Repo,
    pub policy: &'a Policy,
    /// The commit's tree and its ledger.
    pub tree: ObjectId,
    pub new: &'a dyn Side,
    /// The operations that may cover the commit: the one coverage chose, the trailers, the
    /// records the change adds.
    pub candidates: &'a [RecordId],
    pub now: Timestamp,
}

/// For each changed path under a `pin: tree` rule: some approved candidate operation that allows
/// the path has enough approvals pinned to this commit's content. Errors otherwise.
pub fn check_pins(c: &PinCheck<'_>, owned: &[&Change]) -> Result<Vec<Finding>, store::Error> {
    let pinned: Vec<&&Change> = owned
        .iter()
        .filter(|ch| c.policy.rules_for(&ch.path).any(|r| r.pin.is_some()))
        .collect();
    if pinned.is_empty() {
        return Ok(Vec::new());
    }
    let mut records: Vec<Record> = Vec::new();
    let mut files = Default::default();
    for id in c.candidates {
        let path = month_path(&id.month());
        let Some(text) = c.new.read_string(&path)? else {
            continue;
        };
        let Ok(file) = LedgerFile::parse(&path, text) else {
            continue;
        };
        for (_, r) in file.records {
            if r.id() == id
                && check_on_side(c.new, c.policy, &r, c.now, &mut files)?.state() == State::Approved
            {
                records.push(r);
            }
        }
    }
    let mut pins: BTreeMap<RecordId, String> = BTreeMap::new();
    let mut out = Vec::new();
    for ch in pinned {
        let mut seen = Vec::new();
        let mut ok = false;
        for r in &records {
            let Some(op) = r.as_operation() else { continue };
            if !op
                .allowed_paths
                .iter()
                .filter_map(|p| allowed_glob(p))
                .any(|g| g.matches(&ch.path))
            {
                continue;
            }
            let pin = match pins.get(r.id()) {
                Some(p) => p.clone(),
                None => {
                    let p = content_pin(c.repo, c.tree, &op.allowed_paths)?;
                    pins.insert(*r.id(), p.clone());
                    p
                }
            };
            let have = pinned_approvals(c.policy, r, &pin);
            let need = pinned_required(c.policy, r, &ch.path);
            if have >= need {
                ok = true;
                break;
            }
            seen.push(format!(
                "{}: {have} of {need} approvals pinned to this content (pin {})",
                r.id(),
                &pin[..16]
            ));
        }
        if !ok {
            let why = if seen.is_empty() {
                "no approved operation linked to it allows this path".to_string()
            } else {
                seen.join("; ")
            };
            out.push(
                Finding::error(
                    "unpinned-content",
                    format!(
                        "{}: a rule pins this path's content (pin: tree), and this commit's content is not what the approvers signed ({why}); approvers sign the change they reviewed with `git ops sign <id> --pin <commit>`, and any other content needs a new signoff",
                        ch.path
                    ),
                )
                .at(&ch.path, None),
            );
        }
    }
    Ok(out)
}
