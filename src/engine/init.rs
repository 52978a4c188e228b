//! Adopting git-ops in a repository: a starter policy with the caller as first human approver,
//! `.gitattributes` routing ledger merges to the union merge driver, and the driver's config.
//! Nothing here overwrites a policy or drops a line of `.gitattributes`.

use crate::model::policy::POLICY_PATH;
use crate::model::{PublicKeyLine, SignerName, yaml};
use crate::store::{self, Repo, fsutil};

use super::keys::work_tree;

/// The `.gitattributes` line that sends ledger merges to `git ops merge-driver`.
pub const GITATTRIBUTES_LINE: &str = "ops/ledger/*.yaml merge=git-ops";

/// The policy `git ops init` writes: `name` (whose key is `key_line`) as the only signer, a
/// human approver, and the rules of the Ops Governor seed.
pub fn starter_policy(name: &SignerName, key_line: &str) -> String {
    starter_policy_with_id(name, key_line, None)
}

/// [`starter_policy`] with `repository_id` set (what `git ops init` writes: a random id, see
/// [`crate::crypto::random_repository_id`]).
pub fn starter_policy_with_id(
    name: &SignerName,
    key_line: &str,
    repository_id: Option<&str>,
) -> String {
    let id_line = repository_id
        .map(|id| format!("repository_id: {id}      # every signoff names it: records do not replay elsewhere\n"))
        .unwrap_or_default();
    format!(
        r#"# git-ops policy: who may sign what, which paths are governed, thresholds and limits.
# A change to this file must be covered by an operation approved under the previous version.
version: 1
{id_line}signers:
  {name}: {{ key: "{key_line}", roles: [human, approver] }}
risk_classes:                 # approvals required: distinct approvers, not the requester
  READ_ONLY:        {{ approvals: 0 }}
  LOW_RISK_CONFIG:  {{ approvals: 0, self_approval: true }}
  SERVICE_RESTART:  {{ approvals: 1 }}
  FILESYSTEM_WRITE: {{ approvals: 1 }}
rules:                        # governed paths, gitignore-style globs
  - {{ paths: ["ops/**", "docs/governance/**", "deploy/**"], min_risk: LOW_RISK_CONFIG }}
  - {{ paths: ["ops/PRODUCTION_LOCK.md"], min_risk: FILESYSTEM_WRITE, approvals: 2, human_only: true }}
  # The configuration enforcement relies on: attributes (merge drivers, export-ignore), submodules,
  # hooks and CI.
  - {{ paths: [".gitattributes", ".gitmodules", ".githooks/**", ".pre-commit-config.yaml", "lefthook.yml", ".husky/**", ".github/workflows/**", ".gitlab-ci.yml"], min_risk: LOW_RISK_CONFIG }}
immutable: ["audit_artifacts/ops_runs/**", "ops/lkg/**"]
grants: {{ max_hours: 72, break_glass_max_hours: 2 }}
operations: {{ default_window_hours: 24, require_tags: false, human_only_tags: true }}
commits: {{ require_signature: governed }}   # governed commits carry git's SSH signature by a signer of their operation
forbidden:
  - "No changes outside the operation's allowed paths and services"
  - "No writes to production data stores, queues or streams"
  - "No secrets, credentials or key changes"
  - "No firewall/network/user permission changes"
"#
    )
}

/// The caller's signer name when none is given: the local part of git's `user.email`, else
/// `$USER`, lower-cased, with characters a name cannot hold made `-`.
pub fn default_name(repo: &Repo) -> Option<SignerName> {
    let from_email = repo
        .config_string("user.email")
        .and_then(|e| e.split('@').next().map(str::to_string));
    let candidate = from_email.or_else(|| std::env::var("USER").ok())?;
    let cleaned: String = candidate
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    SignerName::new(&cleaned).ok()
}

/// Whether the work tree of `repo` has a policy already.
pub fn has_policy(repo: &Repo) -> store::Result<bool> {
    let root = repo.workdir()?;
    Ok(work_tree(repo, root).read(POLICY_PATH)?.is_some())
}

/// Writes the starter policy with `name` and `key` into the work tree of `repo`.
pub fn write_starter_policy(
    repo: &Repo,
    name: &SignerName,
    key: &PublicKeyLine,
) -> store::Result<()> {
    let id = crate::crypto::random_repository_id()
        .map_err(|e| store::Error::Usage(format!("cannot draw a repository id: {e}")))?;
    let text = starter_policy_with_id(name, &key.without_comment(), Some(&id));
    // The name and key are checked types, so the policy always parses; fail rather than write
    // a policy nothing could read should that ever change.
    yaml::parse_policy(&text).map_err(|e| store::Error::Usage(format!("{POLICY_PATH}: {e}")))?;
    let path = repo.workdir()?.join(POLICY_PATH);
    fsutil::write_atomic(&path, text.as_bytes(), None)
}

/// What [`route_ledger_merges`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attributes {
    /// `.gitattributes` has the line already.
    AlreadyRouted,
    /// The line was appended (the file made if needed).
    Written,
}

/// Makes `.gitattributes` send ledger merges to the git-ops merge driver, keeping its lines.
pub fn route_ledger_merges(repo: &Repo) -> store::Result<Attributes> {
    let root = repo.workdir()?;
    let current = work_tree(repo, root)
        .read_string(".gitattributes")?
        .unwrap_or_default();
    if current.lines().any(|l| l.trim() == GITATTRIBUTES_LINE) {
        return Ok(Attributes::AlreadyRouted);
    }
    let mut text = current;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(GITATTRIBUTES_LINE);
    text.push('\n');
    fsutil::write_atomic(&root.join(".gitattributes"), text.as_bytes(), None)?;
    Ok(Attributes::Written)
}

/// Configures the merge driver `.gitattributes` names (in the repository's own config).
pub fn configure_merge_driver(repo: &Repo) -> store::Result<()> {
    repo.set_local_config("merge.git-ops.name", "git-ops ledger union merge")?;
    repo.set_local_config("merge.git-ops.driver", "git-ops merge-driver %O %A %B %P")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Keypair;
    use crate::model::policy::SignerRole;

    #[test]
    fn the_starter_policy_parses_with_its_author_as_human_approver() {
        let key = Keypair::generate("alice@example.org").expect("a new key");
        let name = SignerName::new("alice").expect("a valid name");
        let text = starter_policy(&name, &key.public().without_comment());
        let policy = yaml::parse_policy(&text).expect("the starter policy parses");
        assert_eq!(policy.version, 1);
        assert_eq!(policy.signers.len(), 1);
        let alice = policy.signer(&name).expect("alice is the signer");
        assert_eq!(&alice.key, key.public());
        assert_eq!(alice.roles, vec![SignerRole::Human, SignerRole::Approver]);
        assert!(policy.operations.human_only_tags);
        assert!(
            policy
                .rules_for("deploy/web.yaml")
                .any(|r| r.min_risk == crate::model::RiskClass::LowRiskConfig),
            "deploy/ is not governed"
        );
        for path in [
            ".gitattributes",
            "deploy/.gitattributes",
            ".gitmodules",
            ".githooks/pre-commit",
            ".pre-commit-config.yaml",
            "lefthook.yml",
            ".husky/pre-push",
            ".github/workflows/ci.yml",
            ".gitlab-ci.yml",
            ".GitAttributes",
        ] {
            assert!(policy.governs(path), "{path} is not governed");
        }
        assert!(!policy.governs("src/main.rs"));
    }
}
