//! The runbook template of the seeds (`docs/OPS_RUNBOOK_TEMPLATE.md`), filled from a record, with
//! section 6, "Signoff & Ledger Entry", from its signoffs.

use std::fmt::Write;

use super::{block, line};
use crate::model::record::Operation;

/// What section 6 shows besides the record.
pub struct SignoffView {
    pub state: String,
    pub requested_by: Option<String>,
    pub approved_by: Option<String>,
    pub approval_timestamp: Option<String>,
    pub flat_yaml: String,
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        return "- (none)\n".into();
    }
    items.iter().map(|i| format!("- `{}`\n", line(i))).collect()
}

pub fn render(op: &Operation, view: &SignoffView) -> String {
    let mut s = String::new();
    let id = op.operation_id;
    let _ = writeln!(s, "# Runbook: {} ({id})\n", line(&op.operation_name));
    let _ = writeln!(s, "## 1) Operation declaration\n");
    let _ = writeln!(s, "- OPERATION_NAME: {}", line(&op.operation_name));
    let _ = writeln!(s, "- OBJECTIVE: {}", line(&op.objective));
    let _ = writeln!(s, "- RISK_CLASS: {}", op.risk_class);
    let _ = writeln!(s, "- BLAST_RADIUS: {}", line(&op.blast_radius));
    let _ = writeln!(s, "- ROLLBACK_STRATEGY: {}", line(&op.rollback_strategy));
    if let Some(e) = &op.environment {
        let _ = writeln!(s, "- ENVIRONMENT: {}", line(e));
    }
    if let Some(x) = op.expires_at {
        let _ = writeln!(s, "- WINDOW: until {x}");
    }
    let _ = writeln!(
        s,
        "\n## 2) Scope contract\n\nALLOWED paths:\n\n{}\nALLOWED services:\n\n{}",
        list(&op.allowed_paths),
        list(&op.allowed_services)
    );
    let _ = writeln!(
        s,
        "Everything else is NOT ALLOWED. When uncertain: HALT and ASK.\n"
    );
    let _ = writeln!(s, "## 3) Pre-checks\n");
    for svc in &op.allowed_services {
        let _ = writeln!(s, "- [ ] `systemctl is-active {}` is `active`", line(svc));
        let _ = writeln!(
            s,
            "- [ ] `journalctl -u {} -n 50 --no-pager | grep -iE \"error|fail|panic|fatal\"` is clean",
            line(svc)
        );
    }
    let _ = writeln!(
        s,
        "- [ ] `git ops show {id}` is approved, and `git ops use {id}` is set"
    );
    let _ = writeln!(
        s,
        "- [ ] the rollback strategy has been read and can be run now\n"
    );
    let _ = writeln!(s, "## 4) Execution (one step at a time)\n");
    let _ = writeln!(
        s,
        "```\n[STEP 1 | <UTC timestamp>]\nCommand:\n<exact command>\nResult:\n<relevant output>\nStatus: PASS/FAIL\nVerification:\n<verification command + output>\n```\n"
    );
    let _ = writeln!(
        s,
        "If a verification fails: STOP and roll back ({}).\n",
        line(&op.rollback_strategy)
    );
    let _ = writeln!(s, "## 5) Verification and rollback\n");
    let _ = writeln!(
        s,
        "- [ ] services active, logs clean, functional check passes"
    );
    let _ = writeln!(
        s,
        "- [ ] on failure: `git ops rollback {id} ...` records the rollback with its evidence\n"
    );
    let _ = writeln!(s, "## 6) Signoff & Ledger Entry\n");
    let _ = writeln!(s, "- state: {}", line(&view.state));
    let _ = writeln!(
        s,
        "- requested_by: {}",
        line(view.requested_by.as_deref().unwrap_or("(none)"))
    );
    let _ = writeln!(
        s,
        "- approved_by: {}",
        line(view.approved_by.as_deref().unwrap_or("(not yet)"))
    );
    let _ = writeln!(
        s,
        "- approval_timestamp: {}",
        line(view.approval_timestamp.as_deref().unwrap_or("(not yet)"))
    );
    for so in &op.signoffs {
        let grant = so.grant.map(|g| format!(" under {g}")).unwrap_or_default();
        let _ = writeln!(
            s,
            "- signoff: {} {} at {} key {}{grant}",
            line(so.by.as_str()),
            so.role,
            so.at,
            so.key
        );
    }
    let _ = writeln!(
        s,
        "\nLedger entry (`ops/ledger/{}.yaml`, signed; tag `{}`):\n",
        id.month(),
        id.tag_name()
    );
    let _ = writeln!(s, "```yaml\n{}```", block(&view.flat_yaml));
    s
}
