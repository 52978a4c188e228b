//! `git ops grant create | list | revoke`: preauth grants for automation (seed 003), made and
//! revoked by human approvers only.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;

use git_ops::model::record::{Grant, GrantScope, Revocation};
use git_ops::model::{IdKind, Kind, Record, RecordId, RiskClass, SignerName, Timestamp};
use git_ops::render::line;
use git_ops::store::Ledger;
use git_ops::verify::grants::{GrantIndex, limits};
use git_ops::verify::records::check_record;

use super::common::{Ctx, Me, append_signed, audited, load_key, load_policy, stdout, whoami};
use super::sign::{after_signing, state_word};
use super::{Format, usage, usage_hint};

#[derive(Subcommand, Debug)]
pub enum GrantCmd {
    /// Grant a signer (usually automation) the right to approve operations inside a scope, for a
    /// limited time.
    Create(CreateArgs),
    /// List grants.
    List {
        /// Only grants live now.
        #[arg(long)]
        active_only: bool,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Revoke a grant, or every grant to a signer.
    Revoke {
        /// A grant id, or a signer name.
        target: String,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        key: Option<PathBuf>,
    },
}

#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    /// The signer the grant is for.
    #[arg(long)]
    pub grantee: SignerName,
    #[arg(long, value_delimiter = ',', num_args = 1.., required = true)]
    pub risk_classes: Vec<RiskClass>,
    /// Paths the grantee's operations may touch (repository-relative, gitignore-style).
    #[arg(long, value_delimiter = ',', num_args = 1.., required = true)]
    pub paths: Vec<String>,
    /// Services the grantee's operations may touch (`*` for any).
    #[arg(long, value_delimiter = ',', num_args = 0.., required = true)]
    pub services: Vec<String>,
    /// Environments (dev, staging, prod, ...; `*` for any).
    #[arg(long, value_delimiter = ',', num_args = 0.., required = true)]
    pub environments: Vec<String>,
    /// How long the grant lasts, from --not-before (or now).
    #[arg(long)]
    pub expires_in_hours: u32,
    /// When the grant starts (RFC 3339 UTC, e.g. 2026-01-27T08:00:00Z); default now.
    #[arg(long)]
    pub not_before: Option<Timestamp>,
    /// An emergency grant: limited to the policy's break_glass_max_hours.
    #[arg(long)]
    pub break_glass: bool,
    /// The grantee may also roll back what it deployed.
    #[arg(long)]
    pub auto_rollback: bool,
    #[arg(long)]
    pub reason: Option<String>,
    #[arg(long)]
    pub key: Option<PathBuf>,
}

pub fn run(ctx: &Ctx, cmd: GrantCmd) -> Result<u8> {
    match cmd {
        GrantCmd::Create(a) => create(ctx, a),
        GrantCmd::List {
            active_only,
            format,
        } => list(ctx, active_only, format),
        GrantCmd::Revoke {
            target,
            reason,
            key,
        } => revoke(ctx, target, reason, key),
    }
}

/// Human approvers only: automation can never grant, revoke, halt or resume.
pub fn require_human_approver(me: &Me, action: &str) -> Result<()> {
    if !me.entry.is_approver() {
        return Err(usage(format!(
            "only human approvers may {action}, and {} is {}",
            me.name,
            if me.entry.is_human() {
                "not an approver"
            } else {
                "automation"
            }
        )));
    }
    Ok(())
}

