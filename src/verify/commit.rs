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
    check_staged_linked(repo, &[], now)
}

/// [`check_staged`] with more links: the `Ops-Id:` trailers of the message, which the single
/// commit-msg hook (`git ops hooks install --single`) knows and pre-commit does not yet.
pub fn check_staged_linked(
    repo: &Repo,
    message_links: &[RecordId],
    now: Timestamp,
) -> Result<Option<StagedCheck>, store::Error> {
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
    links.extend(message_links.iter().filter(|id| Some(**id) != active));
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

impl Error {
    /// The exit code of a check that fails with this error: a store error keeps its own; a
    /// policy that does not parse is a configuration problem (2).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Store(e) => e.exit_code(),
            Error::Policy(e) => e.exit_code(),
        }
    }
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
        let Some(text) = staged.read_string(&path)? else {
            problems.push(Problem::NoSuchRecord(*id));
            continue;
        };
        // The record's own document alone when it can be found by its id line; otherwise (or
        // when that document does not read as the record) the whole month, as before.
        let record = match record_alone(&text, id) {
            Some(r) => r,
            None => {
                let file = LedgerFile::parse(&path, text)?;
                match file.records.into_iter().find(|(_, r)| r.id() == id) {
                    Some((_, r)) => r,
                    None => {
                        problems.push(Problem::NoSuchRecord(*id));
                        continue;
                    }
                }
            }
        };
        let check = check_on_side(&staged, &policy, &record, now, &mut Default::default())?;
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

