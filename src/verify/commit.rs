//! Judging a commit before it is made: the staged change (pre-commit) and the `Ops-Id:` trailers
//! of its message (commit-msg).

use crate::model::policy::POLICY_PATH;
use crate::model::yaml::{self, YamlError};
use crate::model::{RecordId, Timestamp, trailer};
use crate::store::ledger::{LedgerFile, month_path};
use crate::store::snapshot::{SideReader, Snapshot};
use crate::store::{self, Repo, active};

use super::coverage::{ChangeContext, Judgement, check_on_side, judge};
use super::range::merged_links;
use super::records::State;

/// The pre-commit verdict on the staged change.
#[derive(Debug)]
pub struct StagedCheck {
    pub judgement: Judgement,
    /// The active operation (`git ops use`), linked to the change.
    pub active: Option<RecordId>,
}

/// Judges the staged change against HEAD, linked to the active operation and, when a merge is
/// being concluded, to the operations of the commits it brings in. `None` when nothing is staged.
pub fn check_staged(repo: &Repo, now: Timestamp) -> Result<Option<StagedCheck>, store::Error> {
    let index = repo.load_index()?;
    let changes = repo.staged_changes(&index)?;
    if changes.is_empty() {
        return Ok(None);
    }
    let old = SideReader {
        repo,
        snapshot: Snapshot::Tree(repo.head_tree()?),
    };
    let new = SideReader {
        repo,
        snapshot: Snapshot::Index(&index),
    };
    let active = active::read(repo)?;
    let mut links: Vec<RecordId> = active.into_iter().collect();
    if let Some(head) = repo.head_commit()? {
        links.extend(merged_links(repo, head, &repo.merge_heads()?)?);
    }
    let judgement = judge(&ChangeContext {
        old: &old,
        new: &new,
        changes: &changes,
        links: &links,
        now,
    })?;
    Ok(Some(StagedCheck { judgement, active }))
}

/// Why a commit message's `Ops-Id:` trailers are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// No record with this id in the staged ledger.
    NoSuchRecord(RecordId),
    /// The record is there but not approved (yet).
    NotApproved {
        id: RecordId,
        state: State,
        approvals: u32,
        required: u32,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] store::Error),
    /// The policy in HEAD is the one the links are judged under; one that does not parse cannot
    /// judge anything.
    #[error("the policy in HEAD does not parse: {0}")]
    Policy(YamlError),
}

/// The operations a commit message links to with `Ops-Id:` trailers. A malformed trailer is an
/// error (the message to show), so a typo never silently links nothing.
pub fn message_links(text: &str) -> Result<Vec<RecordId>, String> {
    // Most messages have no trailer at all: they never open the repository.
    if !text.to_ascii_lowercase().contains("ops-id") {
        return Ok(Vec::new());
    }
    trailer::ops_ids(text)
}

/// Checks that every id in `ids` names an approved operation in the staged ledger, judged under
/// the policy in HEAD at `now`. Without a policy in HEAD nothing is governed yet: no problems.
pub fn check_commit_message(
    repo: &Repo,
    ids: &[RecordId],
    now: Timestamp,
) -> Result<Vec<Problem>, Error> {
    let index = repo.load_index()?;
    let staged = SideReader {
        repo,
        snapshot: Snapshot::Index(&index),
    };
    let head = SideReader {
        repo,
        snapshot: Snapshot::Tree(repo.head_tree()?),
    };
    let policy = match head.read_string(POLICY_PATH)? {
        Some(t) => yaml::parse_policy(&t).map_err(Error::Policy)?,
        None => return Ok(Vec::new()),
    };
    let mut problems = Vec::new();
    for id in ids {
        let path = month_path(&id.month());
        let file = staged
            .read_string(&path)?
            .map(|t| LedgerFile::parse(&path, t))
            .transpose()?;
        let Some(record) = file
            .as_ref()
            .and_then(|f| f.records.iter().find(|(_, r)| r.id() == id))
            .map(|(_, r)| r)
        else {
            problems.push(Problem::NoSuchRecord(*id));
            continue;
        };
        let check = check_on_side(&staged, &policy, record, now, &mut Default::default())?;
        match check.state() {
            State::Approved => {}
            state => problems.push(Problem::NotApproved {
                id: *id,
                state,
                approvals: check.approvals(),
                required: check.required,
            }),
        }
    }
    Ok(problems)
}
