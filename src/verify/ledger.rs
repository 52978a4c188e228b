//! Verification of a whole ledger (DESIGN §2.2-2.3): schema, signoffs, thresholds, duplicate
//! ids, and agreement between tags and file records.

use std::collections::BTreeMap;

use super::grants::{GrantClock, GrantIndex, limits};
use super::records::{RecordCheck, RecordSummary, State, check_record_with};
use super::tags::check_tags;
use super::{Finding, Report, Severity};
use crate::model::RecordId;
use crate::model::policy::Policy;
use crate::store::ledger::LedgerFile;
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
    report.tags = tags.len();
    check_tags(policy, earlier, &by_id, tags, &mut report);
    report
}
