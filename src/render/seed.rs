//! The seeds' flat format: one mapping per operation, with `requested_by`, `approved_by` and
//! `approval_timestamp` derived from the signoffs.

use serde_json::{Map, Value};

use crate::model::Record;
use crate::model::record::Role;
use crate::verify::records::{RecordCheck, State};

/// The record as a flat mapping in the seed's field order, signoffs replaced by derived fields.
pub fn flat(record: &Record, check: &RecordCheck) -> Map<String, Value> {
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
    if let Value::Object(fields) = payload {
        for (k, v) in fields {
            if k == "record" && v == "operation" {
                continue;
            }
            if k == "evidence"
                && let Value::Object(ev) = v
            {
                // The seed lists evidence at the top level.
                for (ek, evv) in ev {
                    out.entry(ek).or_insert(evv);
                }
                continue;
            }
            out.entry(k).or_insert(v);
        }
    }
    out
}
