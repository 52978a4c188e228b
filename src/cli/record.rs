//! `git ops record` (the seed's auto-ledger: declare, collect evidence and record the outcome in
//! one step, idempotent by operation id), `git ops close` (an outcome record for an earlier
//! operation) and `git ops rollback` (a ROLLBACK operation pointing at the one it reverts).
//!
//! Evidence collectors that fail are recorded in the entry (lenient, the default), or make the
//! command fail with nothing appended (`--strict` or `STRICT_LEDGER=true`).

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;

use git_ops::evidence::{self, Limits, Request};
use git_ops::model::record::{Evidence, Operation, Outcome, OutcomeKind};
use git_ops::model::{IdKind, Kind, Record, RecordId, RiskClass};
use git_ops::store::{Ledger, Repo};

use super::common::{
    Ctx, Me, append_signed, append_signed_as, audited, load_key, load_policy, whoami,
};
use super::sign::after_signing;
use super::{rejected, usage};

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
    /// Read-only redis commands to record, e.g. "HGETALL quantum:portfolio:cluster_state".
    #[arg(long = "redis-cmd", alias = "redis_cmds", alias = "redis-cmds", num_args = 1..)]
    pub redis_cmds: Vec<String>,
    #[arg(long, alias = "redis_url", default_value = evidence::DEFAULT_REDIS_URL)]
    pub redis_url: String,
    /// Seconds each collector step may take.
    #[arg(long, default_value_t = 10)]
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
}

/// Collects the evidence `args` ask for (plus git and host, plus `services`). In lenient mode a
/// collector whose arguments are invalid (a bad regex, a redis write) is skipped and the reason
/// recorded; in strict mode any failure is an error and nothing is written.
pub fn gather(
    repo: &Repo,
    args: &EvidenceArgs,
    services: &[String],
    now: git_ops::model::Timestamp,
) -> Result<Evidence> {
    let strict = args.strict();
    let limits = Limits {
        timeout: Duration::from_secs(args.evidence_timeout.max(1)),
        ..Limits::default()
    };
    let mut metrics_urls = args.metrics_urls.clone();
    let mut metrics_grep = args.metrics_grep.clone();
    let mut redis_cmds = args.redis_cmds.clone();
    let mut redis_url = args.redis_url.clone();
    let mut services = services.to_vec();
    let mut skipped = Vec::new();
    {
        let base = Request {
            limits,
            ..Request::default()
        };
        let parts: [(&str, Request); 3] = [
            (
                "metrics",
                Request {
                    metrics_urls: &metrics_urls,
                    metrics_grep: &metrics_grep,
                    ..base.clone()
                },
            ),
            (
                "redis",
                Request {
                    redis_url: &redis_url,
                    redis_cmds: &redis_cmds,
                    ..base.clone()
                },
            ),
            (
                "services",
                Request {
                    services: &services,
                    ..base.clone()
                },
            ),
        ];
        for (name, part) in parts {
            if let Err(e) = evidence::validate(&part) {
                if strict {
                    return Err(rejected(format!(
                        "evidence ({name}): {e}; nothing was recorded (strict mode)"
                    )));
                }
                skipped.push((name, format!("{name}: not collected: {e}")));
            }
        }
    }
    for (name, _) in &skipped {
        match *name {
            "metrics" => {
                metrics_urls.clear();
                metrics_grep.clear();
            }
            "redis" => {
                redis_cmds.clear();
                redis_url = evidence::DEFAULT_REDIS_URL.to_string();
            }
            _ => services.clear(),
        }
    }
    let workdir = repo.workdir().ok().map(|p| p.to_path_buf());
    let req = Request {
        repo_dir: workdir.as_deref(),
        proof_path: args.proof_path.as_deref(),
        metrics_urls: &metrics_urls,
        metrics_grep: &metrics_grep,
        redis_url: &redis_url,
        redis_cmds: &redis_cmds,
        services: &services,
        limits,
    };
    let (mut ev, errors) = evidence::collect(&req, now);
    for (_, e) in skipped {
        ev.errors.push(e.clone());
        eprintln!("warning: {e}");
    }
    if !errors.is_empty() {
        if strict {
            return Err(rejected(format!(
                "evidence collection failed ({}); nothing was recorded (strict mode)",
                errors.join("; ")
            )));
        }
        for e in &errors {
            eprintln!("warning: evidence: {e} (recorded in the entry)");
        }
    }
    Ok(ev)
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
    #[arg(long)]
    pub key: Option<PathBuf>,
}

fn default_rollback(ev: &Evidence) -> String {
    match &ev.git {
        Some(g) => format!("git revert {} and redeploy", g.commit_short),
        None => "revert the change and redeploy".to_string(),
    }
}

