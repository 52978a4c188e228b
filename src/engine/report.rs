//! What the documents are made from: for an operation (`git ops report`, `runbook`, `changelog`)
//! its standing as history, its outcomes and rollbacks, whether its window is over, and the
//! commits linked to it; for the agent prompt (`git ops prompt`) the repository's template, its
//! NOT ALLOWED list and the grant the agent works under. The renderer gets plain data.

use std::path::Path;

use serde::Serialize;

use super::error::{Error, Result};
use super::workspace::{Clock, Judged, Workspace, load_policy, open_repo};
use crate::model::record::{Evidence, Grant, Operation};
use crate::model::{Record, RecordId, trailer};
use crate::store::ledger::{LedgerFile, month_path};
use crate::store::{Ledger, Repo, fsutil};
use crate::verify::coverage::allowed_glob;
use crate::verify::range::commit_changes;
use crate::verify::records::State;

/// A commit linked to an operation: it carries `Ops-Id: <id>`, or it added the record.
#[derive(Debug, Clone, Serialize)]
pub struct LinkedCommit {
    /// The abbreviated commit id (10 hex digits).
    pub id: String,
    pub subject: String,
    pub files: Vec<String>,
    /// Who made it: the policy signer whose SSH commit signature verifies (under the policy in
    /// force, its first parent's), `unsigned`, or why the signature counts for no one.
    pub signer: String,
}

/// The verified signer of commit `c` as [`LinkedCommit::signer`] says it.
pub fn commit_signer_text(repo: &Repo, c: &crate::store::repo::CommitInfo) -> Result<String> {
    use crate::model::policy::POLICY_PATH;
    let at = c.parents.first().copied().unwrap_or(c.id);
    let policy = match repo.blob_at(at, POLICY_PATH)? {
        Some(b) => crate::model::yaml::parse_policy(&String::from_utf8_lossy(&b)).ok(),
        None => None,
    };
    let Some(policy) = policy else {
        return Ok("no policy to check the signature against".into());
    };
    Ok(crate::verify::signature::commit_signer(repo, c.id, &policy)?.describe())
}

/// Commits of HEAD's history that carry `Ops-Id:` trailers, with their verified signers, by
/// the operation they name (newest first): one walk for every operation, for the changelog.
pub fn signed_commits_by_operation(
    repo: &Repo,
) -> Result<std::collections::BTreeMap<RecordId, Vec<(String, String)>>> {
    let mut out: std::collections::BTreeMap<RecordId, Vec<(String, String)>> = Default::default();
    let Some(head) = repo.head_commit()? else {
        return Ok(out);
    };
    for c in repo.commits_between(head, &[])?.into_iter().rev() {
        let info = repo.commit_info(c)?;
        let Ok(ids) = trailer::ops_ids(&info.message) else {
            continue;
        };
        if ids.is_empty() {
            continue;
        }
        let signer = commit_signer_text(repo, &info)?;
        for id in ids {
            out.entry(id)
                .or_default()
                .push((c.to_hex_with_len(10).to_string(), signer.clone()));
        }
    }
    Ok(out)
}

/// An outcome record that closes the operation.
#[derive(Debug, Clone, Serialize)]
pub struct OutcomeEntry {
    pub id: String,
    pub outcome: String,
    pub at: Option<String>,
    pub notes: Option<String>,
    pub evidence: Option<Evidence>,
}

/// Everything the reporting contract of one operation is filled from.
#[derive(Debug, Clone)]
pub struct OperationFacts<'a> {
    pub op: &'a Operation,
    /// The state of the approval that was made (judged as history).
    pub state: State,
    pub requested_by: Option<String>,
    /// Approvers, and the human signers of grants whose signoffs counted as approvals.
    pub approved_by: Vec<String>,
    pub outcomes: Vec<OutcomeEntry>,
    /// Ids of the operations that roll this one back.
    pub rollbacks: Vec<String>,
    /// Linked commits, newest first.
    pub commits: Vec<LinkedCommit>,
    /// Every file the linked commits touched, sorted, once each.
    pub files: Vec<String>,
    /// Files the linked commits touched outside the operation's `allowed_paths` (the ledger
    /// itself excepted).
    pub outside_scope: Vec<String>,
    /// The operation's window is over at the workspace's clock.
    pub expired: bool,
}

