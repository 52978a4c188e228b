//! Who pushes (docs/SIGNED-COMMITS.md): the user the server authenticated, from the environment
//! variable `git config ops.pusherVar` names (default `GL_USER`, gitolite's), mapped to a signer
//! by the policy's `pushers:`. A pusher mapped to automation is held to the automation bounds
//! for every commit the push brings, whoever signed it: an unsigned or human-signed commit proves
//! nothing about who made it.

use gix::ObjectId;

use super::range::commit_changes;
use super::signature::{bounds_findings, merge_owned};
use super::{Report, Severity};
use crate::model::policy::POLICY_PATH;
use crate::model::yaml;
use crate::store::{self, Repo};

/// The variable that names the authenticated user when `ops.pusherVar` is not set.
pub const DEFAULT_PUSHER_VAR: &str = "GL_USER";

/// The authenticated user of this push, if the server says who it is.
pub fn pusher_from_env(server: &Repo) -> Option<String> {
    let var = server
        .config_string("ops.pusherVar")
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_PUSHER_VAR.to_string());
    std::env::var(var.trim()).ok().filter(|u| !u.is_empty())
}

/// Holds the commits of a push by `user` to the automation bounds of each commit's policy in
/// force (its first parent's), when that policy maps `user` to a bounded automation signer.
/// `pushed` is every (ref, new commits) pair of the push.
pub fn check_pusher(
    objects: &Repo,
    user: &str,
    pushed: &[(String, Vec<ObjectId>)],
    report: &mut Report,
) -> Result<(), store::Error> {
    for (refname, commits) in pushed {
        for id in commits {
            let info = objects.commit_info(*id)?;
            let Some(parent) = info.parents.first() else {
                continue;
            };
            let Some(Ok(policy)) = objects
                .blob_at(*parent, POLICY_PATH)?
                .map(|b| yaml::parse_policy(&String::from_utf8_lossy(&b)))
            else {
                continue;
            };
            let Some(name) = policy.pushers.get(user) else {
                continue;
            };
            if !policy.is_bounded_automation(name) {
                continue;
            }
            let (_, changes) = commit_changes(objects, &info)?;
            let owned = merge_owned(objects, &info, &changes)?;
            let made = format!("pushed by {user} ({name})");
            for mut f in bounds_findings(&policy, &owned, &made) {
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
