//! What every command needs: the repository, the policy, the caller's key and identity, the
//! clock, and output that survives a closed pipe.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use zeroize::Zeroizing;

use git_ops::crypto::Keypair;
use git_ops::model::policy::{POLICY_PATH, Policy, SignerEntry};
use git_ops::model::{SignerName, Timestamp, yaml};
use git_ops::store::{self, Repo, keys};

use super::{usage, usage_hint};

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
        Repo::discover(&self.cwd).map_err(|e| {
            usage_hint(
                e.to_string(),
                "run git ops inside a git repository, or pass -C <path>",
            )
        })
    }

    pub fn now(&self) -> Timestamp {
        Timestamp::from_datetime(chrono::Utc::now())
    }
}

pub fn load_policy(root: &Path) -> Result<Policy> {
    let path = root.join(POLICY_PATH);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(usage_hint(
                format!("{POLICY_PATH} does not exist in {}", root.display()),
                "run `git ops init` to write a starter policy",
            ));
        }
        Err(e) => return Err(store::Error::io(&path, e).into()),
    };
    yaml::parse_policy(&text).map_err(|e| usage(format!("{POLICY_PATH}: {e}")))
}

/// The passphrase of an encrypted key: `$GIT_OPS_PASSPHRASE`, else asked on the terminal.
pub fn passphrase_for(
    path: &Path,
) -> impl FnOnce() -> std::result::Result<Zeroizing<String>, String> + '_ {
    move || {
        if let Ok(p) = std::env::var("GIT_OPS_PASSPHRASE") {
            return Ok(Zeroizing::new(p));
        }
        rpassword::prompt_password(format!("Enter passphrase for {}: ", path.display()))
            .map(Zeroizing::new)
            .map_err(|e| {
                format!("the key is encrypted and no terminal is available to ask for its passphrase ({e}); set GIT_OPS_PASSPHRASE")
            })
    }
}

pub fn load_key(repo: Option<&Repo>, explicit: Option<&Path>) -> Result<Keypair> {
    let (path, _source) = keys::find_key(repo, explicit)?;
    Ok(keys::load_keypair(&path, passphrase_for(&path))?)
}

/// The caller: their key, and their name and entry in the policy.
pub struct Me {
    pub key: Keypair,
    pub name: SignerName,
    pub entry: SignerEntry,
}

pub fn whoami(policy: &Policy, key: Keypair) -> Result<Me> {
    let Some((name, entry)) = policy.signer_by_key(key.public()) else {
        return Err(usage_hint(
            format!(
                "your key {} is not a signer in {POLICY_PATH}",
                key.fingerprint()
            ),
            format!(
                "ask a policy owner to run: git ops keys add <name> '{}' --role human",
                key.public().without_comment()
            ),
        ));
    };
    Ok(Me {
        name: name.clone(),
        entry: entry.clone(),
        key,
    })
}

/// Standard output, locked, for commands that print data.
pub fn stdout() -> std::io::StdoutLock<'static> {
    std::io::stdout().lock()
}

/// Appends a record built for a fresh id of `kind`, signed by the caller as requester.
pub fn append_signed(
    repo: &Repo,
    me: &Me,
    now: Timestamp,
    kind: git_ops::model::IdKind,
    build: impl FnOnce(git_ops::model::RecordId) -> git_ops::model::Record,
) -> Result<git_ops::model::Record> {
    Ok(append_signed_as(repo, me, now, kind, None, build)?.expect("a fresh id is never taken"))
}

/// Like [`append_signed`], under the given id when there is one: None when that id is already in
/// the ledger (checked under the lock, so concurrent runs record it once).
pub fn append_signed_as(
    repo: &Repo,
    me: &Me,
    now: Timestamp,
    kind: git_ops::model::IdKind,
    id: Option<git_ops::model::RecordId>,
    build: impl FnOnce(git_ops::model::RecordId) -> git_ops::model::Record,
) -> Result<Option<git_ops::model::Record>> {
    let writer = git_ops::store::ledger::LedgerWriter::lock(repo)?;
    let id = match id {
        Some(id) if writer.ledger()?.find(&id).is_some() => return Ok(None),
        Some(id) => id,
        None => writer.next_id(kind, now.date())?,
    };
    let mut record = build(id);
    record.validate()?;
    let s = git_ops::crypto::signoff(
        &record,
        &me.key,
        &me.name,
        git_ops::model::Role::Requester,
        now,
        None,
    )?;
    record.signoffs_mut().push(s);
    writer.append(&record)?;
    Ok(Some(record))
}

/// Appends a line to the local audit log; a log that cannot be written is reported, not fatal
/// (the ledger itself is the record of truth).
pub fn audit(repo: Option<&Repo>, action: &str, ids: &[String], me: Option<&Me>, result: &str) {
    let entry = git_ops::store::audit::Entry {
        time: Timestamp::from_datetime(chrono::Utc::now()).to_string(),
        repo: repo
            .and_then(|r| r.workdir().ok().map(|p| p.display().to_string()))
            .or_else(|| repo.map(|r| r.common_dir().display().to_string()))
            .unwrap_or_default(),
        action,
        ids: ids.to_vec(),
        signer: me.map(|m| m.name.to_string()),
        fingerprint: me.map(|m| m.key.fingerprint().to_string()),
        result: result.to_string(),
    };
    if let Err(e) = git_ops::store::audit::append(&entry) {
        eprintln!("warning: could not write the audit log: {e}");
    }
}

/// Runs a privileged action and logs its result, whatever it is.
pub fn audited<T>(
    repo: Option<&Repo>,
    action: &str,
    ids: &[String],
    me: Option<&Me>,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let r = f();
    let result = match &r {
        Ok(_) => "ok".to_string(),
        Err(e) => format!("refused: {e:#}"),
    };
    audit(repo, action, ids, me, &result);
    r
}

/// The earlier versions of the policy in HEAD's history (newest first, without the current one),
/// so that records and tags signed before a key rotation still verify.
pub fn earlier_policies(repo: &Repo, current: &Policy) -> Result<Vec<Policy>> {
    let mut earlier: Vec<Policy> = Vec::new();
    for c in repo.path_history(POLICY_PATH, 500)? {
        let text = repo.file_in_tree(Some(repo.commit_tree(c)?), POLICY_PATH)?;
        if let Some(Ok(p)) = text.map(|t| yaml::parse_policy(&String::from_utf8_lossy(&t)))
            && p.version != current.version
            && !earlier.iter().any(|e| e.version == p.version)
        {
            earlier.push(p);
        }
    }
    Ok(earlier)
}