impl Workspace {
    /// The facts of operation `id` for its report.
    pub fn operation_facts(&self, id: &RecordId) -> Result<OperationFacts<'_>> {
        let (r, op) = self.operation(id)?;
        let check = self.judge(r, Clock::History)?.check;
        let outcomes = self
            .ledger()
            .records()
            .filter_map(|x| match x.value {
                Record::Outcome(o) if o.operation_id == *id => Some(OutcomeEntry {
                    id: o.outcome_id.to_string(),
                    outcome: o.outcome.as_str().to_string(),
                    at: o.execution_timestamp.map(|t| t.to_string()),
                    notes: o.notes.clone(),
                    evidence: o.evidence.clone(),
                }),
                _ => None,
            })
            .collect();
        let rollbacks = self
            .ledger()
            .records()
            .filter_map(|x| match x.value {
                Record::Operation(o) if o.rollback_of == Some(*id) => {
                    Some(o.operation_id.to_string())
                }
                _ => None,
            })
            .collect();
        let now = self.now();
        let expired = op
            .expires_at
            .or_else(|| {
                op.created_at
                    .map(|c| c.plus_hours(self.policy().operations.default_window_hours.into()))
            })
            .is_none_or(|e| now >= e);
        let commits = linked_commits(self.repo(), id)?;
        let mut files: Vec<String> = commits
            .iter()
            .flat_map(|c| c.files.iter().cloned())
            .collect();
        files.sort();
        files.dedup();
        let outside_scope = files
            .iter()
            .filter(|f| {
                !op.allowed_paths
                    .iter()
                    .any(|p| allowed_glob(p).is_some_and(|g| g.matches(f)))
            })
            .filter(|f| !f.starts_with("ops/ledger/"))
            .cloned()
            .collect();
        Ok(OperationFacts {
            op,
            state: check.state(),
            requested_by: check.requester.as_ref().map(|n| n.to_string()),
            approved_by: check
                .approvers
                .union(&check.grant_approvers)
                .map(|n| n.to_string())
                .collect(),
            outcomes,
            rollbacks,
            commits,
            files,
            outside_scope,
            expired,
        })
    }

    /// Operation `id` judged as history (the approval that was made), for its runbook.
    pub fn operation_as_history(&self, id: &RecordId) -> Result<(&Record, &Operation, Judged)> {
        let (r, op) = self.operation(id)?;
        Ok((r, op, self.judge(r, Clock::History)?))
    }

    /// Every operation of the ledger in ledger order, judged as history, for the changelog.
    pub fn operations_as_history(&self) -> Result<Vec<(&Record, Judged)>> {
        let mut out = Vec::new();
        for x in self.ledger().records() {
            if let Record::Operation(_) = x.value {
                out.push((x.value, self.judge(x.value, Clock::History)?));
            }
        }
        Ok(out)
    }

    /// Writes a generated document to `path` (relative to the working tree unless absolute),
    /// atomically.
    pub fn write_document(&self, path: &Path, text: &str) -> Result<()> {
        let path = if path.is_relative() {
            self.root().join(path)
        } else {
            path.to_path_buf()
        };
        Ok(fsutil::write_atomic(&path, text.as_bytes(), None)?)
    }
}

/// Commits that carry `Ops-Id: <id>`, or that added the record, newest first (walks HEAD's
/// history).
pub fn linked_commits(repo: &Repo, id: &RecordId) -> Result<Vec<LinkedCommit>> {
    let Some(head) = repo.head_commit()? else {
        return Ok(Vec::new());
    };
    let ledger_path = month_path(&id.month());
    let mut out = Vec::new();
    for c in repo.commits_between(head, &[])?.into_iter().rev() {
        let info = repo.commit_info(c)?;
        let by_trailer = trailer::ops_ids(&info.message).is_ok_and(|ids| ids.contains(id));
        let (old_tree, changes) = commit_changes(repo, &info)?;
        let has = |tree| -> Result<bool> {
            Ok(repo.file_in_tree(tree, &ledger_path)?.is_some_and(|b| {
                LedgerFile::parse(&ledger_path, String::from_utf8_lossy(&b).into_owned())
                    .is_ok_and(|f| f.records.iter().any(|(_, r)| r.id() == id))
            }))
        };
        let added_record = changes.iter().any(|ch| ch.path == ledger_path)
            && !has(old_tree)?
            && has(Some(repo.commit_tree(c)?))?;
        if by_trailer || added_record {
            out.push(LinkedCommit {
                id: c.to_hex_with_len(10).to_string(),
                subject: info.message.lines().next().unwrap_or_default().to_string(),
                files: changes.into_iter().map(|ch| ch.path).collect(),
                signer: commit_signer_text(repo, &info)?,
            });
        }
    }
    Ok(out)
}

