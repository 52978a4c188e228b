//! `git ops status`: the posture in the seeds' state words, `OK` or `HALTED`, with the live
//! grants and the operations waiting for approval.

use super::Result;

use git_ops::render::status;

use super::Format;
use super::common::{Ctx, stdout};

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

pub fn run(ctx: &Ctx, a: StatusArgs) -> Result<u8> {
    let s = ctx.workspace()?.status()?;
    let mut out = stdout();
    match a.format {
        Format::Json => status::json(&s, &mut out)?,
        Format::Text => status::text(&s, &mut out)?,
    }
    Ok(0)
}
