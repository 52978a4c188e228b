//! `git ops grant create | list | revoke`: preauth grants for automation (seed 003), made and
//! revoked by human approvers only.

use std::io::Write;
use std::path::PathBuf;

use super::Result;
use clap::Subcommand;

use git_ops::engine::{GrantRequest, state_word};
use git_ops::model::record::Record;
use git_ops::model::{RiskClass, SignerName, Timestamp};
use git_ops::render::status::grants_text;
use git_ops::verify::records::State;

use super::Format;
use super::common::{Ctx, signer, stdout};

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

fn create(ctx: &Ctx, a: CreateArgs) -> Result<u8> {
    let ws = ctx.workspace()?;
    let me = signer(&ws, a.key.as_deref())?;
    if ws.policy().signer(&a.grantee).is_some_and(|g| g.is_human()) && me.entry.is_approver() {
        eprintln!(
            "note: {} is a human signer; grants are meant for automation",
            a.grantee
        );
    }
    let done = ws.grant(
        &me,
        GrantRequest {
            grantee: a.grantee.clone(),
            risk_classes: a.risk_classes,
            paths: a.paths,
            services: a.services,
            environments: a.environments,
            expires_in_hours: a.expires_in_hours,
            not_before: a.not_before,
            break_glass: a.break_glass,
            auto_rollback: a.auto_rollback,
            reason: a.reason,
        },
    )?;
    let record = &done.record;
    writeln!(std::io::stdout(), "{}", record.id())?;
    let state = done.judged.state();
    eprintln!(
        "granted {} to {} until {}: {} ({} of {} approvals){}",
        record.id(),
        a.grantee,
        match record {
            Record::Grant(g) => g.expires_at.to_string(),
            _ => String::new(),
        },
        state_word(state),
        done.judged.approvals(),
        done.judged.required(),
        if state == State::Approved {
            String::new()
        } else {
            format!("; another approver runs `git ops sign {}`", record.id())
        }
    );
    super::sign::print_tags(record.id(), &done.tag, &done.caught_up, &me.name);
    Ok(0)
}

fn list(ctx: &Ctx, active_only: bool, format: Format) -> Result<u8> {
    let rows = ctx.workspace()?.grant_rows(active_only);
    let mut out = stdout();
    match format {
        Format::Json => git_ops::render::write_json(&mut out, &rows)?,
        Format::Text => grants_text(&rows, &mut out)?,
    }
    Ok(0)
}

fn revoke(ctx: &Ctx, target: String, reason: Option<String>, key: Option<PathBuf>) -> Result<u8> {
    let ws = ctx.workspace()?;
    let me = signer(&ws, key.as_deref())?;
    let done = ws.revoke(&me, &target, reason)?;
    writeln!(std::io::stdout(), "{}", done.record.id())?;
    super::sign::print_tags(done.record.id(), &done.tag, &done.caught_up, &me.name);
    eprintln!(
        "revoked {target} ({}): grants to it no longer cover anything",
        done.record.id()
    );
    Ok(0)
}
