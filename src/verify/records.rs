//! Checks of one record against a policy: every signoff's signature, signer and key; distinct
//! signers and keys; the requester; approvals against the thresholds.

use std::collections::BTreeSet;

use serde::Serialize;

use super::grants::{GrantClock, GrantIndex, grant_signoff_approvers};
use crate::crypto::{self, NAMESPACE_LEDGER};
use crate::model::policy::Policy;
use crate::model::record::{Kind, Record, Role, Signoff};
use crate::model::{Fingerprint, RecordId, RiskClass, SignerName};

/// Approval state of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Valid, and its approvals reach the threshold.
    Approved,
    /// Valid so far, waiting for approvals.
    Pending,
    /// Something is wrong: a bad signature, an unknown signer, no requester.
    Invalid,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct RecordSummary {
    pub id: RecordId,
    pub kind: Kind,
    pub state: State,
    pub approvals: u32,
    pub required: u32,
    pub file: String,
    pub line: u64,
}

/// Something that makes a record invalid. [`Problem::code`] is the stable code of the finding it
/// becomes; the Display is its message.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Problem {
    #[error("signoff by {by}: not a signer in the policy")]
    UnknownSigner { by: SignerName },
    #[error(
        "signoff by {by}: made with key {made_with}, but the policy gives {by} the key {policy_key}"
    )]
    WrongKey {
        by: SignerName,
        made_with: Fingerprint,
        policy_key: Fingerprint,
    },
    #[error("signoff by {by} ({role}): {error}")]
    BadSignature {
        by: SignerName,
        role: Role,
        error: crypto::Error,
    },
    #[error("a second requester signoff, by {by}")]
    TwoRequesters { by: SignerName },
    #[error("requested_by is {requested_by}, but the requester signoff is by {signed_by}")]
    RequesterMismatch {
        requested_by: SignerName,
        signed_by: SignerName,
    },
    #[error("no valid requester signoff")]
    NoRequester,
    /// The requester may not make this kind of record: grants, revocations and resumes are for
    /// human approvers (`action` is "grant", "revoke" or "resume").
    #[error("only human approvers may {action}, and {requester} is not one")]
    NotAnApprover {
        action: &'static str,
        requester: SignerName,
    },
    #[error("the grantee {grantee} is not a signer in the policy")]
    UnknownGrantee { grantee: SignerName },
    #[error("only humans may halt, and {requester} is automation")]
    HaltByAutomation { requester: SignerName },
}

impl Problem {
    /// The stable short code of the finding this problem becomes.
    pub fn code(&self) -> &'static str {
        match self {
            Problem::UnknownSigner { .. } => "unknown-signer",
            Problem::WrongKey { .. } => "wrong-key",
            Problem::BadSignature { .. } => "bad-signature",
            Problem::TwoRequesters { .. } => "two-requesters",
            Problem::RequesterMismatch { .. } => "requester-mismatch",
            Problem::NoRequester => "no-requester",
            Problem::NotAnApprover { .. }
            | Problem::UnknownGrantee { .. }
            | Problem::HaltByAutomation { .. } => "not-allowed",
        }
    }

    /// Whether the problem is with a signer's key or signature, which an earlier policy (before
    /// a key rotation) may not have.
    pub fn is_key_trouble(&self) -> bool {
        matches!(
            self,
            Problem::UnknownSigner { .. } | Problem::WrongKey { .. } | Problem::BadSignature { .. }
        )
    }
}

/// The result of checking one record's signoffs.
#[derive(Debug, Clone)]
pub struct RecordCheck {
    pub payload_sha256: String,
    pub requester: Option<SignerName>,
    /// Distinct signers whose approvals count.
    pub approvers: BTreeSet<SignerName>,
    pub required: u32,
    /// Problems that make the record invalid.
    pub problems: Vec<Problem>,
    /// Signoffs that are valid but do not count (a duplicate, a grant not yet live, ...).
    pub notes: Vec<String>,
    /// Whether a rule touched by the record is `human_only`.
    pub human_only: bool,
    /// Human signers whose approval arrives through live grants (never for human_only rules).
    pub grant_approvers: BTreeSet<SignerName>,
    /// Whether the requester is a human signer (human_only rules need one).
    pub requester_human: bool,
}

