//! The ledger's own rule (DESIGN §2.4): records and signoffs may be added, each checked on its
//! own, while nothing may be edited, removed or reordered.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use super::coverage::{ChangeContext, MAX_CLOCK_SKEW_SECS, check_on_side};
use super::decision::{closer_of, may_close};
use super::parsed;
use super::records::{State, check_record};
use super::{Finding, Report};
use crate::model::policy::Policy;
use crate::model::record::Record;
use crate::model::{Kind, RecordId, Timestamp, yaml};
use crate::store::diff::Change;
use crate::store::ledger::{LedgerFile, month_of, month_path};
use crate::store::snapshot::Side;
use crate::store::{self};

/// Ledger files read from one side, by path: None when there is no such file, an error text when
/// it does not parse. Each file is read and parsed once per judgement.
/// A parsed file is shared (`super::parsed`): the same version is parsed once per process.
pub(crate) type Files = HashMap<String, Option<Result<Arc<LedgerFile>, String>>>;

/// The ledger file at `path` on `side`, through `cache`.
pub(crate) fn load_file(
    side: &dyn Side,
    cache: &mut Files,
    path: &str,
) -> Result<Option<Result<Arc<LedgerFile>, String>>, store::Error> {
    if let Some(v) = cache.get(path) {
        return Ok(v.clone());
    }
    let v = side
        .read_string(path)?
        .map(|text| parsed::ledger_file(path, text).map_err(|e| e.to_string()));
    cache.insert(path.to_string(), v.clone());
    Ok(v)
}

/// Why the date in `r`'s id cannot be right, if it cannot: it must be `created_at`'s UTC date
/// (within the clock skew either way) when the record has one, and never after the verifier's
/// clock `now` (with the skew). An id dated years ahead or behind would file the record where
/// readers looking by month do not look.
pub fn id_date_problem(r: &Record, now: Timestamp) -> Option<String> {
    let day = r.id().date();
    let skew = MAX_CLOCK_SKEW_SECS;
    if let Some(c) = r.created_at()
        && !id_date_agrees(r.id(), c)
    {
        return Some(format!(
            "its id is dated {day}, but it was created at {c}; an id carries the UTC date it was made"
        ));
    }
    let latest = Timestamp::from_unix(now.unix() + skew).map(|t| t.date());
    if latest.is_some_and(|l| day > l) {
        return Some(format!("its id is dated {day}, in the future"));
    }
    None
}

/// Whether `id`'s date is the UTC date of `created_at`, within the clock skew either way.
pub fn id_date_agrees(id: &RecordId, created_at: Timestamp) -> bool {
    let (c, skew) = (created_at.unix(), MAX_CLOCK_SKEW_SECS);
    [c - skew, c, c + skew]
        .iter()
        .any(|t| Timestamp::from_unix(*t).is_some_and(|t| t.date() == id.date()))
}

/// The record `id` in its month file on `side`, if it is there and the file parses.
pub(crate) fn find_record(
    side: &dyn Side,
    cache: &mut Files,
    id: &RecordId,
) -> Result<Option<Record>, store::Error> {
    let path = month_path(&id.month());
    Ok(match load_file(side, cache, &path)? {
        Some(Ok(f)) => f
            .records
            .iter()
            .find(|(_, r)| r.id() == id)
            .map(|(_, r)| r.clone()),
        _ => None,
    })
}

