//! Which linked operation could cover a change, and if one cannot, why (DESIGN §3, conditions 1
//! and 4). [`usable_now`] is the one place that decides whether an operation is approved and live
//! at the verifier's clock; the candidate search of a change only gathers what it needs.

use std::fmt;

use super::coverage::{
    ChangeContext, MAX_CLOCK_SKEW_SECS, allowed_glob, check_on_side, grant_index_on_side,
};
use super::decision::may_close;
use super::ledger_change::{Files, load_file};
use super::records::{RecordCheck, State};
use crate::model::glob::Glob;
use crate::model::policy::{LEDGER_DIR, Policy};
use crate::model::record::Record;
use crate::model::{IdKind, RecordId, RiskClass, Timestamp};
use crate::store;
use crate::store::ledger::{month_of, month_path};

/// An approved, live operation that could cover paths.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: RecordId,
    pub risk: RiskClass,
    /// Its `allowed_paths`, anchored at the repository root (see [`allowed_glob`]).
    pub allowed: Vec<Glob>,
    /// Its `allowed_paths` as written, for messages.
    pub allowed_text: Vec<String>,
    /// Distinct approvals, direct or through grants.
    pub approvals: u32,
    /// Approvals signed by humans themselves, not through a grant.
    pub direct_approvals: u32,
    pub requester_human: bool,
    /// Direct approvals by someone other than the requester.
    pub other_direct_approvals: u32,
    /// Approvals its risk class and declared paths require.
    pub required: u32,
}

/// Why an operation cannot cover a change. Its `Display` is the text people see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unusable {
    /// The id is not an operation id.
    NotAnOperationId,
    /// The record under the id is not an operation.
    NotAnOperation,
    /// The record under the id was imported from an earlier ledger: kept, never an approval.
    Imported,
    /// The record is not in the change's ledger: `file_missing` when its month file is absent.
    NotInLedger {
        path: String,
        file_missing: bool,
    },
    FileDoesNotParse(String),
    Pending {
        id: RecordId,
        approvals: u32,
        required: u32,
        /// Set, to the approvals humans signed themselves, when only a human-only rule's count
        /// is missing (grants do not count there).
        human_only_direct: Option<u32>,
        notes: Vec<String>,
    },
    Invalid(Vec<String>),
    /// Neither expires_at nor created_at.
    NoWindow,
    Expired(Timestamp),
    CreatedInFuture(Timestamp),
    /// Closed by this outcome record.
    Closed(RecordId),
    /// Requested by automation while this halt is in force: a halt freezes every operation
    /// automation requested, whoever approved it.
    Halted(RecordId),
}

impl fmt::Display for Unusable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unusable::NotAnOperationId => f.write_str("not an operation id"),
            Unusable::NotAnOperation => f.write_str("not an operation"),
            Unusable::Imported => f.write_str(
                "imported from an earlier ledger: its approvals were never signed, so it covers nothing; declare a new operation",
            ),
            Unusable::NotInLedger {
                path,
                file_missing: true,
            } => write!(
                f,
                "no such record in this change's ledger ({path} is not in it; is it staged? `git add {path}`)"
            ),
            Unusable::NotInLedger {
                path,
                file_missing: false,
            } => write!(
                f,
                "no such record in this change's ledger (if it is in your working tree, stage it: `git add {path}`)"
            ),
            Unusable::FileDoesNotParse(e) => write!(f, "its ledger file does not parse: {e}"),
            Unusable::Pending {
                id,
                approvals,
                required,
                human_only_direct,
                notes,
            } => {
                match human_only_direct {
                    Some(direct) => write!(
                        f,
                        "pending: it touches a human-only rule, which needs {required} approvals signed by humans themselves, and grants do not count there ({direct} so far)"
                    )?,
                    None => write!(
                        f,
                        "pending: {approvals} of {required} approvals (run `git ops sign {id}`)"
                    )?,
                }
                for n in notes {
                    write!(f, "; {n}")?;
                }
                Ok(())
            }
            Unusable::Invalid(why) => write!(f, "invalid: {}", why.join("; ")),
            Unusable::NoWindow => f.write_str(
                "it has neither expires_at nor created_at, so its window cannot be judged",
            ),
            Unusable::Expired(e) => write!(f, "expired at {e}"),
            Unusable::CreatedInFuture(c) => write!(f, "created_at {c} is in the future"),
            Unusable::Closed(out) => write!(f, "closed by outcome {out}"),
            Unusable::Halted(h) => write!(
                f,
                "automation is halted ({h}), and it was requested by automation; it covers nothing until a human resumes"
            ),
        }
    }
}

