//! `git ops keys generate | add | rotate | list | allowed-signers | setup-git`
//! (`git_ops::engine::keys`).

use std::io::Write;
use std::path::PathBuf;

use super::error::{Context, Result};
use clap::Subcommand;

use git_ops::engine::keys::{self, Error as KeysError, NewKey, PolicyFile};
use git_ops::model::SignerName;
use git_ops::model::policy::{SignerEntry, SignerRole};
use git_ops::render::line;

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
    // A pasted private key starts with `-----`: taken as a value, it is refused without being
    // shown, where clap would repeat it whole as an unexpected flag.
    Add {
        #[arg(allow_hyphen_values = true)]
        name: String,
        /// The public key line (`ssh-ed25519 AAAA...`), or a path to a .pub file.
        #[arg(allow_hyphen_values = true)]
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
    /// Replace a signer's key in ops/policy.yaml, keeping the old one as retired from now on.
    ///
    /// Records and tags signed with the old key before now still verify (also with stock
    /// `git tag -v`, through the allowed-signers file's valid-before); signatures made with it
    /// later are refused. The edited policy is committed like any policy change: under an
    /// operation covering ops/policy.yaml approved under the current policy.
    Rotate {
        /// The signer: their name, or their current public key (line or .pub file).
        #[arg(allow_hyphen_values = true)]
        old: String,
        /// The new public key line (`ssh-ed25519 AAAA...`), or a path to its .pub file.
        #[arg(allow_hyphen_values = true)]
        new: String,
    },
    /// Write git's allowed_signers file for `git tag -v` and `ssh-keygen -Y verify`.
    AllowedSigners {
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Set up git in this clone to sign and verify with your SSH key.
    ///
    /// Sets gpg.format=ssh, user.signingKey and gpg.ssh.allowedSignersFile (a file under .git
    /// that git-ops keeps in line with the policy), and commit.gpgSign with --sign-commits.
    /// Afterwards plain `git tag -v` and `git verify-commit` work.
    SetupGit {
        /// Your key: a private key file, its .pub file (private half in ssh-agent), or
        /// `key::ssh-ed25519 AAAA...` (default: the usual key lookup).
        #[arg(long)]
        key: Option<PathBuf>,
        /// Sign every commit (commit.gpgSign=true).
        #[arg(long)]
        sign_commits: bool,
    },
}

pub fn run(ctx: &Ctx, cmd: KeysCmd) -> Result<u8> {
    match cmd {
        KeysCmd::Generate {
            name,
            out,
            comment,
            encrypt,
        } => generate(NewKey { name, out, comment }, encrypt),
        KeysCmd::Add {
            name,
            pubkey,
            roles,
        } => add(ctx, name, pubkey, roles),
        KeysCmd::List { format } => list(ctx, format),
        KeysCmd::Rotate { old, new } => rotate(ctx, old, new),
        KeysCmd::AllowedSigners { out } => allowed_signers(ctx, out),
        KeysCmd::SetupGit { key, sign_commits } => setup_git(ctx, key, sign_commits),
    }
}

fn rotate(ctx: &Ctx, old: String, new: String) -> Result<u8> {
    let repo = ctx.repo()?;
    let file = PolicyFile::load(&repo)?;
    if keys::holds_private_key(&old) {
        return Err(KeysError::PrivateKey {
            path: None,
            public_beside: None,
        }
        .into());
    }
    let name = keys::signer_named(&file.policy, &old)?;
    let new_key = keys::public_key_from_arg(&new)?;
    let old_fp = file
        .policy
        .signer(&name)
        .map(|e| e.key.fingerprint().to_string())
        .unwrap_or_default();
    let now = git_ops::model::Timestamp::from_datetime(chrono::Utc::now());
    let edit = keys::rotate_key(&repo, &file, &name, &new_key, now)?;
    let mut o = stdout();
    writeln!(
        o,
        "rotated {name}: {} replaces {old_fp}, retired at {now}; policy version {}",
        new_key.fingerprint(),
        edit.policy.version
    )?;
    writeln!(
        o,
        "next: commit ops/policy.yaml under an operation that covers it (git ops new --allowed-paths ops/policy.yaml ...), approved under the current policy"
    )?;
    Ok(0)
}

fn setup_git(ctx: &Ctx, key: Option<PathBuf>, sign_commits: bool) -> Result<u8> {
    let repo = ctx.repo()?;
    let policy = load_policy(repo.workdir()?)?;
    let known = git_ops::engine::workspace::policy_keys(&policy);
    let (keypair, _) = git_ops::store::keys::load_signing_key(
        Some(&repo),
        key.as_deref(),
        &known,
        super::common::ask_passphrase,
    )?;
    let done = keys::setup_git(&repo, &policy, &keypair, sign_commits)?;
    let mut o = stdout();
    writeln!(o, "gpg.format = ssh")?;
    writeln!(o, "user.signingKey = {}", line(&done.signing_key))?;
    writeln!(
        o,
        "gpg.ssh.allowedSignersFile = {} ({} signers; git-ops keeps it in line with the policy)",
        done.allowed_signers.display(),
        done.signers
    )?;
    if done.sign_commits {
        writeln!(o, "commit.gpgSign = true")?;
    }
    writeln!(
        o,
        "`git tag -v <ops tag>` and `git verify-commit <commit>` now work in this clone"
    )?;
    Ok(0)
}

fn generate(new: NewKey, encrypt: bool) -> Result<u8> {
    // Check where the key goes before asking for a passphrase.
    keys::new_key_path(&new)?;
    let passphrase = if encrypt {
        Some(new_passphrase()?)
    } else {
        None
    };
    let key = keys::generate(&new, passphrase.as_deref().map(|s| s.as_str()))?;
    let mut o = stdout();
    writeln!(
        o,
        "private key: {} (mode 0600{})",
        key.path.display(),
        if encrypt { ", encrypted" } else { "" }
    )?;
    writeln!(o, "public key:  {}", key.pub_path.display())?;
    writeln!(o, "fingerprint: {}", key.fingerprint)?;
    writeln!(o, "{}", key.public.as_str())?;
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
    let file = PolicyFile::load(&repo)?;
    if keys::holds_private_key(&name) {
        // The arguments the wrong way round: the key must not be repeated as a bad name.
        return Err(KeysError::PrivateKey {
            path: None,
            public_beside: None,
        }
        .into());
    }
    let name = SignerName::new(&name)?;
    let key = keys::public_key_from_arg(&pubkey)?;
    let roles = parse_roles(&roles)?;
    let edit = keys::add_signer(&repo, &file, &name, &key, &roles)?;
    let role_list: Vec<&str> = edit.roles.iter().map(|r| keys::role_name(*r)).collect();
    writeln!(
        stdout(),
        "added {name} ({}) with roles [{}]; policy version {}",
        key.fingerprint(),
        role_list.join(", "),
        edit.policy.version
    )?;
    Ok(0)
}

fn role_names(e: &SignerEntry) -> String {
    e.roles
        .iter()
        .map(|r| keys::role_name(*r))
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
                    let retired: Vec<_> = e
                        .retired_keys
                        .iter()
                        .map(|r| {
                            serde_json::json!({
                                "fingerprint": r.key.fingerprint(), "retired_at": r.retired_at.to_string()
                            })
                        })
                        .collect();
                    serde_json::json!({
                        "name": n, "roles": e.roles, "fingerprint": e.key.fingerprint(), "key": e.key.without_comment(),
                        "retired_keys": retired
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
                for r in &e.retired_keys {
                    writeln!(
                        o,
                        "{:<20} {:<24} {} (retired {})",
                        "",
                        "",
                        r.key.fingerprint(),
                        r.retired_at
                    )?;
                }
            }
        }
    }
    Ok(0)
}

fn allowed_signers(ctx: &Ctx, out: Option<PathBuf>) -> Result<u8> {
    let repo = ctx.repo()?;
    let policy = load_policy(repo.workdir()?)?;
    match out {
        Some(p) => {
            keys::write_allowed_signers(&p, &policy)?;
            writeln!(
                stdout(),
                "wrote {} ({} signers)",
                p.display(),
                policy.signers.len()
            )?;
        }
        None => stdout().write_all(keys::allowed_signers_text(&policy).as_bytes())?,
    }
    if policy.signers.is_empty() {
        return Err(usage_hint(
            "the policy has no signers",
            "git ops keys add <name> <pubkey> --role human",
        ));
    }
    Ok(0)
}
