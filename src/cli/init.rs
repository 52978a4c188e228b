//! `git ops init`: a starter policy with the caller as first human approver, `.gitattributes`
//! for the ledger merge driver, and the driver's config. Never overwrites an existing policy.

use std::path::PathBuf;

use anyhow::Result;

use git_ops::model::policy::POLICY_PATH;
use git_ops::model::{SignerName, yaml};
use git_ops::store::{self, fsutil};

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

pub const GITATTRIBUTES_LINE: &str = "ops/ledger/*.yaml merge=git-ops";

pub fn starter_policy(name: &SignerName, key_line: &str) -> String {
    format!(
        r#"# git-ops policy: who may sign what, which paths are governed, thresholds and limits.
# A change to this file must be covered by an operation approved under the previous version.
version: 1
signers:
  {name}: {{ key: "{key_line}", roles: [human, approver] }}
risk_classes:                 # approvals required: distinct approvers, not the requester
  READ_ONLY:        {{ approvals: 0 }}
  LOW_RISK_CONFIG:  {{ approvals: 0, self_approval: true }}
  SERVICE_RESTART:  {{ approvals: 1 }}
  FILESYSTEM_WRITE: {{ approvals: 1 }}
rules:                        # governed paths, gitignore-style globs
  - {{ paths: ["ops/**", "docs/governance/**", "deploy/**"], min_risk: LOW_RISK_CONFIG }}
  - {{ paths: ["ops/PRODUCTION_LOCK.md"], min_risk: FILESYSTEM_WRITE, approvals: 2, human_only: true }}
immutable: ["audit_artifacts/ops_runs/**", "ops/lkg/**"]
grants: {{ max_hours: 72, break_glass_max_hours: 2 }}
operations: {{ default_window_hours: 24, require_tags: false, human_only_tags: true }}
forbidden:
  - "No trading logic modifications"
  - "No writes to trading Redis streams"
  - "No secrets/keys/exchange creds changes"
  - "No firewall/network/user permission changes"
"#
    )
}

fn default_name(repo: &store::Repo) -> Option<String> {
    let from_email = repo
        .config_string("user.email")
        .and_then(|e| e.split('@').next().map(str::to_string));
    let candidate = from_email.or_else(|| std::env::var("USER").ok())?;
    let cleaned: String = candidate
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    SignerName::new(&cleaned).ok().map(|n| n.to_string())
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    let repo = ctx.repo()?;
    let root = repo.workdir()?.to_path_buf();
    let mut out = stdout();
    use std::io::Write;

    let policy_path = root.join(POLICY_PATH);
    if policy_path.exists() {
        writeln!(out, "{POLICY_PATH} exists already: kept as it is")?;
    } else {
        let key = load_key(Some(&repo), args.key.as_deref())?;
        let name = match args.name.or_else(|| default_name(&repo)) {
            Some(n) => SignerName::new(&n)?,
            None => {
                return Err(usage_hint(
                    "cannot guess your signer name",
                    "pass --name <name>",
                ));
            }
        };
        let text = starter_policy(&name, &key.public().without_comment());
        yaml::parse_policy(&text).expect("the starter policy is valid");
        fsutil::write_atomic(&policy_path, text.as_bytes(), None)?;
        writeln!(
            out,
            "wrote {POLICY_PATH} with {name} ({}) as the first human approver",
            key.fingerprint()
        )?;
    }

    let attrs = root.join(".gitattributes");
    let current = std::fs::read_to_string(&attrs).unwrap_or_default();
    if current.lines().any(|l| l.trim() == GITATTRIBUTES_LINE) {
        writeln!(
            out,
            ".gitattributes already routes ledger merges to git-ops"
        )?;
    } else {
        let mut text = current;
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(GITATTRIBUTES_LINE);
        text.push('\n');
        fsutil::write_atomic(&attrs, text.as_bytes(), None)?;
        writeln!(out, "wrote .gitattributes: {GITATTRIBUTES_LINE}")?;
    }
    repo.set_local_config("merge.git-ops.name", "git-ops ledger union merge")?;
    repo.set_local_config("merge.git-ops.driver", "git-ops merge-driver %O %A %B %P")?;
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
        match super::hooks::install(&repo, false, false) {
            Ok(paths) => {
                for p in paths {
                    writeln!(out, "installed {p}")?;
                }
            }
            Err(e) => eprintln!("warning: hooks not installed: {e:#}"),
        }
    }
    writeln!(
        out,
        "next: git add ops .gitattributes && git commit -m 'Adopt git-ops'"
    )?;
    Ok(0)
}
