//! Coverage (DESIGN §3): is a change (a commit against its parent, or the staged change against
//! HEAD) allowed? Returns a report; prints nothing.
//!
//! The policy in force is the old side's (the parent commit's), so a change can never loosen the
//! rules it is judged by. Ledger files follow their own rule ([`super::ledger_change`]): records
//! and signoffs may be added (each checked on its own), nothing may be edited or removed. Which
//! linked operations could cover the change is [`super::candidate`]'s question, and whether one
//! covers a path is [`super::decision`]'s; `judge` only puts them together.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::candidate::{self, Candidate, Unusable};
use super::decision::{PathNeeds, decide};
use super::grants::{GrantClock, GrantIndex};
use super::ledger_change::{Files, check_ledger_change, load_file};
use super::records::{RecordCheck, check_record, check_record_with};
use super::{Finding, Report, Severity};
use crate::model::glob::Glob;
use crate::model::paths::same_folded;
use crate::model::policy::{LEDGER_DIR, POLICY_PATH, Policy, is_policy_path};
use crate::model::record::Record;
use crate::model::{RecordId, RiskClass, Timestamp};
use crate::store::diff::{Change, ChangeKind, EntryKind};
use crate::store::ledger::month_of;
use crate::store::snapshot::Side;
use crate::store::{self};

pub use super::ledger_change::preserved;

pub struct ChangeContext<'a> {
    pub old: &'a dyn Side,
    pub new: &'a dyn Side,
    pub changes: &'a [Change],
    /// Ids the change names: `Ops-Id:` trailers, or the active operation for pre-commit.
    pub links: &'a [RecordId],
    /// The verifier's clock.
    pub now: Timestamp,
}

/// How one governed path fared.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PathVerdict {
    pub path: String,
    /// The rules that govern it (their first pattern), for messages.
    pub rules: Vec<String>,
    pub min_risk: Option<RiskClass>,
    pub covered_by: Option<RecordId>,
}

#[derive(Debug, Default, serde::Serialize)]
pub struct Judgement {
    pub report: Report,
    pub governed: Vec<PathVerdict>,
    /// Records the change adds, or brings to their threshold.
    pub linked_by_change: Vec<RecordId>,
    /// Set when the old side has no policy and the new side adds one: this change is a trust root.
    pub bootstrap: bool,
    /// The policy in force the change was judged under (None when there was none to judge by),
    /// for the rules judged after coverage (signatures, pins, automation bounds).
    #[serde(skip)]
    pub policy: Option<Policy>,
}

/// Clocks disagree a little; more than this and a claimed time is refused.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

type Candidates = BTreeMap<RecordId, Result<Candidate, Unusable>>;

fn parse_policy(text: Option<String>) -> Option<Result<Policy, String>> {
    text.map(|t| super::parsed::policy(&t).map_err(|e| e.to_string()))
}

/// Judges a change. I/O errors (a missing object, an unreadable file) are returned, and callers
/// reject the change: fail closed.
pub fn judge(ctx: &ChangeContext<'_>) -> Result<Judgement, store::Error> {
    let mut j = Judgement::default();
    let Some(policy) = policy_in_force(ctx, &mut j)? else {
        return Ok(j);
    };
    let mut old_files: Files = HashMap::new();
    let mut new_files: Files = HashMap::new();
    let mut linked: BTreeSet<RecordId> = BTreeSet::new();
    let mut governed: Vec<&Change> = Vec::new();
    let mut dirs = DirCache::new();
    for c in ctx.changes {
        if c.path.starts_with(&format!("{LEDGER_DIR}/")) {
            if is_link(c) {
                j.report.push(
                    Finding::error(
                        "symlink",
                        format!(
                            "{}: symlinks and submodules are refused in the ledger",
                            c.path
                        ),
                    )
                    .at(&c.path, None),
                );
                continue;
            }
            let (old, new) = (&mut old_files, &mut new_files);
            check_ledger_change(ctx, &policy, c, old, new, &mut linked, &mut j.report)?;
        } else if check_path(&policy, c, &mut j.report) {
            check_collision(ctx.new, c, &mut dirs, &mut j.report)?;
            governed.push(c);
        }
    }
    check_policy_change(ctx, &policy, &mut j.report)?;
    if !governed.is_empty() {
        let candidates = linked_candidates(ctx, &policy, &linked, &mut new_files, &mut j.report)?;
        for c in governed {
            let verdict = judge_path(&policy, &c.path, &candidates, &mut j.report);
            j.governed.push(verdict);
        }
    }
    j.linked_by_change = linked.into_iter().collect();
    j.policy = Some(policy);
    Ok(j)
}

/// The old side's policy. None when there is nothing to judge by: the old side has none (and the
/// change may bootstrap one), or it does not parse (reported).
fn policy_in_force(
    ctx: &ChangeContext<'_>,
    j: &mut Judgement,
) -> Result<Option<Policy>, store::Error> {
    match parse_policy(ctx.old.read_string(POLICY_PATH)?) {
        Some(Ok(p)) => Ok(Some(p)),
        Some(Err(e)) => {
            j.report.push(
                Finding::error(
                    "policy-unreadable",
                    format!("the policy in force does not parse: {e}"),
                )
                .at(POLICY_PATH, None),
            );
            Ok(None)
        }
        None => {
            // Nothing was governed before this change.
            match parse_policy(ctx.new.read_string(POLICY_PATH)?) {
                Some(Ok(_)) => j.bootstrap = true,
                Some(Err(e)) => j.report.push(
                    Finding::error(
                        "policy-invalid",
                        format!("the new policy does not parse: {e}"),
                    )
                    .at(POLICY_PATH, None),
                ),
                None => {}
            }
            Ok(None)
        }
    }
}

