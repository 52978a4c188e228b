//! The engine's decisions, in-process on real repositories: who may sign as what, when a record
//! is tagged, and that every view of a record's state agrees at one clock.

use super::*;
use crate::crypto::Keypair;
use crate::model::record::Role;
use crate::model::{RecordId, RiskClass, Timestamp};
use crate::verify::push::testrepo::TestRepo;
use crate::verify::records::State;

/// alice and bob approve, carol is a human who may not approve, bot is automation.
struct Crew {
    repo: TestRepo,
    /// Each workspace opened is one second later than the one before, as in real use.
    clock: std::cell::Cell<i64>,
    alice: Signer,
    bob: Signer,
    carol: Signer,
    bot: Signer,
}

fn now() -> Timestamp {
    Timestamp::from_datetime(chrono::Utc::now())
}

impl Crew {
    fn new() -> Crew {
        let keys: Vec<(&str, Keypair, &str)> = vec![
            (
                "alice",
                Keypair::generate("alice").unwrap(),
                "human, approver",
            ),
            ("bob", Keypair::generate("bob").unwrap(), "human, approver"),
            ("carol", Keypair::generate("carol").unwrap(), "human"),
            ("bot", Keypair::generate("bot").unwrap(), "automation"),
        ];
        let mut policy = String::from("version: 1\nsigners:\n");
        for (n, k, roles) in &keys {
            policy.push_str(&format!(
                "  {n}: {{ key: \"{}\", roles: [{roles}] }}\n",
                k.public().without_comment()
            ));
        }
        policy.push_str(
            "risk_classes:\n  READ_ONLY: { approvals: 0 }\n  LOW_RISK_CONFIG: { approvals: 0, self_approval: true }\n\
             \x20 SERVICE_RESTART: { approvals: 1 }\n  FILESYSTEM_WRITE: { approvals: 1 }\n\
             rules:\n  - { paths: [\"ops/**\", \"deploy/**\"], min_risk: LOW_RISK_CONFIG }\n\
             operations: { default_window_hours: 24, require_tags: false, human_only_tags: true }\n",
        );
        let repo = TestRepo::new();
        repo.commit("ops/policy.yaml", &policy, "Adopt git-ops");
        let start = now().unix();
        let ws = Workspace::open(repo.path()).unwrap().at(now());
        let mut signers = keys
            .into_iter()
            .map(|(_, k, _)| ws.signer(k).expect("a signer of the policy"));
        Crew {
            alice: signers.next().unwrap(),
            bob: signers.next().unwrap(),
            carol: signers.next().unwrap(),
            bot: signers.next().unwrap(),
            repo,
            clock: std::cell::Cell::new(start),
        }
    }

    fn ws(&self) -> Workspace {
        self.clock.set(self.clock.get() + 1);
        let t = Timestamp::from_unix(self.clock.get()).unwrap();
        Workspace::open(self.repo.path())
            .expect("opening the workspace")
            .at(t)
    }

    fn declare(&self, who: &Signer, risk: RiskClass) -> RecordId {
        let d = Declaration {
            operation: "Scale web".into(),
            objective: "Handle the load".into(),
            risk_class: risk,
            blast_radius: "web only".into(),
            rollback_strategy: "git revert".into(),
            allowed_paths: vec!["deploy/web.yaml".into()],
            allowed_services: vec!["web".into()],
            changes_summary: None,
            environment: Some("prod".into()),
            notes: None,
        };
        *self
            .ws()
            .declare(who, d, None)
            .expect("declared")
            .record
            .id()
    }

    fn grant_to_bot(&self) -> RecordId {
        let done = self
            .ws()
            .grant(
                &self.alice,
                GrantRequest {
                    grantee: "bot".parse().unwrap(),
                    risk_classes: vec![RiskClass::ServiceRestart],
                    paths: vec!["deploy/".into()],
                    services: vec!["web".into()],
                    environments: vec!["prod".into()],
                    expires_in_hours: 4,
                    not_before: None,
                    break_glass: false,
                    auto_rollback: false,
                    reason: None,
                },
            )
            .expect("granted");
        let id = *done.record.id();
        self.ws()
            .sign(&self.bob, &id, None)
            .expect("bob approves the grant");
        id
    }

