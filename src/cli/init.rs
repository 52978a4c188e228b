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
    /// Also set up git to sign every commit with your key, and to verify tags and commits
    /// against the policy's keys (as `git ops keys setup-git --sign-commits`).
    #[arg(long)]
    pub sign_commits: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    let repo = ctx.repo()?;
    let mut out = stdout();

    let mut key = None;
    if init::has_policy(&repo)? {
        writeln!(out, "{POLICY_PATH} exists already: kept as it is")?;
    } else {
        let key = key.insert(load_key(Some(&repo), args.key.as_deref())?);
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
    if args.sign_commits {
        let key = match key {
            Some(k) => k,
            None => load_key(Some(&repo), args.key.as_deref())?,
        };
        let policy = super::common::load_policy(repo.workdir()?)?;
        let done = git_ops::engine::keys::setup_git(&repo, &policy, &key, true)?;
        writeln!(
            out,
            "set up commit signing: gpg.format=ssh, user.signingKey={}, commit.gpgSign=true, gpg.ssh.allowedSignersFile={}",
            git_ops::render::line(&done.signing_key),
            done.allowed_signers.display()
        )?;
    }
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
