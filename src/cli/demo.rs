//! `git ops demo [DIR]`: a throwaway repository and the whole story, told with real commands
//! (the script is `git_ops::demo`).

use std::path::PathBuf;

use super::Result;

use git_ops::demo;

use super::common::{Ctx, stdout};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Where to build the demo (must not exist, or be empty). Default: a new temporary directory.
    #[arg(value_name = "DIR")]
    pub target: Option<PathBuf>,
}

pub fn run(_ctx: &Ctx, args: Args) -> Result<u8> {
    demo::run(args.target.as_deref(), &mut stdout())?;
    Ok(0)
}