/// What must hold between any earlier and later state of a ledger file: every earlier record is
/// still there, in the same relative order (new records may be interleaved, as a merge does),
/// with the same payload and every earlier signoff exactly as it
/// was (signoffs are only added). Returns the records that kept all that, as (span in the new
/// file, old record, new record); everything else is reported.
pub fn preserved<'a>(
    path: &str,
    old: &'a LedgerFile,
    new: &'a LedgerFile,
    report: &mut Report,
) -> Vec<(&'a yaml::DocSpan, &'a Record, &'a Record)> {
    let mut kept = Vec::new();
    for (_, r_old) in &old.records {
        let id = r_old.id();
        let Some((span, r_new)) = new.records.iter().find(|(_, r)| r.id() == id) else {
            report.push(
                Finding::error(
                    "record-removed",
                    format!("{id} was removed from {path}; records are never removed"),
                )
                .at(path, None)
                .record(*id),
            );
            continue;
        };
        if r_new.payload_sha256() != r_old.payload_sha256() {
            let a = yaml::render_value(&r_old.payload_json());
            let b = yaml::render_value(&r_new.payload_json());
            let diff = similar::TextDiff::from_lines(&a, &b)
                .unified_diff()
                .context_radius(2)
                .header(&format!("{id} before"), &format!("{id} after"))
                .to_string();
            report.push(
                Finding::error(
                    "payload-edited",
                    format!("{id}: its payload was edited; records are immutable (add a new record that refers to it)"),
                )
                .at(path, Some(span.first_line))
                .record(*id)
                .diff(diff),
            );
            continue;
        }
        // Every earlier signoff must still be there exactly as it was: not removed, and not
        // edited (a changed `at` or role keeps the count but not the signature's meaning).
        if let Some(lost) = r_old
            .signoffs()
            .iter()
            .find(|s| !r_new.signoffs().contains(s))
        {
            let what = if r_new.signoffs().iter().any(|n| n.sig == lost.sig) {
                "edited"
            } else {
                "removed"
            };
            report.push(
                Finding::error(
                    "signoff-removed",
                    format!("{id}: the signoff by {} ({}) was {what}; signoffs are never changed, only added", lost.by, lost.role),
                )
                .at(path, Some(span.first_line))
                .record(*id),
            );
            continue;
        }
        kept.push((span, r_old, r_new));
    }
    // The ledger is a set with a stable order: earlier records keep their relative order, and
    // new ones may come anywhere among them (a merge interleaves the records both sides added).
    let new_pos: BTreeMap<&RecordId, usize> = new
        .records
        .iter()
        .enumerate()
        .map(|(i, (_, r))| (r.id(), i))
        .collect();
    let positions: Vec<usize> = old
        .records
        .iter()
        .filter_map(|(_, r)| new_pos.get(r.id()).copied())
        .collect();
    if positions.windows(2).any(|w| w[0] > w[1]) {
        report.push(
            Finding::error(
                "ledger-reordered",
                format!("{path}: earlier records were reordered; records keep their order"),
            )
            .at(path, None),
        );
    }
    kept
}

