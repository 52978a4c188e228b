//! Key files: where the caller's key is found, refusing key files others can read, and writing
//! new key pairs (private 0600).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::fsutil::write_atomic;
use super::{Error, Repo, Result};
use crate::crypto::Keypair;
use crate::crypto::agent::Agent;
use crate::model::PublicKeyLine;

/// Where a key was found, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    Flag,
    Env,
    GitSigningKey,
    Default,
    Agent,
}

impl KeySource {
    pub fn describe(self) -> &'static str {
        match self {
            KeySource::Flag => "--key",
            KeySource::Env => "$GIT_OPS_KEY",
            KeySource::GitSigningKey => "git config user.signingKey",
            KeySource::Default => "the default key directory",
            KeySource::Agent => "ssh-agent ($SSH_AUTH_SOCK)",
        }
    }
}

/// `$XDG_CONFIG_HOME/git-ops/keys`, else `~/.config/git-ops/keys`.
pub fn default_key_dir() -> Option<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
        return Some(PathBuf::from(x).join("git-ops/keys"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config/git-ops/keys"))
}

fn expand_home(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(p),
    }
}

/// Refuses key files that group or others can read, as ssh does.
pub fn check_private_permissions(path: &Path) -> Result<()> {
    let meta = fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            Error::Key(format!("key file {} does not exist", path.display()))
        }
        _ => Error::io(path, e),
    })?;
    if !meta.is_file() {
        return Err(Error::Key(format!(
            "key file {} is not a regular file",
            path.display()
        )));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::Key(format!(
            "key file {} is accessible by others (mode {mode:03o}); refusing to use it. Run: chmod 600 {}",
            path.display(),
            path.display()
        )));
    }
    Ok(())
}

/// Reads and, if needed, decrypts a private key.
pub fn load_keypair(
    path: &Path,
    passphrase: impl FnOnce() -> std::result::Result<Zeroizing<String>, String>,
) -> Result<Keypair> {
    check_private_permissions(path)?;
    let bytes = Zeroizing::new(fs::read(path).map_err(|e| Error::io(path, e))?);
    Keypair::from_openssh(&bytes, passphrase).map_err(|e| {
        // ssh-key is built for ed25519 only, so other key types fail to decode before their type
        // is known; the public half beside the key says what it is.
        let pub_path = PathBuf::from(format!("{}.pub", path.display()));
        if let Ok(p) = fs::read_to_string(&pub_path)
            && let Some(alg) = p.split_whitespace().next()
            && alg != "ssh-ed25519"
            && matches!(e, crate::crypto::Error::BadPrivateKey(_))
        {
            return Error::Key(format!(
                "{}: a {alg} key; git-ops signs with ssh-ed25519 keys only (make one with `git ops keys generate` or `ssh-keygen -t ed25519`)",
                path.display()
            ));
        }
        Error::Key(format!("{}: {e}", path.display()))
    })
}

/// Writes `key` to `path` (0600) and `path.pub` (0644). Refuses to overwrite either.
pub fn write_keypair(path: &Path, key: &Keypair, passphrase: Option<&str>) -> Result<PathBuf> {
    let pub_path = PathBuf::from(format!("{}.pub", path.display()));
    for p in [path, pub_path.as_path()] {
        if p.exists() {
            return Err(Error::Usage(format!(
                "{} exists already; not overwriting a key",
                p.display()
            )));
        }
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    }
    let text = key.to_openssh(passphrase)?;
    write_atomic(path, text.as_bytes(), Some(0o600))?;
    let line = format!("{}\n", key.public().as_str());
    write_atomic(&pub_path, line.as_bytes(), Some(0o644))?;
    Ok(pub_path)
}

/// The text of a key file someone named, wiped from memory when dropped (it may be a private
/// key given by mistake). None when it cannot be read as text.
pub fn read_key_file_text(path: &Path) -> Option<Zeroizing<String>> {
    fs::read_to_string(path).ok().map(Zeroizing::new)
}

/// `PATH.pub`, when it exists beside the key file `path`.
pub fn public_half_of(path: &Path) -> Option<PathBuf> {
    let pub_path = PathBuf::from(format!("{}.pub", path.display()));
    pub_path.is_file().then_some(pub_path)
}

