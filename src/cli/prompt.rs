//! `git ops prompt`: the Ops Governor prompt generator (seed `ops_prompt_fill.py`), and with
//! `--ledger` its P5 ledger YAML snippet.

use std::io::Write;

use super::Result;

use git_ops::engine::report::prompt_sources;
use git_ops::model::RecordId;
use git_ops::model::record::Grant;
use git_ops::model::yaml;
use git_ops::render::prompt::{PromptInput, TEMPLATE, fill};

use super::common::{Ctx, stdout};
use super::new::Declaration;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub decl: Declaration,
    /// Print the P5 ledger YAML snippet instead of the prompt.
    #[arg(long)]
    pub ledger: bool,
    /// Add the bounds of this grant to the scope contract.
    #[arg(long)]
    pub grant: Option<RecordId>,
}

pub fn run(ctx: &Ctx, a: Args) -> Result<u8> {
    a.decl.validate()?;
    let d = &a.decl;
    let mut out = stdout();
    if a.ledger {
        let mut m = serde_json::Map::new();
        let mut put = |k: &str, v: serde_json::Value| {
            m.insert(k.to_string(), v);
        };
        put(
            "operation_id",
            "OPS-YYYY-MM-DD-NNN (assigned by git ops new)".into(),
        );
        put("operation_name", d.operation.clone().into());
        put("requested_by", "<your signer name>".into());
        put("approved_by", "<approver | SELF if solo>".into());
        put("approval_timestamp", "<ISO8601 UTC>".into());
        put("execution_timestamp", "<ISO8601 UTC>".into());
        put("risk_class", d.risk_class.as_str().into());
        put("blast_radius", d.blast_radius.clone().into());
        put(
            "changes_summary",
            d.changes_summary
                .clone()
                .unwrap_or_else(|| "<1-line summary>".into())
                .into(),
        );
        put("objective", d.objective.clone().into());
        put("rollback_strategy", d.rollback_strategy.clone().into());
        put("allowed_paths", d.allowed_paths.clone().into());
        put("allowed_services", d.allowed_services.clone().into());
        put("outcome", "SUCCESS | ROLLBACK | PARTIAL".into());
        if let Some(n) = &d.notes {
            put("notes", n.clone().into());
        }
        write!(out, "---\n{}", yaml::render_value(&m))?;
        return Ok(0);
    }
    let mut input = PromptInput {
        operation: d.operation.clone(),
        objective: d.objective.clone(),
        risk_class: d.risk_class.to_string(),
        blast_radius: d.blast_radius.clone(),
        rollback_strategy: d.rollback_strategy.clone(),
        allowed_paths: d.allowed_paths.clone(),
        allowed_services: d.allowed_services.clone(),
        ..Default::default()
    };
    // Outside a repository the built-in template and the seed's NOT ALLOWED list are used.
    let sources = prompt_sources(&ctx.cwd, a.grant.as_ref())?;
    if let Some(f) = sources.forbidden {
        input.forbidden = f;
    }
    if let (Some(g), Some(grant)) = (&a.grant, &sources.grant) {
        input.grant = grant_bounds(g, grant);
    }
    let template = sources.template.unwrap_or_else(|| TEMPLATE.to_string());
    write!(out, "{}", fill(&template, &input))?;
    Ok(0)
}

/// The bounds of grant `g` as the prompt's scope contract states them.
fn grant_bounds(g: &RecordId, grant: &Grant) -> Vec<String> {
    let s = &grant.scope;
    vec![
        format!(
            "grant {g} to {}, valid until {}{}",
            grant.grantee,
            grant.expires_at,
            if grant.break_glass {
                " (BREAK-GLASS)"
            } else {
                ""
            }
        ),
        format!(
            "risk classes: {}",
            s.risk_classes
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        format!("paths: {}", s.paths.join(", ")),
        format!("services: {}", s.services.join(", ")),
        format!("environments: {}", s.environments.join(", ")),
        format!(
            "auto rollback: {}",
            if s.auto_rollback {
                "allowed"
            } else {
                "not allowed; ask"
            }
        ),
        format!("sign with: git ops sign <id> --grant {g}; outside these bounds: HALT and ASK"),
    ]
}