impl RecordCheck {
    pub fn state(&self) -> State {
        if !self.problems.is_empty() || self.requester.is_none() {
            State::Invalid
        } else if self.approvals() >= self.required
            && (!self.human_only
                || (self.requester_human && self.direct_approvals() >= self.required))
        {
            // A human_only rule is satisfied by human signers only: grants never count there.
            State::Approved
        } else {
            State::Pending
        }
    }

    /// Distinct approvers, direct or through grants.
    pub fn approvals(&self) -> u32 {
        self.approvers.union(&self.grant_approvers).count() as u32
    }

    /// Distinct approvers who signed themselves (what human_only rules count).
    pub fn direct_approvals(&self) -> u32 {
        self.approvers.len() as u32
    }
}

/// A record that verification found approved. Only [`approve`] makes one, from the check that
/// approved it, so code that needs an approved record (creating its tag) cannot be handed one
/// that was never checked.
#[derive(Debug, Clone, Copy)]
pub struct Approved<'r> {
    record: &'r Record,
}

impl<'r> Approved<'r> {
    pub fn record(&self) -> &'r Record {
        self.record
    }
}

/// `record` as approved, when `check` is the check of exactly this record and it approves it.
pub fn approve<'r>(record: &'r Record, check: &RecordCheck) -> Option<Approved<'r>> {
    (check.state() == State::Approved && check.payload_sha256 == record.payload_sha256())
        .then_some(Approved { record })
}

/// Approvals a record needs under `policy`: its risk class's, raised by every rule its declared
/// paths fall under (the highest wins).
pub fn required_approvals(policy: &Policy, record: &Record) -> (u32, bool) {
    match record {
        Record::Operation(op) => {
            let mut required = policy.risk_rule(op.risk_class).approvals;
            let mut human_only = false;
            for p in &op.allowed_paths {
                let p = p.trim_start_matches("./").trim_start_matches('/');
                for rule in policy.rules_for(p) {
                    required = required.max(rule.approvals.unwrap_or(0));
                    human_only |= rule.human_only;
                }
            }
            (required, human_only)
        }
        // A grant hands out future approvals: it needs what its riskiest class needs.
        Record::Grant(g) => {
            let top = g
                .scope
                .risk_classes
                .iter()
                .max()
                .copied()
                .unwrap_or(RiskClass::FilesystemWrite);
            (policy.risk_rule(top).approvals, false)
        }
        // Outcomes, revocations, halts and resumes take effect on the requester's signature:
        // stopping things must never wait for a second person.
        _ => (0, false),
    }
}

/// Checks one signoff's signer, key and signature.
pub fn check_signoff(
    policy: &Policy,
    record: &Record,
    digest: &str,
    s: &Signoff,
) -> Result<(), Problem> {
    let Some(entry) = policy.signer(&s.by) else {
        return Err(Problem::UnknownSigner { by: s.by.clone() });
    };
    let policy_key = entry.key.fingerprint();
    if policy_key != s.key {
        return Err(Problem::WrongKey {
            by: s.by.clone(),
            made_with: s.key.clone(),
            policy_key,
        });
    }
    let statement = record
        .statement_in(policy.repository_id.as_deref(), digest, s)
        .to_bytes();
    crypto::verify(&entry.key, NAMESPACE_LEDGER, &statement, s.sig.as_str()).map_err(|error| {
        Problem::BadSignature {
            by: s.by.clone(),
            role: s.role,
            error,
        }
    })
}

/// Checks every signoff of `record` under `policy`; grant signoffs count for nothing here (see
/// [`check_record_with`]).
pub fn check_record(policy: &Policy, record: &Record) -> RecordCheck {
    check_record_with(policy, record, None)
}

