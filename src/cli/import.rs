//! `git ops import`: bring the entries of a ledger kept before git-ops into the signed ledger as
//! imported records (docs/IMPORT.md).

use std::io::Write;
use std::path::PathBuf;

use super::Result;

use git_ops::engine::import::{self, ImportReport};
use git_ops::engine::workspace::{load_policy, signer_in};
use git_ops::render::line;

use super::Format;
use super::common::{Ctx, load_key, stdout};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files to read: the seeds' Markdown ledger (YAML blocks) or flat YAML entries. Default:
    /// docs/OPS_CHANGELOG.md if it exists, and every seed-format entry in ops/ledger/.
    pub paths: Vec<PathBuf>,
    /// Private key to sign the imported records with (as importer).
    #[arg(long)]
    pub key: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

pub fn run(ctx: &Ctx, a: Args) -> Result<u8> {
    let repo = ctx.repo()?;
    let root = repo.workdir()?.to_path_buf();
    let policy = load_policy(&root)?;
    let mut sources = Vec::new();
    for p in &a.paths {
        sources.push(import::relative_source(&root, &ctx.cwd, p)?);
    }
    let me = signer_in(&policy, load_key(Some(&repo), a.key.as_deref())?)?;
    let report = import::import(&repo, &policy, &me, &sources, ctx.now())?;
    let code = if report.unreadable.is_empty() { 0 } else { 2 };
    let mut out = stdout();
    if a.format == Format::Json {
        git_ops::render::write_json(&mut out, &to_json(&report))?;
        return Ok(code);
    }
    for p in &report.imported {
        writeln!(out, "imported {} from {}:{}", p.id, line(&p.file), p.line)?;
    }
    for p in &report.already {
        writeln!(
            out,
            "already in the ledger: {} ({}:{})",
            p.id,
            line(&p.file),
            p.line
        )?;
    }
    drop(out);
    for u in &report.unreadable {
        let at = u.line.map(|l| format!(":{l}")).unwrap_or_default();
        eprintln!("could not read {}{at}: {}", line(&u.file), line(&u.why));
    }
    let mut out = stdout();
    writeln!(
        out,
        "{} imported, {} already there, {} could not be read, from {}",
        report.imported.len(),
        report.already.len(),
        report.unreadable.len(),
        if report.sources.is_empty() {
            "no source (no docs/OPS_CHANGELOG.md, no seed-format entry in ops/ledger/)".to_string()
        } else {
            report.sources.join(", ")
        }
    )?;
    if !report.written.is_empty() {
        writeln!(
            out,
            "wrote {}; commit it: git add {} && git commit -m 'Import the earlier ledger'",
            report.written.join(", "),
            report.written.join(" ")
        )?;
    }
    Ok(code)
}

fn to_json(r: &ImportReport) -> serde_json::Value {
    let placed = |v: &[import::Placed]| -> Vec<serde_json::Value> {
        v.iter()
            .map(|p| serde_json::json!({"id": p.id, "file": p.file, "line": p.line}))
            .collect()
    };
    serde_json::json!({
        "imported": placed(&r.imported),
        "already": placed(&r.already),
        "unreadable": r.unreadable.iter().map(|u| serde_json::json!({"file": u.file, "line": u.line, "why": u.why})).collect::<Vec<_>>(),
        "written": r.written,
        "sources": r.sources,
    })
}
