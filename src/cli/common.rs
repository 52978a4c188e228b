//! What every command needs: the directory it runs in, the workspace, the caller's key (asking
//! for a passphrase on the terminal), and output that survives a closed pipe.

use std::path::{Path, PathBuf};

use super::error::{Context, Result};
use zeroize::Zeroizing;

use git_ops::crypto::Keypair;
use git_ops::engine::{self, Signer, Workspace};
use git_ops::model::Timestamp;
use git_ops::model::policy::Policy;
use git_ops::store::{Repo, keys};

use super::usage;

pub struct Ctx {
    pub cwd: PathBuf,
}

impl Ctx {
    pub fn new(dir: Option<PathBuf>) -> Result<Ctx> {
        let cwd = match dir {
            Some(d) => {
                if !d.is_dir() {
                    return Err(usage(format!("-C {}: not a directory", d.display())));
                }
                // Absolute, without `..`: gix's discovery asserts on relative paths that climb.
                d.canonicalize()
                    .with_context(|| format!("-C {}", d.display()))?
            }
            None => std::env::current_dir().context("reading the current directory")?,
        };
        Ok(Ctx { cwd })
    }

    pub fn repo(&self) -> Result<Repo> {
        Ok(engine::open_repo(&self.cwd)?)
    }

    /// The workspace: repository, policy, ledger and grants, at the system clock.
    pub fn workspace(&self) -> Result<Workspace> {
        Ok(Workspace::open(&self.cwd)?)
    }

    pub fn now(&self) -> Timestamp {
        Timestamp::from_datetime(chrono::Utc::now())
    }
}

/// The caller in `ws`: their key (`--key`, else the usual places), named by the policy.
pub fn signer(ws: &Workspace, key: Option<&Path>) -> Result<Signer> {
    Ok(ws.load_signer(key, ask_passphrase)?)
}

pub fn load_policy(root: &Path) -> Result<Policy> {
    Ok(engine::workspace::load_policy(root)?)
}

/// The passphrase of an encrypted key: `$GIT_OPS_PASSPHRASE`, else asked on the terminal.
pub fn ask_passphrase(path: &Path) -> std::result::Result<Zeroizing<String>, String> {
    if let Ok(p) = std::env::var("GIT_OPS_PASSPHRASE") {
        return Ok(Zeroizing::new(p));
    }
    rpassword::prompt_password(format!("Enter passphrase for {}: ", path.display()))
        .map(Zeroizing::new)
        .map_err(|e| {
            format!(
                "this key is encrypted and there is no terminal to ask for its passphrase ({e}): load it into ssh-agent (`ssh-add {}`) or set GIT_OPS_PASSPHRASE",
                path.display()
            )
        })
}

pub fn load_key(repo: Option<&Repo>, explicit: Option<&Path>) -> Result<Keypair> {
    Ok(keys::load_signing_key(repo, explicit, &[], ask_passphrase)?.0)
}

/// Standard output, locked, for commands that print data.
pub fn stdout() -> std::io::StdoutLock<'static> {
    std::io::stdout().lock()
}
