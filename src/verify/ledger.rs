//! Verification of a whole ledger (DESIGN §2.2-2.3): schema, signoffs, thresholds, duplicate
//! ids, and agreement between tags and file records.

use std::collections::{BTreeMap, BTreeSet};

use gix::ObjectId;

use super::grants::{GrantClock, GrantIndex, limits};
use super::push::check_pushed_tag;
use super::records::{RecordCheck, RecordSummary, State, check_record_with};
use super::tags::check_tags;
use super::{Finding, Report, Severity};
use crate::model::RecordId;
use crate::model::policy::Policy;
use crate::store::Repo;
use crate::store::ledger::{LedgerFile, month_path};
use crate::store::tags::TagInfo;

/// Checks a record under the current policy; when a signoff fails only because its signer's key
/// is not the current one, under the earlier policies (newest first), since a key rotation must
/// not make the history invalid. Returns the check and the policy version that verified it when
/// that was an earlier one.
pub fn check_with_history(
    policy: &Policy,
    earlier: &[Policy],
    r: &crate::model::Record,
    grants: &GrantIndex,
) -> (RecordCheck, Option<u64>) {
    let check = check_record_with(policy, r, Some((grants, GrantClock::Claimed)));
    let key_trouble = check
        .problems
        .iter()
        .any(|(code, _)| matches!(*code, "wrong-key" | "unknown-signer" | "bad-signature"));
    if key_trouble {
        for p in earlier {
            let old = check_record_with(p, r, Some((grants, GrantClock::Claimed)));
            if old.problems.is_empty() {
                return (old, Some(p.version));
            }
        }
    }
    (check, None)
}

/// Checks every record, in parallel, in order. History: grant signoffs are judged at the time
/// they claim.
fn check_all(
    policy: &Policy,
    earlier: &[Policy],
    records: &[&crate::model::Record],
    grants: &GrantIndex,
) -> Vec<(RecordCheck, Option<u64>)> {
    crate::par::map(records, 64, |r| {
        check_with_history(policy, earlier, r, grants)
    })
}

/// Verifies parsed ledger files (or the errors met reading them) and the `ops-*` tags.
pub fn verify_ledger(
    policy: &Policy,
    files: &[Result<LedgerFile, crate::store::Error>],
    tags: &[TagInfo],
) -> Report {
    verify_ledger_with_history(policy, &[], files, tags)
}

/// Like [`verify_ledger`], with the earlier versions of the policy (newest first) from the
/// repository's history, so that records signed before a key rotation still verify.
pub fn verify_ledger_with_history(
    policy: &Policy,
    earlier: &[Policy],
    files: &[Result<LedgerFile, crate::store::Error>],
    tags: &[TagInfo],
) -> Report {
    let mut report = Report::default();
    let grants = GrantIndex::build(
        policy,
        files
            .iter()
            .flatten()
            .flat_map(|f| f.records.iter().map(|(_, r)| r)),
    );
    for info in grants.grants.values() {
        if let Err(why) = limits(policy, &info.grant) {
            report.push(Finding::error("grant-too-long", why).record(info.grant.grant_id));
        }
    }
    // Checking signatures is most of the work and each record is independent: check them on
    // every core, then report in file order.
    let all: Vec<&crate::model::Record> = files
        .iter()
        .flatten()
        .flat_map(|f| f.records.iter().map(|(_, r)| r))
        .collect();
    let mut checks = check_all(policy, earlier, &all, &grants).into_iter();
    let mut seen: BTreeMap<RecordId, (String, u64)> = BTreeMap::new();
    let mut by_id = BTreeMap::new();
    for file in files {
        let file = match file {
            Ok(f) => f,
            Err(crate::store::Error::Yaml {
                path,
                error: source,
            }) => {
                report.push(Finding::error("schema", source.message.clone()).at(path, source.line));
                continue;
            }
            Err(e) => {
                report.push(Finding::error("unreadable", e.to_string()));
                continue;
            }
        };
        for (span, record) in &file.records {
            let id = *record.id();
            let (check, under) = checks.next().expect("one check per record");
            if let Some(v) = under {
                report.push(
                    Finding::new(
                        Severity::Info,
                        "earlier-key",
                        format!("{id}: its signoffs verify under policy version {v}; a signer's key has changed since"),
                    )
                    .at(&file.path, Some(span.first_line))
                    .record(id),
                );
            }
            if let Some((f, l)) = seen.get(&id) {
                report.push(
                    Finding::error(
                        "duplicate-id",
                        format!("{id} appears twice; the first is at {f}:{l}"),
                    )
                    .at(&file.path, Some(span.first_line))
                    .record(id),
                );
                continue;
            }
            seen.insert(id, (file.path.clone(), span.first_line));
            for (code, msg) in &check.problems {
                report.push(
                    Finding::error(code, format!("{id}: {msg}"))
                        .at(&file.path, Some(span.first_line))
                        .record(id),
                );
            }
            let state = check.state();
            if state == State::Pending {
                report.push(
                    Finding::new(
                        Severity::Info,
                        "pending",
                        format!(
                            "{id}: pending, {} of {} approvals",
                            check.approvals(),
                            check.required
                        ),
                    )
                    .at(&file.path, Some(span.first_line))
                    .record(id),
                );
            }
            report.records.push(RecordSummary {
                id,
                kind: record.kind(),
                state,
                approvals: check.approvals(),
                required: check.required,
                file: file.path.clone(),
                line: span.first_line,
            });
            by_id.insert(id, (record, state, file.path.clone(), span.first_line));
        }
    }
    report.tags = tags.len();
    check_tags(policy, earlier, &by_id, tags, &mut report);
    report
}

