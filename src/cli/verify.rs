//! `git ops verify`: the ledger's schema, signatures, thresholds and tags.

use std::io::Write;

use anyhow::Result;

use git_ops::render::report;
use git_ops::store::{ledger, tags};
use git_ops::verify::ledger::verify_ledger;

use super::Format;
use super::common::{Ctx, load_policy, stdout};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    let repo = ctx.repo()?;
    let root = repo.workdir()?.to_path_buf();
    let policy = load_policy(&root)?;
    let files = ledger::load_files(&root)?;
    let mut infos = Vec::new();
    for name in tags::list_ops_tag_names(&repo)? {
        infos.push(tags::read_tag(&repo, &name)?);
    }
    let report = verify_ledger(&policy, &files, &infos);
    let mut out = stdout();
    match args.format {
        Format::Text => report::text(&report, &mut out)?,
        Format::Json => report::json(&report, &mut out)?,
    }
    out.flush()?;
    Ok(if report.ok() { 0 } else { 1 })
}
