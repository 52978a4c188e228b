//! `git ops halt` and `resume`: freeze automation (every grant is suspended while halted), and
//! lift the freeze.

use std::io::Write;
use std::path::PathBuf;

use super::Result;

use super::common::{Ctx, signer};

#[derive(clap::Args, Debug)]
pub struct HaltArgs {
    #[arg(long)]
    pub reason: Option<String>,
    #[arg(long)]
    pub key: Option<PathBuf>,
}

pub fn run_halt(ctx: &Ctx, a: HaltArgs, halt: bool) -> Result<u8> {
    let ws = ctx.workspace()?;
    let me = signer(&ws, a.key.as_deref())?;
    let done = if halt {
        ws.halt(&me, a.reason)?
    } else {
        ws.resume(&me, a.reason)?
    };
    let id = done.record.id();
    writeln!(std::io::stdout(), "{id}")?;
    super::sign::print_tags(id, &done.tag, &done.caught_up, &me.name);
    if halt {
        eprintln!("HALTED ({id}): every grant is suspended until `git ops resume`");
    } else {
        eprintln!("resumed ({id}): grants that are still live apply again");
    }
    Ok(0)
}
