//! The reporting contract (seed 001): EXEC SUMMARY, CHANGES MADE, VERIFICATION EVIDENCE, RISK
//! ASSESSMENT, NEXT SAFE ACTIONS, filled from an operation's facts (its record, outcomes,
//! rollbacks and the commits linked to it), which the engine gathers.

use serde::Serialize;

use super::{block, line};
use crate::engine::report::{LinkedCommit, OperationFacts};
use crate::engine::state_word;
use crate::model::record::Evidence;
use crate::verify::records::State;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub id: String,
    pub operation: String,
    pub state: String,
    pub requested_by: Option<String>,
    pub approved_by: Vec<String>,
    pub exec_summary: String,
    pub changes_made: ChangesMade,
    pub verification_evidence: Vec<String>,
    pub risk_assessment: Vec<String>,
    pub next_safe_actions: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChangesMade {
    pub commits: Vec<LinkedCommit>,
    pub files: Vec<String>,
    pub services: Vec<String>,
}

fn evidence_lines(e: &Evidence, out: &mut Vec<String>, label: &str) {
    if let Some(g) = &e.git {
        out.push(format!(
            "{label}git {} on {}{}",
            g.commit_short,
            g.branch.as_deref().unwrap_or("(detached)"),
            if g.dirty { " (dirty working tree)" } else { "" }
        ));
    }
    if let Some(h) = &e.hostname {
        out.push(format!("{label}host {h}"));
    }
    for (svc, st) in &e.services_status {
        out.push(format!("{label}service {svc}: {}", st.active));
    }
    if let Some(p) = &e.proof_file {
        match (&p.sha256, &p.error) {
            (Some(h), _) => out.push(format!(
                "{label}proof file {} sha256 {h} ({} bytes)",
                p.path,
                p.size_bytes.unwrap_or(0)
            )),
            (None, Some(err)) => out.push(format!("{label}proof file {}: {err}", p.path)),
            _ => {}
        }
    }
    if let Some(m) = &e.metrics_snapshot {
        out.push(format!("{label}metrics:\n{}", m.trim_end()));
    }
    if let Some(r) = &e.redis_snapshot {
        out.push(format!("{label}redis:\n{}", r.trim_end()));
    }
    for err in &e.errors {
        out.push(format!("{label}collector error: {err}"));
    }
}

