//! Key management: generating and saving a key pair, reading a public key that someone hands
//! over (refusing private keys without ever echoing them), adding a signer to the policy text,
//! and the allowed-signers file of git and OpenSSH.

use std::path::{Path, PathBuf};

use crate::crypto::{self, Keypair};
use crate::model::policy::{POLICY_PATH, Policy, SignerEntry, SignerRole};
use crate::model::yaml::{self, YamlError};
use crate::model::{Fingerprint, PublicKeyLine, SignerName};
use crate::store::snapshot::{SideReader, Snapshot};
use crate::store::{self, Repo, fsutil, keys};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A private key where a public key belongs. The message never holds key material.
    #[error(
        "{} is a private key; give the public key (the .pub file or its `ssh-ed25519 AAAA...` line)",
        .path.as_ref().map_or_else(|| "that".to_string(), |p| p.display().to_string())
    )]
    PrivateKey {
        /// The file the key was read from, when it was a file.
        path: Option<PathBuf>,
        /// `PATH.pub`, when it exists beside the private key.
        public_beside: Option<PathBuf>,
    },
    #[error("{0:?} is neither a readable .pub file nor a public key line (ssh-ed25519 AAAA...)")]
    NotAKey(String),
    /// A file that is not a public key; its text is not repeated, it may be a secret.
    #[error(
        "{}: not an OpenSSH public key; give the .pub file or its `ssh-ed25519 AAAA...` line",
        .0.display()
    )]
    NotAPublicKeyFile(PathBuf),
    #[error("{0} is already a signer in {POLICY_PATH}")]
    DuplicateName(SignerName),
    #[error("that key already belongs to {0}")]
    DuplicateKey(SignerName),
    #[error("{POLICY_PATH} does not exist in {}", .0.display())]
    NoPolicy(PathBuf),
    #[error("{POLICY_PATH}: {0}")]
    BadPolicy(YamlError),
    #[error("{0} is not a signer in {POLICY_PATH}")]
    UnknownSigner(SignerName),
    #[error(
        "the key {0} is not a signer's in {POLICY_PATH}; git would sign commits the policy does not accept"
    )]
    KeyNotInPolicy(Fingerprint),
    #[error(
        "{0:?} names no signer in {POLICY_PATH} (give a signer name, or their current public key)"
    )]
    NotASigner(String),
    #[error("{0}'s key was rotated at or after this time already; check the clock")]
    RotatedLater(SignerName),
    #[error("--name {0:?}: use a plain file name")]
    BadKeyName(String),
    #[error("no HOME, so no default key directory; pass --out")]
    NoKeyDir,
    #[error(transparent)]
    Model(#[from] crate::model::Error),
    #[error(transparent)]
    Crypto(#[from] crypto::Error),
    #[error(transparent)]
    Store(#[from] store::Error),
}

impl Error {
    /// The exit code of a command that fails with this error: a store error keeps its own; every
    /// other one is a usage or configuration problem (2).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Store(e) => e.exit_code(),
            _ => 2,
        }
    }

    /// What to do next, where the message alone does not say.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::NoPolicy(_) => Some("run `git ops init` to write a starter policy".into()),
            Error::PrivateKey {
                public_beside: Some(p),
                ..
            } => Some(format!("its public half is {}", p.display())),
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Text that holds a private key in any of the usual armours (OpenSSH, PEM, PKCS#8, PuTTY).
pub fn holds_private_key(text: &str) -> bool {
    text.contains("PRIVATE KEY") || text.contains("PuTTY-User-Key-File")
}

/// The public key that `arg` names: the path of a `.pub` file, or a `ssh-ed25519 AAAA...` line.
/// A private key (or the path of one) is refused without repeating any of it.
pub fn public_key_from_arg(arg: &str) -> Result<PublicKeyLine> {
    let path = Path::new(arg);
    let Some(text) = keys::read_key_file_text(path) else {
        if holds_private_key(arg) {
            return Err(Error::PrivateKey {
                path: None,
                public_beside: None,
            });
        }
        if !arg.trim_start().starts_with("ssh-") {
            return Err(Error::NotAKey(arg.to_string()));
        }
        return Ok(PublicKeyLine::new(arg.trim())?);
    };
    if holds_private_key(&text) {
        return Err(Error::PrivateKey {
            path: Some(path.to_path_buf()),
            public_beside: keys::public_half_of(path),
        });
    }
    let line = text.trim();
    // A public key line of another type is safe to repeat (and says what is wrong with it);
    // other text is not, since it may be a secret.
    if !line.split_whitespace().next().is_some_and(|alg| {
        alg.starts_with("ssh-") || alg.starts_with("ecdsa-") || alg.starts_with("sk-")
    }) {
        return Err(Error::NotAPublicKeyFile(path.to_path_buf()));
    }
    Ok(PublicKeyLine::new(line)?)
}

/// The policy's names for roles, as written in `ops/policy.yaml`.
pub fn role_name(role: SignerRole) -> &'static str {
    match role {
        SignerRole::Human => "human",
        SignerRole::Approver => "approver",
        SignerRole::Automation => "automation",
    }
}

/// The policy file of a work tree: its text (comments and all) and what it says.
#[derive(Debug, Clone)]
pub struct PolicyFile {
    pub text: String,
    pub policy: Policy,
}

impl PolicyFile {
    /// Reads and parses `ops/policy.yaml` in the work tree of `repo`.
    pub fn load(repo: &Repo) -> Result<PolicyFile> {
        let root = repo.workdir()?;
        let text = work_tree(repo, root)
            .read_string(POLICY_PATH)?
            .ok_or_else(|| Error::NoPolicy(root.to_path_buf()))?;
        let policy = yaml::parse_policy(&text).map_err(Error::BadPolicy)?;
        Ok(PolicyFile { text, policy })
    }
}

/// The files of the work tree at `root`, as they are now.
pub(crate) fn work_tree<'a>(repo: &'a Repo, root: &Path) -> SideReader<'a> {
    SideReader {
        repo,
        snapshot: Snapshot::WorkTree(root.to_path_buf()),
    }
}

