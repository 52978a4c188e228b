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
    /// The commit's verified signer, when the policy in force made us read its signature.
    pub signer: Option<super::signature::CommitSigner>,
}

/// The changes a commit introduces, against its first parent. A merge is judged like any commit
/// against its first parent (the branch it lands on): whatever it brings in must be covered under
/// that branch's policy and ledger, or an unrelated or older history could be merged in unchecked.
pub fn commit_changes(
    repo: &Repo,
    c: &CommitInfo,
) -> Result<(Option<ObjectId>, Vec<Change>), store::Error> {
    let tree = repo.commit_tree(c.id)?;
    let Some(first) = c.parents.first() else {
        return Ok((None, repo.diff_trees(None, Some(tree))?));
    };
    let first_tree = repo.commit_tree(*first)?;
    Ok((
        Some(first_tree),
        repo.diff_trees(Some(first_tree), Some(tree))?,
    ))
}

/// The operations a merge links to: the `Ops-Id:` trailers of every commit it brings in (those
/// reachable from its other parents and not from its first). They are judged again, under the
/// first parent's policy and at the verifier's clock, like any link.
pub fn merged_links(
    repo: &Repo,
    first: ObjectId,
    others: &[ObjectId],
) -> Result<Vec<crate::model::RecordId>, store::Error> {
    let mut out = Vec::new();
    for other in others {
        for id in repo.commits_between(*other, &[first])? {
            if let Ok(ids) = trailer::ops_ids(&repo.commit_info(id)?.message) {
                out.extend(ids);
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
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
        let (mut links, trailer_error) = match trailer::ops_ids(&info.message) {
            Ok(l) => (l, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        if info.parents.len() > 1 && !ledger_only {
            links.extend(merged_links(repo, info.parents[0], &info.parents[1..])?);
            links.sort();
            links.dedup();
        }
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
        // Who made it: git's commit signature, against the policy in force.
        let signer = if ledger_only {
            None
        } else {
            signed_rules(repo, &info, &changes, &new, now, &mut judgement)?
        };
        // A merge must also keep everything its other parents' ledgers hold: otherwise a merge
        // whose first parent is an old commit would bring back an older ledger or policy.
        for other in info.parents.iter().skip(1) {
            let kept = ledger_monotonic(repo, *other, *id)?;
            judgement.report.findings.extend(kept.findings);
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
            signer,
        });
    }
    Ok(out)
}

/// The rules of [`super::signature`] for one commit, under the policy in force `judge` used
/// (none to apply when the old side has no readable policy: that is reported by `judge`).
fn signed_rules(
    repo: &Repo,
    info: &CommitInfo,
    changes: &[Change],
    new: &SideReader<'_>,
    now: Timestamp,
    judgement: &mut Judgement,
) -> Result<Option<super::signature::CommitSigner>, store::Error> {
    let Some(policy) = judgement.policy.take() else {
        return Ok(None);
    };
    let result = super::signature::check_commit(
        &super::signature::SignedCommit {
            repo,
            info,
            changes,
            policy: &policy,
            new,
            now,
        },
        judgement,
    );
    // Not kept: a range judges many commits, and their policies need not stay in memory.
    drop(policy);
    let (findings, signer) = result?;
    judgement.report.findings.extend(findings);
    Ok(signer)
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

/// What must hold between any two states of a governed branch, however the later one was reached
/// (a fast-forward, a merge whose first parent is an old commit): every earlier ledger record is
/// still there, unchanged, in order; the policy is still there and its version has not gone
/// down. New records are not judged here (each commit that added one was).
pub fn ledger_monotonic(repo: &Repo, from: ObjectId, to: ObjectId) -> Result<Report, store::Error> {
    use crate::model::policy::{LEDGER_DIR, POLICY_PATH};
    use crate::model::yaml;
    use crate::store::ledger::LedgerFile;

    let mut report = Report::default();
    let (old_tree, new_tree) = (repo.commit_tree(from)?, repo.commit_tree(to)?);
    if old_tree == new_tree {
        return Ok(report);
    }
    let old = SideReader {
        repo,
        snapshot: Snapshot::Tree(Some(old_tree)),
    };
    let new = SideReader {
        repo,
        snapshot: Snapshot::Tree(Some(new_tree)),
    };
    let Some(Ok(old_policy)) = old
        .read_string(POLICY_PATH)?
        .map(|t| yaml::parse_policy(&t))
    else {
        return Ok(report);
    };
    match new
        .read_string(POLICY_PATH)?
        .map(|t| yaml::parse_policy(&t))
    {
        None => report.push(
            Finding::error(
                "policy-removed",
                format!("{POLICY_PATH} is gone; a governed branch keeps its policy"),
            )
            .at(POLICY_PATH, None),
        ),
        Some(Err(e)) => report.push(
            Finding::error("policy-invalid", format!("the policy does not parse: {e}"))
                .at(POLICY_PATH, None),
        ),
        Some(Ok(p)) if p.version < old_policy.version => report.push(
            Finding::error(
                "policy-version",
                format!(
                    "the policy went back from version {} to {}; an older policy cannot return",
                    old_policy.version, p.version
                ),
            )
            .at(POLICY_PATH, None),
        ),
        Some(Ok(_)) => {}
    }
    for c in repo.diff_trees(Some(old_tree), Some(new_tree))? {
        if !c.path.starts_with(&format!("{LEDGER_DIR}/")) || c.old.is_none() {
            continue;
        }
        let Some(Ok(old_file)) = old
            .read_string(&c.path)?
            .map(|t| LedgerFile::parse(&c.path, t))
        else {
            continue;
        };
        match new
            .read_string(&c.path)?
            .map(|t| LedgerFile::parse(&c.path, t))
        {
            None if !old_file.records.is_empty() => report.push(
                Finding::error(
                    "record-removed",
                    format!("{} is gone; ledger records are never removed", c.path),
                )
                .at(&c.path, None),
            ),
            None => {}
            Some(Err(e)) => report.push(Finding::error("schema", e.to_string()).at(&c.path, None)),
            Some(Ok(new_file)) => {
                crate::verify::coverage::preserved(&c.path, &old_file, &new_file, &mut report);
            }
        }
    }
    Ok(report)
}

/// What a ref update does to the ref as a whole (DESIGN §3.1): the net change from `base` (the
/// ref's old tip, or what a new branch is judged against) to `tip`.
///
/// Each new commit was judged on its own against its first parent; that does not see a change
/// that no single commit shows, such as a merge whose first parent is an old commit (the ref then
/// jumps back to old content). So every path whose content differs between `base` and `tip` must
/// have its new content produced by one of `new_commits` (which were judged), or else the
/// difference itself is judged as a change: under `base`'s policy, at the verifier's clock, linked
/// by the trailers of every commit between `base` and `tip`. Immutable paths, symlinks and the
/// policy are judged the same way.
pub fn judge_net_change(
    repo: &Repo,
    base: ObjectId,
    tip: ObjectId,
    new_commits: &[ObjectId],
    now: Timestamp,
) -> Result<Report, store::Error> {
    use std::collections::BTreeSet;
    let (old_tree, new_tree) = (repo.commit_tree(base)?, repo.commit_tree(tip)?);
    if old_tree == new_tree {
        return Ok(Report::default());
    }
    // (path, content) pairs the new commits produced, each against its first parent: those
    // were judged in this push, at this clock.
    let mut produced: BTreeSet<(String, Option<ObjectId>)> = BTreeSet::new();
    for c in new_commits {
        let info = repo.commit_info(*c)?;
        for ch in commit_changes(repo, &info)?.1 {
            produced.insert((ch.path, ch.new.map(|(id, _)| id)));
        }
    }
    // Links: the trailers of every commit the update brings to the ref, new or already known
    // (a branch pushed earlier and now fast-forwarded onto this one is judged again, now).
    let mut links = Vec::new();
    for c in repo.commits_between(tip, &[base])? {
        let info = repo.commit_info(c)?;
        if let Ok(ids) = trailer::ops_ids(&info.message) {
            links.extend(ids);
        }
    }
    links.sort();
    links.dedup();
    let changes: Vec<Change> = repo
        .diff_trees(Some(old_tree), Some(new_tree))?
        .into_iter()
        .filter(|ch| !produced.contains(&(ch.path.clone(), ch.new.map(|(id, _)| id))))
        .collect();
    if changes.is_empty() {
        return Ok(Report::default());
    }
    let old = SideReader {
        repo,
        snapshot: Snapshot::Tree(Some(old_tree)),
    };
    let new = SideReader {
        repo,
        snapshot: Snapshot::Tree(Some(new_tree)),
    };
    let mut judgement = judge(&ChangeContext {
        old: &old,
        new: &new,
        changes: &changes,
        links: &links,
        now,
    })?;
    // Pinned rules hold for the net change too: old content brought back is not what the
    // approvers of the covering operation pinned.
    if let Some(policy) = judgement.policy.take() {
        let changed: Vec<&Change> = changes.iter().collect();
        let pins = super::signature::pin_findings(
            repo, &policy, &judgement, &changed, new_tree, &new, now,
        )?;
        judgement.report.findings.extend(pins);
    }
    let label = format!("{}..{}", base.to_hex_with_len(10), tip.to_hex_with_len(10));
    for f in &mut judgement.report.findings {
        f.commit = Some(label.clone());
        f.message = format!(
            "the net change of the update ({label}), which no single new commit made: {}",
            f.message
        );
    }
    Ok(judgement.report)
}
