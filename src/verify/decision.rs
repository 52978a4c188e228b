//! Does one of the candidates cover a governed path (DESIGN §3, condition 2, and the rules about
//! human-only paths and the policy file)? Plain data in, a verdict out: no reading, no clock.

use super::candidate::Candidate;
use crate::model::policy::Policy;
use crate::model::record::Record;
use crate::model::{RecordId, RiskClass, Role, SignerName};

/// The signer who made `closer` (an outcome, or a rollback operation): its requester signoff's.
pub fn closer_of(closer: &Record) -> Option<&SignerName> {
    closer
        .signoffs()
        .iter()
        .find(|s| s.role == Role::Requester)
        .map(|s| &s.by)
}

/// Whether `who` may close operation `op` or roll it back: its requester, one of its approvers,
/// or a human signer of the policy. Automation without a part in the operation may not.
pub fn may_close_as(policy: &Policy, op: &Record, who: &SignerName) -> bool {
    op.signoffs()
        .iter()
        .any(|s| &s.by == who && matches!(s.role, Role::Requester | Role::Approver))
        || policy.signer(who).is_some_and(|e| e.is_human())
}

/// Whether the record `closer` (an outcome naming `op`) was made by someone who may close `op`.
pub fn may_close(policy: &Policy, op: &Record, closer: &Record) -> bool {
    closer_of(closer).is_some_and(|who| may_close_as(policy, op, who))
}

/// What the policy asks of one governed path: the rules that match it, folded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PathNeeds {
    /// The highest `min_risk` of the matching rules (None when only the policy file rule applies).
    pub min_risk: Option<RiskClass>,
    /// The highest `approvals` of the matching rules (0 when none says).
    pub approvals: u32,
    /// Whether a matching rule is `human_only`.
    pub human_only: bool,
    /// Whether the path is the policy file itself.
    pub policy_file: bool,
}

/// The first candidate, in order, that covers `path`, or why none does (one reason per candidate
/// that was considered). `human_approvers` is the number of human approvers in the policy in
/// force: with more than one, changing the policy takes another human's own approval.
pub fn decide<'a>(
    path: &str,
    needs: &PathNeeds,
    human_approvers: usize,
    candidates: impl IntoIterator<Item = &'a Candidate>,
) -> Result<RecordId, Vec<String>> {
    let mut reasons = Vec::new();
    for cand in candidates {
        match refuses(path, needs, human_approvers, cand) {
            None => return Ok(cand.id),
            Some(why) => reasons.push(why),
        }
    }
    Err(reasons)
}

