//! `git ops man [--out DIR | --install]`: the man pages. `git ops --help` makes git run
//! `man git-ops`; installing the pages makes that work (and `git ops -h` works without them).
//!
//! `--install` writes the pages to `<directory of the binary>/../share/man/man1`: man-db (and
//! mandoc) search `DIR/../share/man` for every `DIR` on `PATH`, so a binary in `~/.cargo/bin` has
//! its pages found in `~/.cargo/share/man` with no change to `MANPATH`.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::Result;
use clap::CommandFactory;

use super::Cli;
use super::common::{Ctx, stdout};
use super::error::{CliError, Context};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Write git-ops.1 and one page per command (git-ops-sign.1, ...) into this directory.
    #[arg(long, conflicts_with = "install")]
    pub out: Option<PathBuf>,
    /// Write the pages next to the binary (<bin>/../share/man/man1), where `man` finds them for
    /// any binary directory on PATH: then `git ops --help` shows them.
    #[arg(long)]
    pub install: bool,
}

/// Every page: `git-ops.1`, then one per command and sub-command, named as the main page's
/// SUBCOMMANDS section refers to them (`git-ops-keys-add.1`).
fn pages() -> Result<Vec<(String, Vec<u8>)>> {
    fn walk(cmd: clap::Command, out: &mut Vec<(String, Vec<u8>)>) -> Result<()> {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned() {
            walk(sub, out)?;
        }
        let man = clap_mangen::Man::new(cmd);
        let mut page = Vec::new();
        man.render(&mut page)?;
        out.push((man.get_filename(), page));
        Ok(())
    }
    let mut cmd = Cli::command()
        .name("git-ops")
        .bin_name("git-ops")
        .disable_help_subcommand(true);
    cmd.build();
    let mut out = Vec::new();
    walk(cmd, &mut out)?;
    out.reverse();
    Ok(out)
}

fn write_pages(dir: &Path) -> Result<usize> {
    let pages = pages()?;
    for (name, page) in &pages {
        git_ops::store::fsutil::write_atomic(&dir.join(name), page, Some(0o644))?;
    }
    Ok(pages.len())
}

/// Where `--install` puts the pages: `<dir of the running binary>/../share/man/man1`.
fn install_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("finding the running binary")?;
    let exe = exe.canonicalize().unwrap_or(exe);
    let prefix = exe.parent().and_then(Path::parent).ok_or_else(|| {
        CliError::internal("the running binary has no parent directory to install beside")
    })?;
    Ok(prefix.join("share/man/man1"))
}

pub fn run(_ctx: &Ctx, a: Args) -> Result<u8> {
    let dir = match (a.out, a.install) {
        (Some(dir), _) => dir,
        (None, true) => install_dir()?,
        (None, false) => {
            let pages = pages()?;
            let main = pages
                .into_iter()
                .find(|(name, _)| name == "git-ops.1")
                .ok_or_else(|| CliError::internal("the main man page was not rendered"))?;
            stdout().write_all(&main.1)?;
            return Ok(0);
        }
    };
    let n = write_pages(&dir)?;
    let how = if a.install {
        "`git ops --help` shows them while the binary's directory is on PATH".to_string()
    } else {
        format!(
            "`git ops --help` shows them when {} is on MANPATH",
            dir.parent().unwrap_or(&dir).display()
        )
    };
    writeln!(stdout(), "wrote {n} man pages to {} ({how})", dir.display())?;
    Ok(0)
}