/// A key someone named: a private key file, or a public key whose private half should be in
/// ssh-agent (git's `key::ssh-ed25519 AAAA...` form, or a `.pub` file with no private key beside).
#[derive(Debug, Clone)]
pub enum KeyRef {
    File(PathBuf),
    Public {
        key: PublicKeyLine,
        /// The `.pub` file it was read from, if any.
        from: Option<PathBuf>,
    },
}

/// Reads what a `--key`, `$GIT_OPS_KEY` or `user.signingKey` value names.
pub fn key_ref(value: &str) -> Result<KeyRef> {
    let v = value.trim();
    let literal = v.strip_prefix("key::").unwrap_or(v);
    if literal.starts_with("ssh-") || literal.starts_with("sk-") {
        let key = PublicKeyLine::new(literal).map_err(|e| Error::Key(e.to_string()))?;
        return Ok(KeyRef::Public { key, from: None });
    }
    let path = expand_home(v);
    if path.extension().is_some_and(|e| e == "pub") {
        let private = path.with_extension("");
        if private.is_file() {
            return Ok(KeyRef::File(private));
        }
        return public_file(&path);
    }
    Ok(KeyRef::File(path))
}

/// A `.pub` file (or a file holding one public key line).
fn public_file(path: &Path) -> Result<KeyRef> {
    let text = fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            Error::Key(format!("key file {} does not exist", path.display()))
        }
        _ => Error::io(path, e),
    })?;
    let key = PublicKeyLine::new(text.trim())
        .map_err(|e| Error::Key(format!("{}: {e}", path.display())))?;
    Ok(KeyRef::Public {
        key,
        from: Some(path.to_path_buf()),
    })
}

/// Whether `text` is one OpenSSH public key line (what a `.pub` file holds).
fn is_public_key_text(text: &[u8]) -> bool {
    let Ok(t) = std::str::from_utf8(text) else {
        return false;
    };
    let t = t.trim();
    !t.contains('\n')
        && (t.starts_with("ssh-") || t.starts_with("sk-") || t.starts_with("ecdsa-"))
        && ssh_key::PublicKey::from_openssh(t).is_ok()
}