/// A policy with a signer added: the new text to write and the policy it parses to.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyEdit {
    pub text: String,
    pub policy: Policy,
    /// The new signer's roles, sorted and without repeats.
    pub roles: Vec<SignerRole>,
}

/// Adds signer `name` with `key` and `roles` to the policy `text`, and raises its version by
/// one. The text is edited in place, so its comments stay; when it does not have the usual block
/// shape, the policy is rendered whole instead. Refuses a name or key already in the policy,
/// and a result the policy's own checks reject.
pub fn add_signer_to_text(
    text: &str,
    name: &SignerName,
    key: &PublicKeyLine,
    roles: &[SignerRole],
) -> Result<PolicyEdit> {
    let policy = yaml::parse_policy(text).map_err(Error::BadPolicy)?;
    let mut roles = roles.to_vec();
    roles.sort();
    roles.dedup();
    if policy.signers.contains_key(name) {
        return Err(Error::DuplicateName(name.clone()));
    }
    if let Some((other, _)) = policy.signer_by_key(key) {
        return Err(Error::DuplicateKey(other.clone()));
    }
    let mut wanted = policy;
    wanted.version += 1;
    wanted.signers.insert(
        name.clone(),
        SignerEntry {
            key: key.clone(),
            roles: roles.clone(),
            retired_keys: Vec::new(),
        },
    );
    wanted.validate()?;
    let role_list: Vec<&str> = roles.iter().map(|r| role_name(*r)).collect();
    let entry = format!(
        "{name}: {{ key: \"{}\", roles: [{}] }}",
        key.without_comment(),
        role_list.join(", ")
    );
    let new_text = match edit_policy_text(text, &entry, wanted.version) {
        Some(t) if yaml::parse_policy(&t).ok().as_ref() == Some(&wanted) => t,
        _ => yaml::render_policy(&wanted),
    };
    Ok(PolicyEdit {
        text: new_text,
        policy: wanted,
        roles,
    })
}

