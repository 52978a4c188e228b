//! Who pushes (docs/SIGNED-COMMITS.md): the signer of the push certificate (`git push --signed`,
//! with a nonce the server issued: `receive.certNonceSeed`), or the user the server
//! authenticated, from the environment variable `git config ops.pusherVar` names (default
//! `GL_USER`, gitolite's), mapped to a signer by the policy's `pushers:`. A pusher who is
//! automation is held to the automation bounds for every commit the push brings, whoever signed
//! it: an unsigned or human-signed commit proves nothing about who made it.

use gix::ObjectId;

use super::range::commit_changes;
use super::signature::{bounds_findings, merge_owned};
use super::{Report, Severity};
use crate::crypto::{self, NAMESPACE_GIT};
use crate::model::SignerName;
use crate::model::policy::POLICY_PATH;
use crate::model::yaml;
use crate::store::{self, Repo};

/// The variable that names the authenticated user when `ops.pusherVar` is not set.
pub const DEFAULT_PUSHER_VAR: &str = "GL_USER";

/// Who pushes, as the server knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pusher {
    /// The user the server authenticated (a key of `pushers:`).
    User(String),
    /// A push certificate with a nonce the server issued: the bytes signed and the signature.
    Cert { payload: Vec<u8>, armored: String },
}

impl Pusher {
    /// The policy signer this pusher is under `policy`, and how we know.
    fn signer(&self, policy: &crate::model::policy::Policy) -> Option<(SignerName, String)> {
        match self {
            Pusher::User(u) => policy
                .pushers
                .get(u)
                .map(|n| (n.clone(), format!("pushed by {u} ({n})"))),
            Pusher::Cert { payload, armored } => policy.signers.iter().find_map(|(n, e)| {
                crypto::verify(&e.key, NAMESPACE_GIT, payload, armored)
                    .ok()
                    .map(|()| (n.clone(), format!("pushed by {n} (push certificate)")))
            }),
        }
    }
}

/// Splits a push certificate into the bytes signed and its SSH signature; None when it carries
/// none.
pub fn split_cert(cert: &[u8]) -> Option<(Vec<u8>, String)> {
    const BEGIN: &[u8] = b"-----BEGIN SSH SIGNATURE-----";
    let at = cert.windows(BEGIN.len()).position(|w| w == BEGIN)?;
    if at > 0 && cert[at - 1] != b'\n' {
        return None;
    }
    let armored = String::from_utf8(cert[at..].to_vec()).ok()?;
    Some((cert[..at].to_vec(), armored))
}

/// Who pushes, by every account the server has: a push certificate whose nonce the server
/// vouches for (`GIT_PUSH_CERT`, `GIT_PUSH_CERT_NONCE_STATUS=OK`) and the authenticated user.
/// Each is held to the bounds it maps to, so a certificate made with a throwaway key (which maps
/// to nobody) cannot hide an authenticated automation user. A certificate without a good nonce
/// could be replayed, and is not used.
pub fn pushers_of_push(server: &Repo, objects: &Repo) -> Result<Vec<Pusher>, store::Error> {
    let mut out = Vec::new();
    if std::env::var("GIT_PUSH_CERT_NONCE_STATUS").as_deref() == Ok("OK")
        && let Ok(hex) = std::env::var("GIT_PUSH_CERT")
        && let Ok(Some(id)) = super::push::parse_oid(&hex)
        && let Some((payload, armored)) = split_cert(&objects.blob(id)?)
    {
        out.push(Pusher::Cert { payload, armored });
    }
    out.extend(pusher_from_env(server).map(Pusher::User));
    Ok(out)
}

/// The authenticated user of this push, if the server says who it is.
pub fn pusher_from_env(server: &Repo) -> Option<String> {
    let var = server
        .config_string("ops.pusherVar")
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_PUSHER_VAR.to_string());
    std::env::var(var.trim()).ok().filter(|u| !u.is_empty())
}

/// Holds the commits of a push by `pusher` to the automation bounds of each commit's policy in
/// force (its first parent's), when under that policy the pusher is a bounded automation signer.
/// `pushed` is every (ref, new commits) pair of the push.
pub fn check_pusher(
    objects: &Repo,
    pusher: &Pusher,
    pushed: &[(String, Vec<ObjectId>)],
    report: &mut Report,
) -> Result<(), store::Error> {
    // Consecutive commits nearly always share their policy: parse each text, and find the
    // pusher's signer in it (a certificate is verified), once.
    type Known = Option<(crate::model::policy::Policy, Option<(SignerName, String)>)>;
    let mut cache: Option<(Vec<u8>, Known)> = None;
    for (refname, commits) in pushed {
        for id in commits {
            let info = objects.commit_info(*id)?;
            let Some(parent) = info.parents.first() else {
                continue;
            };
            let Some(text) = objects.blob_at(*parent, POLICY_PATH)? else {
                continue;
            };
            if cache.as_ref().is_none_or(|(t, _)| *t != text) {
                let known = yaml::parse_policy(&String::from_utf8_lossy(&text))
                    .ok()
                    .map(|p| {
                        let who = pusher.signer(&p);
                        (p, who)
                    });
                cache = Some((text, known));
            }
            let Some((_, Some((policy, Some((name, made)))))) = &cache else {
                continue;
            };
            if !policy.is_bounded_automation(name) {
                continue;
            }
            let (_, changes) = commit_changes(objects, &info)?;
            let owned = merge_owned(objects, &info, &changes)?;
            for mut f in bounds_findings(policy, &owned, made) {
                if f.severity == Severity::Info {
                    continue;
                }
                f.commit = Some(id.to_hex_with_len(10).to_string());
                f.message = format!("{refname}: {}", f.message);
                report.push(f);
            }
        }
    }
    Ok(())
}