/// The caller's signing key, found and loaded: `explicit` (`--key`), then `$GIT_OPS_KEY`, then
/// git's `user.signingKey` (a key file, a `.pub` file, or `key::ssh-ed25519 AAAA...`), then the
/// default key file, then the one key in ssh-agent that `known` (the policy's signers) has.
/// A public key is signed with through ssh-agent; a FIDO key through `ssh-keygen -Y sign`; an
/// encrypted key file whose key the agent holds is not decrypted at all.
pub fn load_signing_key(
    repo: Option<&Repo>,
    explicit: Option<&Path>,
    known: &[(String, PublicKeyLine)],
    passphrase: impl FnOnce(&Path) -> std::result::Result<Zeroizing<String>, String>,
) -> Result<(Keypair, KeySource)> {
    let agent = Agent::from_env();
    let mut named: Option<(String, KeySource)> = None;
    if let Some(p) = explicit {
        named = Some((p.to_string_lossy().into_owned(), KeySource::Flag));
    } else if let Some(p) = std::env::var_os("GIT_OPS_KEY").filter(|p| !p.is_empty()) {
        named = Some((p.to_string_lossy().into_owned(), KeySource::Env));
    } else if let Some(sk) = repo.and_then(|r| r.config_string("user.signingKey"))
        && !sk.trim().is_empty()
        && signing_key_is_ours(&sk)
    {
        named = Some((sk, KeySource::GitSigningKey));
    }
    if let Some((value, source)) = named {
        let key = match key_ref(&value)? {
            KeyRef::File(path) => load_file(&path, agent.as_ref(), passphrase),
            KeyRef::Public { key, from } => from_agent(agent, key, from.as_deref()),
        }
        .map_err(|e| match e {
            Error::Key(m) => Error::Key(format!("{m} (the key named by {})", source.describe())),
            other => other,
        })?;
        return Ok((key, source));
    }
    let default = default_key_dir().map(|d| d.join("default"));
    if let Some(path) = default.as_ref().filter(|p| p.exists()) {
        return Ok((
            load_file(path, agent.as_ref(), passphrase)?,
            KeySource::Default,
        ));
    }
    // Nothing named: a key in the key directory under another name (`keys generate --name bob`)
    // when exactly one there is a signer's...
    let mut dir_said = String::new();
    if let Some(dir) = default.as_ref().and_then(|p| p.parent())
        && !known.is_empty()
    {
        let (all, ours) = signer_keys_in(dir, known);
        if let [one] = ours.as_slice() {
            return Ok((
                load_file(one, agent.as_ref(), passphrase)?,
                KeySource::Default,
            ));
        }
        if all > 0 {
            dir_said = format!(
                "; {} holds {all} keys, {} of them a signer's in the policy",
                dir.display(),
                ours.len()
            );
        }
    }
    // ... else the agent's key, when exactly one of its keys is a signer's.
    let mut agent_said = "SSH_AUTH_SOCK is not set".to_string();
    if let Some(a) = &agent {
        match a.identities() {
            Ok(ids) => {
                let ours: Vec<&PublicKeyLine> = known
                    .iter()
                    .map(|(_, k)| k)
                    .filter(|k| {
                        k.key()
                            .to_bytes()
                            .is_ok_and(|b| ids.iter().any(|i| i.blob == b))
                    })
                    .collect();
                if let [one] = ours.as_slice() {
                    let key = Keypair::from_agent(a.clone(), (*one).clone())?;
                    return Ok((key, KeySource::Agent));
                }
                agent_said = format!(
                    "ssh-agent at {} holds {} keys, {} of them a signer's in the policy",
                    a.socket.display(),
                    ids.len(),
                    ours.len()
                );
            }
            Err(e) => agent_said = e,
        }
    }
    let mut msg = format!(
        "no signing key found. Looked at: --key (not given); $GIT_OPS_KEY (not set); git config user.signingKey ({}); {} ({}){dir_said}; {agent_said}",
        match repo.and_then(|r| r.config_string("user.signingKey")) {
            Some(v) => format!("{:?} is not an SSH key", v.trim()),
            None => "not set".into(),
        },
        default
            .as_ref()
            .map_or("the default key".into(), |p| p.display().to_string()),
        if default.is_some() {
            "does not exist"
        } else {
            "no HOME"
        },
    );
    if !known.is_empty() {
        msg.push_str(".\nThe policy's signers, one of whose private keys you need:");
        for (name, key) in known {
            msg.push_str(&format!(
                "\n  {} {}",
                crate::render::line(name),
                key.fingerprint()
            ));
        }
    }
    msg.push_str(
        "\nPass --key FILE, set GIT_OPS_KEY, run `git ops keys setup-git --key FILE`, load your key with `ssh-add`, \
         or run `git ops keys generate` for a new key (a policy owner must then add it with `git ops keys add`)",
    );
    Err(Error::Key(msg))
}

/// The private key files in `dir` (those with a `.pub` beside them) and which of them are keys
/// of `known`: (how many keys, the signers' key files).
fn signer_keys_in(dir: &Path, known: &[(String, PublicKeyLine)]) -> (usize, Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return (0, Vec::new());
    };
    let mut all = 0;
    let mut ours = Vec::new();
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().is_none_or(|x| x != "pub") {
            continue;
        }
        let private = p.with_extension("");
        if !private.is_file() {
            continue;
        }
        all += 1;
        let Ok(text) = fs::read_to_string(&p) else {
            continue;
        };
        if let Ok(k) = PublicKeyLine::new(text.trim())
            && known.iter().any(|(_, kk)| *kk == k)
        {
            ours.push(private);
        }
    }
    ours.sort();
    (all, ours)
}

