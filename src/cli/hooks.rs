//! `git ops hooks install | uninstall`: the hook shims (`git_ops::store::hooks`).

use std::io::Write;

use super::Result;
use clap::Subcommand;

use git_ops::store::hooks;

use super::common::{Ctx, stdout};

#[derive(Subcommand, Debug)]
pub enum HooksCmd {
    /// Install the hook shims (client hooks; pre-receive in a bare repository).
    Install {
        /// Replace hooks that are not git-ops's (the old one is kept as NAME.git-ops-backup).
        #[arg(long, conflicts_with = "chain")]
        force: bool,
        /// Keep hooks that are not git-ops's and run them first (as NAME.git-ops-chained).
        #[arg(long)]
        chain: bool,
        /// Install the server-side pre-receive hook even in a non-bare repository.
        #[arg(long)]
        server: bool,
        /// One commit-msg hook instead of pre-commit, prepare-commit-msg and commit-msg: the
        /// same checks in one process, after the message is written (docs/HOOKS.md).
        #[arg(long)]
        single: bool,
    },
    /// Remove the shims git-ops installed (other hooks are left alone).
    Uninstall,
}

pub fn run(ctx: &Ctx, cmd: HooksCmd) -> Result<u8> {
    let repo = ctx.repo()?;
    let mut out = stdout();
    match cmd {
        HooksCmd::Install {
            force,
            chain,
            server,
            single,
        } => {
            let installed = if single {
                let (written, removed) = hooks::install_single(&repo, force, chain, server)?;
                for r in removed {
                    writeln!(out, "removed {}", r.path.display())?;
                    if r.restored {
                        writeln!(out, "restored the earlier {} hook", r.name)?;
                    }
                }
                written
            } else if chain {
                hooks::install_chained(&repo, server)?
            } else {
                hooks::install(&repo, force, server)?
            };
            for p in installed {
                writeln!(out, "installed {}", p.display())?;
            }
            for (key, value) in hooks::harden_server(&repo)? {
                writeln!(out, "set {key}={value}")?;
            }
            if hooks::lacks_trust_root(&repo, server) {
                writeln!(
                    out,
                    "note: pin the trust root on a server: git config ops.trustRoot <the commit that adopted git-ops>"
                )?;
            }
        }
        HooksCmd::Uninstall => {
            for r in hooks::uninstall(&repo)? {
                writeln!(out, "removed {}", r.path.display())?;
                if r.restored {
                    writeln!(out, "restored the earlier {} hook", r.name)?;
                }
            }
        }
    }
    Ok(0)
}
