//! A workspace opened once: the repository, the policy in force, its earlier versions, the
//! ledger of the working tree, the grant index and the clock. Every command asks it, and it judges
//! a record in exactly two ways ([`Clock`]): **now**, at the verifier's clock, as a new change is
//! judged; and **as history**, at the times the signoffs claim, as an approval that was made.

use std::cell::OnceCell;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::error::{Error, Result};
use crate::crypto::Keypair;
use crate::model::policy::{POLICY_PATH, Policy, SignerEntry};
use crate::model::{Record, RecordId, SignerName, Timestamp, yaml};
use crate::store::{self, Ledger, Located, Repo, keys};
use crate::verify::grants::{GrantClock, GrantIndex};
use crate::verify::ledger::check_with_history;
use crate::verify::records::{RecordCheck, State, check_record_with};

/// How a record is judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// As a new change is judged: under the policy in force, grant signoffs only while their grant
    /// is live at the verifier's clock (and at the time they claim).
    Now,
    /// As an approval that was made: grant signoffs at the time they claim, and signoffs made
    /// with keys of earlier policy versions still count.
    History,
}

/// A record judged at one clock.
#[derive(Debug, Clone)]
pub struct Judged {
    pub check: RecordCheck,
    /// The earlier policy version whose keys verified the record, when it was not the current one.
    pub under_version: Option<u64>,
}

impl Judged {
    pub fn state(&self) -> State {
        self.check.state()
    }
    pub fn approvals(&self) -> u32 {
        self.check.approvals()
    }
    pub fn required(&self) -> u32 {
        self.check.required
    }
}

/// The word every command uses for a state.
pub fn state_word(s: State) -> &'static str {
    match s {
        State::Approved => "approved",
        State::Pending => "pending",
        State::Invalid => "invalid",
    }
}

/// The caller: their key, and their name and entry in the policy.
pub struct Signer {
    pub key: Keypair,
    pub name: SignerName,
    pub entry: SignerEntry,
}

/// Finds the repository that holds `dir`.
pub fn open_repo(dir: &Path) -> Result<Repo> {
    Repo::discover(dir).map_err(|e| {
        Error::hinted(
            e.to_string(),
            "run git ops inside a git repository, or pass -C <path>",
        )
    })
}

