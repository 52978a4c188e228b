//! Verification of a whole ledger (DESIGN §2.2-2.3): schema, signoffs, thresholds, duplicate
//! ids, and agreement between tags and file records.

use std::collections::{BTreeMap, BTreeSet};

use gix::ObjectId;

use super::grants::{GrantClock, GrantIndex, limits};
use super::push::check_pushed_tag;
use super::records::{RecordCheck, RecordSummary, State, check_record_with};
use super::tags::{RecordIndex, check_tags};
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
    let key_trouble = check.problems.iter().any(|p| p.is_key_trouble());
    // A key the current policy retired (`keys rotate`) vouches only for what it signed until
    // its retirement (inclusive, as OpenSSH's valid-before). A signoff claims its own time, so
    // the record's creation counts too: a record created after the retirement cannot carry an
    // honest signoff by the retired key, however it is dated.
    let created = r.created_at();
    let signed_after_retirement = r.signoffs().iter().any(|s| {
        policy
            .signer(&s.by)
            .and_then(|e| e.retired_at(&s.key))
            .is_some_and(|t| s.at > t || created.is_some_and(|c| c > t))
    });
    if key_trouble && !signed_after_retirement {
        for p in earlier {
            let old = check_record_with(p, r, Some((grants, GrantClock::Claimed)));
            if old.problems.is_empty() {
                return (old, Some(p.version));
            }
        }
    }
    (check, None)
}

/// How far the record checks of the running verification are, for a progress bar: records
/// checked and records to check. Only counts; a display reads it from another thread.
pub mod progress {
    use std::sync::atomic::{AtomicUsize, Ordering};

    static DONE: AtomicUsize = AtomicUsize::new(0);
    static TOTAL: AtomicUsize = AtomicUsize::new(0);

    pub(super) fn start(total: usize) {
        DONE.store(0, Ordering::Relaxed);
        TOTAL.store(total, Ordering::Relaxed);
    }

    pub(super) fn step() {
        DONE.fetch_add(1, Ordering::Relaxed);
    }

    /// (records checked, records to check); (0, 0) before any check started.
    pub fn get() -> (usize, usize) {
        (DONE.load(Ordering::Relaxed), TOTAL.load(Ordering::Relaxed))
    }
}

/// Checks every record, in parallel, in order. History: grant signoffs are judged at the time
/// they claim.
fn check_all(
    policy: &Policy,
    earlier: &[Policy],
    records: &[&crate::model::Record],
    grants: &GrantIndex,
) -> Vec<(RecordCheck, Option<u64>)> {
    progress::start(records.len());
    crate::par::map(records, 64, |r| {
        let checked = check_with_history(policy, earlier, r, grants);
        progress::step();
        checked
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
    let (mut report, by_id) = verify_files(policy, earlier, files);
    report.tags = tags.len();
    check_tags(policy, earlier, &by_id, tags, &mut report);
    report
}

/// Every record of `files` checked, and the index of the records by id that tags are judged by.
fn verify_files<'f>(
    policy: &Policy,
    earlier: &[Policy],
    files: &'f [Result<LedgerFile, crate::store::Error>],
) -> (Report, RecordIndex<'f>) {
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
            for p in &check.problems {
                report.push(
                    Finding::error(p.code(), format!("{id}: {p}"))
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
    (report, by_id)
}

/// Verifies a working tree's ledger files and the repository's `ops-*` tags (DESIGN §3.2: a
/// tag is judged where it belongs). Tags are repository-wide while ledgers are per branch: a tag
/// whose record this branch lacks, or holds in a version the tag does not agree with (an approval
/// not merged here yet), is judged against the ledger of the commit it points at or of a branch
/// (local or remote-tracking). It fails when no ledger anywhere agrees with it, or when this
/// branch's last commit agrees with it and the work tree no longer does (a deleted record, a
/// removed signoff).
pub fn verify_worktree(
    repo: &Repo,
    policy: &Policy,
    earlier: &[Policy],
    files: &[Result<LedgerFile, crate::store::Error>],
    tags: &[TagInfo],
) -> Result<Report, crate::store::Error> {
    let (mut report, index) = verify_files(policy, earlier, files);
    report.tags = tags.len();
    let head = repo.head_commit()?;
    let mut tips: Vec<ObjectId> = repo.ref_commits_under("refs/heads/")?;
    tips.extend(repo.ref_commits_under("refs/remotes/")?);
    let mut tagged = BTreeSet::new();
    for tag in tags {
        let id = RecordId::from_tag_name(&tag.ref_name).ok();
        let mut here = Report::default();
        match id.and_then(|id| index.get(&id).map(|v| (id, v))) {
            Some((id, v)) => {
                tagged.insert(id);
                let one: RecordIndex<'_> = [(id, v.clone())].into_iter().collect();
                check_tags(policy, earlier, &one, std::slice::from_ref(tag), &mut here);
            }
            None => check_tags(
                policy,
                earlier,
                &BTreeMap::new(),
                std::slice::from_ref(tag),
                &mut here,
            ),
        }
        let Some(id) = id else {
            report.findings.extend(here.findings);
            continue;
        };
        tagged.insert(id);
        if here.errors() == 0 {
            report.findings.extend(here.findings);
            continue;
        }
        // This branch's last commit agrees with the tag: the work tree lost what the tag holds.
        if let Some(h) = head
            && agrees_at(repo, tag, &id, h)?.is_some_and(|r| r.errors() == 0)
        {
            report.findings.extend(here.findings);
            continue;
        }
        let mut candidates: Vec<ObjectId> = tag.target.into_iter().collect();
        candidates.extend(tips.iter().copied().filter(|t| Some(*t) != head));
        let mut agreed = None;
        let mut any = false;
        for c in candidates {
            if let Some(judged) = agrees_at(repo, tag, &id, c)? {
                any = true;
                if judged.errors() == 0 {
                    agreed = Some(judged);
                    break;
                }
            }
        }
        match agreed {
            Some(judged) => report.findings.extend(judged.findings),
            None if any || index.contains_key(&id) => report.findings.extend(here.findings),
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
    // Approved operations without a tag, when the policy requires tags.
    let untagged: RecordIndex<'_> = index
        .into_iter()
        .filter(|(id, _)| !tagged.contains(id))
        .collect();
    check_tags(policy, earlier, &untagged, &[], &mut report);
    Ok(report)
}

/// The tag judged against the ledger at `commit`, or None when that ledger lacks its record.
fn agrees_at(
    repo: &Repo,
    tag: &TagInfo,
    id: &RecordId,
    commit: ObjectId,
) -> Result<Option<Report>, crate::store::Error> {
    if !repo.has_object(commit) || !ledger_at_has(repo, commit, id)? {
        return Ok(None);
    }
    let mut judged = Report::default();
    check_pushed_tag(repo, &tag.ref_name, tag.object, &[commit], &mut judged)?;
    Ok(Some(judged))
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