/// Inserts `entry` under a block-style `signers:` and sets `version:`; None if the text does
/// not have that shape.
fn edit_policy_text(text: &str, entry: &str, version: u64) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let signers_at = lines.iter().position(|l| {
        let l = l.split('#').next().unwrap_or("").trim_end();
        l == "signers:"
    })?;
    let indent = lines
        .get(signers_at + 1)
        .map(|l| l.len() - l.trim_start().len())
        .filter(|&n| n > 0)
        .unwrap_or(2);
    let version_at = lines.iter().position(|l| l.starts_with("version:"))?;
    let mut out = Vec::with_capacity(lines.len() + 1);
    for (i, l) in lines.iter().enumerate() {
        if i == version_at {
            let comment = l
                .find('#')
                .map(|c| format!("  {}", &l[c..]))
                .unwrap_or_default();
            out.push(format!("version: {version}{comment}"));
        } else {
            out.push(l.to_string());
        }
        if i == signers_at {
            out.push(format!("{}{entry}", " ".repeat(indent)));
        }
    }
    Some(out.join("\n") + "\n")
}

/// Adds a signer to the policy `file` read from the work tree of `repo`, and writes it back
/// atomically.
pub fn add_signer(
    repo: &Repo,
    file: &PolicyFile,
    name: &SignerName,
    key: &PublicKeyLine,
    roles: &[SignerRole],
) -> Result<PolicyEdit> {
    let edit = add_signer_to_text(&file.text, name, key, roles)?;
    let path = repo.workdir()?.join(POLICY_PATH);
    fsutil::write_atomic(&path, edit.text.as_bytes(), None)?;
    Ok(edit)
}

/// git's `gpg.ssh.allowedSignersFile` text: one line per key of `policy`. A signer's current key
/// is valid from its last rotation on (`valid-after`), each retired key until it was retired
/// (`valid-before`, and `valid-after` the rotation before it), so that stock `git tag -v` and
/// `ssh-keygen -Y verify -Overify-time=...` accept what was signed before a rotation and nothing
/// signed with a retired key after it.
pub fn allowed_signers_text(policy: &Policy) -> String {
    let mut out = String::new();
    for (n, e) in &policy.signers {
        let mut retired: Vec<&crate::model::policy::RetiredKey> = e.retired_keys.iter().collect();
        retired.sort_by_key(|r| r.retired_at);
        let mut after = None;
        for r in retired {
            out.push_str(&crypto::allowed_signers_line_valid(
                n.as_str(),
                &r.key,
                after,
                Some(r.retired_at),
            ));
            out.push('\n');
            after = Some(r.retired_at);
        }
        out.push_str(&crypto::allowed_signers_line_valid(
            n.as_str(),
            &e.key,
            e.key_since(),
            None,
        ));
        out.push('\n');
    }
    out
}