fn create(ctx: &Ctx, a: CreateArgs) -> Result<u8> {
    let repo = ctx.repo()?;
    let root = repo.workdir()?.to_path_buf();
    let policy = load_policy(&root)?;
    let me = whoami(&policy, load_key(Some(&repo), a.key.as_deref())?)?;
    let now = ctx.now();
    audited(
        Some(&repo),
        "grant",
        &[format!("grantee={}", a.grantee)],
        Some(&me),
        || {
            require_human_approver(&me, "grant")?;
            let Some(grantee) = policy.signer(&a.grantee) else {
                return Err(usage_hint(
                    format!("unknown grantee {}: not a signer in the policy", a.grantee),
                    "add it first: git ops keys add <name> <pubkey> --role automation",
                ));
            };
            if grantee.is_human() {
                eprintln!(
                    "note: {} is a human signer; grants are meant for automation",
                    a.grantee
                );
            }
            if a.expires_in_hours == 0 {
                return Err(usage("--expires-in-hours must be at least 1"));
            }
            let start = a.not_before.unwrap_or(now);
            if start.unix() + i64::from(a.expires_in_hours) * 3600 <= now.unix() {
                return Err(usage("the grant would expire in the past"));
            }
            for p in &a.paths {
                let p = p.trim_start_matches('/');
                if let Some(r) = policy.rules_for(p).find(|r| r.human_only) {
                    return Err(usage(format!(
                        "{p} falls under a human_only rule ({}); no grant can cover it",
                        r.paths
                            .iter()
                            .map(|g| g.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
            let grant = Grant {
                record: Kind::Grant,
                grant_id: "GRANT-2000-01-01-001"
                    .parse()
                    .expect("a valid placeholder id"),
                grantee: a.grantee.clone(),
                created_at: Some(now),
                not_before: a.not_before,
                expires_at: start.plus_hours(a.expires_in_hours.into()),
                scope: GrantScope {
                    risk_classes: a.risk_classes.clone(),
                    paths: a.paths.clone(),
                    services: a.services.clone(),
                    environments: a.environments.clone(),
                    auto_rollback: a.auto_rollback,
                },
                break_glass: a.break_glass,
                reason: a.reason.clone(),
                signoffs: Vec::new(),
            };
            limits(&policy, &grant)
                .map_err(|e| usage(e.replace(&grant.grant_id.to_string(), "the new grant")))?;
            let record = append_signed(&repo, &me, now, IdKind::Grant, |id| {
                Record::Grant(Grant {
                    grant_id: id,
                    ..grant
                })
            })?;
            let check = check_record(&policy, &record);
            writeln!(std::io::stdout(), "{}", record.id())?;
            eprintln!(
                "granted {} to {} until {}: {} ({} of {} approvals){}",
                record.id(),
                a.grantee,
                match &record {
                    Record::Grant(g) => g.expires_at.to_string(),
                    _ => String::new(),
                },
                state_word(check.state()),
                check.approvals(),
                check.required,
                if check.state() == git_ops::verify::records::State::Approved {
                    String::new()
                } else {
                    format!("; another approver runs `git ops sign {}`", record.id())
                }
            );
            after_signing(&repo, &policy, &me, &record)?;
            Ok(0)
        },
    )
}

fn list(ctx: &Ctx, active_only: bool, format: Format) -> Result<u8> {
    let repo = ctx.repo()?;
    let root = repo.workdir()?;
    let policy = load_policy(root)?;
    let ledger = Ledger::load(root)?;
    let idx = GrantIndex::build(&policy, ledger.records().map(|r| r.value));
    let now = ctx.now();
    let mut rows = Vec::new();
    for (id, info) in &idx.grants {
        let live = idx.live_at(&policy, id, now, true);
        if active_only && live.is_err() {
            continue;
        }
        rows.push((id, info, live.err()));
    }
    let mut out = stdout();
    if format == Format::Json {
        let v: Vec<_> = rows
            .iter()
            .map(|(id, info, why)| {
                let g = &info.grant;
                serde_json::json!({
                    "id": id, "grantee": g.grantee, "state": info.state, "live": why.is_none(),
                    "not_live_because": why, "not_before": g.not_before, "expires_at": g.expires_at,
                    "seconds_left": (g.expires_at.unix() - now.unix()).max(0),
                    "break_glass": g.break_glass, "scope": g.scope, "signers": info.signers, "reason": g.reason,
                })
            })
            .collect();
        git_ops::render::write_json(&mut out, &v)?;
        return Ok(0);
    }
    for (id, info, why) in rows {
        let g = &info.grant;
        let status = match &why {
            None => format!("live, {} left", left(g.expires_at.unix() - now.unix())),
            Some(w) => format!("not live: {}", line(w)),
        };
        writeln!(
            out,
            "{id}  to {}  {}{}  paths {}  services {}  envs {}  ({status})",
            line(g.grantee.as_str()),
            g.scope
                .risk_classes
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(","),
            if g.break_glass { " BREAK-GLASS" } else { "" },
            line(&g.scope.paths.join(",")),
            line(&g.scope.services.join(",")),
            line(&g.scope.environments.join(",")),
        )?;
    }
    Ok(0)
}

pub fn left(secs: i64) -> String {
    let secs = secs.max(0);
    format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60)
}

fn revoke(ctx: &Ctx, target: String, reason: Option<String>, key: Option<PathBuf>) -> Result<u8> {
    let repo = ctx.repo()?;
    let root = repo.workdir()?.to_path_buf();
    let policy = load_policy(&root)?;
    let me = whoami(&policy, load_key(Some(&repo), key.as_deref())?)?;
    let now = ctx.now();
    audited(
        Some(&repo),
        "revoke",
        std::slice::from_ref(&target),
        Some(&me),
        || {
            require_human_approver(&me, "revoke")?;
            let ledger = Ledger::load(&root)?;
            if let Ok(id) = target.parse::<RecordId>() {
                match ledger.find(&id).map(|l| l.value) {
                    Some(Record::Grant(_)) => {}
                    Some(_) => return Err(usage(format!("{id} is not a grant"))),
                    None => return Err(usage(format!("no grant {id} in the ledger"))),
                }
            } else {
                let name = SignerName::new(&target).map_err(|_| {
                    usage(format!(
                        "{target:?} is neither a grant id nor a signer name"
                    ))
                })?;
                if policy.signer(&name).is_none() {
                    return Err(usage(format!("unknown signer {name}")));
                }
            }
            let record = append_signed(&repo, &me, now, IdKind::Revocation, |id| {
                Record::Revocation(Revocation {
                    record: Kind::Revocation,
                    revocation_id: id,
                    revokes: target.clone(),
                    created_at: Some(now),
                    reason: reason.clone(),
                    signoffs: Vec::new(),
                })
            })?;
            writeln!(std::io::stdout(), "{}", record.id())?;
            eprintln!(
                "revoked {target} ({}): grants to it no longer cover anything",
                record.id()
            );
            Ok(0)
        },
    )
}
