//! `git ops halt`, `resume` and `status`: freeze automation (every grant is suspended while
//! halted) and show the posture in the seeds' state words, `OK` or `HALTED`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;

use git_ops::model::record::{Halt, Resume};
use git_ops::model::{IdKind, Kind, Record};
use git_ops::render::line;
use git_ops::store::Ledger;
use git_ops::verify::grants::{GrantClock, GrantIndex};
use git_ops::verify::records::{State, check_record_with};

use super::common::{Ctx, append_signed, audited, load_key, load_policy, stdout, whoami};
use super::grant::{left, require_human_approver};
use super::{Format, usage};

#[derive(clap::Args, Debug)]
pub struct HaltArgs {
    #[arg(long)]
    pub reason: Option<String>,
    #[arg(long)]
    pub key: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

pub fn run_halt(ctx: &Ctx, a: HaltArgs, halt: bool) -> Result<u8> {
    let repo = ctx.repo()?;
    let root = repo.workdir()?.to_path_buf();
    let policy = load_policy(&root)?;
    let me = whoami(&policy, load_key(Some(&repo), a.key.as_deref())?)?;
    let now = ctx.now();
    let action = if halt { "halt" } else { "resume" };
    audited(Some(&repo), action, &[], Some(&me), || {
        if halt {
            if !me.entry.is_human() {
                return Err(usage(format!(
                    "only humans may halt, and {} is automation",
                    me.name
                )));
            }
        } else {
            require_human_approver(&me, "resume")?;
            let ledger = Ledger::load(&root)?;
            let idx = GrantIndex::build(&policy, ledger.records().map(|r| r.value));
            if idx.halted_now().is_none() {
                return Err(usage("automation is not halted: nothing to resume"));
            }
        }
        let reason = a.reason.clone();
        let record = append_signed(
            &repo,
            &me,
            now,
            if halt { IdKind::Halt } else { IdKind::Resume },
            |id| {
                if halt {
                    Record::Halt(Halt {
                        record: Kind::Halt,
                        halt_id: id,
                        created_at: Some(now),
                        reason,
                        signoffs: Vec::new(),
                    })
                } else {
                    Record::Resume(Resume {
                        record: Kind::Resume,
                        resume_id: id,
                        created_at: Some(now),
                        reason,
                        signoffs: Vec::new(),
                    })
                }
            },
        )?;
        writeln!(std::io::stdout(), "{}", record.id())?;
        if halt {
            eprintln!(
                "HALTED ({}): every grant is suspended until `git ops resume`",
                record.id()
            );
        } else {
            eprintln!(
                "resumed ({}): grants that are still live apply again",
                record.id()
            );
        }
        Ok(0)
    })
}

pub fn run_status(ctx: &Ctx, a: StatusArgs) -> Result<u8> {
    let repo = ctx.repo()?;
    let root = repo.workdir()?;
    let policy = load_policy(root)?;
    let ledger = Ledger::load(root)?;
    let now = ctx.now();
    let idx = GrantIndex::build(&policy, ledger.records().map(|r| r.value));
    let halted = idx.halted_now();
    let last_halt = idx.halts.iter().rev().find(|(_, h, _, _)| *h);
    let active: Vec<_> = idx
        .grants
        .iter()
        .filter(|(id, _)| idx.live_at(&policy, id, now, true).is_ok())
        .collect();
    let mut waiting = Vec::new();
    for r in ledger.records() {
        let check = check_record_with(&policy, r.value, Some((&idx, GrantClock::Now(now))));
        if check.state() == State::Pending {
            waiting.push((r.value.id().to_string(), check.approvals(), check.required));
        }
    }
    let posture = if halted.is_some() { "HALTED" } else { "OK" };
    let mut out = stdout();
    if a.format == Format::Json {
        let v = serde_json::json!({
            "posture": posture,
            "halted_by": halted.as_ref().map(|(id, _)| id.to_string()),
            "last_halt": last_halt.map(|(at, _, id, reason)| serde_json::json!({"id": id, "at": at, "reason": reason})),
            "active_grants": active.iter().map(|(id, info)| serde_json::json!({
                "id": id, "grantee": info.grant.grantee, "expires_at": info.grant.expires_at,
                "seconds_left": (info.grant.expires_at.unix() - now.unix()).max(0), "break_glass": info.grant.break_glass,
            })).collect::<Vec<_>>(),
            "waiting_for_approval": waiting.iter().map(|(id, n, r)| serde_json::json!({"id": id, "approvals": n, "required": r})).collect::<Vec<_>>(),
        });
        git_ops::render::write_json(&mut out, &v)?;
        return Ok(0);
    }
    writeln!(out, "posture: {posture}")?;
    if let Some((at, _, id, reason)) = last_halt {
        writeln!(
            out,
            "last halt: {id} at {at}: {}",
            line(reason.as_deref().unwrap_or("(no reason given)"))
        )?;
    }
    writeln!(out, "active grants: {}", active.len())?;
    for (id, info) in &active {
        let g = &info.grant;
        writeln!(
            out,
            "  {id} to {} ({} left{})",
            line(g.grantee.as_str()),
            left(g.expires_at.unix() - now.unix()),
            if g.break_glass { ", break-glass" } else { "" }
        )?;
    }
    writeln!(out, "waiting for approval: {}", waiting.len())?;
    for (id, n, r) in &waiting {
        writeln!(out, "  {id} ({n} of {r} approvals)")?;
    }
    Ok(0)
}
