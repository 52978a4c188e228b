//! The hook shims from `hooks/` in the repository's hooks directory (respecting core.hooksPath).
//! A hook that is not ours is never overwritten without `force`, and then it is kept beside as
//! `<name>.git-ops-backup`; or it is chained ([`install_chained`]): kept as
//! `<name>.git-ops-chained` and run first by the shim. Uninstalling puts it back.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use super::fsutil;
use super::{Error, Repo};

/// The line every shim carries, by which an installed hook is known to be ours.
pub const MARKER: &str = "# git-ops hook shim";

pub const SHIMS: [(&str, &str); 6] = [
    ("pre-commit", include_str!("../../hooks/pre-commit")),
    (
        "prepare-commit-msg",
        include_str!("../../hooks/prepare-commit-msg"),
    ),
    ("commit-msg", include_str!("../../hooks/commit-msg")),
    ("pre-push", include_str!("../../hooks/pre-push")),
    ("pre-receive", include_str!("../../hooks/pre-receive")),
    ("update", include_str!("../../hooks/update")),
];

/// The suffix of a foreign hook that a chaining shim runs before git-ops.
pub const CHAINED_SUFFIX: &str = ".git-ops-chained";

/// What to do with a hook that is not git-ops's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Foreign {
    Refuse,
    Replace,
    Chain,
}

const CLIENT: [&str; 4] = ["pre-commit", "prepare-commit-msg", "commit-msg", "pre-push"];
/// `--single`: commit-msg does what pre-commit and prepare-commit-msg did (docs/HOOKS.md).
const CLIENT_SINGLE: [&str; 2] = ["commit-msg", "pre-push"];
/// The hooks `--single` makes redundant: their git-ops shims are removed.
const SPLIT_ONLY: [&str; 2] = ["pre-commit", "prepare-commit-msg"];
const SERVER: [&str; 1] = ["pre-receive"];

/// The settings a server gets with its hook: git's own checks close doors the hook cannot,
/// malformed objects (duplicate tree entries read differently by different tools) and
/// rewritten history.
const SERVER_SETTINGS: [(&str, &str); 2] = [
    ("receive.fsckObjects", "true"),
    ("receive.denyNonFastForwards", "true"),
];

#[derive(Debug, thiserror::Error)]
pub enum HooksError {
    /// A hook that is not git-ops's is in the way.
    #[error("{} exists and is not a git-ops hook; not overwriting it", .0.display())]
    Foreign(PathBuf),
    #[error(transparent)]
    Store(#[from] Error),
}

impl HooksError {
    /// The exit code of a command that fails with this error: a hook in the way is a usage
    /// problem (2); a store error keeps its own.
    pub fn exit_code(&self) -> u8 {
        match self {
            HooksError::Foreign(_) => 2,
            HooksError::Store(e) => e.exit_code(),
        }
    }

    /// What to do next, where the message alone does not say.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            HooksError::Foreign(_) => Some(
                "pass --chain to run it before git-ops (it is kept as NAME.git-ops-chained), or --force to replace it (it is kept as NAME.git-ops-backup)",
            ),
            HooksError::Store(_) => None,
        }
    }
}

/// The directory git runs hooks from: `core.hooksPath` (relative to the work tree, or to the
/// git directory of a bare repository), else `hooks` in the common git directory.
pub fn hooks_dir(repo: &Repo) -> PathBuf {
    match repo.config_string("core.hooksPath") {
        Some(p) if !p.is_empty() => {
            let p = PathBuf::from(p);
            if p.is_absolute() {
                p
            } else if let Ok(w) = repo.workdir() {
                w.join(p)
            } else {
                repo.common_dir().join(p)
            }
        }
        _ => repo.common_dir().join("hooks"),
    }
}

fn is_ours(path: &std::path::Path) -> Option<bool> {
    fs::read_to_string(path).ok().map(|t| t.contains(MARKER))
}

/// Installs the shims: the client hooks, or pre-receive in a bare repository (both with
/// `server`). Every hook is checked before any is written, so a refusal changes nothing.
/// Returns the paths written.
pub fn install(repo: &Repo, force: bool, server: bool) -> Result<Vec<PathBuf>, HooksError> {
    let foreign = if force {
        Foreign::Replace
    } else {
        Foreign::Refuse
    };
    install_with(repo, foreign, server, false)
}

/// The shims of `git ops hooks install --single`: one commit-msg hook (`git-ops hook commit`)
/// that does the staged check, adds the active operation's trailer and checks the trailers, and
/// pre-push; git-ops's own pre-commit and prepare-commit-msg shims are removed (putting back what
/// they replaced). Returns the paths written and the shims removed.
pub fn install_single(
    repo: &Repo,
    force: bool,
    chain: bool,
    server: bool,
) -> Result<(Vec<PathBuf>, Vec<Removed>), HooksError> {
    let foreign = match (chain, force) {
        (true, _) => Foreign::Chain,
        (false, true) => Foreign::Replace,
        (false, false) => Foreign::Refuse,
    };
    let written = install_with(repo, foreign, server, true)?;
    let removed = if repo.is_bare() {
        Vec::new()
    } else {
        remove_shims(repo, &SPLIT_ONLY)?
    };
    Ok((written, removed))
}

/// The commit-msg shim of `--single`: the same shim, calling `git-ops hook commit`.
pub fn single_shim() -> String {
    let shim = SHIMS
        .iter()
        .find(|(n, _)| *n == "commit-msg")
        .map(|(_, t)| *t)
        .expect("commit-msg has a shim");
    shim.replace(
        "exec git-ops hook commit-msg ",
        "# --single: the staged check, the active operation's trailer and the trailer check.\n\
         exec git-ops hook commit ",
    )
}