fn is_link(c: &Change) -> bool {
    matches!(
        c.new.map(|(_, k)| k),
        Some(EntryKind::Symlink | EntryKind::Submodule)
    )
}

/// Reports what is wrong with a change to a path outside the ledger on its own (an immutable
/// path changed, a symlink under a governed path); returns whether the path is governed.
fn check_path(policy: &Policy, c: &Change, report: &mut Report) -> bool {
    let path = c.path.as_str();
    if matches!(c.kind, ChangeKind::Modified | ChangeKind::Deleted) && policy.is_immutable(path) {
        let what = if c.kind == ChangeKind::Deleted {
            "deleted"
        } else {
            "modified"
        };
        report.push(
            Finding::error(
                "immutable",
                format!("{path} is immutable under the policy (may be added, never changed or deleted) and was {what}; add a new artifact that refers to it instead"),
            )
            .at(path, None),
        );
    }
    if !policy.governs(path) {
        let rules = policy.prefix_rules_at(path);
        if is_link(c) && !rules.is_empty() {
            report.push(
                Finding::error(
                    "symlink",
                    format!(
                        "{path}: symlinks and submodules are refused above governed paths ({} governs what is under it)",
                        rules.join(", ")
                    ),
                )
                .at(path, None),
            );
        }
        return false;
    }
    if is_link(c) {
        report.push(
            Finding::error(
                "symlink",
                format!("{path}: symlinks and submodules are refused under governed paths"),
            )
            .at(path, None),
        );
    }
    true
}

/// Entry names by directory on the new side, read once per judgement.
type DirCache = HashMap<String, Vec<String>>;

/// Every path on `side` equal to `path` under folding (`path` itself included when it is there):
/// the files a case-insensitive, normalising checkout would write to one place.
pub fn folded_twins(
    side: &dyn Side,
    path: &str,
    dirs: &mut DirCache,
) -> Result<Vec<String>, store::Error> {
    let mut current = vec![String::new()];
    for comp in path.split('/').filter(|c| !c.is_empty()) {
        let mut next = Vec::new();
        for dir in &current {
            if !dirs.contains_key(dir) {
                let names = side.list_entries(dir)?;
                dirs.insert(dir.clone(), names);
            }
            for name in dirs.get(dir).into_iter().flatten() {
                if same_folded(name, comp) {
                    next.push(if dir.is_empty() {
                        name.clone()
                    } else {
                        format!("{dir}/{name}")
                    });
                }
            }
        }
        next.sort();
        next.dedup();
        current = next;
        if current.is_empty() {
            break;
        }
    }
    Ok(current)
}

/// A governed path the change adds or changes must not share its folded form with another path
/// of the new side: a case-insensitive checkout would write one over the other.
fn check_collision(
    side: &dyn Side,
    c: &Change,
    dirs: &mut DirCache,
    report: &mut Report,
) -> Result<(), store::Error> {
    if c.new.is_none() {
        return Ok(());
    }
    let twins: Vec<String> = folded_twins(side, &c.path, dirs)?
        .into_iter()
        .filter(|p| p != &c.path)
        .collect();
    if !twins.is_empty() {
        report.push(
            Finding::error(
                "path-collision",
                format!(
                    "{} is governed and equal, ignoring case and invisible characters, to {}; a case-insensitive checkout would write one over the other",
                    c.path,
                    twins.join(", ")
                ),
            )
            .at(&c.path, None),
        );
    }
    Ok(())
}

/// A policy change must parse, and its version must increase.
fn check_policy_change(
    ctx: &ChangeContext<'_>,
    policy: &Policy,
    report: &mut Report,
) -> Result<(), store::Error> {
    let Some(c) = ctx.changes.iter().find(|c| c.path == POLICY_PATH) else {
        return Ok(());
    };
    match parse_policy(ctx.new.read_string(POLICY_PATH)?) {
        None => report.push(
            Finding::error("policy-removed", format!("{POLICY_PATH} is deleted; a governed repository keeps its policy"))
                .at(POLICY_PATH, None),
        ),
        Some(Err(e)) => report
            .push(Finding::error("policy-invalid", format!("the new policy does not parse: {e}")).at(POLICY_PATH, None)),
        Some(Ok(new)) if new.version <= policy.version && c.kind == ChangeKind::Modified => report.push(
            Finding::error(
                "policy-version",
                format!(
                    "the policy changed but its version went from {} to {}; it must increase with every change",
                    policy.version, new.version
                ),
            )
            .at(POLICY_PATH, None),
        ),
        Some(Ok(_)) => {}
    }
    Ok(())
}

/// Candidates: records linked by this change, then those the trailers name. A trailer that names
/// an operation which cannot cover the change is warned about.
fn linked_candidates(
    ctx: &ChangeContext<'_>,
    policy: &Policy,
    linked: &BTreeSet<RecordId>,
    files: &mut Files,
    report: &mut Report,
) -> Result<Candidates, store::Error> {
    let mut candidates = Candidates::new();
    for id in linked.iter().chain(ctx.links.iter()) {
        if candidates.contains_key(id) {
            continue;
        }
        let c = candidate::find(ctx, policy, id, files)?;
        if ctx.links.contains(id)
            && let Err(why) = &c
        {
            report.push(
                Finding::new(
                    Severity::Warning,
                    "link-unusable",
                    format!("Ops-Id {id} cannot cover this change: {why}"),
                )
                .record(*id),
            );
        }
        candidates.insert(*id, c);
    }
    Ok(candidates)
}

