//! `git ops record` (the seed's auto-ledger: declare, collect evidence and record the outcome in
//! one step, idempotent by operation id), `git ops close` (an outcome record for an earlier
//! operation) and `git ops rollback` (a ROLLBACK operation pointing at the one it reverts).
//!
//! Evidence collectors that fail are recorded in the entry (lenient, the default), or make the
//! command fail with nothing appended (`--strict` or `STRICT_LEDGER=true`).

use std::io::Write;
use std::path::PathBuf;

use super::Result;

use git_ops::engine::Workspace;
use git_ops::engine::record::{EvidenceRequest, RecordRequest, Recorded};
use git_ops::evidence;
use git_ops::model::record::{Evidence, OutcomeKind};
use git_ops::model::{RecordId, RiskClass};

use super::CliError;
use super::common::{Ctx, signer};

#[derive(clap::Args, Debug, Clone)]
pub struct EvidenceArgs {
    /// A proof file: its full SHA-256, size and mtime are recorded.
    #[arg(long, alias = "proof_path")]
    pub proof_path: Option<PathBuf>,
    /// Metrics endpoints to GET (http:// only; repeatable).
    #[arg(long = "metrics-url", alias = "metrics_urls", alias = "metrics-urls", num_args = 1..)]
    pub metrics_urls: Vec<String>,
    /// Regexes: metrics lines matching any are kept (repeatable).
    #[arg(long, alias = "metrics_grep", num_args = 1..)]
    pub metrics_grep: Vec<String>,
    /// Read-only redis commands to record, e.g. "HGETALL app:health".
    #[arg(long = "redis-cmd", alias = "redis_cmds", alias = "redis-cmds", num_args = 1..)]
    pub redis_cmds: Vec<String>,
    #[arg(long, alias = "redis_url", default_value = evidence::DEFAULT_REDIS_URL)]
    pub redis_url: String,
    /// Seconds each collector step may take (1 to 3600).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub evidence_timeout: u64,
    /// Fail (and append nothing) when a collector fails; also STRICT_LEDGER=true.
    #[arg(long)]
    pub strict: bool,
}

impl EvidenceArgs {
    pub fn strict(&self) -> bool {
        self.strict
            || std::env::var("STRICT_LEDGER")
                .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
    }

    fn request(&self) -> EvidenceRequest {
        EvidenceRequest {
            proof_path: self.proof_path.clone(),
            metrics_urls: self.metrics_urls.clone(),
            metrics_grep: self.metrics_grep.clone(),
            redis_cmds: self.redis_cmds.clone(),
            redis_url: self.redis_url.clone(),
            timeout_secs: self.evidence_timeout,
            strict: self.strict(),
        }
    }
}

/// Collects the evidence, showing each warning (lenient mode records them in the entry).
fn gather(ws: &Workspace, args: &EvidenceArgs, services: &[String]) -> Result<Evidence> {
    let g = ws.gather(&args.request(), services)?;
    for w in &g.warnings {
        eprintln!("warning: {w}");
    }
    Ok(g.evidence)
}

#[derive(clap::Args, Debug)]
pub struct RecordArgs {
    /// OPERATION_NAME.
    #[arg(long, alias = "operation-name", alias = "operation_name")]
    pub operation: String,
    #[arg(long)]
    pub objective: String,
    #[arg(long, alias = "risk_class")]
    pub risk_class: RiskClass,
    #[arg(long, alias = "blast_radius")]
    pub blast_radius: String,
    /// A one-line summary of what changed.
    #[arg(long, alias = "changes_summary")]
    pub changes_summary: String,
    /// Default: `git revert <commit>` of the recorded commit.
    #[arg(long, alias = "rollback_strategy")]
    pub rollback_strategy: Option<String>,
    /// The id to record under (idempotency key); default: the next free id of today.
    #[arg(long, alias = "operation_id")]
    pub operation_id: Option<RecordId>,
    #[arg(long, alias = "allowed_paths", num_args = 0..)]
    pub allowed_paths: Vec<String>,
    #[arg(long, alias = "allowed_services", num_args = 0..)]
    pub allowed_services: Vec<String>,
    #[arg(long)]
    pub environment: Option<String>,
    /// SUCCESS, PARTIAL or ROLLBACK.
    #[arg(long, default_value = "SUCCESS")]
    pub outcome: OutcomeKind,
    /// The operation this one rolls back (required with --outcome ROLLBACK).
    #[arg(long, alias = "rollback_of")]
    pub rollback_of: Option<RecordId>,
    #[arg(long)]
    pub notes: Option<String>,
    #[command(flatten)]
    pub evidence: EvidenceArgs,
    #[command(flatten)]
    pub changelog: super::changelog::ChangelogFlag,
    #[arg(long)]
    pub key: Option<PathBuf>,
}