/// A policy with a signer's key replaced: the old key kept as retired at `at`.
pub fn rotate_key_in_text(
    text: &str,
    name: &SignerName,
    new_key: &PublicKeyLine,
    at: crate::model::Timestamp,
) -> Result<PolicyEdit> {
    let policy = yaml::parse_policy(text).map_err(Error::BadPolicy)?;
    let Some(entry) = policy.signer(name) else {
        return Err(Error::UnknownSigner(name.clone()));
    };
    if let Some((other, _)) = policy
        .signers
        .iter()
        .find(|(_, e)| e.key == *new_key || e.retired_keys.iter().any(|r| r.key == *new_key))
    {
        return Err(Error::DuplicateKey(other.clone()));
    }
    if entry.key_since().is_some_and(|t| t >= at) {
        return Err(Error::RotatedLater(name.clone()));
    }
    let mut entry = entry.clone();
    entry.retired_keys.push(crate::model::policy::RetiredKey {
        key: entry.key.clone(),
        retired_at: at,
    });
    entry.key = new_key.clone();
    let mut wanted = policy.clone();
    wanted.version += 1;
    wanted.signers.insert(name.clone(), entry.clone());
    wanted.validate()?;
    let role_list: Vec<&str> = entry.roles.iter().map(|r| role_name(*r)).collect();
    let retired: Vec<String> = entry
        .retired_keys
        .iter()
        .map(|r| {
            format!(
                "{{ key: \"{}\", retired_at: \"{}\" }}",
                r.key.without_comment(),
                r.retired_at
            )
        })
        .collect();
    let line = format!(
        "{name}: {{ key: \"{}\", roles: [{}], retired_keys: [{}] }}",
        new_key.without_comment(),
        role_list.join(", "),
        retired.join(", ")
    );
    let new_text = match replace_signer_line(text, name.as_str(), &line, wanted.version) {
        Some(t) if yaml::parse_policy(&t).ok().as_ref() == Some(&wanted) => t,
        _ => yaml::render_policy(&wanted),
    };
    Ok(PolicyEdit {
        text: new_text,
        policy: wanted,
        roles: entry.roles,
    })
}

/// Replaces the one-line entry of signer `name` under `signers:` with `line` and sets
/// `version:`; None if the text does not have that shape.
fn replace_signer_line(text: &str, name: &str, line: &str, version: u64) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let signers_at = lines.iter().position(|l| {
        let l = l.split('#').next().unwrap_or("").trim_end();
        l == "signers:"
    })?;
    let mut at = None;
    for (i, l) in lines.iter().enumerate().skip(signers_at + 1) {
        let indent = l.len() - l.trim_start().len();
        if indent == 0 && !l.trim().is_empty() {
            break;
        }
        let t = l.trim_start();
        if t.strip_prefix(name)
            .is_some_and(|rest| rest.starts_with(':') && rest.trim_end().ends_with('}'))
        {
            at = Some((i, indent));
            break;
        }
    }
    let (at, indent) = at?;
    let version_at = lines.iter().position(|l| l.starts_with("version:"))?;
    let mut out = Vec::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        if i == version_at {
            let comment = l
                .find('#')
                .map(|c| format!("  {}", &l[c..]))
                .unwrap_or_default();
            out.push(format!("version: {version}{comment}"));
        } else if i == at {
            out.push(format!("{}{line}", " ".repeat(indent)));
        } else {
            out.push(l.to_string());
        }
    }
    Some(out.join("\n") + "\n")
}

/// Rotates the key of signer `name` in the policy `file` of `repo`'s work tree, and writes it
/// back atomically.
pub fn rotate_key(
    repo: &Repo,
    file: &PolicyFile,
    name: &SignerName,
    new_key: &PublicKeyLine,
    at: crate::model::Timestamp,
) -> Result<PolicyEdit> {
    let edit = rotate_key_in_text(&file.text, name, new_key, at)?;
    let path = repo.workdir()?.join(POLICY_PATH);
    fsutil::write_atomic(&path, edit.text.as_bytes(), None)?;
    Ok(edit)
}

/// The signer that `who` names in `policy`: a signer name, or one of their keys (current or
/// retired; a public key line or `.pub` file).
pub fn signer_named(policy: &Policy, who: &str) -> Result<SignerName> {
    if let Ok(n) = SignerName::new(who)
        && policy.signers.contains_key(&n)
    {
        return Ok(n);
    }
    let key = public_key_from_arg(who).map_err(|e| match e {
        Error::NotAKey(s) => Error::NotASigner(s),
        other => other,
    })?;
    policy
        .signers
        .iter()
        .find(|(_, e)| e.key == key)
        .map(|(n, _)| n.clone())
        .ok_or_else(|| Error::NotASigner(who.to_string()))
}