/// Could the operation `op_record`, checked as `check_now` (at the verifier's clock) and closed by
/// `closed_by` if any, cover a change at `now`, with `halted` the halt in force at the verifier's
/// clock if any? It must be approved, inside its window (expires_at, or created_at plus the
/// policy's window), not created in the future, not closed, and, when automation requested it,
/// not halted.
pub fn usable_now(
    policy: &Policy,
    op_record: &Record,
    check_now: &RecordCheck,
    closed_by: Option<RecordId>,
    halted: Option<RecordId>,
    now: Timestamp,
) -> Result<Candidate, Unusable> {
    let op = match op_record {
        Record::Operation(op) => op,
        Record::Import(_) => return Err(Unusable::Imported),
        _ => return Err(Unusable::NotAnOperation),
    };
    let check = check_now;
    match check.state() {
        State::Approved => {}
        State::Pending => {
            let human_only_only = check.human_only && check.approvals() >= check.required;
            return Err(Unusable::Pending {
                id: op.operation_id,
                approvals: check.approvals(),
                required: check.required,
                human_only_direct: human_only_only.then(|| check.direct_approvals()),
                notes: check.notes.clone(),
            });
        }
        State::Invalid => {
            return Err(Unusable::Invalid(
                check.problems.iter().map(|p| p.to_string()).collect(),
            ));
        }
    }
    let expires = op.expires_at.or_else(|| {
        op.created_at
            .map(|c| c.plus_hours(policy.operations.default_window_hours.into()))
    });
    match expires {
        None => return Err(Unusable::NoWindow),
        Some(e) if now >= e => return Err(Unusable::Expired(e)),
        Some(_) => {}
    }
    if let Some(c) = op.created_at
        && c.unix() > now.unix() + MAX_CLOCK_SKEW_SECS
    {
        return Err(Unusable::CreatedInFuture(c));
    }
    if let Some(h) = halted
        && !check.requester_human
    {
        return Err(Unusable::Halted(h));
    }
    if let Some(out) = closed_by {
        return Err(Unusable::Closed(out));
    }
    Ok(Candidate {
        id: op.operation_id,
        risk: op.risk_class,
        allowed: op
            .allowed_paths
            .iter()
            .filter_map(|p| allowed_glob(p))
            .collect(),
        allowed_text: op.allowed_paths.clone(),
        approvals: check.approvals(),
        direct_approvals: check.direct_approvals(),
        requester_human: check.requester_human,
        other_direct_approvals: check
            .approvers
            .iter()
            .filter(|a| Some(*a) != check.requester.as_ref())
            .count() as u32,
        required: check.required,
    })
}

/// The operation `id` as a candidate to cover the change: found in the new side's ledger, checked
/// at the verifier's clock, and judged by [`usable_now`].
pub(crate) fn find(
    ctx: &ChangeContext<'_>,
    policy: &Policy,
    id: &RecordId,
    files: &mut Files,
) -> Result<Result<Candidate, Unusable>, store::Error> {
    if id.kind() != IdKind::Operation {
        return Ok(Err(Unusable::NotAnOperationId));
    }
    let path = month_path(&id.month());
    let file = match load_file(ctx.new, files, &path)? {
        None => {
            return Ok(Err(Unusable::NotInLedger {
                path,
                file_missing: true,
            }));
        }
        Some(Err(e)) => return Ok(Err(Unusable::FileDoesNotParse(e))),
        Some(Ok(f)) => f,
    };
    let Some((_, record)) = file.records.iter().find(|(_, r)| r.id() == id) else {
        return Ok(Err(Unusable::NotInLedger {
            path,
            file_missing: false,
        }));
    };
    match record {
        Record::Operation(_) => {}
        Record::Import(_) => return Ok(Err(Unusable::Imported)),
        _ => return Ok(Err(Unusable::NotAnOperation)),
    }
    let check = check_on_side(ctx.new, policy, record, ctx.now, files)?;
    // The halt in force matters only to an operation automation requested.
    let halted = if check.requester_human {
        None
    } else {
        grant_index_on_side(ctx.new, policy, files)?
            .halted_now()
            .map(|(h, _)| h)
    };
    // Outcome records are looked for only when nothing else refuses the operation, as they
    // always were; whether one closes it is still usable_now's to decide.
    let live = usable_now(policy, record, &check, None, halted, ctx.now);
    if live.is_ok()
        && let Some(out) = closing_outcome(ctx, policy, record, files)?
    {
        return Ok(usable_now(
            policy,
            record,
            &check,
            Some(out),
            halted,
            ctx.now,
        ));
    }
    Ok(live)
}

