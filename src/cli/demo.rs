//! `git ops demo [DIR]`: a throwaway repository and the whole story, told with real commands
//! (the script is `git_ops::demo`).

use std::path::PathBuf;

use anyhow::Result;

use git_ops::demo;

use super::common::{Ctx, stdout};
use super::usage;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Where to build the demo (must not exist, or be empty). Default: a new temporary directory.
    #[arg(value_name = "DIR")]
    pub target: Option<PathBuf>,
}

pub fn run(_ctx: &Ctx, args: Args) -> Result<u8> {
    match demo::run(args.target.as_deref(), &mut stdout()) {
        Ok(_) => Ok(0),
        Err(e @ demo::Error::NotEmpty(_)) => Err(usage(e.to_string())),
        // The I/O error itself, so that a closed pipe (`git ops demo | head`) is no error.
        Err(demo::Error::Io(e)) => Err(e.into()),
        Err(e) => Err(e.into()),
    }
}
