//! `git ops init`: a starter policy with the caller as first human approver, `.gitattributes`
//! for the ledger merge driver, and the driver's config (`git_ops::engine::init`). Never
//! overwrites an existing policy.

use std::io::Write;
use std::path::PathBuf;

use super::Result;

use git_ops::engine::init::{self, Attributes, GITATTRIBUTES_LINE};
use git_ops::model::SignerName;
use git_ops::model::policy::POLICY_PATH;
use git_ops::store::hooks;

use super::common::{Ctx, load_key, stdout};
use super::usage_hint;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Your signer name in the policy (default: from git's user.email, else $USER).
    #[arg(long)]
    pub name: Option<String>,
    /// Private key to put in the policy (default: the usual key lookup).
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// Do not install the hook shims.
    #[arg(long)]
    pub no_hooks: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    let repo = ctx.repo()?;
    let mut out = stdout();

    if init::has_policy(&repo)? {
        writeln!(out, "{POLICY_PATH} exists already: kept as it is")?;
    } else {
        let key = load_key(Some(&repo), args.key.as_deref())?;
        let name = match args.name {
            Some(n) => SignerName::new(&n)?,
            None => init::default_name(&repo)
                .ok_or_else(|| usage_hint("cannot guess your signer name", "pass --name <name>"))?,
        };
        init::write_starter_policy(&repo, &name, key.public())?;
        writeln!(
            out,
            "wrote {POLICY_PATH} with {name} ({}) as the first human approver",
            key.fingerprint()
        )?;
    }

    match init::route_ledger_merges(&repo)? {
        Attributes::AlreadyRouted => writeln!(
            out,
            ".gitattributes already routes ledger merges to git-ops"
        )?,
        Attributes::Written => writeln!(out, "wrote .gitattributes: {GITATTRIBUTES_LINE}")?,
    }
    init::configure_merge_driver(&repo)?;
    writeln!(
        out,
        "configured the ledger merge driver (merge.git-ops.driver)"
    )?;
    if args.no_hooks {
        writeln!(
            out,
            "hooks not installed (--no-hooks); `git ops hooks install` installs them"
        )?;
    } else {
        match hooks::install(&repo, false, false) {
            Ok(paths) => {
                for p in paths {
                    writeln!(out, "installed {}", p.display())?;
                }
            }
            Err(e) => eprintln!("warning: hooks not installed: {e}"),
        }
    }
    writeln!(
        out,
        "next: git add ops .gitattributes && git commit -m 'Adopt git-ops'"
    )?;
    Ok(0)
}