/// An outcome record that closes `op`, in any month file of the ledger (an operation's id may
/// claim any date, so closing must not look only from the id's month onward). Only an outcome
/// signed by someone who may close it ([`may_close`]) closes anything.
fn closing_outcome(
    ctx: &ChangeContext<'_>,
    policy: &Policy,
    op: &Record,
    files: &mut Files,
) -> Result<Option<RecordId>, store::Error> {
    let id = op.id();
    let mut names = ctx.new.list_dir(LEDGER_DIR)?;
    names.sort();
    for name in names {
        let path = format!("{LEDGER_DIR}/{name}");
        if month_of(&path).is_none() {
            continue;
        }
        if let Some(Ok(f)) = load_file(ctx.new, files, &path)? {
            for (_, r) in &f.records {
                if let Record::Outcome(o) = r
                    && &o.operation_id == id
                    && may_close(policy, op, r)
                {
                    return Ok(Some(o.outcome_id));
                }
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Role;
    use crate::verify::coverage::fixtures::{OpSpec, Team, id, ts};
    use crate::verify::grants::{GrantClock, GrantIndex};
    use crate::verify::records::{check_record, check_record_with};

    const NOW: &str = "2026-01-27T10:00:00Z";

    /// What `usable_now` says of `record` at NOW, checked without grants unless `grants` holds
    /// some.
    fn judge(
        team: &Team,
        record: &Record,
        grants: &[&Record],
        closed_by: Option<&str>,
    ) -> Result<Candidate, Unusable> {
        let policy = team.policy();
        let check = if grants.is_empty() {
            check_record(&policy, record)
        } else {
            let idx = GrantIndex::build(&policy, grants.iter().copied());
            check_record_with(&policy, record, Some((&idx, GrantClock::Now(ts(NOW)))))
        };
        usable_now(&policy, record, &check, closed_by.map(id), None, ts(NOW))
    }

    #[test]
    fn liveness_of_one_operation() {
        let team = Team::new();
        let spec = OpSpec::new("OPS-2026-01-27-001", "SERVICE_RESTART", "\"deploy/\"");
        let fine = team.approved(&spec, "alice", &["bob"]);
        let pending = team.approved(&spec, "alice", &[]);
        let mut tampered = fine.clone();
        if let Record::Operation(op) = &mut tampered {
            op.objective = "something else".into();
        }
        let expired = team.approved(
            &OpSpec {
                expires: Some("2026-01-27T09:59:59Z"),
                ..spec
            },
            "alice",
            &["bob"],
        );
        // The default window is 24 hours from created_at.
        let old = team.approved(
            &OpSpec {
                created: "2026-01-26T10:00:00Z",
                ..spec
            },
            "alice",
            &["bob"],
        );
        let future = team.approved(
            &OpSpec {
                created: "2026-01-27T10:05:01Z",
                ..spec
            },
            "alice",
            &["bob"],
        );
        let skewed = team.approved(
            &OpSpec {
                created: "2026-01-27T10:05:00Z",
                ..spec
            },
            "alice",
            &["bob"],
        );
        let lock = OpSpec::new(
            "OPS-2026-01-27-001",
            "FILESYSTEM_WRITE",
            "\"ops/PRODUCTION_LOCK.md\"",
        );
        let grant = team.grant("\"ops/\"");
        // carol requests (a human who is not an approver), bob approves, and bot approves under the
        // grant that alice and bob issued: two approvals, one of them signed by a human directly.
        let mut lock_by_grant = team.approved(&lock, "carol", &["bob"]);
        team.sign(
            &mut lock_by_grant,
            "bot",
            Role::Approver,
            lock.created,
            Some("GRANT-2026-01-27-001"),
        );
        let grant_record = team.grant("\"deploy/\"");

        type Want = Result<(), Unusable>;
        let rows: Vec<(&str, Result<Candidate, Unusable>, Want)> = vec![
            ("approved and live", judge(&team, &fine, &[], None), Ok(())),
            (
                "created within the clock skew",
                judge(&team, &skewed, &[], None),
                Ok(()),
            ),
            (
                "pending",
                judge(&team, &pending, &[], None),
                Err(Unusable::Pending {
                    id: id("OPS-2026-01-27-001"),
                    approvals: 0,
                    required: 1,
                    human_only_direct: None,
                    notes: Vec::new(),
                }),
            ),
            (
                "invalid: its payload changed after signing",
                judge(&team, &tampered, &[], None),
                Err(Unusable::Invalid(vec![
                    "signoff by alice (requester): signature does not verify".into(),
                    "signoff by bob (approver): signature does not verify".into(),
                ])),
            ),
            (
                "expired at its expires_at",
                judge(&team, &expired, &[], None),
                Err(Unusable::Expired(ts("2026-01-27T09:59:59Z"))),
            ),
            (
                "expired at the end of the default window",
                judge(&team, &old, &[], None),
                Err(Unusable::Expired(ts(NOW))),
            ),
            (
                "created in the future",
                judge(&team, &future, &[], None),
                Err(Unusable::CreatedInFuture(ts("2026-01-27T10:05:01Z"))),
            ),
            (
                "closed",
                judge(&team, &fine, &[], Some("OUT-2026-01-27-001")),
                Err(Unusable::Closed(id("OUT-2026-01-27-001"))),
            ),
            (
                "human-only, one approval through a grant",
                judge(&team, &lock_by_grant, &[&grant], None),
                Err(Unusable::Pending {
                    id: id("OPS-2026-01-27-001"),
                    approvals: 2,
                    required: 2,
                    human_only_direct: Some(1),
                    notes: Vec::new(),
                }),
            ),
            (
                "not an operation",
                judge(&team, &grant_record, &[], None),
                Err(Unusable::NotAnOperation),
            ),
        ];
        for (name, got, want) in rows {
            match (got, want) {
                (Ok(c), Ok(())) => {
                    assert_eq!(c.id, id("OPS-2026-01-27-001"), "{name}");
                    assert_eq!(c.approvals, 1, "{name}");
                    assert_eq!(c.other_direct_approvals, 1, "{name}");
                    assert!(c.requester_human, "{name}");
                }
                (got, want) => assert_eq!(got.map(|_| ()), want, "{name}"),
            }
        }
    }

    #[test]
    fn a_halt_freezes_every_operation_automation_requested() {
        let team = Team::new();
        let policy = team.policy();
        let spec = OpSpec::new("OPS-2026-01-27-001", "SERVICE_RESTART", "\"deploy/\"");
        let halt = Some(id("HALT-2026-01-27-001"));
        // (case, requester, approvers, halt in force, refused by the halt)
        let rows = [
            (
                "automation, approved by a human, halted",
                "bot",
                "alice",
                halt,
                true,
            ),
            (
                "automation, approved by a human, not halted",
                "bot",
                "alice",
                None,
                false,
            ),
            (
                "a human, approved by a human, halted",
                "alice",
                "bob",
                halt,
                false,
            ),
        ];
        for (name, requester, approver, halted, refused) in rows {
            let r = team.approved(&spec, requester, &[approver]);
            let check = check_record(&policy, &r);
            let got = usable_now(&policy, &r, &check, None, halted, ts(NOW));
            match refused {
                true => assert_eq!(
                    got.map(|_| ()),
                    Err(Unusable::Halted(id("HALT-2026-01-27-001"))),
                    "{name}"
                ),
                false => assert!(got.is_ok(), "{name}: {got:?}"),
            }
        }
        assert_eq!(
            Unusable::Halted(id("HALT-2026-01-27-001")).to_string(),
            "automation is halted (HALT-2026-01-27-001), and it was requested by automation; it covers nothing until a human resumes"
        );
    }

    #[test]
    fn reasons_read_as_before() {
        let rows = [
            (Unusable::NotAnOperationId, "not an operation id"),
            (Unusable::NotAnOperation, "not an operation"),
            (
                Unusable::NotInLedger {
                    path: "ops/ledger/2026-01.yaml".into(),
                    file_missing: true,
                },
                "no such record in this change's ledger (ops/ledger/2026-01.yaml is not in it; is it staged? `git add ops/ledger/2026-01.yaml`)",
            ),
            (
                Unusable::NotInLedger {
                    path: "ops/ledger/2026-01.yaml".into(),
                    file_missing: false,
                },
                "no such record in this change's ledger (if it is in your working tree, stage it: `git add ops/ledger/2026-01.yaml`)",
            ),
            (
                Unusable::Pending {
                    id: id("OPS-2026-01-27-001"),
                    approvals: 0,
                    required: 1,
                    human_only_direct: None,
                    notes: vec!["a".into(), "b".into()],
                },
                "pending: 0 of 1 approvals (run `git ops sign OPS-2026-01-27-001`); a; b",
            ),
            (
                Unusable::Pending {
                    id: id("OPS-2026-01-27-001"),
                    approvals: 2,
                    required: 2,
                    human_only_direct: Some(1),
                    notes: Vec::new(),
                },
                "pending: it touches a human-only rule, which needs 2 approvals signed by humans themselves, and grants do not count there (1 so far)",
            ),
            (
                Unusable::Invalid(vec!["x".into(), "y".into()]),
                "invalid: x; y",
            ),
            (
                Unusable::NoWindow,
                "it has neither expires_at nor created_at, so its window cannot be judged",
            ),
            (
                Unusable::Expired(ts(NOW)),
                "expired at 2026-01-27T10:00:00Z",
            ),
            (
                Unusable::CreatedInFuture(ts(NOW)),
                "created_at 2026-01-27T10:00:00Z is in the future",
            ),
            (
                Unusable::Closed(id("OUT-2026-01-27-001")),
                "closed by outcome OUT-2026-01-27-001",
            ),
        ];
        for (u, want) in rows {
            assert_eq!(u.to_string(), want);
        }
    }
}