/// Writes the allowed-signers file of `policy` to `path` (mode 0644, atomically).
pub fn write_allowed_signers(path: &Path, policy: &Policy) -> Result<()> {
    let text = allowed_signers_text(policy);
    fsutil::write_atomic(path, text.as_bytes(), Some(0o644))?;
    Ok(())
}

/// Where git-ops keeps git's allowed-signers file for a repository: inside its git directory
/// (shared by its worktrees), so it is never committed and always matches the policy.
pub const MANAGED_ALLOWED_SIGNERS: &str = "git-ops/allowed_signers";

/// The repository's managed allowed-signers file (absolute).
pub fn managed_allowed_signers(repo: &Repo) -> PathBuf {
    let p = repo.path_in_common_dir(MANAGED_ALLOWED_SIGNERS);
    std::path::absolute(&p).unwrap_or(p)
}

/// What `git ops keys setup-git` set.
#[derive(Debug, Clone)]
pub struct GitSetup {
    /// The value of `user.signingKey`: the key file, or `key::ssh-ed25519 AAAA...` for a key
    /// only ssh-agent holds.
    pub signing_key: String,
    pub allowed_signers: PathBuf,
    pub signers: usize,
    pub sign_commits: bool,
}

/// Sets up git to sign and verify with SSH keys in this repository (its local config):
/// `gpg.format=ssh`, `user.signingKey` (`key`, which must be a signer's), the allowed-signers
/// file git-ops keeps current, and `commit.gpgSign` when `sign_commits`. `tag.gpgSign` is left
/// alone: git-ops signs its own tags, and with it set every plain `git tag NAME` would need a
/// message and a signature.
pub fn setup_git(
    repo: &Repo,
    policy: &Policy,
    key: &Keypair,
    sign_commits: bool,
) -> Result<GitSetup> {
    if policy.signer_by_key(key.public()).is_none() {
        return Err(Error::KeyNotInPolicy(key.fingerprint()));
    }
    let signing_key = match key.origin() {
        Some(p) => std::path::absolute(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .display()
            .to_string(),
        None => format!("key::{}", key.public().without_comment()),
    };
    let allowed = managed_allowed_signers(repo);
    if let Some(dir) = allowed.parent() {
        std::fs::create_dir_all(dir).map_err(|e| store::Error::io(dir, e))?;
    }
    write_allowed_signers(&allowed, policy)?;
    repo.set_local_config("gpg.format", "ssh")?;
    repo.set_local_config("user.signingKey", &signing_key)?;
    repo.set_local_config("gpg.ssh.allowedSignersFile", &allowed.display().to_string())?;
    if sign_commits {
        repo.set_local_config("commit.gpgSign", "true")?;
    }
    Ok(GitSetup {
        signing_key,
        allowed_signers: allowed,
        signers: policy.signers.len(),
        sign_commits,
    })
}

/// Whether git verifies with the allowed-signers file git-ops keeps (set by `setup-git`).
pub fn git_uses_managed_signers(repo: &Repo) -> bool {
    repo.config_string("gpg.ssh.allowedSignersFile")
        .is_some_and(|v| Path::new(v.trim()) == managed_allowed_signers(repo))
}

/// Brings the managed allowed-signers file in line with `policy` when git uses it and the
/// policy's keys changed: one config lookup and one small read when nothing changed. Returns
/// whether it wrote the file.
pub fn refresh_allowed_signers(repo: &Repo, policy: &Policy) -> Result<bool> {
    if !git_uses_managed_signers(repo) {
        return Ok(false);
    }
    let path = managed_allowed_signers(repo);
    let text = allowed_signers_text(policy);
    if std::fs::read_to_string(&path).is_ok_and(|t| t == text) {
        return Ok(false);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| store::Error::io(dir, e))?;
    }
    fsutil::write_atomic(&path, text.as_bytes(), Some(0o644))?;
    Ok(true)
}