pub fn run_record(ctx: &Ctx, a: RecordArgs) -> Result<u8> {
    let req = RecordRequest {
        operation: a.operation.clone(),
        objective: a.objective.clone(),
        risk_class: a.risk_class,
        blast_radius: a.blast_radius.clone(),
        changes_summary: Some(a.changes_summary.clone()),
        rollback_strategy: a.rollback_strategy.clone(),
        operation_id: a.operation_id,
        allowed_paths: a.allowed_paths.clone(),
        allowed_services: a.allowed_services.clone(),
        environment: a.environment.clone(),
        outcome: a.outcome,
        rollback_of: a.rollback_of,
        notes: a.notes.clone(),
    };
    let ws = ctx.workspace()?;
    a.changelog.precheck(&ws)?;
    if let Some(id) = ws.record_precheck(&req)? {
        writeln!(std::io::stdout(), "{id} already recorded")?;
        a.changelog.write(ctx)?;
        return Ok(0);
    }
    let me = signer(&ws, a.key.as_deref())?;
    let ev = gather(&ws, &a.evidence, &a.allowed_services)?;
    match ws.record(&me, req, ev)? {
        Recorded::Already(id) => writeln!(std::io::stdout(), "{id} already recorded")?,
        Recorded::New(done) => {
            let r = &done.record;
            writeln!(std::io::stdout(), "{}", r.id())?;
            eprintln!(
                "recorded {} ({}) in ops/ledger/{}.yaml",
                r.id(),
                a.outcome.as_str(),
                r.id().month()
            );
            super::sign::print_tags(r.id(), &done.tag, &done.caught_up, &me.name);
        }
    }
    a.changelog.write(ctx)?;
    Ok(0)
}

#[derive(clap::Args, Debug)]
pub struct CloseArgs {
    /// The operation to close.
    pub id: RecordId,
    /// SUCCESS, PARTIAL or ROLLBACK.
    #[arg(long)]
    pub outcome: OutcomeKind,
    /// With ROLLBACK: the operation that was rolled back (default: the one closed).
    #[arg(long, alias = "rollback_of")]
    pub rollback_of: Option<RecordId>,
    #[arg(long)]
    pub notes: Option<String>,
    #[command(flatten)]
    pub evidence: EvidenceArgs,
    #[command(flatten)]
    pub changelog: super::changelog::ChangelogFlag,
    #[arg(long)]
    pub key: Option<PathBuf>,
}

pub fn run_close(ctx: &Ctx, a: CloseArgs) -> Result<u8> {
    let ws = ctx.workspace()?;
    let me = signer(&ws, a.key.as_deref())?;
    let (_, op) = ws.operation(&a.id)?;
    a.changelog.precheck(&ws)?;
    if let Some(prev) = ws.closing_outcome(&a.id) {
        eprintln!(
            "note: {} was already closed by {prev}; this outcome is recorded as a correction",
            a.id
        );
    }
    if let Some(of) = &a.rollback_of {
        ws.must_be_operation(of, "--rollback-of")?;
    }
    let ev = gather(&ws, &a.evidence, &op.allowed_services)?;
    let closed = ws.close(&me, &a.id, a.outcome, a.rollback_of, a.notes.clone(), ev)?;
    writeln!(std::io::stdout(), "{}", closed.record.id())?;
    eprintln!(
        "closed {} with {} ({}); it no longer covers changes",
        a.id,
        a.outcome.as_str(),
        closed.record.id()
    );
    a.changelog.write(ctx)?;
    Ok(0)
}

#[derive(clap::Args, Debug)]
pub struct RollbackArgs {
    /// The operation being rolled back.
    pub id: RecordId,
    /// Default: "Rollback of <id>: <its name>".
    #[arg(long, alias = "operation_name")]
    pub operation: Option<String>,
    #[arg(long)]
    pub objective: Option<String>,
    #[arg(long, alias = "changes_summary")]
    pub changes_summary: Option<String>,
    #[arg(long)]
    pub notes: Option<String>,
    #[command(flatten)]
    pub evidence: EvidenceArgs,
    #[command(flatten)]
    pub changelog: super::changelog::ChangelogFlag,
    #[arg(long)]
    pub key: Option<PathBuf>,
}

pub fn run_rollback(ctx: &Ctx, a: RollbackArgs) -> Result<u8> {
    let ws = ctx.workspace()?;
    let me = signer(&ws, a.key.as_deref())?;
    a.changelog.precheck(&ws)?;
    let req = ws.rollback_request(
        &a.id,
        a.operation.clone(),
        a.objective.clone(),
        a.changes_summary.clone(),
        a.notes.clone(),
    )?;
    let ev = gather(&ws, &a.evidence, &req.allowed_services)?;
    let done = match ws.record(&me, req, ev)? {
        Recorded::New(done) => done,
        Recorded::Already(id) => {
            return Err(CliError::internal(format!("{id} is already in the ledger")));
        }
    };
    writeln!(std::io::stdout(), "{}", done.record.id())?;
    eprintln!("recorded the rollback of {} as {}", a.id, done.record.id());
    super::sign::print_tags(done.record.id(), &done.tag, &done.caught_up, &me.name);
    a.changelog.write(ctx)?;
    Ok(0)
}