/// Where a repository keeps its own Ops Governor prompt template.
pub const PROMPT_TEMPLATE_PATH: &str = "ops/prompt_template.txt";

/// What the repository around `dir` adds to the agent prompt. Outside a repository, or where a
/// file is missing or unreadable, the field is `None` and the built-in default is used.
#[derive(Debug, Clone, Default)]
pub struct PromptSources {
    /// The repository's template (`ops/prompt_template.txt`).
    pub template: Option<String>,
    /// The policy's NOT ALLOWED list, when the policy reads.
    pub forbidden: Option<Vec<String>>,
    /// The grant the agent works under, when one was asked for.
    pub grant: Option<Grant>,
}

/// Reads the prompt's sources around `dir`; `grant` must name a grant in its ledger.
pub fn prompt_sources(dir: &Path, grant: Option<&RecordId>) -> Result<PromptSources> {
    let root = open_repo(dir)
        .ok()
        .and_then(|r| r.workdir().ok().map(Path::to_path_buf));
    let mut sources = PromptSources::default();
    if let Some(root) = &root {
        sources.forbidden = load_policy(root).ok().map(|p| p.forbidden);
        sources.template = std::fs::read_to_string(root.join(PROMPT_TEMPLATE_PATH)).ok();
    }
    if let Some(g) = grant {
        let Some(root) = &root else {
            return Err(Error::usage("--grant needs a repository with a ledger"));
        };
        let ledger = Ledger::load(root)?;
        let Some(Record::Grant(found)) = ledger.find(g).map(|l| l.value) else {
            return Err(Error::usage(format!("no grant {g} in the ledger")));
        };
        sources.grant = Some(found.clone());
    }
    Ok(sources)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::push::testrepo::TestRepo;

    const POLICY: &str = include_str!("../../ledger/samples/policy.yaml");
    /// OPS-2026-01-27-001 (approved), OPS-2026-01-27-010 that rolls it back, and its outcome.
    const LEDGER: &str = include_str!("../../ledger/samples/valid/2026-01--rollback.yaml");

    fn id(s: &str) -> RecordId {
        s.parse().expect("a valid id")
    }

    fn at(s: &str) -> crate::model::Timestamp {
        s.parse().expect("a valid time")
    }

    /// The policy, the ledger, a commit linked by trailer inside the scope, one linked by trailer
    /// outside it, and an unrelated commit.
    fn repo() -> TestRepo {
        let t = TestRepo::new();
        t.commit("ops/policy.yaml", POLICY, "Adopt git-ops");
        t.commit("ops/ledger/2026-01.yaml", LEDGER, "Declare the scale-up");
        t.commit(
            "deploy/web.yaml",
            "replicas: 3\n",
            "Scale web\n\nOps-Id: OPS-2026-01-27-001\n",
        );
        t.commit(
            "deploy/db.yaml",
            "size: large\n",
            "Grow the database\n\nOps-Id: OPS-2026-01-27-001\n",
        );
        t.commit("README.md", "hello\n", "Readme");
        t
    }

    #[test]
    fn facts_gather_approvals_rollbacks_linked_commits_and_paths_outside_the_scope() {
        let t = repo();
        let ws = Workspace::open(t.path())
            .expect("the workspace opens")
            .at(at("2026-01-27T07:00:00Z"));
        let f = ws
            .operation_facts(&id("OPS-2026-01-27-001"))
            .expect("an operation");
        assert_eq!(f.state, State::Approved);
        assert_eq!(f.requested_by.as_deref(), Some("alice"));
        assert_eq!(f.approved_by, ["bob"]);
        assert!(f.outcomes.is_empty(), "{:?}", f.outcomes);
        assert_eq!(f.rollbacks, ["OPS-2026-01-27-010"]);
        let subjects: Vec<&str> = f.commits.iter().map(|c| c.subject.as_str()).collect();
        assert_eq!(
            subjects,
            ["Grow the database", "Scale web", "Declare the scale-up"],
            "linked by trailer or by adding the record, newest first"
        );
        assert_eq!(
            f.commits[0].id,
            t.rev("HEAD~1").to_hex_with_len(10).to_string()
        );
        assert_eq!(
            f.files,
            [
                "deploy/db.yaml",
                "deploy/web.yaml",
                "ops/ledger/2026-01.yaml"
            ]
        );
        assert_eq!(f.outside_scope, ["deploy/db.yaml"]);
        assert!(!f.expired, "the window runs until 2026-01-28T06:15:30Z");

        let later = Workspace::open(t.path())
            .expect("the workspace opens")
            .at(at("2026-01-28T06:15:30Z"));
        let f = later
            .operation_facts(&id("OPS-2026-01-27-001"))
            .expect("an operation");
        assert!(f.expired, "the window is over at its end");
    }

    #[test]
    fn facts_of_a_rollback_hold_its_outcome() {
        let t = repo();
        let ws = Workspace::open(t.path()).expect("the workspace opens");
        let f = ws
            .operation_facts(&id("OPS-2026-01-27-010"))
            .expect("an operation");
        let outcomes: Vec<(&str, &str)> = f
            .outcomes
            .iter()
            .map(|o| (o.id.as_str(), o.outcome.as_str()))
            .collect();
        assert_eq!(outcomes, [("OUT-2026-01-27-002", "ROLLBACK")]);
        assert!(f.rollbacks.is_empty());
        assert_eq!(f.commits.len(), 1, "only the commit that added it");
    }

    #[test]
    fn an_unknown_or_non_operation_record_is_a_usage_error() {
        let t = repo();
        let ws = Workspace::open(t.path()).expect("the workspace opens");
        for (which, message) in [
            (
                "OPS-2019-01-01-999",
                "no operation OPS-2019-01-01-999 in the ledger",
            ),
            (
                "OUT-2026-01-27-002",
                "OUT-2026-01-27-002 is not an operation",
            ),
        ] {
            let e = ws.operation_facts(&id(which)).expect_err(which);
            assert_eq!((e.exit_code(), e.to_string().as_str()), (2, message));
        }
    }

    #[test]
    fn operations_as_history_lists_operations_in_ledger_order() {
        let t = repo();
        let ws = Workspace::open(t.path()).expect("the workspace opens");
        let ops: Vec<(String, State)> = ws
            .operations_as_history()
            .expect("judged")
            .into_iter()
            .map(|(r, j)| (r.id().to_string(), j.state()))
            .collect();
        assert_eq!(
            ops,
            [
                ("OPS-2026-01-27-001".to_string(), State::Approved),
                ("OPS-2026-01-27-010".to_string(), State::Approved)
            ]
        );
    }

    #[test]
    fn prompt_sources_read_the_template_the_forbidden_list_and_the_grant() {
        let t = repo();
        let none = prompt_sources(t.path(), None).expect("sources");
        assert_eq!(
            none.forbidden.as_deref(),
            Some(
                &[
                    "No trading logic modifications".to_string(),
                    "No secrets/keys/exchange creds changes".to_string()
                ][..]
            )
        );
        assert!(none.template.is_none() && none.grant.is_none());
        t.stage(PROMPT_TEMPLATE_PATH, "Do {{OPERATION}} only.\n");
        let with = prompt_sources(t.path(), None).expect("sources");
        assert_eq!(with.template.as_deref(), Some("Do {{OPERATION}} only.\n"));

        let e = prompt_sources(t.path(), Some(&id("GRANT-2026-01-27-001"))).expect_err("none");
        assert_eq!(
            (e.exit_code(), e.to_string().as_str()),
            (2, "no grant GRANT-2026-01-27-001 in the ledger")
        );
        let outside = tempfile::tempdir().expect("a temporary directory");
        let e = prompt_sources(outside.path(), Some(&id("GRANT-2026-01-27-001")))
            .expect_err("no repository");
        assert_eq!(e.to_string(), "--grant needs a repository with a ledger");
        let bare = prompt_sources(outside.path(), None).expect("defaults outside a repository");
        assert!(bare.template.is_none() && bare.forbidden.is_none());
    }
}
