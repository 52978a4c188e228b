//! `git ops runbook`, `report` and `changelog`: documents made from the signed ledger.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::ValueEnum;

use git_ops::model::record::Record;
use git_ops::model::{RecordId, trailer, yaml};
use git_ops::render::opsreport::{self, CommitView, OutcomeView};
use git_ops::render::{changelog, runbook, seed};
use git_ops::store::ledger::LedgerFile;
use git_ops::store::{Ledger, Repo, fsutil};
use git_ops::verify::grants::GrantIndex;
use git_ops::verify::ledger::check_with_history;
use git_ops::verify::records::RecordCheck;

use super::common::{Ctx, load_policy, stdout};
use super::sign::state_word;
use super::usage;

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

struct Loaded {
    repo: Repo,
    ledger: Ledger,
    policy: git_ops::model::Policy,
    grants: GrantIndex,
    earlier: Vec<git_ops::model::Policy>,
}

fn load(ctx: &Ctx) -> Result<Loaded> {
    let repo = ctx.repo()?;
    let root = repo.workdir()?.to_path_buf();
    let ledger = Ledger::load(&root)?;
    let policy = load_policy(&root)?;
    let grants = GrantIndex::build(&policy, ledger.records().map(|r| r.value));
    let earlier = super::common::earlier_policies(&repo, &policy)?;
    Ok(Loaded {
        repo,
        ledger,
        policy,
        grants,
        earlier,
    })
}

impl Loaded {
    fn check(&self, r: &Record) -> RecordCheck {
        check_with_history(&self.policy, &self.earlier, r, &self.grants).0
    }

    fn operation(&self, id: &RecordId) -> Result<(&Record, &git_ops::model::record::Operation)> {
        match self.ledger.find(id).map(|l| l.value) {
            Some(r @ Record::Operation(op)) => Ok((r, op)),
            Some(_) => Err(usage(format!("{id} is not an operation"))),
            None => Err(usage(format!("no operation {id} in the ledger"))),
        }
    }
}

fn seed_view(l: &Loaded, r: &Record) -> (serde_json::Map<String, serde_json::Value>, RecordCheck) {
    let check = l.check(r);
    (seed::flat(r, &check), check)
}

pub fn run_runbook(ctx: &Ctx, a: RunbookArgs) -> Result<u8> {
    let l = load(ctx)?;
    let (r, op) = l.operation(&a.id)?;
    let (flat, check) = seed_view(&l, r);
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
    let l = load(ctx)?;
    let (r, op) = l.operation(&a.id)?;
    let check = l.check(r);
    let outcomes: Vec<OutcomeView> = l
        .ledger
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
    let rollbacks: Vec<String> = l
        .ledger
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
                .map(|c| c.plus_hours(l.policy.operations.default_window_hours.into()))
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
        commits: linked_commits(&l.repo, &a.id)?,
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
    let l = load(ctx)?;
    let mut entries = Vec::new();
    for x in l.ledger.records() {
        if let Record::Operation(_) = x.value {
            let (flat, _) = seed_view(&l, x.value);
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
                l.repo.workdir()?.join(&p)
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