    fn state(&self, id: &RecordId, clock: Clock) -> State {
        let ws = self.ws();
        let r = ws.find(id).unwrap().value;
        ws.judge(r, clock).unwrap().state()
    }
}

fn usage_error<T: std::fmt::Debug>(r: Result<T>) -> String {
    match r {
        Err(e @ Error::Usage { .. }) => e.to_string(),
        other => panic!("expected a usage error, got {other:?}"),
    }
}

#[test]
fn a_declaration_is_signed_as_requester_and_an_approval_tags_it() {
    let crew = Crew::new();
    let id = crew.declare(&crew.alice, RiskClass::ServiceRestart);
    assert_eq!(crew.state(&id, Clock::History), State::Pending);
    assert!(
        usage_error(crew.ws().sign(&crew.alice, &id, None))
            .contains("your own approval does not count")
    );
    let Signed::Now(n) = crew.ws().sign(&crew.bob, &id, None).unwrap() else {
        panic!("bob's signoff was not added")
    };
    assert_eq!(n.role, Role::Approver);
    assert_eq!(n.judged.state(), State::Approved);
    assert!(
        matches!(&n.tag, TagOutcome::Made(name) if *name == id.tag_name()),
        "{:?}",
        n.tag
    );
    assert!(matches!(
        crew.ws().tag(&crew.alice, &id).unwrap(),
        TagOutcome::Exists(_)
    ));
    assert_eq!(crew.ws().status().unwrap().waiting_for_approval.len(), 0);
}

#[test]
fn who_may_sign_as_what() {
    let crew = Crew::new();
    let id = crew.declare(&crew.alice, RiskClass::ServiceRestart);
    // The requester's own approval does not count without self_approval.
    assert!(usage_error(crew.ws().sign(&crew.alice, &id, Some(id))).contains("no grant"));
    // carol is human but not an approver; the bot is automation without a grant.
    assert!(usage_error(crew.ws().sign(&crew.carol, &id, None)).contains("not a human approver"));
    assert!(
        usage_error(crew.ws().sign(&crew.bot, &id, None)).contains("bot is not a human approver")
    );
    // A LOW_RISK_CONFIG operation allows self-approval: alice's second signoff approves it.
    let low = crew.declare(&crew.alice, RiskClass::LowRiskConfig);
    assert_eq!(crew.state(&low, Clock::History), State::Approved);
    // Someone else cannot sign as requester of alice's operation: bob signs as approver.
    let Signed::Now(n) = crew.ws().sign(&crew.bob, &id, None).unwrap() else {
        panic!()
    };
    assert_eq!(n.role, Role::Approver);
    assert!(matches!(
        crew.ws().sign(&crew.bob, &id, None).unwrap(),
        Signed::Already {
            role: Role::Approver
        }
    ));
    assert!(
        usage_error(
            crew.ws()
                .sign(&crew.bob, &"OPS-2026-01-27-999".parse().unwrap(), None)
        )
        .contains("no record")
    );
}

#[test]
fn automation_approves_inside_its_grant_only_and_never_tags_when_tags_are_human_only() {
    let crew = Crew::new();
    let grant = crew.grant_to_bot();
    let id = crew.declare(&crew.bot, RiskClass::ServiceRestart);
    let Signed::Now(n) = crew.ws().sign(&crew.bot, &id, Some(grant)).unwrap() else {
        panic!()
    };
    assert_eq!(n.judged.state(), State::Approved);
    assert!(matches!(n.tag, TagOutcome::HumanOnly), "{:?}", n.tag);
    assert!(usage_error(crew.ws().tag(&crew.bot, &id)).contains("reserves tagging to humans"));
    assert!(matches!(
        crew.ws().tag(&crew.alice, &id).unwrap(),
        TagOutcome::Made(_)
    ));
    // Out of scope: FILESYSTEM_WRITE is not granted.
    let wide = crew.declare(&crew.bot, RiskClass::FilesystemWrite);
    assert!(usage_error(crew.ws().sign(&crew.bot, &wide, Some(grant))).contains("out of scope"));
    // Only the grantee signs under a grant.
    assert!(usage_error(crew.ws().sign(&crew.bob, &wide, Some(grant))).contains("granted to bot"));
}