pub fn run_record(ctx: &Ctx, a: RecordArgs) -> Result<u8> {
    if a.outcome == OutcomeKind::Rollback && a.rollback_of.is_none() {
        return Err(usage(
            "--outcome ROLLBACK needs --rollback-of <operation id>",
        ));
    }
    if let Some(id) = &a.operation_id
        && id.kind() != IdKind::Operation
    {
        return Err(usage(format!(
            "--operation-id {id}: not an operation id (OPS-YYYY-MM-DD-NNN)"
        )));
    }
    let repo = ctx.repo()?;
    let root = repo.workdir()?.to_path_buf();
    if let Some(id) = &a.operation_id
        && Ledger::load(&root)?.find(id).is_some()
    {
        writeln!(std::io::stdout(), "{id} already recorded")?;
        return Ok(0);
    }
    if let Some(of) = &a.rollback_of {
        must_be_operation(&Ledger::load(&root)?, of, "--rollback-of")?;
    }
    let policy = load_policy(&root)?;
    let me = whoami(&policy, load_key(Some(&repo), a.key.as_deref())?)?;
    let now = ctx.now();
    let ev = gather(&repo, &a.evidence, &a.allowed_services, now)?;
    let hours = i64::from(policy.operations.default_window_hours);
    let rollback_strategy = a
        .rollback_strategy
        .clone()
        .unwrap_or_else(|| default_rollback(&ev));
    let op = recorded_operation(
        &me,
        now,
        hours,
        ev,
        Decl {
            name: a.operation.clone(),
            objective: a.objective.clone(),
            risk_class: a.risk_class,
            blast_radius: a.blast_radius.clone(),
            rollback_strategy,
            allowed_paths: a.allowed_paths.clone(),
            allowed_services: a.allowed_services.clone(),
            changes_summary: Some(a.changes_summary.clone()),
            environment: a.environment.clone(),
            rollback_of: a.rollback_of,
            notes: a.notes.clone(),
            outcome: a.outcome,
        },
    );
    let record = record_operation(&repo, &me, now, op, a.operation_id)?;
    match record {
        None => {
            let id = a.operation_id.expect("only a given id can be taken");
            writeln!(std::io::stdout(), "{id} already recorded")?;
        }
        Some(r) => {
            writeln!(std::io::stdout(), "{}", r.id())?;
            eprintln!(
                "recorded {} ({}) in ops/ledger/{}.yaml",
                r.id(),
                a.outcome.as_str(),
                r.id().month()
            );
            after_signing(&repo, &policy, &me, &r)?;
        }
    }
    Ok(0)
}

/// What an after-the-fact operation declares; the rest comes from the caller, the clock and
/// the evidence.
struct Decl {
    name: String,
    objective: String,
    risk_class: RiskClass,
    blast_radius: String,
    rollback_strategy: String,
    allowed_paths: Vec<String>,
    allowed_services: Vec<String>,
    changes_summary: Option<String>,
    environment: Option<String>,
    rollback_of: Option<RecordId>,
    notes: Option<String>,
    outcome: OutcomeKind,
}

/// An operation recorded after the fact: requested by the caller now, with its outcome and the
/// evidence, open for the policy's window (the id is assigned when it is appended).
fn recorded_operation(
    me: &Me,
    now: git_ops::model::Timestamp,
    hours: i64,
    ev: Evidence,
    d: Decl,
) -> Operation {
    Operation {
        record: Kind::Operation,
        operation_id: "OPS-2000-01-01-001".parse().expect("a valid placeholder"),
        operation_name: d.name,
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
        expires_at: Some(now.plus_hours(hours)),
        git_commit: ev.git.as_ref().map(|g| g.commit.clone()),
        git_branch: ev.git.as_ref().and_then(|g| g.branch.clone()),
        hostname: ev.hostname.clone(),
        rollback_of: d.rollback_of,
        notes: d.notes,
        outcome: Some(d.outcome),
        execution_timestamp: Some(now),
        evidence: Some(ev),
        signoffs: Vec::new(),
    }
}

/// Appends `op` under `id` (or a fresh id), signed by the caller. None when `id` is taken (a
/// concurrent run recorded it first).
fn record_operation(
    repo: &Repo,
    me: &Me,
    now: git_ops::model::Timestamp,
    op: Operation,
    id: Option<RecordId>,
) -> Result<Option<Record>> {
    let ids = id.map(|i| vec![i.to_string()]).unwrap_or_default();
    audited(Some(repo), "sign", &ids, Some(me), || {
        append_signed_as(repo, me, now, IdKind::Operation, id, |id| {
            Record::Operation(Operation {
                operation_id: id,
                ..op
            })
        })
    })
}