/// Installs the shims like [`install`], keeping every hook that is not git-ops's as
/// `NAME.git-ops-chained`: the shim runs it first (with the same arguments and input) and then
/// git-ops, and fails when either fails.
pub fn install_chained(repo: &Repo, server: bool) -> Result<Vec<PathBuf>, HooksError> {
    install_with(repo, Foreign::Chain, server, false)
}

fn install_with(
    repo: &Repo,
    foreign: Foreign,
    server: bool,
    single: bool,
) -> Result<Vec<PathBuf>, HooksError> {
    let dir = hooks_dir(repo);
    let client: &[&str] = if single { &CLIENT_SINGLE } else { &CLIENT };
    let names: Vec<&str> = if repo.is_bare() {
        SERVER.to_vec()
    } else if server {
        client.iter().chain(SERVER.iter()).copied().collect()
    } else {
        client.to_vec()
    };
    if foreign == Foreign::Refuse
        && let Some(path) = names
            .iter()
            .map(|name| dir.join(name))
            .find(|path| is_ours(path) == Some(false))
    {
        return Err(HooksError::Foreign(path));
    }
    let mut done = Vec::new();
    for name in names {
        let path = dir.join(name);
        let chained = dir.join(format!("{name}{CHAINED_SUFFIX}"));
        if is_ours(&path) == Some(false) {
            let keep = match foreign {
                Foreign::Chain => chained.clone(),
                _ => dir.join(format!("{name}.git-ops-backup")),
            };
            fs::rename(&path, &keep).map_err(|e| Error::io(&path, e))?;
        }
        let shim = if single && name == "commit-msg" {
            single_shim()
        } else {
            SHIMS
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, t)| t.to_string())
                .expect("every hook has a shim")
        };
        // A hook chained by an earlier install stays chained.
        let text = if chained.exists() {
            chain_shim(name, &shim)
        } else {
            shim
        };
        fsutil::write_atomic(&path, text.as_bytes(), Some(0o755))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
            .map_err(|e| Error::io(&path, e))?;
        done.push(path);
    }
    Ok(done)
}

/// The shim of `name` that first runs the chained hook (when it is executable, as git would),
/// failing with its status, then git-ops. The hooks that read input (pre-push, pre-receive)
/// get it from a copy, so both read all of it.
pub fn chain_shim(name: &str, shim: &str) -> String {
    let reads_input = matches!(name, "pre-push" | "pre-receive");
    let input = if reads_input { " <\"$input\"" } else { "" };
    let mut text = String::from("#!/bin/sh\n");
    text.push_str(&format!(
        "# Chained: the earlier {name} hook, kept as {name}{CHAINED_SUFFIX}, runs first; either failing rejects.\n"
    ));
    if reads_input {
        text.push_str("input=$(mktemp) || exit 1\ntrap 'rm -f \"$input\"' EXIT\ncat >\"$input\"\n");
    }
    text.push_str(&format!(
        "chained=\"$(dirname \"$0\")/{name}{CHAINED_SUFFIX}\"\n\
         if [ -x \"$chained\" ]; then \"$chained\" \"$@\"{input} || exit $?; fi\n"
    ));
    for line in shim.lines().skip(1) {
        match line.strip_prefix("exec ") {
            Some(call) => text.push_str(&format!("{call}{input}\n")),
            None => text.push_str(&format!("{line}\n")),
        }
    }
    text
}

/// In a bare repository, turns on the server settings that are not set yet; returns those set.
pub fn harden_server(repo: &Repo) -> Result<Vec<(&'static str, &'static str)>, Error> {
    let mut set = Vec::new();
    if !repo.is_bare() {
        return Ok(set);
    }
    for (key, value) in SERVER_SETTINGS {
        if repo.config_string(key).is_none() {
            repo.set_local_config(key, value)?;
            set.push((key, value));
        }
    }
    Ok(set)
}

/// A shim removed by [`uninstall`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    pub name: &'static str,
    pub path: PathBuf,
    /// The hook that was there before git-ops was put back.
    pub restored: bool,
}

/// Removes the shims git-ops installed and puts back the hooks they replaced; other hooks are
/// left alone.
pub fn uninstall(repo: &Repo) -> Result<Vec<Removed>, Error> {
    let names: Vec<&'static str> = SHIMS.iter().map(|(n, _)| *n).collect();
    remove_shims(repo, &names)
}

fn remove_shims(repo: &Repo, names: &[&'static str]) -> Result<Vec<Removed>, Error> {
    let dir = hooks_dir(repo);
    let mut removed = Vec::new();
    for &name in names {
        let path = dir.join(name);
        if is_ours(&path) != Some(true) {
            continue;
        }
        fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        let backup = dir.join(format!("{name}.git-ops-backup"));
        let chained = dir.join(format!("{name}{CHAINED_SUFFIX}"));
        let earlier = [backup, chained].into_iter().find(|p| p.exists());
        let restored = earlier.is_some();
        if let Some(earlier) = earlier {
            fs::rename(&earlier, &path).map_err(|e| Error::io(&earlier, e))?;
        }
        removed.push(Removed {
            name,
            path,
            restored,
        });
    }
    Ok(removed)
}

/// Whether a server (a bare repository, or an install with `server`) still lacks the pinned
/// trust root `ops.trustRoot`, which it should have.
pub fn lacks_trust_root(repo: &Repo, server: bool) -> bool {
    (repo.is_bare() || server) && repo.config_string("ops.trustRoot").is_none()
}