/// Where and how to write a new key pair.
#[derive(Debug, Clone, Default)]
pub struct NewKey {
    /// The key's file name in the default key directory.
    pub name: String,
    /// The private key's path instead of the default key directory.
    pub out: Option<PathBuf>,
    /// Stored with the key; default `NAME@host`.
    pub comment: Option<String>,
}

/// A key pair written by [`generate`].
#[derive(Debug, Clone)]
pub struct GeneratedKey {
    pub path: PathBuf,
    pub pub_path: PathBuf,
    pub fingerprint: Fingerprint,
    pub public: PublicKeyLine,
}

/// Checks the key's name and finds where it goes, before anything is asked or generated.
pub fn new_key_path(new: &NewKey) -> Result<PathBuf> {
    let name = &new.name;
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return Err(Error::BadKeyName(name.clone()));
    }
    match &new.out {
        Some(p) => Ok(p.clone()),
        None => Ok(keys::default_key_dir().ok_or(Error::NoKeyDir)?.join(name)),
    }
}

/// Generates an ed25519 key pair and writes it (private 0600, encrypted with `passphrase` when
/// given; `PATH.pub` 0644). Never overwrites a key.
pub fn generate(new: &NewKey, passphrase: Option<&str>) -> Result<GeneratedKey> {
    let path = new_key_path(new)?;
    let comment = match &new.comment {
        Some(c) => c.clone(),
        None => format!("{}@{}", new.name, host_name()),
    };
    let key = Keypair::generate(&comment)?;
    let pub_path = keys::write_keypair(&path, &key, passphrase)?;
    Ok(GeneratedKey {
        path,
        pub_path,
        fingerprint: key.fingerprint(),
        public: key.public().clone(),
    })
}

