//! `git ops report`: the reporting contract of an operation (exec summary, changes made,
//! verification evidence, risk assessment, next safe actions).

use std::io::Write;

use super::Result;
use clap::ValueEnum;

use git_ops::model::RecordId;
use git_ops::render::report;

use super::common::{Ctx, stdout};

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

pub fn run(ctx: &Ctx, a: ReportArgs) -> Result<u8> {
    let ws = ctx.workspace()?;
    let report = report::build(ws.operation_facts(&a.id)?);
    let mut out = stdout();
    match a.format {
        ReportFormat::Md => write!(out, "{}", report::markdown(&report))?,
        ReportFormat::Json => git_ops::render::write_json(&mut out, &report)?,
    }
    Ok(0)
}
