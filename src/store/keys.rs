//! Key files: where the caller's key is found, refusing key files others can read, and writing
//! new key pairs (private 0600).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::fsutil::write_atomic;
use super::{Error, Repo, Result};
use crate::crypto::Keypair;

/// Where a key was found, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    Flag,
    Env,
    GitSigningKey,
    Default,
}

impl KeySource {
    pub fn describe(self) -> &'static str {
        match self {
            KeySource::Flag => "--key",
            KeySource::Env => "$GIT_OPS_KEY",
            KeySource::GitSigningKey => "git config user.signingKey",
            KeySource::Default => "the default key directory",
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

/// Finds the caller's private key: `--key`, then `$GIT_OPS_KEY`, then git's `user.signingKey`
/// when it names an ed25519 SSH key file, then `default` in the default key directory.
pub fn find_key(repo: Option<&Repo>, explicit: Option<&Path>) -> Result<(PathBuf, KeySource)> {
    if let Some(p) = explicit {
        return Ok((p.to_path_buf(), KeySource::Flag));
    }
    if let Some(p) = std::env::var_os("GIT_OPS_KEY").filter(|p| !p.is_empty()) {
        return Ok((PathBuf::from(p), KeySource::Env));
    }
    if let Some(repo) = repo
        && let Some(sk) = repo.config_string("user.signingKey")
        && let Some(path) = signing_key_path(&sk)
    {
        return Ok((path, KeySource::GitSigningKey));
    }
    let dir = default_key_dir().ok_or_else(|| {
        Error::Key("no HOME, so no default key directory; set GIT_OPS_KEY".into())
    })?;
    let path = dir.join("default");
    if path.exists() {
        return Ok((path, KeySource::Default));
    }
    Err(Error::Key(format!(
        "no signing key found: pass --key, set GIT_OPS_KEY, set git's user.signingKey to an ed25519 SSH key, \
         or run `git ops keys generate` (which writes {})",
        path.display()
    )))
}

/// The private key file `user.signingKey` names, when it is an ed25519 SSH key on disk.
fn signing_key_path(value: &str) -> Option<PathBuf> {
    let value = value.trim();
    if value.starts_with("key::") || value.starts_with("ssh-") {
        // A literal public key: git would ask ssh-agent, and we cannot sign with the agent.
        return None;
    }
    let mut path = expand_home(value);
    if path.extension().is_some_and(|e| e == "pub") {
        path.set_extension("");
    }
    let head = fs::read(&path).ok()?;
    let text = String::from_utf8_lossy(&head);
    if !text.contains("BEGIN OPENSSH PRIVATE KEY") {
        return None;
    }
    // The public half says the algorithm without decrypting the private key.
    let pub_path = PathBuf::from(format!("{}.pub", path.display()));
    match fs::read_to_string(&pub_path) {
        Ok(p) if !p.starts_with("ssh-ed25519 ") => None,
        _ => Some(path),
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