/// This machine's name for key comments; `localhost` when it has none.
pub fn host_name() -> String {
    crate::evidence::host::hostname(&crate::evidence::Limits::default())
        .unwrap_or_else(|_| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> PublicKeyLine {
        Keypair::generate("t@example.org")
            .expect("a new key")
            .public()
            .clone()
    }

    fn name(n: &str) -> SignerName {
        SignerName::new(n).expect("a valid name")
    }

    /// The starter policy, with alice (whose key is returned too) as its only signer.
    fn starter_with_alice() -> (String, PublicKeyLine) {
        let alice = key();
        let text = crate::engine::init::starter_policy(&name("alice"), &alice.without_comment());
        (text, alice)
    }

    fn starter() -> String {
        starter_with_alice().0
    }

    #[test]
    fn adding_a_signer_bumps_the_version_and_keeps_the_comments() {
        let text = starter();
        let bob = key();
        let edit = add_signer_to_text(
            &text,
            &name("bob"),
            &bob,
            &[SignerRole::Approver, SignerRole::Human, SignerRole::Human],
        )
        .expect("bob is added");
        assert_eq!(edit.policy.version, 2);
        assert_eq!(edit.roles, vec![SignerRole::Human, SignerRole::Approver]);
        let entry = edit.policy.signer(&name("bob")).expect("bob is a signer");
        assert_eq!(entry.key, bob);
        assert!(edit.text.contains("version: 2\n"), "{}", edit.text);
        assert!(!edit.text.contains("version: 1"), "{}", edit.text);
        for l in text.lines().filter(|l| l.trim_start().starts_with('#')) {
            assert!(
                edit.text.contains(l),
                "lost the comment {l:?}:\n{}",
                edit.text
            );
        }
        assert!(
            edit.text
                .contains("# approvals required: distinct approvers, not the requester"),
            "{}",
            edit.text
        );
        assert!(
            edit.text.contains(&format!(
                "  bob: {{ key: \"{}\", roles: [human, approver] }}\n",
                bob.without_comment()
            )),
            "{}",
            edit.text
        );
        assert_eq!(yaml::parse_policy(&edit.text).ok(), Some(edit.policy));
    }

    #[test]
    fn a_second_signer_raises_the_version_again() {
        let first = add_signer_to_text(&starter(), &name("bob"), &key(), &[SignerRole::Human])
            .expect("bob");
        let second =
            add_signer_to_text(&first.text, &name("bot"), &key(), &[SignerRole::Automation])
                .expect("bot");
        assert_eq!(second.policy.version, 3);
        assert_eq!(second.policy.signers.len(), 3);
    }

    #[test]
    fn a_name_or_key_already_in_the_policy_is_refused() {
        let (text, alice) = starter_with_alice();
        match add_signer_to_text(&text, &name("alice"), &key(), &[SignerRole::Human]) {
            Err(Error::DuplicateName(n)) => assert_eq!(n, name("alice")),
            other => panic!("expected a duplicate name, got {other:?}"),
        }
        match add_signer_to_text(&text, &name("carol"), &alice, &[SignerRole::Human]) {
            Err(e @ Error::DuplicateKey(_)) => {
                assert_eq!(e.to_string(), "that key already belongs to alice")
            }
            other => panic!("expected a duplicate key, got {other:?}"),
        }
    }

    #[test]
    fn roles_the_policy_forbids_are_refused() {
        let err = add_signer_to_text(
            &starter(),
            &name("bot"),
            &key(),
            &[SignerRole::Automation, SignerRole::Approver],
        )
        .expect_err("automation cannot approve");
        assert!(
            err.to_string()
                .contains("automation cannot have the approver role"),
            "{err}"
        );
    }

    #[test]
    fn a_policy_in_flow_style_is_rendered_whole() {
        let starter = yaml::parse_policy(&starter()).expect("the starter policy");
        let flow = serde_json::to_string(&starter).expect("json is yaml");
        let edit = add_signer_to_text(&flow, &name("bob"), &key(), &[SignerRole::Human])
            .expect("bob is added");
        assert_eq!(edit.policy.version, 2);
        assert_eq!(yaml::parse_policy(&edit.text).ok(), Some(edit.policy));
    }

    #[test]
    fn private_key_text_is_refused_without_echoing_it() {
        let secret = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----";
        let err = public_key_from_arg(secret).expect_err("a private key");
        let msg = err.to_string();
        assert!(
            msg.starts_with("that is a private key; give the public key"),
            "{msg}"
        );
        assert!(!msg.contains("b3BlbnNzaC1rZXktdjEAAAAA"), "{msg}");
        assert!(!msg.contains("PRIVATE KEY"), "{msg}");
    }

    #[test]
    fn a_public_key_line_is_accepted() {
        let line = key().without_comment();
        let k = public_key_from_arg(&format!("{line} alice@example.org")).expect("a key");
        assert_eq!(k.without_comment(), line);
        match public_key_from_arg("no-such-file") {
            Err(Error::NotAKey(s)) => assert_eq!(s, "no-such-file"),
            other => panic!("expected NotAKey, got {other:?}"),
        }
    }

    #[test]
    fn allowed_signers_has_one_line_per_signer() {
        let (text, alice) = starter_with_alice();
        let policy = yaml::parse_policy(&text).expect("the starter policy");
        assert_eq!(
            allowed_signers_text(&policy),
            format!(
                "alice namespaces=\"git,git-ops\" {}\n",
                alice.without_comment()
            )
        );
    }

    #[test]
    fn rotation_keeps_history_and_refuses_the_retired_key_afterwards() {
        use crate::verify::coverage::fixtures::{OpSpec, Team, ts};
        use crate::verify::grants::GrantIndex;
        use crate::verify::ledger::check_with_history;
        let team = Team::new();
        let old_text = team.policy_text(1);
        let old = yaml::parse_policy(&old_text).expect("the team policy");
        let new_bob = key();
        let edit = rotate_key_in_text(
            &old_text,
            &name("bob"),
            &new_bob,
            ts("2026-01-28T00:00:00Z"),
        )
        .expect("bob's key rotates");
        let bob = edit.policy.signer(&name("bob")).expect("bob");
        assert_eq!(bob.key, new_bob);
        assert_eq!(bob.retired_keys.len(), 1);
        assert_eq!(bob.retired_keys[0].key, *team.bob.public());
        assert_eq!(edit.policy.version, old.version + 1);
        assert_eq!(
            yaml::parse_policy(&edit.text).ok(),
            Some(edit.policy.clone())
        );
        let grants = GrantIndex::build(&edit.policy, []);

        // Approved by bob's old key the day before: still verifies, under the earlier policy.
        let before = team.approved(
            &OpSpec::new("OPS-2026-01-27-001", "SERVICE_RESTART", "deploy/**"),
            "alice",
            &["bob"],
        );
        let (check, under) =
            check_with_history(&edit.policy, std::slice::from_ref(&old), &before, &grants);
        assert!(check.problems.is_empty(), "{:?}", check.problems);
        assert_eq!(under, Some(old.version));

        // Signed with the retired key after its retirement: refused even with the old policy
        // at hand.
        let mut spec = OpSpec::new("OPS-2026-01-29-001", "SERVICE_RESTART", "deploy/**");
        spec.created = "2026-01-29T09:00:00Z";
        let after = team.approved(&spec, "alice", &["bob"]);
        let (check, under) =
            check_with_history(&edit.policy, std::slice::from_ref(&old), &after, &grants);
        assert!(!check.problems.is_empty(), "the retired key still counts");
        assert_eq!(under, None);

        // The retired key cannot come back, to bob or anyone, and the clock cannot go back.
        let again = rotate_key_in_text(
            &edit.text,
            &name("bob"),
            team.bob.public(),
            ts("2026-01-30T00:00:00Z"),
        );
        assert!(matches!(again, Err(Error::DuplicateKey(_))), "{again:?}");
        let back = rotate_key_in_text(&edit.text, &name("bob"), &key(), ts("2026-01-27T00:00:00Z"));
        assert!(matches!(back, Err(Error::RotatedLater(_))), "{back:?}");
    }

    #[test]
    fn allowed_signers_bound_retired_and_current_keys_in_time() {
        let (text, alice) = starter_with_alice();
        let newer = key();
        let edit = rotate_key_in_text(
            &text,
            &name("alice"),
            &newer,
            "2026-02-03T04:05:06Z".parse().unwrap(),
        )
        .expect("rotates");
        let lines = allowed_signers_text(&edit.policy);
        assert_eq!(
            lines,
            format!(
                "alice namespaces=\"git,git-ops\",valid-before=\"20260203040506Z\" {}\n\
                 alice namespaces=\"git,git-ops\",valid-after=\"20260203040506Z\" {}\n",
                alice.without_comment(),
                newer.without_comment()
            )
        );
        // The comments of the starter policy survive the edit.
        assert!(edit.text.contains("# approvals required"), "{}", edit.text);
    }

    #[test]
    fn rotating_names_the_signer_by_name_or_key() {
        let (text, alice) = starter_with_alice();
        let policy = yaml::parse_policy(&text).unwrap();
        assert_eq!(signer_named(&policy, "alice").unwrap(), name("alice"));
        assert_eq!(
            signer_named(&policy, &alice.without_comment()).unwrap(),
            name("alice")
        );
        assert!(matches!(
            signer_named(&policy, "carol"),
            Err(Error::NotASigner(_))
        ));
        assert!(matches!(
            rotate_key_in_text(
                &text,
                &name("carol"),
                &key(),
                "2026-02-03T04:05:06Z".parse().unwrap()
            ),
            Err(Error::UnknownSigner(_))
        ));
    }
}
