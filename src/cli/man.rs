//! `git ops man [--out DIR]`: the man page. `git ops --help` makes git look for a `git-ops` man
//! page; installing this one makes that work (and `git ops -h` works without it).

use std::io::Write;
use std::path::PathBuf;

use super::Result;
use clap::CommandFactory;

use super::Cli;
use super::common::{Ctx, stdout};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Write git-ops.1 into this directory (e.g. ~/.local/share/man/man1) instead of printing it.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(_ctx: &Ctx, a: Args) -> Result<u8> {
    let cmd = Cli::command().name("git-ops");
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut page)?;
    match a.out {
        Some(dir) => {
            // The directory is made as needed.
            let path = dir.join("git-ops.1");
            git_ops::store::fsutil::write_atomic(&path, &page, Some(0o644))?;
            writeln!(
                stdout(),
                "wrote {} (then `git ops --help` shows it, if the directory is on MANPATH)",
                path.display()
            )?;
        }
        None => stdout().write_all(&page)?,
    }
    Ok(0)
}