/// Why `cand` does not cover `path`, or None when it does.
fn refuses(
    path: &str,
    needs: &PathNeeds,
    human_approvers: usize,
    cand: &Candidate,
) -> Option<String> {
    let id = cand.id;
    if !cand.allowed.iter().any(|g| g.matches(path)) {
        return Some(format!(
            "{id} does not allow {path} (allowed_paths: {})",
            cand.allowed_text.join(", ")
        ));
    }
    if let Some(min) = needs.min_risk
        && cand.risk < min
    {
        return Some(format!(
            "{id} is {} but {path} needs at least {min}",
            cand.risk
        ));
    }
    if cand.approvals < needs.approvals {
        return Some(format!(
            "{id} has {} approvals but {path} needs {}",
            cand.approvals, needs.approvals
        ));
    }
    // The policy decides everything else: changing it always takes a human requester and, where
    // there is more than one human approver, another human's own approval, whatever the risk
    // classes say.
    let needs_second = human_approvers > 1;
    if needs.policy_file
        && !(cand.requester_human && (cand.other_direct_approvals >= 1 || !needs_second))
    {
        return Some(format!(
            "{path} needs an operation requested by a human and approved by another human ({id} is not)"
        ));
    }
    if needs.human_only && !cand.requester_human {
        return Some(format!(
            "{path} is human-only, and {id} was requested by automation"
        ));
    }
    if needs.human_only && cand.direct_approvals < cand.required.max(needs.approvals) {
        return Some(format!(
            "{path} is human-only, and {id} has {} approvals signed by humans themselves (grants never count here)",
            cand.direct_approvals
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::coverage::allowed_glob;
    use crate::verify::coverage::fixtures::id;

    /// An approved candidate: FILESYSTEM_WRITE on `deploy/` and `ops/`, requested by a human,
    /// with one direct approval by another human.
    fn cand() -> Candidate {
        let paths = ["deploy/", "ops/"];
        Candidate {
            id: id("OPS-2026-01-27-001"),
            risk: RiskClass::FilesystemWrite,
            allowed: paths.iter().filter_map(|p| allowed_glob(p)).collect(),
            allowed_text: paths.iter().map(|p| p.to_string()).collect(),
            approvals: 1,
            direct_approvals: 1,
            requester_human: true,
            other_direct_approvals: 1,
            required: 1,
        }
    }

    fn needs(min_risk: RiskClass) -> PathNeeds {
        PathNeeds {
            min_risk: Some(min_risk),
            ..PathNeeds::default()
        }
    }

    struct Row {
        name: &'static str,
        path: &'static str,
        needs: PathNeeds,
        human_approvers: usize,
        cand: Candidate,
        /// None: covered; Some(text): refused, with a reason containing text.
        refused: Option<&'static str>,
    }

    #[test]
    fn one_path_against_one_candidate() {
        let human_only = PathNeeds {
            min_risk: Some(RiskClass::FilesystemWrite),
            approvals: 2,
            human_only: true,
            policy_file: false,
        };
        let policy_file = PathNeeds {
            min_risk: None,
            policy_file: true,
            ..PathNeeds::default()
        };
        let rows = [
            Row {
                name: "an allowed path at enough risk",
                path: "deploy/web.yaml",
                needs: needs(RiskClass::LowRiskConfig),
                human_approvers: 2,
                cand: cand(),
                refused: None,
            },
            Row {
                name: "a path outside allowed_paths",
                path: "docs/governance/x.md",
                needs: needs(RiskClass::LowRiskConfig),
                human_approvers: 2,
                cand: cand(),
                refused: Some(
                    "OPS-2026-01-27-001 does not allow docs/governance/x.md (allowed_paths: deploy/, ops/)",
                ),
            },
            Row {
                name: "allowed paths are anchored at the root",
                path: "sub/deploy/web.yaml",
                needs: needs(RiskClass::LowRiskConfig),
                human_approvers: 2,
                cand: cand(),
                refused: Some("does not allow sub/deploy/web.yaml"),
            },
            Row {
                name: "risk too low",
                path: "deploy/web.yaml",
                needs: needs(RiskClass::FilesystemWrite),
                human_approvers: 2,
                cand: Candidate {
                    risk: RiskClass::ServiceRestart,
                    ..cand()
                },
                refused: Some(
                    "OPS-2026-01-27-001 is SERVICE_RESTART but deploy/web.yaml needs at least FILESYSTEM_WRITE",
                ),
            },
            Row {
                name: "too few approvals for the rule",
                path: "deploy/web.yaml",
                needs: PathNeeds {
                    approvals: 2,
                    ..needs(RiskClass::LowRiskConfig)
                },
                human_approvers: 2,
                cand: cand(),
                refused: Some("OPS-2026-01-27-001 has 1 approvals but deploy/web.yaml needs 2"),
            },
            Row {
                name: "human-only, with two direct human approvals",
                path: "ops/PRODUCTION_LOCK.md",
                needs: human_only,
                human_approvers: 2,
                cand: Candidate {
                    approvals: 2,
                    direct_approvals: 2,
                    required: 2,
                    ..cand()
                },
                refused: None,
            },
            Row {
                name: "human-only, with one approval through a grant",
                path: "ops/PRODUCTION_LOCK.md",
                needs: human_only,
                human_approvers: 2,
                cand: Candidate {
                    approvals: 2,
                    direct_approvals: 1,
                    required: 2,
                    ..cand()
                },
                refused: Some(
                    "ops/PRODUCTION_LOCK.md is human-only, and OPS-2026-01-27-001 has 1 approvals signed by humans themselves (grants never count here)",
                ),
            },
            Row {
                name: "human-only, requested by automation",
                path: "ops/PRODUCTION_LOCK.md",
                needs: human_only,
                human_approvers: 2,
                cand: Candidate {
                    approvals: 2,
                    direct_approvals: 2,
                    requester_human: false,
                    required: 2,
                    ..cand()
                },
                refused: Some(
                    "ops/PRODUCTION_LOCK.md is human-only, and OPS-2026-01-27-001 was requested by automation",
                ),
            },
            Row {
                name: "the policy file, one human approver, self-approved",
                path: "ops/policy.yaml",
                needs: policy_file,
                human_approvers: 1,
                cand: Candidate {
                    other_direct_approvals: 0,
                    ..cand()
                },
                refused: None,
            },
            Row {
                name: "the policy file, two human approvers, self-approved",
                path: "ops/policy.yaml",
                needs: policy_file,
                human_approvers: 2,
                cand: Candidate {
                    other_direct_approvals: 0,
                    ..cand()
                },
                refused: Some(
                    "ops/policy.yaml needs an operation requested by a human and approved by another human (OPS-2026-01-27-001 is not)",
                ),
            },
            Row {
                name: "the policy file, two human approvers, another human approved",
                path: "ops/policy.yaml",
                needs: policy_file,
                human_approvers: 2,
                cand: cand(),
                refused: None,
            },
            Row {
                name: "the policy file, requested by automation",
                path: "ops/policy.yaml",
                needs: policy_file,
                human_approvers: 1,
                cand: Candidate {
                    requester_human: false,
                    ..cand()
                },
                refused: Some("ops/policy.yaml needs an operation requested by a human"),
            },
        ];
        for row in rows {
            let got = decide(row.path, &row.needs, row.human_approvers, [&row.cand]);
            match (row.refused, got) {
                (None, Ok(id)) => assert_eq!(id, row.cand.id, "{}", row.name),
                (Some(want), Err(reasons)) => {
                    assert_eq!(reasons.len(), 1, "{}: {reasons:?}", row.name);
                    assert!(reasons[0].contains(want), "{}: {reasons:?}", row.name);
                }
                (want, got) => panic!("{}: wanted {want:?}, got {got:?}", row.name),
            }
        }
    }

    #[test]
    fn who_may_close_an_operation() {
        use crate::verify::coverage::fixtures::{OpSpec, Team, outcome};
        let team = Team::new();
        let policy = team.policy();
        let spec = OpSpec::new("OPS-2026-01-27-001", "SERVICE_RESTART", "\"deploy/\"");
        let by_alice = team.approved(&spec, "alice", &["bob"]);
        let by_bot = team.approved(&spec, "bot", &["alice"]);
        // (case, the operation, who closes, allowed)
        let rows = [
            ("its requester", &by_alice, "alice", true),
            ("its approver", &by_alice, "bob", true),
            ("another human", &by_alice, "carol", true),
            ("automation with no part in it", &by_alice, "bot", false),
            ("automation that requested it", &by_bot, "bot", true),
            ("an unknown signer", &by_alice, "mallory", false),
        ];
        for (name, op, who, allowed) in rows {
            let who: SignerName = who.parse().expect("a name");
            assert_eq!(may_close_as(&policy, op, &who), allowed, "{name}");
        }
        // An outcome record is judged by its requester signoff.
        let out = outcome(&team, "OPS-2026-01-27-001");
        assert!(may_close(&policy, &by_alice, &out));
        let mut by_bot_out = out.clone();
        by_bot_out.signoffs_mut().clear();
        team.sign(
            &mut by_bot_out,
            "bot",
            Role::Requester,
            "2026-01-27T09:30:00Z",
            None,
        );
        assert!(!may_close(&policy, &by_alice, &by_bot_out));
        by_bot_out.signoffs_mut().clear();
        assert!(!may_close(&policy, &by_alice, &by_bot_out), "unsigned");
    }

    #[test]
    fn the_first_candidate_that_covers_wins_and_every_refusal_is_given() {
        let narrow = Candidate {
            id: id("OPS-2026-01-27-001"),
            allowed: vec![allowed_glob("ops/").expect("a glob")],
            allowed_text: vec!["ops/".into()],
            ..cand()
        };
        let low = Candidate {
            id: id("OPS-2026-01-27-002"),
            risk: RiskClass::ReadOnly,
            ..cand()
        };
        let fine = Candidate {
            id: id("OPS-2026-01-27-003"),
            ..cand()
        };
        let path = "deploy/web.yaml";
        let n = needs(RiskClass::LowRiskConfig);
        assert_eq!(
            decide(path, &n, 2, [&narrow, &low, &fine, &cand()]),
            Ok(id("OPS-2026-01-27-003"))
        );
        let reasons = decide(path, &n, 2, [&narrow, &low]).expect_err("neither covers");
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert!(reasons[0].starts_with("OPS-2026-01-27-001 does not allow"));
        assert!(reasons[1].starts_with("OPS-2026-01-27-002 is READ_ONLY"));
        assert_eq!(decide(path, &n, 2, []), Err(Vec::new()));
    }
}