/// Checks every signoff of `record` under `policy`, counting grant signoffs judged against
/// `grants` at the given clock.
pub fn check_record_with(
    policy: &Policy,
    record: &Record,
    grants: Option<(&GrantIndex, GrantClock)>,
) -> RecordCheck {
    let digest = record.payload_sha256();
    let (required, human_only) = required_approvals(policy, record);
    let mut check = RecordCheck {
        payload_sha256: digest,
        requester: None,
        approvers: BTreeSet::new(),
        required,
        problems: Vec::new(),
        notes: Vec::new(),
        human_only,
        grant_approvers: BTreeSet::new(),
        requester_human: false,
    };
    let mut seen_keys = BTreeSet::new();
    let mut seen_signers = BTreeSet::new();
    let mut requesters = 0;
    for s in record.signoffs() {
        if let Err(p) = check_signoff(policy, record, &check.payload_sha256, s) {
            check.problems.push(p);
            continue;
        }
        // An imported entry's one signoff is its importer's: the record's author, as a
        // requester is of others. Nothing on it is ever an approval.
        let authors = match record {
            Record::Import(_) => s.role == Role::Importer,
            _ => s.role == Role::Requester,
        };
        if authors {
            requesters += 1;
            if requesters > 1 {
                check
                    .problems
                    .push(Problem::TwoRequesters { by: s.by.clone() });
                continue;
            }
            check.requester = Some(s.by.clone());
        }
        // Distinct signers and distinct keys: a person signing twice counts once.
        let first_by_signer = seen_signers.insert((s.by.clone(), s.role));
        let first_by_key = seen_keys.insert((s.key.clone(), s.role));
        if !first_by_signer || !first_by_key {
            check.notes.push(format!(
                "signoff by {} repeats an earlier one and counts once",
                s.by
            ));
            continue;
        }
        if s.role == Role::Approver && !matches!(record, Record::Import(_)) {
            if let Some(g) = &s.grant {
                match grants
                    .map(|(idx, clock)| grant_signoff_approvers(policy, idx, record, s, clock))
                {
                    Some(Ok(signers)) => check.grant_approvers.extend(signers.iter().cloned()),
                    Some(Err(why)) => check.notes.push(format!(
                        "signoff by {} under {g} does not count: {why}",
                        s.by
                    )),
                    None => check.notes.push(format!(
                        "signoff by {} under {g} is not judged without the grants",
                        s.by
                    )),
                }
                continue;
            }
            let entry = policy.signer(&s.by).expect("checked above");
            if !entry.is_approver() {
                check.notes.push(format!(
                    "signoff by {}: not a human approver in the policy, so it does not count",
                    s.by
                ));
                continue;
            }
            check.approvers.insert(s.by.clone());
        }
    }
    if let Some(requester) = &check.requester {
        if let Some(op) = record.as_operation()
            && let Some(rb) = &op.requested_by
            && rb != requester
        {
            check.problems.push(Problem::RequesterMismatch {
                requested_by: rb.clone(),
                signed_by: requester.clone(),
            });
        }
        let self_approval = record
            .as_operation()
            .is_some_and(|op| policy.risk_rule(op.risk_class).self_approval);
        if self_approval {
            if policy.signer(requester).is_some_and(|e| e.is_approver()) {
                check.approvers.insert(requester.clone());
            }
        } else if check.approvers.remove(requester) | check.grant_approvers.remove(requester) {
            check.notes.push(format!(
                "{requester} requested this operation, so their approval does not count (no self_approval for its risk class)"
            ));
        }
    } else if check.problems.is_empty() {
        check.problems.push(Problem::NoRequester);
    }
    if let Some(requester) = &check.requester {
        let entry = policy.signer(requester);
        let human = entry.is_some_and(|e| e.is_human());
        check.requester_human = human;
        // Automation never acts on its own say-so: its operations need at least one approval,
        // from a human or through a grant, even where the risk class needs none.
        if !human && matches!(record, Record::Operation(_)) && check.required == 0 {
            check.required = 1;
            check.notes.push(format!("{requester} is automation: its operations need an approval (a human's, or a grant's)"));
        }
        let approver = entry.is_some_and(|e| e.is_approver());
        let not_an_approver = |action| Problem::NotAnApprover {
            action,
            requester: requester.clone(),
        };
        let refused = match record {
            Record::Grant(_) if !approver => Some(not_an_approver("grant")),
            Record::Grant(g) if policy.signer(&g.grantee).is_none() => {
                Some(Problem::UnknownGrantee {
                    grantee: g.grantee.clone(),
                })
            }
            Record::Revocation(_) if !approver => Some(not_an_approver("revoke")),
            Record::Resume(_) if !approver => Some(not_an_approver("resume")),
            Record::Halt(_) if !human => Some(Problem::HaltByAutomation {
                requester: requester.clone(),
            }),
            _ => None,
        };
        if let Some(problem) = refused {
            check.problems.push(problem);
        }
    }
    check
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every problem keeps the code and the message it had as a `(code, message)` pair, and
    /// only signer, key and signature trouble sends the check to earlier policies.
    #[test]
    fn problems_keep_their_codes_and_messages() {
        let name = |s: &str| SignerName::new(s).unwrap();
        let old_key =
            Fingerprint::new("SHA256:Xq3c7Xq3c7Xq3c7Xq3c7Xq3c7Xq3c7Xq3c7Xq3c7Xq3").unwrap();
        let new_key =
            Fingerprint::new("SHA256:AAAAbbbbCCCCddddEEEEffffGGGGhhhhIIIIjjjjKKK").unwrap();
        let table: Vec<(Problem, &str, &str, bool)> = vec![
            (
                Problem::UnknownSigner {
                    by: name("mallory"),
                },
                "unknown-signer",
                "signoff by mallory: not a signer in the policy",
                true,
            ),
            (
                Problem::WrongKey {
                    by: name("alice"),
                    made_with: old_key.clone(),
                    policy_key: new_key.clone(),
                },
                "wrong-key",
                "signoff by alice: made with key SHA256:Xq3c7Xq3c7Xq3c7Xq3c7Xq3c7Xq3c7Xq3c7Xq3c7Xq3, \
                 but the policy gives alice the key SHA256:AAAAbbbbCCCCddddEEEEffffGGGGhhhhIIIIjjjjKKK",
                true,
            ),
            (
                Problem::BadSignature {
                    by: name("bob"),
                    role: Role::Approver,
                    error: crypto::Error::BadSignature,
                },
                "bad-signature",
                "signoff by bob (approver): signature does not verify",
                true,
            ),
            (
                Problem::TwoRequesters { by: name("carol") },
                "two-requesters",
                "a second requester signoff, by carol",
                false,
            ),
            (
                Problem::RequesterMismatch {
                    requested_by: name("alice"),
                    signed_by: name("bob"),
                },
                "requester-mismatch",
                "requested_by is alice, but the requester signoff is by bob",
                false,
            ),
            (
                Problem::NoRequester,
                "no-requester",
                "no valid requester signoff",
                false,
            ),
            (
                Problem::NotAnApprover {
                    action: "grant",
                    requester: name("deploy-bot"),
                },
                "not-allowed",
                "only human approvers may grant, and deploy-bot is not one",
                false,
            ),
            (
                Problem::NotAnApprover {
                    action: "revoke",
                    requester: name("deploy-bot"),
                },
                "not-allowed",
                "only human approvers may revoke, and deploy-bot is not one",
                false,
            ),
            (
                Problem::NotAnApprover {
                    action: "resume",
                    requester: name("deploy-bot"),
                },
                "not-allowed",
                "only human approvers may resume, and deploy-bot is not one",
                false,
            ),
            (
                Problem::UnknownGrantee {
                    grantee: name("ghost"),
                },
                "not-allowed",
                "the grantee ghost is not a signer in the policy",
                false,
            ),
            (
                Problem::HaltByAutomation {
                    requester: name("deploy-bot"),
                },
                "not-allowed",
                "only humans may halt, and deploy-bot is automation",
                false,
            ),
        ];
        for (problem, code, message, key_trouble) in table {
            assert_eq!(problem.code(), code, "{problem:?}");
            assert_eq!(problem.to_string(), message, "{problem:?}");
            assert_eq!(problem.is_key_trouble(), key_trouble, "{problem:?}");
        }
    }
}