/// Reads `ops/policy.yaml` of the working tree at `root`.
pub fn load_policy(root: &Path) -> Result<Policy> {
    let text = match store::fsutil::read_text(&root.join(POLICY_PATH)) {
        Ok(t) => t,
        Err(store::Error::Io { error, .. }) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::hinted(
                format!("{POLICY_PATH} does not exist in {}", root.display()),
                "run `git ops init` to write a starter policy",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    yaml::parse_policy(&text).map_err(|e| Error::usage(format!("{POLICY_PATH}: {e}")))
}

pub struct Workspace {
    repo: Repo,
    root: PathBuf,
    policy: Policy,
    earlier: OnceCell<Vec<Policy>>,
    ledger: Ledger,
    grants: GrantIndex,
    now: Timestamp,
}

impl Workspace {
    /// Opens the repository holding `dir` with its policy and ledger, at the system clock.
    pub fn open(dir: &Path) -> Result<Workspace> {
        Workspace::open_with(dir, |root| Ok((Ledger::load(root)?, Vec::new()))).map(|(ws, _)| ws)
    }

    /// Opens the workspace for a command that only shows the ledger: documents that do not read
    /// are left out and returned, so the rest can still be shown. Writes never use this.
    pub fn open_lenient(dir: &Path) -> Result<(Workspace, Vec<store::ledger::BadDoc>)> {
        Workspace::open_with(dir, Ledger::load_lenient)
    }

    fn open_with(
        dir: &Path,
        load: impl FnOnce(&Path) -> store::Result<(Ledger, Vec<store::ledger::BadDoc>)>,
    ) -> Result<(Workspace, Vec<store::ledger::BadDoc>)> {
        let repo = open_repo(dir)?;
        let root = repo.workdir()?.to_path_buf();
        let policy = load_policy(&root)?;
        // git's allowed-signers file follows the policy (`git ops keys setup-git`); failing to
        // refresh it must not stop the command, `git tag -v` then says what is wrong.
        if let Err(e) = super::keys::refresh_allowed_signers(&repo, &policy) {
            eprintln!("warning: could not refresh git's allowed-signers file: {e}");
        }
        let (ledger, bad) = load(&root)?;
        let grants = GrantIndex::build(&policy, ledger.records().map(|r| r.value));
        let ws = Workspace {
            repo,
            root,
            policy,
            earlier: OnceCell::new(),
            ledger,
            grants,
            now: Timestamp::from_datetime(chrono::Utc::now()),
        };
        Ok((ws, bad))
    }

    /// The same workspace judged at another clock (tests, and replays at a given time).
    pub fn at(mut self, now: Timestamp) -> Workspace {
        self.now = now;
        self
    }

    pub fn repo(&self) -> &Repo {
        &self.repo
    }
    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn policy(&self) -> &Policy {
        &self.policy
    }
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }
    pub fn grants(&self) -> &GrantIndex {
        &self.grants
    }
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The earlier versions of the policy in HEAD's history (newest first, without the current
    /// one), read once, so that records and tags signed before a key rotation still verify.
    pub fn earlier_policies(&self) -> Result<&[Policy]> {
        if let Some(e) = self.earlier.get() {
            return Ok(e);
        }
        let e = earlier_policies(&self.repo, &self.policy)?;
        Ok(self.earlier.get_or_init(|| e))
    }

    /// The record `id`, or a usage error naming it.
    pub fn find(&self, id: &RecordId) -> Result<Located<&Record>> {
        self.ledger.find(id).ok_or_else(|| {
            Error::hinted(
                format!("no record {id} in the ledger"),
                "git ops list shows the records",
            )
        })
    }

    /// The operation `id`, or a usage error.
    pub fn operation(&self, id: &RecordId) -> Result<(&Record, &crate::model::record::Operation)> {
        match self.ledger.find(id).map(|l| l.value) {
            Some(r @ Record::Operation(op)) => Ok((r, op)),
            Some(Record::Import(_)) => Err(Error::usage(format!(
                "{id} was imported from an earlier ledger: it is kept as it was, not an operation git-ops acts on"
            ))),
            Some(_) => Err(Error::usage(format!("{id} is not an operation"))),
            None => Err(Error::usage(format!("no operation {id} in the ledger"))),
        }
    }

    /// Judges `record` against this workspace's ledger at `clock`.
    pub fn judge(&self, record: &Record, clock: Clock) -> Result<Judged> {
        judge(self, &self.grants, record, clock)
    }

    /// The caller behind `key`, as the policy names them.
    pub fn signer(&self, key: Keypair) -> Result<Signer> {
        signer_in(&self.policy, key)
    }

    /// Finds and loads the caller's key (`explicit`, then GIT_OPS_KEY, user.signingKey and the
    /// default key), asking `passphrase` when the key is encrypted, and names the caller.
    pub fn load_signer(
        &self,
        explicit: Option<&Path>,
        passphrase: impl FnOnce(&Path) -> std::result::Result<Zeroizing<String>, String>,
    ) -> Result<Signer> {
        let known = policy_keys(&self.policy);
        let (key, _source) =
            keys::load_signing_key(Some(&self.repo), explicit, &known, passphrase)?;
        self.signer(key)
    }

    /// Runs a privileged action and appends its result, whatever it is, to the local audit log.
    pub fn audited<T>(
        &self,
        action: &str,
        ids: &[String],
        me: Option<&Signer>,
        f: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        let r = f();
        let result = match &r {
            Ok(_) => "ok".to_string(),
            Err(e) => format!("refused: {e}"),
        };
        audit(Some(&self.repo), action, ids, me, &result);
        r
    }
}

/// Judging shared by a workspace and a write transaction (which holds a fresher ledger).
pub(super) fn judge(
    ws: &Workspace,
    grants: &GrantIndex,
    record: &Record,
    clock: Clock,
) -> Result<Judged> {
    Ok(match clock {
        Clock::Now => Judged {
            check: check_record_with(&ws.policy, record, Some((grants, GrantClock::Now(ws.now)))),
            under_version: None,
        },
        Clock::History => {
            let first = check_with_history(&ws.policy, &[], record, grants);
            if first.0.problems.is_empty() {
                Judged {
                    check: first.0,
                    under_version: None,
                }
            } else {
                let (check, under_version) =
                    check_with_history(&ws.policy, ws.earlier_policies()?, record, grants);
                Judged {
                    check,
                    under_version,
                }
            }
        }
    })
}

/// The policy's signers and their keys, for finding and naming the caller's key.
pub fn policy_keys(policy: &Policy) -> Vec<(String, crate::model::PublicKeyLine)> {
    policy
        .signers
        .iter()
        .map(|(n, e)| (n.as_str().to_string(), e.key.clone()))
        .collect()
}

/// The caller behind `key` in `policy`.
pub fn signer_in(policy: &Policy, key: Keypair) -> Result<Signer> {
    let Some((name, entry)) = policy.signer_by_key(key.public()) else {
        return Err(Error::hinted(
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
    Ok(Signer {
        name: name.clone(),
        entry: entry.clone(),
        key,
    })
}

/// The earlier versions of the policy in HEAD's history (newest first, without `current`).
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

/// Appends a line to the local audit log; a log that cannot be written is reported on standard
/// error, not fatal (the ledger itself is the record of truth).
pub fn audit(repo: Option<&Repo>, action: &str, ids: &[String], me: Option<&Signer>, result: &str) {
    let entry = store::audit::Entry {
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
    if let Err(e) = store::audit::append(&entry) {
        eprintln!("warning: could not write the audit log: {e}");
    }
}