/// Whether git's `user.signingKey` names an ed25519 SSH key (a GPG key id, or an RSA or ECDSA
/// key someone signs commits with, is not ours to use: the lookup goes on).
fn signing_key_is_ours(value: &str) -> bool {
    let v = value.trim();
    let ed25519 = |line: &str| {
        let alg = line.split_whitespace().next().unwrap_or("");
        alg == "ssh-ed25519" || alg == "sk-ssh-ed25519@openssh.com"
    };
    let literal = v.strip_prefix("key::").unwrap_or(v);
    if literal.starts_with("ssh-") || literal.starts_with("sk-") || literal.starts_with("ecdsa-") {
        return ed25519(literal);
    }
    // A GPG key id or e-mail address is not a file; a path is.
    let path = expand_home(v);
    if !v.contains('/') && !path.exists() {
        return false;
    }
    // The public half says the algorithm without reading the private key.
    let pub_path = if path.extension().is_some_and(|e| e == "pub") {
        path
    } else {
        PathBuf::from(format!("{}.pub", path.display()))
    };
    match fs::read_to_string(&pub_path) {
        Ok(p) => ed25519(p.trim()),
        Err(_) => true,
    }
}

fn from_agent(agent: Option<Agent>, key: PublicKeyLine, from: Option<&Path>) -> Result<Keypair> {
    let what = match from {
        Some(p) => format!(
            "{} is a public key (.pub), not a private key, and there is no private key beside it",
            p.display()
        ),
        None => format!("the key {} is given as a public key", key.fingerprint()),
    };
    let Some(agent) = agent else {
        return Err(Error::Key(format!(
            "{what}; its private half would be in ssh-agent, but SSH_AUTH_SOCK is not set. Start an agent and `ssh-add` the private key, or give the private key file"
        )));
    };
    Keypair::from_agent(agent, key).map_err(|e| Error::Key(format!("{what}; {e}")))
}

/// Loads a private key file (or hands it on: to the agent when it holds the key and the file is
/// encrypted, to ssh-keygen for a FIDO key).
fn load_file(
    path: &Path,
    agent: Option<&Agent>,
    passphrase: impl FnOnce(&Path) -> std::result::Result<Zeroizing<String>, String>,
) -> Result<Keypair> {
    if path.exists() && !path.is_file() {
        return Err(Error::Key(format!(
            "key file {} is not a regular file",
            path.display()
        )));
    }
    let bytes = match fs::read(path) {
        Ok(b) => Zeroizing::new(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::Key(format!(
                "key file {} does not exist",
                path.display()
            )));
        }
        Err(e) => return Err(Error::io(path, e)),
    };
    if is_public_key_text(&bytes) {
        // A .pub file where the private key belongs: say so (it is no secret), or sign through
        // the agent if it holds the key.
        let key = PublicKeyLine::new(&String::from_utf8_lossy(&bytes))
            .map_err(|e| Error::Key(format!("{}: {e}", path.display())))?;
        return from_agent(agent.cloned(), key, Some(path)).map_err(|e| match e {
            Error::Key(m) => Error::Key(format!(
                "{m}. The private key is usually the same path without .pub"
            )),
            other => other,
        });
    }
    check_private_permissions(path)?;
    let text = String::from_utf8_lossy(&bytes);
    if text.contains("BEGIN OPENSSH PRIVATE KEY")
        && let Ok(parsed) = ssh_key::PrivateKey::from_openssh(&*bytes)
    {
        let public = PublicKeyLine::from_key(parsed.public_key()).ok();
        if parsed.algorithm() == ssh_key::Algorithm::SkEd25519
            && let Some(public) = public
        {
            return Ok(Keypair::with_ssh_keygen(path.to_path_buf(), public));
        }
        if parsed.is_encrypted()
            && let (Some(agent), Some(public)) = (agent, public)
            && let Ok(k) = Keypair::from_agent(agent.clone(), public)
        {
            return Ok(k);
        }
    } else if !text.contains("PRIVATE KEY") && !text.contains("PuTTY") {
        return Err(Error::Key(format!(
            "{} is neither an OpenSSH private key nor a public key; give the private key file (e.g. ~/.ssh/id_ed25519)",
            path.display()
        )));
    }
    drop(text);
    Ok(load_keypair(path, || passphrase(path))?.with_origin(path.to_path_buf()))
}