/// Checks one changed file under the ledger directory; operations it adds, or brings to their
/// threshold, are added to `linked`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_ledger_change(
    ctx: &ChangeContext<'_>,
    policy: &Policy,
    c: &Change,
    old_files: &mut Files,
    new_files: &mut Files,
    linked: &mut BTreeSet<RecordId>,
    report: &mut Report,
) -> Result<(), store::Error> {
    let path = c.path.as_str();
    if month_of(path).is_none() || path.matches('/').count() != 2 {
        report.push(
            Finding::error(
                "ledger-file",
                format!("{path}: only ops/ledger/YYYY-MM.yaml files may be in the ledger"),
            )
            .at(path, None),
        );
        return Ok(());
    }
    let old = load_file(ctx.old, old_files, path)?;
    let new = load_file(ctx.new, new_files, path)?;
    let old = match old {
        Some(Ok(f)) => Some(f),
        // The old side was already broken; judge the new side on its own.
        Some(Err(_)) | None => None,
    };
    let new = match new {
        Some(Ok(f)) => f,
        Some(Err(e)) => {
            report.push(Finding::error("schema", e).at(path, None));
            return Ok(());
        }
        None => {
            if old.as_ref().is_some_and(|f| !f.records.is_empty()) {
                report.push(
                    Finding::error(
                        "record-removed",
                        format!("{path} is deleted; ledger records are never removed"),
                    )
                    .at(path, None),
                );
            }
            return Ok(());
        }
    };
    let mut ids = BTreeSet::new();
    for (span, r) in &new.records {
        if !ids.insert(*r.id()) {
            report.push(
                Finding::error(
                    "duplicate-id",
                    format!("{} appears twice in {path}", r.id()),
                )
                .at(path, Some(span.first_line)),
            );
        }
    }
    let old_by_id: BTreeMap<RecordId, &Record> = old
        .as_ref()
        .map(|f| f.records.iter().map(|(_, r)| (*r.id(), r)).collect())
        .unwrap_or_default();
    let kept = match &old {
        Some(old) => preserved(path, old, &new, report),
        None => Vec::new(),
    };
    for (span, r_old, r_new) in kept {
        let id = r_old.id();
        if r_new != r_old {
            for s in r_new
                .signoffs()
                .iter()
                .filter(|s| !r_old.signoffs().contains(s))
            {
                if s.at.unix() > ctx.now.unix() + MAX_CLOCK_SKEW_SECS {
                    report.push(
                        Finding::error(
                            "future-signoff",
                            format!("{id}: signoff by {} is dated {}, in the future", s.by, s.at),
                        )
                        .at(path, Some(span.first_line))
                        .record(*id),
                    );
                }
            }
            let check = check_on_side(ctx.new, policy, r_new, ctx.now, new_files)?;
            for p in &check.problems {
                report.push(
                    Finding::error(p.code(), format!("{id}: {p}"))
                        .at(path, Some(span.first_line))
                        .record(*id),
                );
            }
            let was = check_record(policy, r_old).state();
            if check.state() == State::Approved
                && was != State::Approved
                && r_new.kind() == Kind::Operation
            {
                linked.insert(*id);
            }
        }
    }
    for (span, r) in &new.records {
        if old_by_id.contains_key(r.id()) {
            continue;
        }
        let check = check_on_side(ctx.new, policy, r, ctx.now, new_files)?;
        for p in &check.problems {
            report.push(
                Finding::error(p.code(), format!("{}: {p}", r.id()))
                    .at(path, Some(span.first_line))
                    .record(*r.id()),
            );
        }
        if r.kind() == Kind::Operation && check.state() == State::Approved {
            linked.insert(*r.id());
        }
        if let Record::Outcome(o) = r
            && let Some(op) = find_record(ctx.new, new_files, &o.operation_id)?
            && !may_close(policy, &op, r)
        {
            let who = closer_of(r).map(|n| n.to_string()).unwrap_or_default();
            report.push(
                Finding::error(
                    "not-allowed",
                    format!(
                        "{}: {who} may not close {}: only its requester, its approvers or a human signer may close an operation (it closes nothing)",
                        r.id(),
                        o.operation_id
                    ),
                )
                .at(path, Some(span.first_line))
                .record(*r.id()),
            );
        }
        if let Some(why) = id_date_problem(r, ctx.now) {
            report.push(
                Finding::error("id-date", format!("{}: {why}", r.id()))
                    .at(path, Some(span.first_line))
                    .record(*r.id()),
            );
        }
        // A new record's claimed times are judged against the verifier's clock, and no signoff
        // may claim to predate the record it signs.
        let created = r.created_at();
        for s in r.signoffs() {
            if let Some(c) = created
                && s.at.unix() < c.unix() - MAX_CLOCK_SKEW_SECS
            {
                report.push(
                    Finding::error(
                        "backdated-signoff",
                        format!(
                            "{}: signoff by {} is dated {}, before the record was made ({c})",
                            r.id(),
                            s.by,
                            s.at
                        ),
                    )
                    .at(path, Some(span.first_line))
                    .record(*r.id()),
                );
            }
            if s.at.unix() > ctx.now.unix() + MAX_CLOCK_SKEW_SECS {
                report.push(
                    Finding::error(
                        "future-signoff",
                        format!(
                            "{}: signoff by {} is dated {}, in the future",
                            r.id(),
                            s.by,
                            s.at
                        ),
                    )
                    .at(path, Some(span.first_line))
                    .record(*r.id()),
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Role;
    use crate::verify::coverage::fixtures::{MONTH_FILE, OpSpec, Team, ledger};

    fn file(records: &[&Record]) -> LedgerFile {
        LedgerFile::parse(MONTH_FILE, ledger(records)).expect("the test ledger parses")
    }

    /// The error codes and messages `preserved` reports from `old` to `new`, and how many
    /// records it kept.
    fn judge(old: &[&Record], new: &[&Record]) -> (Vec<(&'static str, String)>, usize) {
        let (old, new) = (file(old), file(new));
        let mut report = Report::default();
        let kept = preserved(MONTH_FILE, &old, &new, &mut report).len();
        let found = report
            .findings
            .into_iter()
            .map(|f| (f.code, f.message))
            .collect();
        (found, kept)
    }

    #[test]
    fn an_id_carries_the_date_it_was_made() {
        let now: Timestamp = "2026-01-27T10:00:00Z".parse().expect("a time");
        let op = |id: &str, created: Option<&str>| {
            let mut text = format!(
                "operation_id: {id}\noperation_name: n\nobjective: o\nrisk_class: READ_ONLY\nblast_radius: b\n\
                 rollback_strategy: r\nallowed_paths: [\"deploy/\"]\nallowed_services: [web]\n"
            );
            if let Some(c) = created {
                text.push_str(&format!("created_at: {c}\n"));
            }
            yaml::parse_record(&text, 1).expect("the test operation parses")
        };
        // (case, id, created_at, problem containing)
        let rows = [
            (
                "the same day",
                "OPS-2026-01-27-001",
                Some("2026-01-27T09:00:00Z"),
                None,
            ),
            (
                "a clock a little behind at midnight",
                "OPS-2026-01-26-001",
                Some("2026-01-27T00:02:00Z"),
                None,
            ),
            (
                "dated 2099",
                "OPS-2099-01-27-001",
                Some("2026-01-27T09:00:00Z"),
                Some("its id is dated 2099-01-27, but it was created at 2026-01-27T09:00:00Z"),
            ),
            (
                "dated 2014",
                "OPS-2014-01-27-001",
                Some("2026-01-27T09:00:00Z"),
                Some("its id is dated 2014-01-27"),
            ),
            (
                "dated 2099 with no created_at",
                "OPS-2099-01-27-001",
                None,
                Some("its id is dated 2099-01-27, in the future"),
            ),
            (
                "dated earlier with no created_at",
                "OPS-2025-12-01-001",
                None,
                None,
            ),
        ];
        for (name, id, created, want) in rows {
            let got = id_date_problem(&op(id, created), now);
            match want {
                None => assert_eq!(got, None, "{name}"),
                Some(text) => assert!(
                    got.as_deref().is_some_and(|g| g.contains(text)),
                    "{name}: {got:?}"
                ),
            }
        }
    }

    #[test]
    fn what_a_ledger_file_keeps() {
        let team = Team::new();
        let one = OpSpec::new("OPS-2026-01-27-001", "SERVICE_RESTART", "\"deploy/\"");
        let two = OpSpec::new("OPS-2026-01-27-002", "SERVICE_RESTART", "\"ops/\"");
        let three = OpSpec::new("OPS-2026-01-27-003", "SERVICE_RESTART", "\"ops/\"");
        let a = team.approved(&one, "alice", &["bob"]);
        let b = team.approved(&two, "alice", &[]);
        let c = team.approved(&three, "alice", &[]);
        let mut a_edited = a.clone();
        if let Record::Operation(op) = &mut a_edited {
            op.objective = "another objective".into();
        }
        let mut a_unsigned = a.clone();
        a_unsigned.signoffs_mut().pop();
        let mut a_redated = a.clone();
        a_redated.signoffs_mut()[1].at = "2026-01-27T09:30:00Z".parse().expect("a time");
        let mut b_approved = b.clone();
        team.sign(
            &mut b_approved,
            "bob",
            Role::Approver,
            "2026-01-27T09:10:00Z",
            None,
        );

        // (case, the new file's records, the one finding expected (code, text), records kept)
        type Row<'a> = (&'a str, Vec<&'a Record>, Option<(&'a str, &'a str)>, usize);
        let rows: Vec<Row> = vec![
            ("unchanged", vec![&a, &b], None, 2),
            (
                "a record appended, a signoff added",
                vec![&a, &b_approved, &c],
                None,
                2,
            ),
            (
                "a record removed",
                vec![&b],
                Some((
                    "record-removed",
                    "OPS-2026-01-27-001 was removed from ops/ledger/2026-01.yaml; records are never removed",
                )),
                1,
            ),
            (
                "a payload edited",
                vec![&a_edited, &b],
                Some((
                    "payload-edited",
                    "OPS-2026-01-27-001: its payload was edited",
                )),
                1,
            ),
            (
                "a signoff removed",
                vec![&a_unsigned, &b],
                Some((
                    "signoff-removed",
                    "OPS-2026-01-27-001: the signoff by bob (approver) was removed",
                )),
                1,
            ),
            (
                "a signoff edited",
                vec![&a_redated, &b],
                Some((
                    "signoff-removed",
                    "OPS-2026-01-27-001: the signoff by bob (approver) was edited",
                )),
                1,
            ),
            (
                "records reordered",
                vec![&b, &a],
                Some(("ledger-reordered", "earlier records were reordered")),
                2,
            ),
            (
                "a record inserted between earlier ones, as a merge does",
                vec![&a, &c, &b_approved],
                None,
                2,
            ),
            ("a record inserted first", vec![&c, &a, &b], None, 2),
            (
                "records reordered around a new one",
                vec![&b, &c, &a],
                Some(("ledger-reordered", "earlier records were reordered")),
                2,
            ),
            (
                "one record removed, the others reordered",
                vec![&b, &c],
                Some((
                    "record-removed",
                    "OPS-2026-01-27-001 was removed from ops/ledger/2026-01.yaml",
                )),
                1,
            ),
        ];
        for (name, new, want, kept) in rows {
            let (found, got_kept) = judge(&[&a, &b], &new);
            match want {
                None => assert!(found.is_empty(), "{name}: {found:?}"),
                Some((code, text)) => {
                    assert_eq!(found.len(), 1, "{name}: {found:?}");
                    assert_eq!(found[0].0, code, "{name}: {found:?}");
                    assert!(found[0].1.contains(text), "{name}: {found:?}");
                }
            }
            assert_eq!(got_kept, kept, "{name}");
        }
    }
}
