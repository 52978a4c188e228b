//! `git ops runbook`, `report` and `changelog`: documents made from the signed ledger.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::ValueEnum;

use git_ops::engine::{Clock, Workspace, state_word};
use git_ops::model::record::Record;
use git_ops::model::{RecordId, trailer, yaml};
use git_ops::render::opsreport::{self, CommitView, OutcomeView};
use git_ops::render::{changelog, runbook, seed};
use git_ops::store::ledger::LedgerFile;
use git_ops::store::{Repo, fsutil};
use git_ops::verify::records::RecordCheck;

use super::common::{Ctx, stdout};

#[derive(clap::Args, Debug)]
pub struct RunbookArgs {
    pub id: RecordId,
}

#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReportFormat {
    #[default]
    Md,
    Json,
}

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    pub id: RecordId,
    #[arg(long, value_enum, default_value_t)]
    pub format: ReportFormat,
}

#[derive(clap::Args, Debug)]
pub struct ChangelogArgs {
    /// Write to this file (e.g. docs/OPS_CHANGELOG.md) instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn seed_view(
    ws: &Workspace,
    r: &Record,
) -> Result<(serde_json::Map<String, serde_json::Value>, RecordCheck)> {
    let check = ws.judge(r, Clock::History)?.check;
    Ok((seed::flat(r, &check), check))
}

pub fn run_runbook(ctx: &Ctx, a: RunbookArgs) -> Result<u8> {
    let ws = ctx.workspace()?;
    let (r, op) = ws.operation(&a.id)?;
    let (flat, check) = seed_view(&ws, r)?;
    let s = |k: &str| flat.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let view = runbook::SignoffView {
        state: state_word(check.state()).to_string(),
        requested_by: s("requested_by"),
        approved_by: s("approved_by"),
        approval_timestamp: s("approval_timestamp"),
        flat_yaml: yaml::render_value(&flat),
    };
    write!(stdout(), "{}", runbook::render(op, &view))?;
    Ok(0)
}

/// Commits that carry `Ops-Id: <id>`, or that added the record, newest first (walks HEAD's history).
fn linked_commits(repo: &Repo, id: &RecordId) -> Result<Vec<CommitView>> {
    let Some(head) = repo.head_commit()? else {
        return Ok(Vec::new());
    };
    let ledger_path = git_ops::store::ledger::month_path(&id.month());
    let mut out = Vec::new();
    for c in repo.commits_between(head, &[])?.into_iter().rev() {
        let info = repo.commit_info(c)?;
        let by_trailer = trailer::ops_ids(&info.message).is_ok_and(|ids| ids.contains(id));
        let (old_tree, changes) = git_ops::verify::range::commit_changes(repo, &info)?;
        let has = |tree| -> Result<bool> {
            Ok(repo.file_in_tree(tree, &ledger_path)?.is_some_and(|b| {
                LedgerFile::parse(&ledger_path, String::from_utf8_lossy(&b).into_owned())
                    .is_ok_and(|f| f.records.iter().any(|(_, r)| r.id() == id))
            }))
        };
        let added_record = changes.iter().any(|ch| ch.path == ledger_path)
            && !has(old_tree)?
            && has(Some(repo.commit_tree(c)?))?;
        if by_trailer || added_record {
            out.push(CommitView {
                id: c.to_hex_with_len(10).to_string(),
                subject: info.message.lines().next().unwrap_or_default().to_string(),
                files: changes.into_iter().map(|ch| ch.path).collect(),
            });
        }
    }
    Ok(out)
}

pub fn run_report(ctx: &Ctx, a: ReportArgs) -> Result<u8> {
    let ws = ctx.workspace()?;
    let (r, op) = ws.operation(&a.id)?;
    let check = ws.judge(r, Clock::History)?.check;
    let outcomes: Vec<OutcomeView> = ws
        .ledger()
        .records()
        .filter_map(|x| match x.value {
            Record::Outcome(o) if o.operation_id == a.id => Some(OutcomeView {
                id: o.outcome_id.to_string(),
                outcome: o.outcome.as_str().to_string(),
                at: o.execution_timestamp.map(|t| t.to_string()),
                notes: o.notes.clone(),
                evidence: o.evidence.clone(),
            }),
            _ => None,
        })
        .collect();
    let rollbacks: Vec<String> = ws
        .ledger()
        .records()
        .filter_map(|x| match x.value {
            Record::Operation(o) if o.rollback_of == Some(a.id) => Some(o.operation_id.to_string()),
            _ => None,
        })
        .collect();
    let now = ctx.now();
    let expired = op
        .expires_at
        .or_else(|| {
            op.created_at
                .map(|c| c.plus_hours(ws.policy().operations.default_window_hours.into()))
        })
        .is_none_or(|e| now >= e);
    let report = opsreport::build(opsreport::Input {
        op,
        state: state_word(check.state()),
        requested_by: check.requester.as_ref().map(|n| n.to_string()),
        approved_by: check
            .approvers
            .union(&check.grant_approvers)
            .map(|n| n.to_string())
            .collect(),
        outcomes,
        rollbacks,
        commits: linked_commits(ws.repo(), &a.id)?,
        expired,
    });
    let mut out = stdout();
    match a.format {
        ReportFormat::Md => write!(out, "{}", opsreport::markdown(&report))?,
        ReportFormat::Json => {
            git_ops::render::write_json(&mut out, &report)?;
        }
    }
    Ok(0)
}

pub fn run_changelog(ctx: &Ctx, a: ChangelogArgs) -> Result<u8> {
    let ws = ctx.workspace()?;
    let mut entries = Vec::new();
    for x in ws.ledger().records() {
        if let Record::Operation(_) = x.value {
            let (flat, _) = seed_view(&ws, x.value)?;
            entries.push((
                x.value.id().to_string(),
                x.value.id().month(),
                yaml::render_value(&flat),
            ));
        }
    }
    let text = changelog::render(&entries);
    match a.out {
        Some(p) => {
            let path = if p.is_relative() {
                ws.root().join(&p)
            } else {
                p.clone()
            };
            fsutil::write_atomic(&path, text.as_bytes(), None)?;
            writeln!(
                stdout(),
                "wrote {} ({} operations)",
                p.display(),
                entries.len()
            )?;
        }
        None => write!(stdout(), "{text}")?,
    }
    Ok(0)
}
