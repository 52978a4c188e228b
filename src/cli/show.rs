//! `git ops show`, `list` and `log`: read the ledger.

use std::io::Write;

use super::Result;
use clap::ValueEnum;

use git_ops::engine::{Clock, Workspace, state_word};
use git_ops::model::record::Role;
use git_ops::model::{Kind, RecordId, SignerName, yaml};
use git_ops::render::{block, line};
use git_ops::store::ledger::BadDoc;
use git_ops::verify::records::State;

use super::common::{Ctx, stdout};
use super::{Format, usage};

#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ShowFormat {
    #[default]
    Yaml,
    Json,
    /// The seeds' flat form, with requested_by / approved_by / approval_timestamp.
    Seed,
}

#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    pub id: RecordId,
    #[arg(long, value_enum, default_value_t)]
    pub format: ShowFormat,
    /// Print the exact bytes the signoff by --by signed (for `ssh-keygen -Y verify -n git-ops`).
    #[arg(long, requires = "by")]
    pub statement: bool,
    /// The signer whose statement to print.
    #[arg(long)]
    pub by: Option<SignerName>,
    /// With --statement, which of the signer's signoffs (when they signed in two roles).
    #[arg(long, value_parser = ["requester", "approver", "importer"])]
    pub role: Option<String>,
    /// With --statement: print the signature instead of the statement.
    #[arg(long, requires = "statement")]
    pub sig: bool,
    /// List the commits linked to the operation (its `Ops-Id:` trailers, the commit that added
    /// it) with their verified signers, instead of the record.
    #[arg(long, conflicts_with = "statement")]
    pub commits: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateFilter {
    Approved,
    Pending,
    Invalid,
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Only records of this kind.
    #[arg(long, value_parser = ["operation", "outcome", "grant", "revocation", "halt", "resume", "import"])]
    pub kind: Option<String>,
    /// Only records in this state.
    #[arg(long, value_enum)]
    pub state: Option<StateFilter>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

pub fn run_show(ctx: &Ctx, args: ShowArgs) -> Result<u8> {
    let (ws, bad) = Workspace::open_lenient(&ctx.cwd)?;
    if let Some(b) = bad.iter().find(|b| b.id == Some(args.id)) {
        return Err(usage(format!(
            "{} does not read: {}",
            args.id,
            line(&b.to_string())
        )));
    }
    let record = match ws.ledger().find(&args.id) {
        Some(r) => r.value,
        None if bad.is_empty() => {
            return Err(usage(format!("no record {} in the ledger", args.id)));
        }
        None => {
            report_bad(&bad);
            return Err(usage(format!(
                "no record {} among the documents of the ledger that read",
                args.id
            )));
        }
    };
    // The record asked for reads: show it, and say what else does not.
    for b in &bad {
        eprintln!("git-ops: warning: {}", line(&b.to_string()));
    }
    let mut out = stdout();
    if args.commits {
        let list = git_ops::engine::report::linked_commits(ws.repo(), &args.id)?;
        if args.format == ShowFormat::Json {
            git_ops::render::write_json(&mut out, &list)?;
        } else {
            for c in &list {
                writeln!(
                    out,
                    "{}  signed by: {}  {}",
                    c.id,
                    line(&c.signer),
                    line(&c.subject)
                )?;
            }
        }
        return Ok(0);
    }
    if args.statement {
        let by = args.by.expect("clap requires --by");
        let role = args.role.as_deref().map(|r| match r {
            "requester" => Role::Requester,
            "importer" => Role::Importer,
            _ => Role::Approver,
        });
        let mut matching = record
            .signoffs()
            .iter()
            .filter(|s| s.by == by && role.is_none_or(|r| s.role == r));
        let Some(s) = matching.next() else {
            return Err(usage(format!("{} has no signoff by {by}", args.id)));
        };
        if matching.next().is_some() {
            return Err(usage(format!(
                "{by} signed {} more than once; pass --role",
                args.id
            )));
        }
        if args.sig {
            out.write_all(s.sig.as_str().as_bytes())?;
        } else {
            // Exactly the signed bytes: no trailing newline.
            let digest = record.payload_sha256();
            let repo = ws.policy().repository_id.as_deref();
            out.write_all(&record.statement_in(repo, &digest, s).to_bytes())?;
        }
        return Ok(0);
    }
    match args.format {
        ShowFormat::Yaml => write!(out, "{}", block(&yaml::render_record(record)))?,
        ShowFormat::Json => {
            git_ops::render::write_json(&mut out, &record.to_json())?;
        }
        ShowFormat::Seed => {
            let flat = ws.seed_view(record)?;
            write!(out, "---\n{}", block(&yaml::render_value(&flat)))?;
        }
    }
    Ok(0)
}

/// Each document that does not read, on standard error.
fn report_bad(bad: &[BadDoc]) {
    for b in bad {
        eprintln!("git-ops: error: {}", line(&b.to_string()));
    }
}

pub fn run_list(ctx: &Ctx, args: ListArgs, log: bool) -> Result<u8> {
    let (ws, bad) = Workspace::open_lenient(&ctx.cwd)?;
    let code = list_rows(&ws, args, log)?;
    if bad.is_empty() {
        return Ok(code);
    }
    // The others are listed; the ledger is still broken: a configuration problem (2), as for
    // every command that reads it (docs/CLI-ERRORS.md).
    report_bad(&bad);
    eprintln!(
        "hint: fix the line named above (a seed-format entry: git ops import); records in it are not counted, so states shown may differ once it reads"
    );
    Ok(2)
}

fn list_rows(ws: &Workspace, args: ListArgs, log: bool) -> Result<u8> {
    let kind = args.kind.as_deref().and_then(Kind::parse);
    let mut rows = Vec::new();
    for r in ws.ledger().records() {
        let record = r.value;
        if kind.is_some_and(|k| k != record.kind()) {
            continue;
        }
        let check = ws.judge(record, Clock::History)?.check;
        let state = check.state();
        let wanted = match args.state {
            None => true,
            Some(StateFilter::Approved) => {
                state == State::Approved && record.kind() != Kind::Import
            }
            Some(StateFilter::Pending) => state == State::Pending,
            Some(StateFilter::Invalid) => state == State::Invalid,
        };
        if wanted {
            rows.push((record, check, r.file, r.line));
        }
    }
    if log {
        rows.sort_by(|a, b| b.0.id().cmp(a.0.id()));
    }
    let mut out = stdout();
    if args.format == Format::Json {
        let v: Vec<_> = rows
            .iter()
            .map(|(r, c, file, l)| {
                serde_json::json!({
                    "id": r.id(), "kind": r.kind(), "state": shown_state(r, c.state()),
                    "approvals": c.approvals(), "required": c.required,
                    "title": title(r), "file": file, "line": l,
                    "signoffs": if log { serde_json::to_value(r.signoffs()).unwrap_or_default() } else { serde_json::Value::Null },
                })
            })
            .collect();
        git_ops::render::write_json(&mut out, &v)?;
        return Ok(0);
    }
    for (r, c, _, _) in &rows {
        writeln!(
            out,
            "{:<22} {:<10} {:<9} {}/{}  {}",
            r.id().to_string(),
            r.kind().as_str(),
            shown_state(r, c.state()),
            c.approvals(),
            c.required,
            line(&title(r))
        )?;
        if log {
            for s in r.signoffs() {
                let grant = s.grant.map(|g| format!(" under {g}")).unwrap_or_default();
                writeln!(
                    out,
                    "    {} {} {} {}{grant}",
                    s.at,
                    s.role,
                    line(s.by.as_str()),
                    s.key
                )?;
            }
        }
    }
    Ok(0)
}

/// The state `list` shows: an imported entry's is `imported` while its attestation holds, never
/// `approved` (it approves nothing).
fn shown_state(r: &git_ops::model::Record, state: State) -> &'static str {
    match (r.kind(), state) {
        (Kind::Import, State::Approved) => "imported",
        _ => state_word(state),
    }
}

fn title(r: &git_ops::model::Record) -> String {
    use git_ops::model::Record as R;
    match r {
        R::Operation(o) => format!("{} [{}]", o.operation_name, o.risk_class),
        R::Outcome(o) => format!("{} of {}", o.outcome.as_str(), o.operation_id),
        R::Grant(g) => format!("to {} until {}", g.grantee, g.expires_at),
        R::Revocation(v) => format!("revokes {}", v.revokes),
        R::Halt(h) => format!("halt: {}", h.reason.as_deref().unwrap_or("")),
        R::Resume(h) => format!("resume: {}", h.reason.as_deref().unwrap_or("")),
        R::Import(i) => format!(
            "imported from {}:{}: {}",
            i.source.file,
            i.source.line,
            i.entry
                .get("operation_name")
                .and_then(|v| v.as_str())
                .unwrap_or("")
        ),
    }
}
