//! `git ops hooks install | uninstall`: POSIX sh shims from `hooks/` into the repository's hooks
//! directory (respecting core.hooksPath). A hook that is not ours is never overwritten without
//! `--force`, and then it is kept beside as `<name>.git-ops-backup`.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;

use git_ops::store::{Repo, fsutil};

use super::common::{Ctx, stdout};
use super::usage_hint;

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

const CLIENT: [&str; 4] = ["pre-commit", "prepare-commit-msg", "commit-msg", "pre-push"];
const SERVER: [&str; 1] = ["pre-receive"];

#[derive(Subcommand, Debug)]
pub enum HooksCmd {
    /// Install the hook shims (client hooks; pre-receive in a bare repository).
    Install {
        /// Replace hooks that are not git-ops's (the old one is kept as NAME.git-ops-backup).
        #[arg(long)]
        force: bool,
        /// Install the server-side pre-receive hook even in a non-bare repository.
        #[arg(long)]
        server: bool,
    },
    /// Remove the shims git-ops installed (other hooks are left alone).
    Uninstall,
}

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

pub fn install(repo: &Repo, force: bool, server: bool) -> Result<Vec<String>> {
    let dir = hooks_dir(repo);
    let names: Vec<&str> = if repo.is_bare() {
        SERVER.to_vec()
    } else if server {
        CLIENT.iter().chain(SERVER.iter()).copied().collect()
    } else {
        CLIENT.to_vec()
    };
    let mut done = Vec::new();
    // Check every hook before writing any, so a refusal changes nothing.
    for name in &names {
        let path = dir.join(name);
        if let Ok(text) = std::fs::read_to_string(&path)
            && !text.contains(MARKER)
            && !force
        {
            return Err(usage_hint(
                format!(
                    "{} exists and is not a git-ops hook; not overwriting it",
                    path.display()
                ),
                "chain it yourself (call `git-ops hook NAME \"$@\"` from it), or pass --force to replace it (it is kept as NAME.git-ops-backup)",
            ));
        }
    }
    for name in names {
        let path = dir.join(name);
        if let Ok(text) = std::fs::read_to_string(&path)
            && !text.contains(MARKER)
        {
            let backup = dir.join(format!("{name}.git-ops-backup"));
            std::fs::rename(&path, &backup)?;
        }
        let shim = SHIMS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
            .expect("every hook has a shim");
        fsutil::write_atomic(&path, shim.as_bytes(), Some(0o755))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        done.push(path.display().to_string());
    }
    Ok(done)
}

pub fn run(ctx: &Ctx, cmd: HooksCmd) -> Result<u8> {
    let repo = ctx.repo()?;
    let mut out = stdout();
    match cmd {
        HooksCmd::Install { force, server } => {
            for p in install(&repo, force, server)? {
                writeln!(out, "installed {p}")?;
            }
            if repo.is_bare() {
                // git's own checks close doors the hook cannot: malformed objects (duplicate tree
                // entries read differently by different tools) and rewritten history.
                for (key, value) in [
                    ("receive.fsckObjects", "true"),
                    ("receive.denyNonFastForwards", "true"),
                ] {
                    if repo.config_string(key).is_none() {
                        repo.set_local_config(key, value)?;
                        writeln!(out, "set {key}={value}")?;
                    }
                }
            }
            if (repo.is_bare() || server) && repo.config_string("ops.trustRoot").is_none() {
                writeln!(
                    out,
                    "note: pin the trust root on a server: git config ops.trustRoot <the commit that adopted git-ops>"
                )?;
            }
        }
        HooksCmd::Uninstall => {
            let dir = hooks_dir(&repo);
            for (name, _) in SHIMS {
                let path = dir.join(name);
                if std::fs::read_to_string(&path).is_ok_and(|t| t.contains(MARKER)) {
                    std::fs::remove_file(&path)?;
                    writeln!(out, "removed {}", path.display())?;
                    let backup = dir.join(format!("{name}.git-ops-backup"));
                    if backup.exists() {
                        std::fs::rename(&backup, &path)?;
                        writeln!(out, "restored the earlier {name} hook")?;
                    }
                }
            }
        }
    }
    Ok(0)
}
