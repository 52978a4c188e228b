//! The seeds' flat format: one mapping per operation, with `requested_by`, `approved_by` and
//! `approval_timestamp` derived from the signoffs.

use serde_json::{Map, Value};

use crate::model::Record;
use crate::model::record::{Outcome, Role};
use crate::verify::records::{RecordCheck, State};

/// The record as the seed writes it (field names and layout of the seeds' P5 entry and
/// auto-ledger output), with the outcome record that closed it, if any, folded in as the seed
/// "updates the entry with outcome": `outcome`, `execution_timestamp`, `outcome_id`, its
/// evidence, and its notes as `outcome_notes`.
pub fn flat_closed(
    record: &Record,
    check: &RecordCheck,
    closed_by: Option<&Outcome>,
) -> Map<String, Value> {
    if let Record::Import(i) = record {
        // As it was read, and where from: its approvals are the old ledger's claims.
        let mut out = i.entry.clone();
        out.insert(
            "imported_by".into(),
            Value::String(i.imported_by.to_string()),
        );
        out.insert(
            "imported_at".into(),
            Value::String(i.imported_at.to_string()),
        );
        out.insert(
            "imported_from".into(),
            Value::String(format!("{}:{}", i.source.file, i.source.line)),
        );
        return out;
    }
    let mut out = flat_signed(record, check);
    if let Some(o) = closed_by {
        let closing = [
            ("outcome", serde_json::to_value(o.outcome).ok()),
            (
                "execution_timestamp",
                o.execution_timestamp.map(|t| Value::String(t.to_string())),
            ),
            ("outcome_id", Some(Value::String(o.outcome_id.to_string()))),
            (
                "rollback_of",
                o.rollback_of.map(|r| Value::String(r.to_string())),
            ),
            ("outcome_notes", o.notes.clone().map(Value::String)),
        ];
        for (k, v) in closing {
            if let Some(v) = v {
                out.entry(k).or_insert(v);
            }
        }
        if let Some(ev) = &o.evidence
            && let Ok(Value::Object(ev)) = serde_json::to_value(ev)
        {
            for (k, v) in seed_evidence(ev) {
                out.entry(k).or_insert(v);
            }
        }
    }
    in_seed_order(out)
}

/// The fields of the seeds' entries in the order the seeds write them (the auto-ledger's example
/// output, with the P5 entry's `rollback_ref` after `changes_summary`); other fields follow.
const SEED_ORDER: &[&str] = &[
    "operation_id",
    "outcome_id",
    "operation_name",
    "requested_by",
    "approved_by",
    "approved_under",
    "approval_timestamp",
    "execution_timestamp",
    "git_commit",
    "git_branch",
    "hostname",
    "risk_class",
    "blast_radius",
    "changes_summary",
    "objective",
    "rollback_ref",
    "outcome",
    "rollback_of",
    "allowed_paths",
    "allowed_services",
    "services_status",
    "proof_file",
    "metrics_snapshot",
    "redis_snapshot",
    "notes",
    "outcome_notes",
];

fn in_seed_order(mut m: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for k in SEED_ORDER {
        if let Some(v) = m.remove(*k) {
            out.insert((*k).to_string(), v);
        }
    }
    out.extend(m);
    out
}

/// Evidence at the top level as the seed lists it: `git_commit` and `git_branch`, and
/// `services_status` as `service: state` (the journal lines stay in the signed record).
fn seed_evidence(ev: Map<String, Value>) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (k, v) in ev {
        match (k.as_str(), v) {
            ("git", Value::Object(g)) => {
                if let Some(c) = g.get("commit") {
                    out.push(("git_commit".to_string(), c.clone()));
                }
                if let Some(b) = g.get("branch") {
                    out.push(("git_branch".to_string(), b.clone()));
                }
            }
            ("services_status", Value::Object(services)) => {
                let flat: Map<String, Value> = services
                    .into_iter()
                    .map(|(name, st)| {
                        let state = st.get("active").cloned().unwrap_or(st);
                        (name, state)
                    })
                    .collect();
                out.push(("services_status".to_string(), Value::Object(flat)));
            }
            (_, v) => out.push((k, v)),
        }
    }
    out
}

fn flat_signed(record: &Record, check: &RecordCheck) -> Map<String, Value> {
    let payload = record.payload_json();
    let mut out = Map::new();
    let get = |k: &str| payload.get(k).cloned();
    let id_field = record.kind().id_field();
    if let Some(v) = get(id_field) {
        out.insert(id_field.into(), v);
    }
    if let Some(v) = get("operation_name") {
        out.insert("operation_name".into(), v);
    }
    let requester = check.requester.as_ref().map(|r| r.to_string());
    out.insert(
        "requested_by".into(),
        requester.clone().map(Value::String).unwrap_or(Value::Null),
    );
    // Approvals signed by the approvers themselves and those carried by a grant (the grant's
    // human signers), as `report` and `list` count them.
    let approvers: Vec<String> = check
        .approvers
        .union(&check.grant_approvers)
        .map(|a| a.to_string())
        .collect();
    let approved_by = if check.state() != State::Approved {
        Value::Null
    } else if approvers.is_empty()
        || (approvers.len() == 1 && Some(&approvers[0]) == requester.as_ref())
    {
        Value::String("SELF".into())
    } else {
        Value::String(approvers.join(", "))
    };
    out.insert("approved_by".into(), approved_by);
    let approval_ts = if check.state() == State::Approved {
        record
            .signoffs()
            .iter()
            .filter(|s| {
                s.role == Role::Approver
                    && (check.approvers.contains(&s.by)
                        || (s.grant.is_some() && !check.grant_approvers.is_empty()))
                    || s.role == Role::Requester
            })
            .map(|s| s.at)
            .max()
            .map(|t| Value::String(t.to_string()))
            .unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    out.insert("approval_timestamp".into(), approval_ts);
    // Approvals carried by a grant: approved_by names the grant's human signers (as `report`
    // does); which grant, and who signed under it, is said here.
    if check.state() == State::Approved && !check.grant_approvers.is_empty() {
        let under: Vec<String> = record
            .signoffs()
            .iter()
            .filter(|s| s.role == Role::Approver)
            .filter_map(|s| s.grant.map(|g| format!("{g} (signed by {})", s.by)))
            .collect();
        if !under.is_empty() {
            out.insert("approved_under".into(), Value::String(under.join(", ")));
        }
    }
    if let Value::Object(fields) = payload {
        for (k, v) in fields {
            if k == "record" && v == "operation" {
                continue;
            }
            if k == "evidence"
                && let Value::Object(ev) = v
            {
                // The seed lists evidence at the top level.
                for (ek, evv) in seed_evidence(ev) {
                    out.entry(ek).or_insert(evv);
                }
                continue;
            }
            // The seed's P5 entry calls the rollback plan `rollback_ref`.
            let k = if k == "rollback_strategy" {
                "rollback_ref".to_string()
            } else {
                k
            };
            out.entry(k).or_insert(v);
        }
    }
    out
}