/// Decides one governed path against the candidates; reports it when none covers it.
fn judge_path(
    policy: &Policy,
    path: &str,
    candidates: &Candidates,
    report: &mut Report,
) -> PathVerdict {
    let rules: Vec<_> = policy.rules_for(path).collect();
    let needs = PathNeeds {
        min_risk: rules.iter().map(|r| r.min_risk).max(),
        approvals: rules.iter().filter_map(|r| r.approvals).max().unwrap_or(0),
        human_only: rules.iter().any(|r| r.human_only),
        policy_file: is_policy_path(path),
    };
    let human_approvers = policy.signers.values().filter(|e| e.is_approver()).count();
    let usable = candidates.values().filter_map(|c| c.as_ref().ok());
    let decision = decide(path, &needs, human_approvers, usable);
    let rule_names: Vec<String> = rules
        .iter()
        .flat_map(|r| {
            r.paths
                .iter()
                .filter(|g| g.matches_folded(path))
                .map(|g| g.as_str().to_string())
        })
        .chain(
            needs
                .policy_file
                .then(|| "the policy file itself".to_string()),
        )
        .collect();
    if let Err(reasons) = &decision {
        let mut msg = format!(
            "{path} is governed ({}{}) and no approved, live operation linked to this change covers it",
            rule_names.join(", "),
            needs
                .min_risk
                .map(|r| format!("; min risk {r}"))
                .unwrap_or_default()
        );
        if candidates.is_empty() {
            msg.push_str(
                "; no operation is linked (add one in the same change, or an Ops-Id trailer)",
            );
        }
        for r in reasons {
            msg.push_str("; ");
            msg.push_str(r);
        }
        for (id, cand) in candidates {
            if let Err(why) = cand {
                msg.push_str(&format!("; {id}: {why}"));
            }
        }
        report.push(Finding::error("uncovered", msg).at(path, None));
    }
    PathVerdict {
        path: path.to_string(),
        rules: rule_names,
        min_risk: needs.min_risk,
        covered_by: decision.ok(),
    }
}

/// Every grant, revocation, halt and resume in the ledger on `side` (month files that do not
/// parse are skipped: they are reported where they are read).
pub fn grant_index_on_side(
    side: &dyn Side,
    policy: &Policy,
    files: &mut Files,
) -> Result<GrantIndex, store::Error> {
    let mut all = Vec::new();
    for name in side.list_dir(LEDGER_DIR)? {
        let path = format!("{LEDGER_DIR}/{name}");
        if month_of(&path).is_some()
            && let Some(Ok(f)) = load_file(side, files, &path)?
        {
            all.push(f);
        }
    }
    Ok(GrantIndex::build(
        policy,
        all.iter().flat_map(|f| f.records.iter().map(|(_, r)| r)),
    ))
}

/// Checks `record` as of the ledger on `side` at time `now` (grant signoffs included).
pub fn check_on_side(
    side: &dyn Side,
    policy: &Policy,
    record: &Record,
    now: Timestamp,
    files: &mut Files,
) -> Result<RecordCheck, store::Error> {
    if !record.signoffs().iter().any(|s| s.grant.is_some()) {
        return Ok(check_record(policy, record));
    }
    let idx = grant_index_on_side(side, policy, files)?;
    Ok(check_record_with(
        policy,
        record,
        Some((&idx, GrantClock::Now(now))),
    ))
}

/// An allowed path is anchored at the repository root (`deploy/` is `/deploy/`).
pub fn allowed_glob(p: &str) -> Option<Glob> {
    let p = p.trim().trim_start_matches("./").trim_start_matches('/');
    if p.is_empty() {
        return None;
    }
    Glob::new(&format!("/{p}")).ok()
}

/// Keys, a policy and signed records built in memory, for the tests of this module and its
/// neighbours (candidate, decision, ledger_change).
#[cfg(test)]
pub(crate) mod fixtures {
    use crate::crypto::{Keypair, signoff};
    use crate::model::policy::Policy;
    use crate::model::record::Record;
    use crate::model::{RecordId, Role, SignerName, Timestamp, yaml};

    pub const MONTH_FILE: &str = "ops/ledger/2026-01.yaml";

    /// alice and bob are human approvers, carol is a human who may not approve, bot is
    /// automation.
    pub struct Team {
        pub alice: Keypair,
        pub bob: Keypair,
        pub carol: Keypair,
        pub bot: Keypair,
    }

    impl Team {
        pub fn new() -> Team {
            let key = |n: &str| Keypair::generate(n).expect("generating a test key");
            Team {
                alice: key("alice"),
                bob: key("bob"),
                carol: key("carol"),
                bot: key("bot"),
            }
        }

        fn key(&self, name: &str) -> &Keypair {
            match name {
                "alice" => &self.alice,
                "bob" => &self.bob,
                "carol" => &self.carol,
                "bot" => &self.bot,
                _ => panic!("no test signer {name}"),
            }
        }

        /// The policy text; `approvers` names the signers with the approver role.
        pub fn policy_text_with(&self, version: u64, approvers: &[&str]) -> String {
            let roles = |n: &str, human: bool| {
                let mut r = vec![if human { "human" } else { "automation" }];
                if approvers.contains(&n) {
                    r.push("approver");
                }
                format!(
                    "  {n}: {{ key: \"{}\", roles: [{}] }}\n",
                    self.key(n).public().without_comment(),
                    r.join(", ")
                )
            };
            format!(
                "version: {version}\nsigners:\n{}{}{}{}\
                 risk_classes:\n  READ_ONLY: {{ approvals: 0 }}\n  LOW_RISK_CONFIG: {{ approvals: 0, self_approval: true }}\n\
                 \x20 SERVICE_RESTART: {{ approvals: 1 }}\n  FILESYSTEM_WRITE: {{ approvals: 1 }}\n\
                 rules:\n  - {{ paths: [\"ops/**\", \"deploy/**\"], min_risk: LOW_RISK_CONFIG }}\n\
                 \x20 - {{ paths: [\"deploy/prod/**\"], min_risk: SERVICE_RESTART, approvals: 2 }}\n\
                 \x20 - {{ paths: [\"ops/PRODUCTION_LOCK.md\"], min_risk: FILESYSTEM_WRITE, approvals: 2, human_only: true }}\n",
                roles("alice", true),
                roles("bob", true),
                roles("carol", true),
                roles("bot", false),
            )
        }

