//! Judging commits: each commit against its first parent (a merge only for what it adds beyond
//! all its parents), linked by its own `Ops-Id:` trailers. Used by pre-push, pre-receive, update
//! and `verify --range/--history`.

use gix::ObjectId;

use super::coverage::{ChangeContext, Judgement, judge};
use super::{Finding, Report};
use crate::model::{Timestamp, trailer};
use crate::store::diff::Change;
use crate::store::repo::CommitInfo;
use crate::store::snapshot::{SideReader, Snapshot};
use crate::store::{self, Repo};

/// When to judge each commit's claims.
#[derive(Clone, Copy, Debug)]
pub enum Clock {
    /// New changes: the verifier's clock.
    Now(Timestamp),
    /// History already accepted: the commit's own (committer) time.
    CommitTime,
}

pub struct Judged {
    pub commit: CommitInfo,
    pub judgement: Judgement,
}

/// The changes a commit introduces: against its parent, or for a merge, the paths that differ
/// from every parent (what the merge itself adds, e.g. a conflict resolution).
pub fn commit_changes(
    repo: &Repo,
    c: &CommitInfo,
) -> Result<(Option<ObjectId>, Vec<Change>), store::Error> {
    let tree = repo.commit_tree(c.id)?;
    let Some(first) = c.parents.first() else {
        return Ok((None, repo.diff_trees(None, Some(tree))?));
    };
    let first_tree = repo.commit_tree(*first)?;
    let mut changes = repo.diff_trees(Some(first_tree), Some(tree))?;
    for other in &c.parents[1..] {
        let other_tree = repo.commit_tree(*other)?;
        let vs_other = repo.diff_trees(Some(other_tree), Some(tree))?;
        changes.retain(|ch| vs_other.iter().any(|o| o.path == ch.path));
    }
    Ok((Some(first_tree), changes))
}

/// Judges `commits` (oldest first). `bootstrap_ok` decides whether a commit that adds a policy to
/// a history without one may become a trust root.
pub fn judge_commits(
    repo: &Repo,
    commits: &[ObjectId],
    clock: Clock,
    bootstrap_ok: &dyn Fn(ObjectId) -> bool,
    ledger_only: bool,
) -> Result<Vec<Judged>, store::Error> {
    let mut out = Vec::new();
    for id in commits {
        let info = repo.commit_info(*id)?;
        let (old_tree, mut changes) = commit_changes(repo, &info)?;
        if ledger_only {
            changes.retain(|c| c.path.starts_with("ops/ledger/"));
        }
        let new_tree = Some(repo.commit_tree(*id)?);
        let old = SideReader {
            repo,
            snapshot: Snapshot::Tree(old_tree),
        };
        let new = SideReader {
            repo,
            snapshot: Snapshot::Tree(new_tree),
        };
        let short = id.to_hex_with_len(10).to_string();
        let (links, trailer_error) = match trailer::ops_ids(&info.message) {
            Ok(l) => (l, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        let now = match clock {
            Clock::Now(t) => t,
            Clock::CommitTime => {
                Timestamp::from_unix(info.time).unwrap_or(Timestamp::from_unix(0).expect("epoch"))
            }
        };
        let mut judgement = judge(&ChangeContext {
            old: &old,
            new: &new,
            changes: &changes,
            links: &links,
            now,
        })?;
        if let Some(e) = trailer_error {
            judgement.report.push(Finding::error("trailer", e));
        }
        if judgement.bootstrap && !bootstrap_ok(*id) {
            judgement.report.push(Finding::error(
                "untrusted-root",
                "this commit adds a policy to a history without one, and is not the trust root; \
                 pin the trust root with `git config ops.trustRoot <commit>`"
                    .to_string(),
            ));
        }
        for f in &mut judgement.report.findings {
            f.commit = Some(short.clone());
        }
        out.push(Judged {
            commit: info,
            judgement,
        });
    }
    Ok(out)
}

/// All findings of judged commits in one report.
pub fn merge_reports(judged: &[Judged]) -> Report {
    let mut r = Report {
        commits: Some(judged.len()),
        ..Report::default()
    };
    for j in judged {
        r.findings
            .extend(j.judgement.report.findings.iter().cloned());
    }
    r
}
