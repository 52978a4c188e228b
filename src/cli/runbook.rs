//! `git ops runbook`: the runbook template of an operation, with its signoff and ledger entry.

use std::io::Write;

use super::Result;

use git_ops::engine::state_word;
use git_ops::model::{RecordId, yaml};
use git_ops::render::runbook;

use super::common::{Ctx, stdout};

#[derive(clap::Args, Debug)]
pub struct RunbookArgs {
    pub id: RecordId,
}

pub fn run(ctx: &Ctx, a: RunbookArgs) -> Result<u8> {
    let ws = ctx.workspace()?;
    let (r, op, judged) = ws.operation_as_history(&a.id)?;
    let flat = ws.seed_view(r)?;
    let s = |k: &str| flat.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let view = runbook::SignoffView {
        state: state_word(judged.state()).to_string(),
        requested_by: s("requested_by"),
        approved_by: s("approved_by"),
        approval_timestamp: s("approval_timestamp"),
        flat_yaml: yaml::render_value(&flat),
    };
    write!(stdout(), "{}", runbook::render(op, &view))?;
    Ok(0)
}