/// `id` must name an operation in the ledger.
fn must_be_operation(ledger: &Ledger, id: &RecordId, flag: &str) -> Result<()> {
    match ledger.find(id).map(|l| l.value) {
        Some(Record::Operation(_)) => Ok(()),
        Some(_) => Err(usage(format!("{flag} {id}: not an operation"))),
        None => Err(usage(format!(
            "{flag} {id}: no such operation in the ledger"
        ))),
    }
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
    #[arg(long)]
    pub key: Option<PathBuf>,
}

pub fn run_close(ctx: &Ctx, a: CloseArgs) -> Result<u8> {
    let repo = ctx.repo()?;
    let root = repo.workdir()?.to_path_buf();
    let policy = load_policy(&root)?;
    let me = whoami(&policy, load_key(Some(&repo), a.key.as_deref())?)?;
    let ledger = Ledger::load(&root)?;
    let op = match ledger.find(&a.id).map(|l| l.value) {
        Some(Record::Operation(op)) => op.clone(),
        Some(_) => return Err(usage(format!("{} is not an operation", a.id))),
        None => return Err(usage(format!("no operation {} in the ledger", a.id))),
    };
    if let Some(prev) = ledger.records().find_map(|r| match r.value {
        Record::Outcome(o) if o.operation_id == a.id => Some(o.outcome_id),
        _ => None,
    }) {
        eprintln!(
            "note: {} was already closed by {prev}; this outcome is recorded as a correction",
            a.id
        );
    }
    if let Some(of) = &a.rollback_of {
        must_be_operation(&ledger, of, "--rollback-of")?;
    }
    let now = ctx.now();
    let ev = gather(&repo, &a.evidence, &op.allowed_services, now)?;
    let rollback_of = match a.outcome {
        OutcomeKind::Rollback => Some(a.rollback_of.unwrap_or(a.id)),
        _ => a.rollback_of,
    };
    let ids = [a.id.to_string()];
    let record = audited(Some(&repo), "sign", &ids, Some(&me), || {
        append_signed(&repo, &me, now, IdKind::Outcome, |id| {
            Record::Outcome(Outcome {
                record: Kind::Outcome,
                outcome_id: id,
                operation_id: a.id,
                outcome: a.outcome,
                created_at: Some(now),
                execution_timestamp: Some(now),
                rollback_of,
                evidence: Some(ev),
                notes: a.notes.clone(),
                signoffs: Vec::new(),
            })
        })
    })?;
    writeln!(std::io::stdout(), "{}", record.id())?;
    eprintln!(
        "closed {} with {} ({}); it no longer covers changes",
        a.id,
        a.outcome.as_str(),
        record.id()
    );
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
    #[arg(long)]
    pub key: Option<PathBuf>,
}

pub fn run_rollback(ctx: &Ctx, a: RollbackArgs) -> Result<u8> {
    let repo = ctx.repo()?;
    let root = repo.workdir()?.to_path_buf();
    let policy = load_policy(&root)?;
    let me = whoami(&policy, load_key(Some(&repo), a.key.as_deref())?)?;
    let ledger = Ledger::load(&root)?;
    let orig = match ledger.find(&a.id).map(|l| l.value) {
        Some(Record::Operation(op)) => op.clone(),
        Some(_) => return Err(usage(format!("{} is not an operation", a.id))),
        None => return Err(usage(format!("no operation {} in the ledger", a.id))),
    };
    let now = ctx.now();
    let ev = gather(&repo, &a.evidence, &orig.allowed_services, now)?;
    let hours = i64::from(policy.operations.default_window_hours);
    let op = recorded_operation(
        &me,
        now,
        hours,
        ev,
        Decl {
            name: a
                .operation
                .clone()
                .unwrap_or_else(|| format!("Rollback of {}: {}", a.id, orig.operation_name)),
            objective: a
                .objective
                .clone()
                .unwrap_or_else(|| format!("Revert {}", a.id)),
            risk_class: orig.risk_class,
            blast_radius: orig.blast_radius.clone(),
            rollback_strategy: format!("re-apply {} under a new operation", a.id),
            allowed_paths: orig.allowed_paths.clone(),
            allowed_services: orig.allowed_services.clone(),
            changes_summary: a.changes_summary.clone(),
            environment: orig.environment.clone(),
            rollback_of: Some(a.id),
            notes: a.notes.clone(),
            outcome: OutcomeKind::Rollback,
        },
    );
    let record = record_operation(&repo, &me, now, op, None)?.expect("a fresh id is never taken");
    writeln!(std::io::stdout(), "{}", record.id())?;
    eprintln!("recorded the rollback of {} as {}", a.id, record.id());
    after_signing(&repo, &policy, &me, &record)?;
    Ok(0)
}
