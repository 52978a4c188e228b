//! `git ops keys generate | add | list | allowed-signers`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;

use git_ops::crypto::{self, Keypair};
use git_ops::model::policy::{POLICY_PATH, Policy, SignerEntry, SignerRole};
use git_ops::model::{PublicKeyLine, SignerName, yaml};
use git_ops::render::line;
use git_ops::store::{fsutil, keys};

use super::common::{Ctx, load_policy, stdout};
use super::{Format, usage, usage_hint};

#[derive(Subcommand, Debug)]
pub enum KeysCmd {
    /// Write a new OpenSSH ed25519 key pair (private key mode 0600).
    Generate {
        /// Name of the key file in the default key directory (~/.config/git-ops/keys/NAME).
        #[arg(long, default_value = "default")]
        name: String,
        /// Write the private key here instead (PATH.pub gets the public key).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Comment stored with the key (default: NAME@host).
        #[arg(long)]
        comment: Option<String>,
        /// Protect the private key with a passphrase ($GIT_OPS_PASSPHRASE, else asked twice).
        #[arg(long)]
        encrypt: bool,
    },
    /// Add a signer to ops/policy.yaml.
    Add {
        name: String,
        /// The public key line (`ssh-ed25519 AAAA...`), or a path to a .pub file.
        pubkey: String,
        /// Roles: human, approver, automation (repeat or comma-separate).
        #[arg(long = "role", value_delimiter = ',', required = true)]
        roles: Vec<String>,
    },
    /// List the policy's signers.
    List {
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Write git's allowed_signers file for `git tag -v` and `ssh-keygen -Y verify`.
    AllowedSigners {
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub fn run(ctx: &Ctx, cmd: KeysCmd) -> Result<u8> {
    match cmd {
        KeysCmd::Generate {
            name,
            out,
            comment,
            encrypt,
        } => generate(name, out, comment, encrypt),
        KeysCmd::Add {
            name,
            pubkey,
            roles,
        } => add(ctx, name, pubkey, roles),
        KeysCmd::List { format } => list(ctx, format),
        KeysCmd::AllowedSigners { out } => allowed_signers(ctx, out),
    }
}

fn generate(
    name: String,
    out: Option<PathBuf>,
    comment: Option<String>,
    encrypt: bool,
) -> Result<u8> {
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return Err(usage(format!("--name {name:?}: use a plain file name")));
    }
    let path = match out {
        Some(p) => p,
        None => keys::default_key_dir()
            .ok_or_else(|| usage("no HOME, so no default key directory; pass --out"))?
            .join(&name),
    };
    let host = hostname();
    let comment = comment.unwrap_or_else(|| format!("{name}@{host}"));
    let passphrase = if encrypt {
        Some(new_passphrase()?)
    } else {
        None
    };
    let key = Keypair::generate(&comment)?;
    let pub_path = keys::write_keypair(&path, &key, passphrase.as_deref().map(|s| s.as_str()))?;
    let mut o = stdout();
    writeln!(
        o,
        "private key: {} (mode 0600{})",
        path.display(),
        if encrypt { ", encrypted" } else { "" }
    )?;
    writeln!(o, "public key:  {}", pub_path.display())?;
    writeln!(o, "fingerprint: {}", key.fingerprint())?;
    writeln!(o, "{}", key.public().as_str())?;
    Ok(0)
}

fn new_passphrase() -> Result<zeroize::Zeroizing<String>> {
    if let Ok(p) = std::env::var("GIT_OPS_PASSPHRASE") {
        return Ok(zeroize::Zeroizing::new(p));
    }
    let a = zeroize::Zeroizing::new(
        rpassword::prompt_password("New passphrase: ").context("asking for a passphrase")?,
    );
    let b = zeroize::Zeroizing::new(
        rpassword::prompt_password("Again: ").context("asking for a passphrase")?,
    );
    if *a != *b {
        return Err(usage("the passphrases differ"));
    }
    if a.is_empty() {
        return Err(usage(
            "an empty passphrase; leave out --encrypt for an unencrypted key",
        ));
    }
    Ok(a)
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn parse_roles(roles: &[String]) -> Result<Vec<SignerRole>> {
    roles
        .iter()
        .map(|r| match r.trim() {
            "human" => Ok(SignerRole::Human),
            "approver" => Ok(SignerRole::Approver),
            "automation" => Ok(SignerRole::Automation),
            other => Err(usage(format!(
                "unknown role {other:?}; expected human, approver or automation"
            ))),
        })
        .collect()
}

fn add(ctx: &Ctx, name: String, pubkey: String, roles: Vec<String>) -> Result<u8> {
    let repo = ctx.repo()?;
    let root = repo.workdir()?.to_path_buf();
    let policy = load_policy(&root)?;
    let name = SignerName::new(&name)?;
    let key_text = match std::fs::read_to_string(&pubkey) {
        Ok(t) => t,
        Err(_) if !pubkey.trim_start().starts_with("ssh-") => {
            return Err(usage(format!(
                "{pubkey:?} is neither a readable .pub file nor a public key line (ssh-ed25519 AAAA...)"
            )));
        }
        Err(_) => pubkey.clone(),
    };
    let key = PublicKeyLine::new(key_text.trim())?;
    let mut roles = parse_roles(&roles)?;
    roles.sort();
    roles.dedup();
    if policy.signers.contains_key(&name) {
        return Err(usage(format!(
            "{name} is already a signer in {POLICY_PATH}"
        )));
    }
    if let Some((other, _)) = policy.signer_by_key(&key) {
        return Err(usage(format!("that key already belongs to {other}")));
    }
    let mut wanted = policy.clone();
    wanted.version += 1;
    wanted.signers.insert(
        name.clone(),
        SignerEntry {
            key: key.clone(),
            roles: roles.clone(),
        },
    );
    wanted.validate()?;
    let path = root.join(POLICY_PATH);
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {POLICY_PATH}"))?;
    let role_list: Vec<&str> = roles
        .iter()
        .map(|r| match r {
            SignerRole::Human => "human",
            SignerRole::Approver => "approver",
            SignerRole::Automation => "automation",
        })
        .collect();
    let entry = format!(
        "{name}: {{ key: \"{}\", roles: [{}] }}",
        key.without_comment(),
        role_list.join(", ")
    );
    // Edit the text in place to keep the policy's comments; fall back to rendering it whole.
    let new_text = match edit_policy_text(&text, &entry, wanted.version) {
        Some(t) if yaml::parse_policy(&t).ok().as_ref() == Some(&wanted) => t,
        _ => yaml::render_policy(&wanted),
    };
    fsutil::write_atomic(&path, new_text.as_bytes(), None)?;
    writeln!(
        stdout(),
        "added {name} ({}) with roles [{}]; policy version {}",
        key.fingerprint(),
        role_list.join(", "),
        wanted.version
    )?;
    Ok(0)
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

fn role_names(e: &SignerEntry) -> String {
    e.roles
        .iter()
        .map(|r| match r {
            SignerRole::Human => "human",
            SignerRole::Approver => "approver",
            SignerRole::Automation => "automation",
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn list(ctx: &Ctx, format: Format) -> Result<u8> {
    let repo = ctx.repo()?;
    let policy = load_policy(repo.workdir()?)?;
    let mut o = stdout();
    match format {
        Format::Json => {
            let v: Vec<_> = policy
                .signers
                .iter()
                .map(|(n, e)| {
                    serde_json::json!({
                        "name": n, "roles": e.roles, "fingerprint": e.key.fingerprint(), "key": e.key.without_comment()
                    })
                })
                .collect();
            git_ops::render::write_json(&mut o, &v)?;
        }
        Format::Text => {
            for (n, e) in &policy.signers {
                writeln!(
                    o,
                    "{:<20} {:<24} {}",
                    line(n.as_str()),
                    role_names(e),
                    e.key.fingerprint()
                )?;
            }
        }
    }
    Ok(0)
}

pub fn allowed_signers_text(policy: &Policy) -> String {
    policy
        .signers
        .iter()
        .map(|(n, e)| crypto::allowed_signers_line(n.as_str(), &e.key) + "\n")
        .collect()
}

fn allowed_signers(ctx: &Ctx, out: Option<PathBuf>) -> Result<u8> {
    let repo = ctx.repo()?;
    let policy = load_policy(repo.workdir()?)?;
    let text = allowed_signers_text(&policy);
    match out {
        Some(p) => {
            fsutil::write_atomic(&p, text.as_bytes(), Some(0o644))?;
            writeln!(
                stdout(),
                "wrote {} ({} signers)",
                p.display(),
                policy.signers.len()
            )?;
        }
        None => stdout().write_all(text.as_bytes())?,
    }
    if policy.signers.is_empty() {
        return Err(usage_hint(
            "the policy has no signers",
            "git ops keys add <name> <pubkey> --role human",
        ));
    }
    Ok(0)
}