/// The report of an operation from its facts.
pub fn build(i: OperationFacts<'_>) -> Report {
    let op = i.op;
    let state = state_word(i.state);
    let last = i.outcomes.last();
    let outcome_word = op
        .outcome
        .map(|o| o.as_str().to_string())
        .or_else(|| last.map(|o| o.outcome.clone()));
    let exec_summary = format!(
        "{} ({}) is {}{}: {}. Risk class {}, blast radius: {}. Requested by {}{}{}.",
        op.operation_name,
        op.operation_id,
        state,
        outcome_word
            .as_deref()
            .map(|o| format!(", outcome {o}"))
            .unwrap_or_default(),
        op.objective,
        op.risk_class,
        op.blast_radius,
        i.requested_by.as_deref().unwrap_or("(unsigned)"),
        if i.approved_by.is_empty() {
            String::new()
        } else {
            format!(", approved by {}", i.approved_by.join(", "))
        },
        if i.commits.is_empty() {
            String::new()
        } else {
            format!("; {} linked commits", i.commits.len())
        },
    );
    let mut evidence = Vec::new();
    if let Some(e) = &op.evidence {
        evidence_lines(e, &mut evidence, "");
    }
    for o in &i.outcomes {
        evidence.push(format!(
            "outcome {} {} at {}",
            o.id,
            o.outcome,
            o.at.as_deref().unwrap_or("(unknown)")
        ));
        if let Some(e) = &o.evidence {
            evidence_lines(e, &mut evidence, "  ");
        }
    }
    if evidence.is_empty() {
        evidence.push(
            "no evidence recorded (`git ops close <id> --outcome ... --proof-path ...` records it)"
                .into(),
        );
    }
    let mut risk = vec![
        format!(
            "risk class {} ; blast radius: {}",
            op.risk_class, op.blast_radius
        ),
        format!("rollback strategy: {}", op.rollback_strategy),
    ];
    if let Some(e) = &op.evidence
        && !e.errors.is_empty()
    {
        risk.push(format!(
            "{} evidence collectors failed: the record is incomplete",
            e.errors.len()
        ));
    }
    if !i.outside_scope.is_empty() {
        risk.push(format!(
            "linked commits touched paths outside allowed_paths: {}",
            i.outside_scope.join(", ")
        ));
    }
    for r in &i.rollbacks {
        risk.push(format!("rolled back by {r}"));
    }
    let id = op.operation_id;
    let closed = !i.outcomes.is_empty() || op.outcome.is_some();
    let mut next = Vec::new();
    if i.state != State::Approved {
        next.push(format!(
            "get the approvals it needs: `git ops sign {id}` by an approver"
        ));
    } else if !closed && !i.expired {
        next.push(format!("execute within the scope, one verified step at a time; link commits with `git ops use {id}`"));
        next.push(format!("record the result: `git ops close {id} --outcome SUCCESS|PARTIAL|ROLLBACK --proof-path ...`"));
    } else if !closed && i.expired {
        next.push(format!("the window has closed: declare a new operation for any further change; close this one with `git ops close {id} --outcome ...`"));
    }
    match outcome_word.as_deref() {
        Some("ROLLBACK") => {
            next.push("investigate the cause before declaring a new attempt".into())
        }
        Some("PARTIAL") => {
            next.push("declare a follow-up operation for what remains, or roll back".into())
        }
        Some("SUCCESS") => next.push(
            "monitor the services named in the scope; no further change under this operation"
                .into(),
        ),
        _ => {}
    }
    Report {
        id: id.to_string(),
        operation: op.operation_name.clone(),
        state: state.to_string(),
        requested_by: i.requested_by,
        approved_by: i.approved_by,
        exec_summary,
        changes_made: ChangesMade {
            commits: i.commits,
            files: i.files,
            services: op.allowed_services.clone(),
        },
        verification_evidence: evidence,
        risk_assessment: risk,
        next_safe_actions: next,
    }
}

pub fn markdown(r: &Report) -> String {
    let mut s = format!("# Operation report: {} ({})\n\n", line(&r.operation), r.id);
    s.push_str(&format!(
        "## EXEC SUMMARY\n\n{}\n\n## CHANGES MADE\n\n",
        line(&r.exec_summary)
    ));
    if r.changes_made.commits.is_empty() {
        s.push_str("No commits carry or link this operation yet.\n");
    }
    for c in &r.changes_made.commits {
        s.push_str(&format!(
            "- `{}` {} (signed by: {})\n",
            c.id,
            line(&c.subject),
            line(&c.signer)
        ));
        for f in &c.files {
            s.push_str(&format!("  - `{}`\n", line(f)));
        }
    }
    s.push_str(&format!(
        "\nServices in scope: {}\n\n## VERIFICATION EVIDENCE\n\n",
        if r.changes_made.services.is_empty() {
            "(none)".to_string()
        } else {
            line(&r.changes_made.services.join(", ")).into_owned()
        }
    ));
    for e in &r.verification_evidence {
        let mut lines = e.lines();
        if let Some(first) = lines.next() {
            // Evidence of an outcome is indented under its outcome line.
            match first.strip_prefix("  ") {
                Some(inner) => s.push_str(&format!("  - {}\n", line(inner))),
                None => s.push_str(&format!("- {}\n", line(first))),
            }
        }
        let rest: Vec<&str> = lines.collect();
        if !rest.is_empty() {
            s.push_str(&format!("\n```\n{}\n```\n", block(&rest.join("\n"))));
        }
    }
    s.push_str("\n## RISK ASSESSMENT\n\n");
    for x in &r.risk_assessment {
        s.push_str(&format!("- {}\n", line(x)));
    }
    s.push_str("\n## NEXT SAFE ACTIONS\n\n");
    for x in &r.next_safe_actions {
        s.push_str(&format!("- {}\n", line(x)));
    }
    s
}