#[test]
fn a_halt_or_a_revocation_suspends_a_grant_approval_without_unmaking_it() {
    for stop in ["halt", "revoke"] {
        let crew = Crew::new();
        let grant = crew.grant_to_bot();
        let id = crew.declare(&crew.bot, RiskClass::ServiceRestart);
        crew.ws().sign(&crew.bot, &id, Some(grant)).unwrap();
        assert_eq!(crew.state(&id, Clock::Now), State::Approved);
        if stop == "halt" {
            crew.ws()
                .halt(&crew.carol, Some("incident".into()))
                .unwrap();
        } else {
            crew.ws()
                .revoke(&crew.alice, &grant.to_string(), None)
                .unwrap();
        }
        // As history the approval was made; now it does not count.
        assert_eq!(crew.state(&id, Clock::History), State::Approved, "{stop}");
        assert_eq!(crew.state(&id, Clock::Now), State::Pending, "{stop}");
        let status = crew.ws().status().unwrap();
        assert!(
            status.waiting_for_approval.iter().all(|w| w.id != id),
            "{stop}"
        );
        assert_eq!(status.suspended.len(), 1, "{stop}");
        assert_eq!(status.suspended[0].id, id, "{stop}");
        assert_eq!(status.posture, if stop == "halt" { "HALTED" } else { "OK" });
        let standing = crew.ws().standing(&id).unwrap();
        assert_eq!(standing.history.state(), State::Approved);
        assert_eq!(standing.now.state(), State::Pending);
    }
}

#[test]
fn only_humans_halt_and_only_human_approvers_resume_grant_or_revoke() {
    let crew = Crew::new();
    assert!(usage_error(crew.ws().halt(&crew.bot, None)).contains("only humans may halt"));
    assert!(usage_error(crew.ws().resume(&crew.alice, None)).contains("not halted"));
    crew.ws().halt(&crew.carol, None).unwrap();
    assert!(usage_error(crew.ws().resume(&crew.carol, None)).contains("only human approvers"));
    assert!(usage_error(crew.ws().resume(&crew.bot, None)).contains("automation"));
    crew.ws().resume(&crew.bob, None).unwrap();
    assert_eq!(crew.ws().status().unwrap().posture, "OK");
    assert!(usage_error(crew.ws().revoke(&crew.bot, "bot", None)).contains("only human approvers"));
    assert!(usage_error(crew.ws().revoke(&crew.alice, "nobody", None)).contains("unknown signer"));
}

#[test]
fn the_standing_of_an_operation_says_why_it_cannot_cover_now() {
    let crew = Crew::new();
    let id = crew.declare(&crew.alice, RiskClass::LowRiskConfig);
    let ws = crew.ws();
    let standing = ws.standing(&id).unwrap();
    assert_eq!(standing.history.state(), State::Approved);
    assert!(standing.live.is_ok(), "{:?}", standing.live);
    // A day and a second later the window of 24 hours has passed.
    let later = Timestamp::from_unix(ws.now().unix() + 24 * 3600 + 1).unwrap();
    let standing = crew.ws().at(later).standing(&id).unwrap();
    assert_eq!(standing.history.state(), State::Approved);
    let why = standing
        .live
        .expect_err("an expired operation is not live")
        .to_string();
    assert!(why.starts_with("expired at"), "{why}");
    assert!(
        usage_error(ws.standing(&"GRANT-2026-01-27-001".parse().unwrap())).contains("no record")
    );
}