        pub fn policy_text(&self, version: u64) -> String {
            self.policy_text_with(version, &["alice", "bob"])
        }

        pub fn policy(&self) -> Policy {
            yaml::parse_policy(&self.policy_text(1)).expect("the test policy parses")
        }

        /// Adds `name`'s signoff to `r` in `role`, at `at`, under `grant` if any.
        pub fn sign(&self, r: &mut Record, name: &str, role: Role, at: &str, grant: Option<&str>) {
            let by: SignerName = name.parse().expect("a signer name");
            let grant = grant.map(|g| g.parse::<RecordId>().expect("a grant id"));
            let s = signoff(r, self.key(name), &by, role, ts(at), grant).expect("signing");
            r.signoffs_mut().push(s);
        }

        /// An operation requested by `requester` and approved directly by `approvers`.
        pub fn approved(&self, spec: &OpSpec, requester: &str, approvers: &[&str]) -> Record {
            let mut r = spec.record();
            self.sign(&mut r, requester, Role::Requester, spec.created, None);
            for a in approvers {
                self.sign(&mut r, a, Role::Approver, spec.created, None);
            }
            r
        }

        /// GRANT-2026-01-27-001 for bot: SERVICE_RESTART and FILESYSTEM_WRITE on `paths`, service web in prod, issued by
        /// alice and approved by bob, live from 08:00 to midnight on 2026-01-27.
        pub fn grant(&self, paths: &str) -> Record {
            let mut r = yaml::parse_record(
                &format!(
                    "record: grant\ngrant_id: GRANT-2026-01-27-001\ngrantee: bot\ncreated_at: 2026-01-27T08:00:00Z\n\
                     expires_at: 2026-01-28T00:00:00Z\nscope: {{ risk_classes: [SERVICE_RESTART, FILESYSTEM_WRITE], paths: [{paths}], services: [web], environments: [prod] }}\n"
                ),
                1,
            )
            .expect("the test grant parses");
            self.sign(
                &mut r,
                "alice",
                Role::Requester,
                "2026-01-27T08:00:00Z",
                None,
            );
            self.sign(&mut r, "bob", Role::Approver, "2026-01-27T08:00:00Z", None);
            r
        }

        /// An operation bot requested and approved under GRANT-2026-01-27-001.
        pub fn under_grant(&self, spec: &OpSpec) -> Record {
            let mut r = spec.record();
            self.sign(&mut r, "bot", Role::Requester, spec.created, None);
            self.sign(
                &mut r,
                "bot",
                Role::Approver,
                spec.created,
                Some("GRANT-2026-01-27-001"),
            );
            r
        }
    }

    /// What the operation declares.
    #[derive(Clone, Copy)]
    pub struct OpSpec {
        pub id: &'static str,
        pub risk: &'static str,
        pub paths: &'static str,
        pub created: &'static str,
        pub expires: Option<&'static str>,
    }

    impl OpSpec {
        pub fn new(id: &'static str, risk: &'static str, paths: &'static str) -> OpSpec {
            OpSpec {
                id,
                risk,
                paths,
                created: "2026-01-27T09:00:00Z",
                expires: None,
            }
        }

        pub fn record(&self) -> Record {
            let mut text = format!(
                "operation_id: {}\noperation_name: n\nobjective: o\nrisk_class: {}\nblast_radius: b\n\
                 rollback_strategy: r\nallowed_paths: [{}]\nallowed_services: [web]\nenvironment: prod\n\
                 created_at: {}\n",
                self.id, self.risk, self.paths, self.created
            );
            if let Some(e) = self.expires {
                text.push_str(&format!("expires_at: {e}\n"));
            }
            yaml::parse_record(&text, 1).expect("the test operation parses")
        }
    }

    /// An outcome record closing `op`.
    pub fn outcome(team: &Team, op: &str) -> Record {
        let mut r = yaml::parse_record(
            &format!(
                "record: outcome\noperation_id: {op}\noutcome_id: OUT-2026-01-27-001\noutcome: SUCCESS\n"
            ),
            1,
        )
        .expect("the test outcome parses");
        team.sign(
            &mut r,
            "alice",
            Role::Requester,
            "2026-01-27T09:30:00Z",
            None,
        );
        r
    }

    /// A ledger file's text holding `records`, in order.
    pub fn ledger(records: &[&Record]) -> String {
        records.iter().map(|r| yaml::render_record(r)).collect()
    }

    pub fn ts(s: &str) -> Timestamp {
        s.parse().expect("a test timestamp")
    }

