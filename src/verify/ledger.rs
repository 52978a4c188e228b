//! Verification of a whole ledger (DESIGN §2.2-2.3): schema, signoffs, thresholds, duplicate
//! ids, and agreement between tags and file records.

use std::collections::BTreeMap;

use super::grants::{GrantClock, GrantIndex, limits};
use super::records::{RecordSummary, State, check_record_with};
use super::tags::check_tags;
use super::{Finding, Report, Severity};
use crate::model::RecordId;
use crate::model::policy::Policy;
use crate::store::ledger::LedgerFile;
use crate::store::tags::TagInfo;

/// Verifies parsed ledger files (or the errors met reading them) and the `ops-*` tags.
pub fn verify_ledger(
    policy: &Policy,
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
            // History: grant signoffs are judged at the time they claim.
            let check = check_record_with(policy, record, Some((&grants, GrantClock::Claimed)));
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
    check_tags(policy, &by_id, tags, &mut report);
    report
}