/// The record `id` in the text of its month file, parsing only its own document: a byte search
/// for the id, kept where it is the value of a top-level `<kind>_id:` line, and the document
/// around it (between `---` lines, as [`yaml::split_documents`] splits) parsed alone. `None`
/// when that is not exactly one line, or the document does not read as the record `id`: the
/// caller then parses the whole month, which also names any error by line. On a ledger of 100,000
/// records this is what keeps commit-msg fast with an active operation (docs/HOOKS.md).
fn record_alone(text: &str, id: &RecordId) -> Option<crate::model::Record> {
    let needle = id.to_string();
    let mut found = None;
    let mut from = 0;
    while let Some(at) = text[from..].find(&needle).map(|i| i + from) {
        from = at + needle.len();
        let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let end = text[at..].find('\n').map_or(text.len(), |i| i + at);
        let line = text[start..end].trim_end_matches('\r');
        let is_id_line = line.split_once(':').is_some_and(|(k, v)| {
            k.ends_with("_id")
                && k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                && v.trim() == needle
        });
        if is_id_line {
            if found.is_some() {
                return None;
            }
            found = Some(start);
        }
    }
    let line_at = found?;
    let is_marker = |l: &str| {
        let l = l.trim_end_matches(['\r', '\n']);
        l == "---" || l.starts_with("--- ") || l.starts_with("---\t")
    };
    // Back to the `---` line that opens the document (or the start of the file).
    let mut doc_start = 0;
    let mut at = line_at;
    while at > 0 {
        let prev = text[..at - 1].rfind('\n').map_or(0, |i| i + 1);
        if is_marker(&text[prev..at]) {
            doc_start = prev;
            break;
        }
        at = prev;
    }
    // On to the next `---` line (or the end).
    let mut doc_end = text.len();
    let mut at = line_at;
    while at < text.len() {
        let next = text[at..].find('\n').map_or(text.len(), |i| i + at + 1);
        if at > line_at && is_marker(&text[at..next]) {
            doc_end = at;
            break;
        }
        at = next;
    }
    let first_line = 1 + text.as_bytes()[..doc_start]
        .iter()
        .filter(|b| **b == b'\n')
        .count() as u64;
    let record = yaml::parse_record(&text[doc_start..doc_end], first_line).ok()?;
    (record.id() == id).then_some(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::push::testrepo::TestRepo;

    const POLICY: &str = include_str!("../../ledger/samples/policy.yaml");
    const APPROVED: &str =
        include_str!("../../ledger/samples/valid/2026-01--operation-approved.yaml");
    const PENDING: &str =
        include_str!("../../ledger/samples/valid/2026-01--operation-pending.yaml");

    fn now() -> Timestamp {
        "2026-01-27T07:00:00Z".parse().unwrap()
    }

    fn id(s: &str) -> RecordId {
        s.parse().unwrap()
    }

    #[test]
    fn message_links_are_the_ops_id_trailers() {
        assert_eq!(message_links("Fix a typo\n"), Ok(vec![]));
        assert_eq!(
            message_links("Scale web\n\nOps-Id: OPS-2026-01-27-001\n"),
            Ok(vec![id("OPS-2026-01-27-001")])
        );
        let err = message_links("Scale web\n\nOps-Id: OPS-2026-1-27-1\n").unwrap_err();
        assert!(err.contains("malformed trailer"), "{err}");
    }

    #[test]
    fn a_record_is_read_alone_only_when_its_id_line_is_found_once() {
        let text = format!("{APPROVED}{PENDING}");
        let file = LedgerFile::parse("ops/ledger/2026-01.yaml", text.clone()).unwrap();
        for (_, r) in &file.records {
            let alone = record_alone(&text, r.id()).expect("found alone");
            assert_eq!(alone.payload_sha256(), r.payload_sha256(), "{}", r.id());
            assert_eq!(alone.signoffs().len(), r.signoffs().len());
        }
        // Not there, there twice, or only named in another field: the whole month is parsed.
        assert!(record_alone(&text, &id("OPS-2026-01-27-099")).is_none());
        assert!(record_alone(&format!("{text}{APPROVED}"), &id("OPS-2026-01-27-001")).is_none());
        let named = PENDING.replace(
            "objective: Absorb",
            "objective: see OPS-2026-01-27-003 to absorb",
        );
        assert!(record_alone(&named, &id("OPS-2026-01-27-003")).is_none());
        // A document that does not read as the record: None, and the full parse names the error.
        let broken = APPROVED.replace("risk_class:", "risk_klass:");
        assert!(record_alone(&broken, &id("OPS-2026-01-27-001")).is_none());
    }

    #[test]
    fn links_must_name_approved_records_of_the_staged_ledger() {
        let t = TestRepo::new();
        t.commit("ops/policy.yaml", POLICY, "policy");
        t.stage("ops/ledger/2026-01.yaml", &format!("{APPROVED}{PENDING}"));
        let repo = t.open();
        let approved = id("OPS-2026-01-27-001");
        let pending = id("OPS-2026-01-27-002");
        let missing = id("OPS-2026-01-27-099");
        assert_eq!(
            check_commit_message(&repo, &[approved], now()).unwrap(),
            vec![]
        );
        assert_eq!(
            check_commit_message(&repo, &[approved, pending, missing], now()).unwrap(),
            vec![
                Problem::NotApproved {
                    id: pending,
                    state: State::Pending,
                    approvals: 0,
                    required: 1
                },
                Problem::NoSuchRecord(missing),
            ]
        );
    }

    #[test]
    fn without_a_policy_in_head_nothing_is_judged_and_a_broken_one_is_an_error() {
        let t = TestRepo::new();
        t.commit("README.md", "x\n", "first");
        let ids = [id("OPS-2026-01-27-099")];
        assert_eq!(
            check_commit_message(&t.open(), &ids, now()).unwrap(),
            vec![]
        );
        t.commit("ops/policy.yaml", "version: [\n", "broken policy");
        let err = check_commit_message(&t.open(), &ids, now()).unwrap_err();
        assert!(matches!(err, Error::Policy(_)), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("the policy in HEAD does not parse: "),
            "{err}"
        );
    }

    #[test]
    fn nothing_staged_is_nothing_to_judge() {
        let t = TestRepo::new();
        t.commit("ops/policy.yaml", POLICY, "policy");
        assert!(check_staged(&t.open(), now()).unwrap().is_none());
    }

    #[test]
    fn a_staged_governed_change_needs_a_linked_operation() {
        let t = TestRepo::new();
        t.commit("ops/policy.yaml", POLICY, "policy");
        t.commit("ops/ledger/2026-01.yaml", APPROVED, "ledger");
        t.stage("deploy/web.yaml", "replicas: 3\n");
        let repo = t.open();
        let check = check_staged(&repo, now()).unwrap().unwrap();
        assert!(!check.judgement.report.ok());
        assert_eq!(check.active, None);
        assert!(
            check
                .judgement
                .governed
                .iter()
                .any(|v| v.path == "deploy/web.yaml" && v.covered_by.is_none()),
            "{:?}",
            check.judgement.governed
        );
        // An ungoverned change passes.
        t.git(&["reset", "-q"]);
        t.stage("README.md", "hello\n");
        let check = check_staged(&repo, now()).unwrap().unwrap();
        assert!(check.judgement.report.ok(), "{:?}", check.judgement.report);
    }
}
