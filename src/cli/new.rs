//! `git ops new`: declare an operation (the seven mandatory fields of the Ops Governor) and sign
//! it as requester.

use std::io::Write;
use std::path::PathBuf;

use super::Result;

use git_ops::engine::Declaration as Decl;
use git_ops::model::RiskClass;

use super::common::{Ctx, signer};

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
    pub fn to_engine(&self) -> Decl {
        Decl {
            operation: self.operation.clone(),
            objective: self.objective.clone(),
            risk_class: self.risk_class,
            blast_radius: self.blast_radius.clone(),
            rollback_strategy: self.rollback_strategy.clone(),
            allowed_paths: self.allowed_paths.clone(),
            allowed_services: self.allowed_services.clone(),
            changes_summary: self.changes_summary.clone(),
            environment: self.environment.clone(),
            notes: self.notes.clone(),
        }
    }

    pub fn validate(&self) -> Result<()> {
        Ok(self.to_engine().validate()?)
    }
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    let decl = args.decl.to_engine();
    decl.validate()?;
    let ws = ctx.workspace()?;
    let me = signer(&ws, args.key.as_deref())?;
    let done = ws.declare(&me, decl, args.expires_in_hours)?;
    let id = done.record.id();
    writeln!(std::io::stdout(), "{id}")?;
    eprintln!(
        "declared {id} in {}, signed by {} as requester",
        done.file, me.name
    );
    super::sign::print_tags(done.record.id(), &done.tag, &done.caught_up, &me.name);
    Ok(0)
}