    pub fn id(s: &str) -> RecordId {
        s.parse().expect("a test record id")
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{MONTH_FILE, OpSpec, Team, id, ledger, outcome, ts};
    use super::*;
    use crate::model::{Role, yaml};
    use crate::store::snapshot::MemorySide;

    const NOW: &str = "2026-01-27T10:00:00Z";

    fn judge_sides(old: &MemorySide, new: &MemorySide, links: &[&str]) -> Judgement {
        let changes = old.changes_to(new);
        let links: Vec<RecordId> = links.iter().map(|l| id(l)).collect();
        judge(&ChangeContext {
            old,
            new,
            changes: &changes,
            links: &links,
            now: ts(NOW),
        })
        .expect("judging in memory cannot fail to read")
    }

    /// What a row expects.
    enum Want {
        /// Every governed path covered by this operation, no errors.
        Covered(&'static str),
        /// `path` reported uncovered, with a message containing the text.
        Uncovered(&'static str, &'static str),
        /// An error finding with this code and a message containing the text.
        Error(&'static str, &'static str),
    }

    #[test]
    fn judging_changes_over_memory_sides() {
        let team = Team::new();
        let grant = team.grant("\"deploy/\"");
        let narrow_grant = team.grant("\"ops/runbooks/\"");
        let wide_grant = team.grant("\"deploy/\", \"ops/\"");
        let base = MemorySide::new()
            .with(POLICY_PATH, team.policy_text(1))
            .with("deploy/web.yaml", "replicas: 1\n")
            .with("deploy/db.yaml", "size: 1\n")
            .with("ops/PRODUCTION_LOCK.md", "locked\n")
            .with(MONTH_FILE, ledger(&[&grant]));
        let with_ledger = |records: &[&Record]| base.clone().with(MONTH_FILE, ledger(records));
        let edit = |side: MemorySide| side.with("deploy/web.yaml", "replicas: 2\n");

        let deploy = OpSpec::new("OPS-2026-01-27-001", "SERVICE_RESTART", "\"deploy/\"");
        let approved = team.approved(&deploy, "alice", &["bob"]);
        let pending = team.approved(&deploy, "alice", &[]);
        let expired = team.approved(
            &OpSpec {
                expires: Some("2026-01-27T09:30:00Z"),
                ..deploy
            },
            "alice",
            &["bob"],
        );
        let closed = outcome(&team, "OPS-2026-01-27-001");
        let by_grant = team.under_grant(&deploy);
        let by_grant_db_only = team.under_grant(&OpSpec::new(
            "OPS-2026-01-27-001",
            "SERVICE_RESTART",
            "\"deploy/db.yaml\"",
        ));
        let lock = OpSpec::new(
            "OPS-2026-01-27-001",
            "FILESYSTEM_WRITE",
            "\"ops/PRODUCTION_LOCK.md\"",
        );
        let lock_by_grant = team.under_grant(&lock);
        let lock_by_humans = team.approved(&lock, "alice", &["bob"]);
        let policy_op = team.approved(
            &OpSpec::new(
                "OPS-2026-01-27-001",
                "LOW_RISK_CONFIG",
                "\"ops/policy.yaml\"",
            ),
            "alice",
            &["bob"],
        );
        let mut edited = approved.clone();
        if let Record::Operation(op) = &mut edited {
            op.objective = "another objective".into();
        }

        let rows: Vec<(&str, MemorySide, MemorySide, &[&str], Want)> = vec![
            (
                "nothing linked",
                base.clone(),
                edit(base.clone()),
                &[],
                Want::Uncovered("deploy/web.yaml", "no operation is linked"),
            ),
            (
                "an approved operation added in the same change",
                base.clone(),
                edit(with_ledger(&[&grant, &approved])),
                &[],
                Want::Covered("OPS-2026-01-27-001"),
            ),
            (
                "a pending operation added in the same change",
                base.clone(),
                edit(with_ledger(&[&grant, &pending])),
                &[],
                Want::Uncovered("deploy/web.yaml", "no operation is linked"),
            ),
            (
                "an Ops-Id to an approved operation of the ledger",
                with_ledger(&[&grant, &approved]),
                edit(with_ledger(&[&grant, &approved])),
                &["OPS-2026-01-27-001"],
                Want::Covered("OPS-2026-01-27-001"),
            ),
            (
                "an Ops-Id to an operation not in the ledger",
                base.clone(),
                edit(base.clone()),
                &["OPS-2026-01-27-001"],
                Want::Uncovered(
                    "deploy/web.yaml",
                    "OPS-2026-01-27-001: no such record in this change's ledger (if it is in your working tree",
                ),
            ),
            (
                "an Ops-Id to an expired operation",
                with_ledger(&[&grant, &expired]),
                edit(with_ledger(&[&grant, &expired])),
                &["OPS-2026-01-27-001"],
                Want::Uncovered(
                    "deploy/web.yaml",
                    "OPS-2026-01-27-001: expired at 2026-01-27T09:30:00Z",
                ),
            ),
            (
                "an Ops-Id to a closed operation",
                with_ledger(&[&grant, &approved, &closed]),
                edit(with_ledger(&[&grant, &approved, &closed])),
                &["OPS-2026-01-27-001"],
                Want::Uncovered(
                    "deploy/web.yaml",
                    "OPS-2026-01-27-001: closed by outcome OUT-2026-01-27-001",
                ),
            ),
            (
                "a grant-approved operation, in scope",
                base.clone(),
                edit(with_ledger(&[&grant, &by_grant])),
                &[],
                Want::Covered("OPS-2026-01-27-001"),
            ),
            (
                "a grant-approved operation, the change outside its allowed paths",
                base.clone(),
                edit(with_ledger(&[&grant, &by_grant_db_only])),
                &[],
                Want::Uncovered(
                    "deploy/web.yaml",
                    "OPS-2026-01-27-001 does not allow deploy/web.yaml (allowed_paths: deploy/db.yaml)",
                ),
            ),
            (
                "an operation outside its grant's scope",
                base.clone().with(MONTH_FILE, ledger(&[&narrow_grant])),
                edit(with_ledger(&[&narrow_grant, &by_grant])),
                &["OPS-2026-01-27-001"],
                Want::Uncovered(
                    "deploy/web.yaml",
                    "does not count: grant GRANT-2026-01-27-001 does not include path deploy",
                ),
            ),
            (
                "a human-only path, approved through a grant",
                base.clone().with(MONTH_FILE, ledger(&[&wide_grant])),
                base.clone()
                    .with(MONTH_FILE, ledger(&[&wide_grant, &lock_by_grant]))
                    .with("ops/PRODUCTION_LOCK.md", "open\n"),
                &["OPS-2026-01-27-001"],
                Want::Uncovered("ops/PRODUCTION_LOCK.md", "it touches a human-only rule"),
            ),
            (
                "a human-only path, one human approval where the rule asks two",
                base.clone(),
                with_ledger(&[&grant, &lock_by_humans]).with("ops/PRODUCTION_LOCK.md", "open\n"),
                &["OPS-2026-01-27-001"],
                Want::Uncovered("ops/PRODUCTION_LOCK.md", "pending: 1 of 2 approvals"),
            ),
            (
                "a payload edited in the ledger",
                with_ledger(&[&grant, &approved]),
                with_ledger(&[&grant, &edited]),
                &[],
                Want::Error(
                    "payload-edited",
                    "OPS-2026-01-27-001: its payload was edited",
                ),
            ),
            (
                "a policy change covered, with its version increased",
                base.clone(),
                with_ledger(&[&grant, &policy_op]).with(POLICY_PATH, team.policy_text(2)),
                &[],
                Want::Covered("OPS-2026-01-27-001"),
            ),
            (
                "a policy change covered, with its version kept",
                base.clone(),
                with_ledger(&[&grant, &policy_op]).with(
                    POLICY_PATH,
                    team.policy_text_with(1, &["alice", "bob", "carol"]),
                ),
                &[],
                Want::Error("policy-version", "its version went from 1 to 1"),
            ),
            (
                "the policy deleted",
                base.clone(),
                with_ledger(&[&grant, &policy_op]).without(POLICY_PATH),
                &[],
                Want::Error("policy-removed", "ops/policy.yaml is deleted"),
            ),
        ];
        for (name, old, new, links, want) in rows {
            check_row(name, &judge_sides(&old, &new, links), want);
        }
    }

    /// Asserts that judgement `j` is what `want` says.
    #[track_caller]
    fn check_row(name: &str, j: &Judgement, want: Want) {
        match want {
            Want::Covered(op) => {
                assert!(j.report.ok(), "{name}: {:#?}", j.report);
                assert!(!j.governed.is_empty(), "{name}");
                for v in &j.governed {
                    assert_eq!(v.covered_by, Some(id(op)), "{name}: {:#?}", j.governed);
                }
            }
            Want::Uncovered(path, text) => {
                let f = j
                    .report
                    .findings
                    .iter()
                    .find(|f| f.code == "uncovered" && f.file.as_deref() == Some(path))
                    .unwrap_or_else(|| panic!("{name}: {path} covered: {:#?}", j.report));
                assert!(f.message.contains(text), "{name}: {}", f.message);
                let v = j
                    .governed
                    .iter()
                    .find(|v| v.path == path)
                    .expect("a verdict");
                assert_eq!(v.covered_by, None, "{name}");
            }
            Want::Error(code, text) => {
                let f = j
                    .report
                    .findings
                    .iter()
                    .find(|f| f.code == code)
                    .unwrap_or_else(|| panic!("{name}: no {code}: {:#?}", j.report));
                assert!(f.message.contains(text), "{name}: {}", f.message);
            }
        }
    }

    #[test]
    fn every_spelling_of_a_governed_path_is_judged_by_its_strictest_rule() {
        let team = Team::new();
        let base = MemorySide::new()
            .with(POLICY_PATH, team.policy_text(1))
            .with("deploy/web.yaml", "replicas: 1\n")
            .with("ops/PRODUCTION_LOCK.md", "locked\n");
        let op = |paths: &'static str, risk: &'static str| {
            team.approved(
                &OpSpec::new("OPS-2026-01-27-001", risk, paths),
                "alice",
                &["bob"],
            )
        };
        let deploy = op("\"deploy/\"", "SERVICE_RESTART");
        let upper_literal = op("\"Deploy/web.yaml\"", "SERVICE_RESTART");
        let lower_lock = op("\"ops/production_lock.md\"", "SERVICE_RESTART");
        let zwj_dir = op("\"deploy/pro\u{200D}d/db.yaml\"", "SERVICE_RESTART");
        let with = |r: &Record, path: &str| {
            base.clone()
                .with(MONTH_FILE, ledger(&[r]))
                .with(path, "x: 1\n")
        };
        let rows: Vec<(&str, MemorySide, Want)> = vec![
            (
                "another case of a governed directory, nothing linked",
                base.clone().with("Deploy/web.yaml", "x: 1\n"),
                Want::Uncovered("Deploy/web.yaml", "is governed (deploy/**"),
            ),
            (
                "an upper-case directory is not allowed by an operation naming deploy/",
                with(&deploy, "DEPLOY/new.yaml"),
                Want::Uncovered(
                    "DEPLOY/new.yaml",
                    "OPS-2026-01-27-001 does not allow DEPLOY/new.yaml",
                ),
            ),
            (
                "a lower-case twin of a human-only file takes the human-only rule",
                with(&lower_lock, "ops/production_lock.md"),
                Want::Uncovered(
                    "ops/production_lock.md",
                    "(ops/**, ops/PRODUCTION_LOCK.md; min risk FILESYSTEM_WRITE)",
                ),
            ),
            (
                "a zero-width joiner in a directory name does not dodge its rule",
                with(&zwj_dir, "deploy/pro\u{200D}d/db.yaml"),
                Want::Uncovered("deploy/pro\u{200D}d/db.yaml", "deploy/prod/**"),
            ),
            (
                "two governed paths equal under folding are refused, even when covered",
                with(&upper_literal, "Deploy/web.yaml"),
                Want::Error(
                    "path-collision",
                    "Deploy/web.yaml is governed and equal, ignoring case and invisible characters, to deploy/web.yaml",
                ),
            ),
            (
                "a new path in its own spelling is covered as before",
                with(&deploy, "deploy/new.yaml"),
                Want::Covered("OPS-2026-01-27-001"),
            ),
        ];
        for (name, new, want) in rows {
            check_row(name, &judge_sides(&base, &new, &[]), want);
        }
    }

    #[test]
    fn authority_over_halts_and_closing() {
        let team = Team::new();
        let deploy = OpSpec::new("OPS-2026-01-27-001", "SERVICE_RESTART", "\"deploy/\"");
        let by_alice = team.approved(&deploy, "alice", &["bob"]);
        let by_bot = team.approved(&deploy, "bot", &["alice"]);
        let mut halt = yaml::parse_record(
            "record: halt\nhalt_id: HALT-2026-01-27-001\ncreated_at: 2026-01-27T09:10:00Z\n",
            1,
        )
        .expect("the test halt parses");
        team.sign(
            &mut halt,
            "alice",
            Role::Requester,
            "2026-01-27T09:10:00Z",
            None,
        );
        let mut bot_out = outcome(&team, "OPS-2026-01-27-001");
        bot_out.signoffs_mut().clear();
        team.sign(
            &mut bot_out,
            "bot",
            Role::Requester,
            "2026-01-27T09:30:00Z",
            None,
        );
        let base = MemorySide::new()
            .with(POLICY_PATH, team.policy_text(1))
            .with("deploy/web.yaml", "replicas: 1\n");
        let side = |records: &[&Record]| base.clone().with(MONTH_FILE, ledger(records));
        let edit = |s: MemorySide| s.with("deploy/web.yaml", "replicas: 2\n");
        let link = &["OPS-2026-01-27-001"][..];
        let rows: Vec<(&str, MemorySide, MemorySide, &[&str], Want)> = vec![
            (
                "automation's operation, approved by a human, during a halt",
                side(&[&by_bot, &halt]),
                edit(side(&[&by_bot, &halt])),
                link,
                Want::Uncovered(
                    "deploy/web.yaml",
                    "OPS-2026-01-27-001: automation is halted (HALT-2026-01-27-001)",
                ),
            ),
            (
                "automation's operation, approved by a human, no halt",
                side(&[&by_bot]),
                edit(side(&[&by_bot])),
                link,
                Want::Covered("OPS-2026-01-27-001"),
            ),
            (
                "a human's operation during a halt",
                side(&[&by_alice, &halt]),
                edit(side(&[&by_alice, &halt])),
                link,
                Want::Covered("OPS-2026-01-27-001"),
            ),
            (
                "automation closing a human's operation is refused",
                side(&[&by_alice]),
                side(&[&by_alice, &bot_out]),
                &[],
                Want::Error(
                    "not-allowed",
                    "OUT-2026-01-27-001: bot may not close OPS-2026-01-27-001",
                ),
            ),
            (
                "and its outcome closes nothing",
                side(&[&by_alice, &bot_out]),
                edit(side(&[&by_alice, &bot_out])),
                link,
                Want::Covered("OPS-2026-01-27-001"),
            ),
        ];
        for (name, old, new, links, want) in rows {
            check_row(name, &judge_sides(&old, &new, links), want);
        }
    }

    #[test]
    fn an_operation_dated_far_ahead_is_closed_by_an_outcome_in_any_month() {
        let team = Team::new();
        let far = team.approved(
            &OpSpec::new("OPS-2099-01-27-001", "SERVICE_RESTART", "\"deploy/\""),
            "alice",
            &["bob"],
        );
        let closed = outcome(&team, "OPS-2099-01-27-001");
        let side = MemorySide::new()
            .with(POLICY_PATH, team.policy_text(1))
            .with("deploy/web.yaml", "replicas: 1\n")
            .with("ops/ledger/2099-01.yaml", ledger(&[&far]))
            .with(MONTH_FILE, ledger(&[&closed]));
        let j = judge_sides(
            &side,
            &side.clone().with("deploy/web.yaml", "replicas: 2\n"),
            &["OPS-2099-01-27-001"],
        );
        check_row(
            "closed from an earlier month",
            &j,
            Want::Uncovered(
                "deploy/web.yaml",
                "OPS-2099-01-27-001: closed by outcome OUT-2026-01-27-001",
            ),
        );
        // And a new record with such an id is refused outright.
        let base = side.clone().without("ops/ledger/2099-01.yaml");
        let j = judge_sides(&base, &side, &[]);
        check_row(
            "a new record dated 2099",
            &j,
            Want::Error("id-date", "OPS-2099-01-27-001: its id is dated 2099-01-27"),
        );
    }

    #[test]
    fn a_signoff_verifies_only_in_the_repository_it_names() {
        use crate::crypto::signoff_in;
        use crate::verify::grants::GrantIndex;
        use crate::verify::ledger::check_with_history;
        use crate::verify::records::State;

        let team = Team::new();
        let spec = OpSpec::new("OPS-2026-01-27-001", "SERVICE_RESTART", "\"deploy/\"");
        let prod = "0123456789abcdef0123456789abcdef";
        let staging = "fedcba9876543210fedcba9876543210";
        let with_id = |version: u64, id: Option<&str>| {
            let mut text = team.policy_text(version);
            if let Some(id) = id {
                text = text.replacen("signers:", &format!("repository_id: {id}\nsigners:"), 1);
            }
            yaml::parse_policy(&text).expect("the policy parses")
        };
        let signed_in = |repo: Option<&str>| {
            let mut r = spec.record();
            for (name, key, role) in [
                ("alice", &team.alice, Role::Requester),
                ("bob", &team.bob, Role::Approver),
            ] {
                let by = name.parse().expect("a name");
                let s =
                    signoff_in(repo, &r, key, &by, role, ts(spec.created), None).expect("signing");
                r.signoffs_mut().push(s);
            }
            r
        };
        // (case, signed for, the policy's id, earlier policy's id, verifies, under version)
        type Row<'a> = (
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
            Option<Option<&'a str>>,
            bool,
            Option<u64>,
        );
        let rows: Vec<Row> = vec![
            (
                "signed for prod, verified in prod",
                Some(prod),
                Some(prod),
                None,
                true,
                None,
            ),
            (
                "replayed from staging into prod",
                Some(staging),
                Some(prod),
                None,
                false,
                None,
            ),
            ("no id anywhere: as before", None, None, None, true, None),
            (
                "signed with an id, the policy has none",
                Some(prod),
                None,
                None,
                false,
                None,
            ),
            (
                "signed before the id was set: verifies under the earlier policy",
                None,
                Some(prod),
                Some(None),
                true,
                Some(1),
            ),
            (
                "from staging, with an earlier prod policy without an id",
                Some(staging),
                Some(prod),
                Some(None),
                false,
                None,
            ),
        ];
        for (name, signed_for, id, earlier, verifies, under) in rows {
            let policy = with_id(2, id);
            let earlier: Vec<Policy> = earlier.map(|e| with_id(1, e)).into_iter().collect();
            let r = signed_in(signed_for);
            let (check, version) =
                check_with_history(&policy, &earlier, &r, &GrantIndex::default());
            assert_eq!(
                check.state() == State::Approved,
                verifies,
                "{name}: {:?}",
                check.problems
            );
            if !verifies {
                assert!(
                    check.problems.iter().any(|p| p.code() == "bad-signature"),
                    "{name}: {:?}",
                    check.problems
                );
            }
            assert_eq!(version, under, "{name}");
        }
    }

    #[test]
    fn symlinks_and_submodules_are_refused_above_governed_paths() {
        let team = Team::new();
        let text = team.policy_text(1).replace(
            "rules:\n",
            "rules:\n  - { paths: [\"infra/prod/**\"], min_risk: SERVICE_RESTART }\n",
        );
        let policy = yaml::parse_policy(&text).expect("the policy parses");
        let oid = gix::ObjectId::null(gix::hash::Kind::Sha1);
        // (path, kind, refused as a symlink)
        let rows = [
            ("infra", EntryKind::Symlink, true),
            ("infra/prod", EntryKind::Symlink, true),
            ("Infra", EntryKind::Submodule, true),
            ("in\u{200B}fra/prod", EntryKind::Submodule, true),
            ("ops", EntryKind::Symlink, true),
            ("deploy", EntryKind::Symlink, true),
            ("infra", EntryKind::File, false),
            ("infra/dev", EntryKind::Symlink, false),
            ("tools/bin", EntryKind::Symlink, false),
        ];
        for (path, kind, refused) in rows {
            let c = Change {
                path: path.to_string(),
                kind: ChangeKind::Added,
                old: None,
                new: Some((oid, kind)),
            };
            let mut report = Report::default();
            check_path(&policy, &c, &mut report);
            let found = report.findings.iter().any(|f| f.code == "symlink");
            assert_eq!(found, refused, "{path} {kind:?}: {:#?}", report);
        }
    }

    #[test]
    fn a_new_policy_on_an_ungoverned_side_is_a_trust_root() {
        let team = Team::new();
        let old = MemorySide::new().with("README", "hi\n");
        let j = judge_sides(
            &old,
            &old.clone().with(POLICY_PATH, team.policy_text(1)),
            &[],
        );
        assert!(j.bootstrap && j.report.ok(), "{:#?}", j.report);
        let j = judge_sides(&old, &old.clone().with(POLICY_PATH, "version: [\n"), &[]);
        assert!(
            !j.bootstrap,
            "a policy that does not parse is no trust root"
        );
        assert_eq!(j.report.findings[0].code, "policy-invalid");
    }

    #[test]
    fn an_unusable_link_is_warned_about_and_a_usable_one_is_not() {
        let team = Team::new();
        let deploy = OpSpec::new("OPS-2026-01-27-001", "SERVICE_RESTART", "\"deploy/\"");
        let pending = team.approved(&deploy, "alice", &[]);
        let side = MemorySide::new()
            .with(POLICY_PATH, team.policy_text(1))
            .with(MONTH_FILE, ledger(&[&pending]));
        let j = judge_sides(
            &side,
            &side.clone().with("deploy/web.yaml", "x\n"),
            &["OPS-2026-01-27-001"],
        );
        let w: Vec<_> = j
            .report
            .findings
            .iter()
            .filter(|f| f.code == "link-unusable")
            .collect();
        assert_eq!(w.len(), 1, "{:#?}", j.report);
        assert_eq!(w[0].severity, Severity::Warning);
        assert_eq!(
            w[0].message,
            "Ops-Id OPS-2026-01-27-001 cannot cover this change: pending: 0 of 1 approvals (run `git ops sign OPS-2026-01-27-001`)"
        );
        let approved = team.approved(&deploy, "alice", &["bob"]);
        let side = side.with(MONTH_FILE, ledger(&[&approved]));
        let j = judge_sides(
            &side,
            &side.clone().with("deploy/web.yaml", "x\n"),
            &["OPS-2026-01-27-001"],
        );
        assert!(j.report.findings.is_empty(), "{:#?}", j.report);
    }
}