/// Verifies a working tree's ledger files and the repository's `ops-*` tags (DESIGN §3.2: a
/// tag is judged where it belongs). Tags are repository-wide while ledgers are per branch: a tag
/// whose record this branch does not have is judged against the ledger of the commit it points
/// at, or of a branch (local or remote-tracking) that has the record; it fails only when no
/// ledger anywhere has it, or when this branch's last commit has the record and the work tree
/// lost it.
pub fn verify_worktree(
    repo: &Repo,
    policy: &Policy,
    earlier: &[Policy],
    files: &[Result<LedgerFile, crate::store::Error>],
    tags: &[TagInfo],
) -> Result<Report, crate::store::Error> {
    let here: BTreeSet<RecordId> = files
        .iter()
        .flatten()
        .flat_map(|f| f.records.iter().map(|(_, r)| *r.id()))
        .collect();
    let head = repo.head_commit()?;
    let mut local = Vec::new();
    let mut elsewhere = Vec::new();
    for tag in tags {
        match RecordId::from_tag_name(&tag.ref_name) {
            Ok(id) if !here.contains(&id) => {
                let in_head = match head {
                    Some(h) => ledger_at_has(repo, h, &id)?,
                    None => false,
                };
                if in_head {
                    local.push(tag.clone()); // deleted in the work tree: reported as such
                } else {
                    elsewhere.push((tag, id));
                }
            }
            _ => local.push(tag.clone()),
        }
    }
    let mut report = verify_ledger_with_history(policy, earlier, files, &local);
    report.tags = tags.len();
    if elsewhere.is_empty() {
        return Ok(report);
    }
    let mut tips: Vec<ObjectId> = repo.ref_commits_under("refs/heads/")?;
    tips.extend(repo.ref_commits_under("refs/remotes/")?);
    for (tag, id) in elsewhere {
        let mut candidates: Vec<ObjectId> = tag.target.into_iter().collect();
        candidates.extend(tips.iter().copied());
        // The tag may agree with one branch's version of the record and not yet with another's
        // (a signoff not merged there): it is judged by the first version it agrees with.
        let mut first: Option<Report> = None;
        let mut agreed = false;
        for c in candidates {
            if !repo.has_object(c) || !ledger_at_has(repo, c, &id)? {
                continue;
            }
            let mut judged = Report::default();
            check_pushed_tag(repo, &tag.ref_name, tag.object, &[c], &mut judged)?;
            if judged.errors() == 0 {
                report.findings.extend(judged.findings);
                agreed = true;
                break;
            }
            first.get_or_insert(judged);
        }
        match first.filter(|_| !agreed) {
            Some(judged) => report.findings.extend(judged.findings),
            None if agreed => {}
            None => report.push(
                Finding::error(
                    "tag-without-record",
                    format!(
                        "tag {name} has no record {id} in the ledger files (was the entry deleted?); no branch has it either: if the tag was made here by mistake and never pushed, delete it with `git tag -d {name}`",
                        name = tag.ref_name
                    ),
                )
                .record(id),
            ),
        }
    }
    Ok(report)
}

/// Whether the ledger at `commit` holds record `id` (a file that does not parse holds nothing).
fn ledger_at_has(
    repo: &Repo,
    commit: ObjectId,
    id: &RecordId,
) -> Result<bool, crate::store::Error> {
    let path = month_path(&id.month());
    let Some(bytes) = repo.blob_at(commit, &path)? else {
        return Ok(false);
    };
    let Ok(text) = String::from_utf8(bytes) else {
        return Ok(false);
    };
    Ok(LedgerFile::parse(&path, text)
        .map(|f| f.records.iter().any(|(_, r)| r.id() == id))
        .unwrap_or(false))
}
