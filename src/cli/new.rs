//! `git ops new`: declare an operation (the seven mandatory fields of the Ops Governor) and sign
//! it as requester.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;

use git_ops::crypto;
use git_ops::model::record::{Operation, Role};
use git_ops::model::{IdKind, Kind, Record, RiskClass};
use git_ops::store::ledger::LedgerWriter;

use super::common::{Ctx, load_key, load_policy, whoami};
use super::sign::after_signing;
use super::usage;

/// The declaration flags, shared with `record` and `prompt`.
#[derive(clap::Args, Debug, Clone)]
pub struct Declaration {
    /// OPERATION_NAME: a short name.
    #[arg(long, alias = "operation-name", alias = "operation_name")]
    pub operation: String,
    /// OBJECTIVE: what the operation achieves.
    #[arg(long)]
    pub objective: String,
    /// RISK_CLASS: READ_ONLY | LOW_RISK_CONFIG | SERVICE_RESTART | FILESYSTEM_WRITE.
    #[arg(long, alias = "risk_class")]
    pub risk_class: RiskClass,
    /// BLAST_RADIUS: what can break.
    #[arg(long, alias = "blast_radius")]
    pub blast_radius: String,
    /// ROLLBACK_STRATEGY: how to revert.
    #[arg(long, alias = "rollback_strategy")]
    pub rollback_strategy: String,
    /// ALLOWED_PATHS: the hard allowlist of paths (none is allowed: give the flag alone).
    #[arg(long, alias = "allowed_paths", num_args = 0.., required = true)]
    pub allowed_paths: Vec<String>,
    /// ALLOWED_SERVICES: the hard allowlist of services.
    #[arg(long, alias = "allowed_services", num_args = 0.., required = true)]
    pub allowed_services: Vec<String>,
    /// A one-line summary of the changes.
    #[arg(long, alias = "changes_summary")]
    pub changes_summary: Option<String>,
    /// dev, staging, prod, ...
    #[arg(long)]
    pub environment: Option<String>,
    #[arg(long)]
    pub notes: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub decl: Declaration,
    /// Hours until the declaration expires (default: the policy's default_window_hours).
    #[arg(long)]
    pub expires_in_hours: Option<u32>,
    /// Private key to sign with.
    #[arg(long)]
    pub key: Option<PathBuf>,
}

impl Declaration {
    pub fn validate(&self) -> Result<()> {
        for (flag, v) in [
            ("--operation", &self.operation),
            ("--objective", &self.objective),
            ("--blast-radius", &self.blast_radius),
            ("--rollback-strategy", &self.rollback_strategy),
        ] {
            if v.trim().is_empty() {
                return Err(usage(format!(
                    "{flag} is empty; the declaration needs all seven fields"
                )));
            }
        }
        if self
            .allowed_paths
            .iter()
            .chain(&self.allowed_services)
            .any(|p| p.trim().is_empty())
        {
            return Err(usage("an empty allowed path or service"));
        }
        Ok(())
    }
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    args.decl.validate()?;
    let repo = ctx.repo()?;
    let root = repo.workdir()?.to_path_buf();
    let policy = load_policy(&root)?;
    let me = whoami(&policy, load_key(Some(&repo), args.key.as_deref())?)?;
    let hours = args
        .expires_in_hours
        .unwrap_or(policy.operations.default_window_hours);
    if hours == 0 {
        return Err(usage("--expires-in-hours must be at least 1"));
    }
    let now = ctx.now();
    let d = args.decl;
    let writer = LedgerWriter::lock(&repo)?;
    let id = writer.next_id(IdKind::Operation, now.date())?;
    let mut record = Record::Operation(Operation {
        record: Kind::Operation,
        operation_id: id,
        operation_name: d.operation,
        objective: d.objective,
        risk_class: d.risk_class,
        blast_radius: d.blast_radius,
        rollback_strategy: d.rollback_strategy,
        allowed_paths: d.allowed_paths,
        allowed_services: d.allowed_services,
        changes_summary: d.changes_summary,
        environment: d.environment,
        requested_by: Some(me.name.clone()),
        created_at: Some(now),
        expires_at: Some(now.plus_hours(hours.into())),
        git_commit: repo.head_commit()?.map(|c| c.to_string()),
        git_branch: repo.head_branch(),
        hostname: None,
        rollback_of: None,
        notes: d.notes,
        outcome: None,
        execution_timestamp: None,
        evidence: None,
        signoffs: Vec::new(),
    });
    record.validate()?;
    let s = crypto::signoff(&record, &me.key, &me.name, Role::Requester, now, None)?;
    record.signoffs_mut().push(s);
    let file = writer.append(&record)?;
    drop(writer);
    writeln!(std::io::stdout(), "{id}")?;
    eprintln!(
        "declared {id} in {file}, signed by {} as requester",
        me.name
    );
    after_signing(&repo, &policy, &me, &record)?;
    Ok(0)
}
