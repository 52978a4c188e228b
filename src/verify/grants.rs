//! Preauth grants: when a signoff made under a grant counts as approval (DESIGN §3, seed 003).
//!
//! A grant is live at time `t` when it is approved, `not_before <= t < expires_at`, its duration
//! is within the policy's limits, no revocation names it or its grantee, and no halt is in force.
//! A new signoff is judged at the verifier's clock *and* at the time it claims, so back-dating
//! cannot reach into a window that has closed or before a revocation.

use std::collections::{BTreeMap, BTreeSet};

use super::records::{State, check_record};
use crate::model::policy::Policy;
use crate::model::record::{Grant, Operation, Record, Role, Signoff};
use crate::model::{RecordId, SignerName, Timestamp};

/// At which time grant signoffs are judged.
#[derive(Clone, Copy, Debug)]
pub enum GrantClock {
    /// A new signoff: the grant must be live now (the verifier's clock) and at the claimed time.
    Now(Timestamp),
    /// History already accepted: the time the signoff claims.
    Claimed,
}

#[derive(Debug, Clone)]
pub struct GrantInfo {
    pub grant: Grant,
    pub state: State,
    /// The grant's distinct human signers (issuer and approvers).
    pub signers: BTreeSet<SignerName>,
}

#[derive(Debug, Clone, Default)]
pub struct GrantIndex {
    pub grants: BTreeMap<RecordId, GrantInfo>,
    /// (what is revoked: a grant id or a signer name, when, by which record)
    pub revocations: Vec<(String, Timestamp, RecordId)>,
    /// (when, true for a halt and false for a resume, record, reason), in ledger order.
    pub halts: Vec<(Timestamp, bool, RecordId, Option<String>)>,
    /// The halt each resume names (`resumes:`), by resume id; a resume not here lifts every halt
    /// before it in ledger order.
    pub resumes: BTreeMap<RecordId, RecordId>,
}

/// The time a record claims to take effect: its (first) requester signoff's, valid or not.
fn requester_time(r: &Record) -> Option<Timestamp> {
    r.signoffs()
        .iter()
        .find(|s| s.role == Role::Requester)
        .map(|s| s.at)
}

/// The time a record took effect: its valid requester signoff's.
fn effective_at(policy: &Policy, r: &Record) -> Option<(Timestamp, SignerName)> {
    let check = check_record(policy, r);
    if check.state() != State::Approved {
        return None;
    }
    let req = check.requester?;
    r.signoffs()
        .iter()
        .find(|s| s.role == Role::Requester && s.by == req)
        .map(|s| (s.at, req))
}

impl GrantIndex {
    /// Indexes the grants, revocations, halts and resumes among `records`. Only records that
    /// verify and were made by the right kind of signer count.
    pub fn build<'a>(policy: &Policy, records: impl IntoIterator<Item = &'a Record>) -> GrantIndex {
        let mut idx = GrantIndex::default();
        for r in records {
            match r {
                Record::Grant(g) => {
                    let check = check_record(policy, r);
                    let mut signers: BTreeSet<SignerName> = check.approvers.clone();
                    signers.extend(check.requester.clone());
                    idx.grants.insert(
                        g.grant_id,
                        GrantInfo {
                            grant: g.clone(),
                            state: check.state(),
                            signers,
                        },
                    );
                }
                // Stopping is fail-safe: a revocation or a halt binds once it is in the ledger,
                // even when its signature no longer verifies under today's policy (a rotated or
                // removed key must not lift it). Each was checked when it entered the ledger.
                Record::Revocation(v) => {
                    if let Some(at) = requester_time(r) {
                        idx.revocations
                            .push((v.revokes.clone(), at, v.revocation_id));
                    }
                }
                Record::Halt(h) => {
                    if let Some(at) = requester_time(r) {
                        idx.halts.push((at, true, h.halt_id, h.reason.clone()));
                    }
                }
                Record::Resume(h) => {
                    if let Some((at, _)) = effective_at(policy, r) {
                        idx.halts.push((at, false, h.resume_id, h.reason.clone()));
                        if let Some(halt) = h.resumes {
                            idx.resumes.insert(h.resume_id, halt);
                        }
                    }
                }
                _ => {}
            }
        }
        // Halts and resumes apply in ledger order, never by the times they claim: a resume
        // dated a little ahead (inside the allowed clock skew) must not sort after a later halt
        // and lift it.
        idx
    }

    /// The halts in force after applying, in ledger order, the halts and resumes that `count`
    /// accepts: a resume lifts the halt it names, or, naming none, every halt before it.
    fn in_force(&self, count: impl Fn(Timestamp) -> bool) -> Option<(RecordId, Option<String>)> {
        let mut active: Vec<(RecordId, Option<String>)> = Vec::new();
        for (at, halt, id, reason) in &self.halts {
            if !count(*at) {
                continue;
            }
            if *halt {
                active.push((*id, reason.clone()));
            } else {
                match self.resumes.get(id) {
                    Some(named) => active.retain(|(h, _)| h != named),
                    None => active.clear(),
                }
            }
        }
        active.pop()
    }

    /// The halt in force with every halt and resume of the ledger applied, whatever times they
    /// claim: what a verifier judging a new change sees. With several, the latest in the ledger.
    pub fn halted_now(&self) -> Option<(RecordId, Option<String>)> {
        self.in_force(|_| true)
    }

    /// The halt in force at `t` (history): the halts and resumes claiming a time up to `t`,
    /// applied in ledger order.
    pub fn halted_at(&self, t: Timestamp) -> Option<(RecordId, Option<String>)> {
        self.in_force(|at| at <= t)
    }

    /// Whether grant `id` is live at `t` (see the module docs), with the reason when it is not.
    /// With `every_record`, every revocation and halt in the ledger counts whatever time it claims
    /// (judging a new change: they are in force from the moment the verifier sees them); without
    /// it, only those claiming a time up to `t` (history).
    pub fn live_at(
        &self,
        policy: &Policy,
        id: &RecordId,
        t: Timestamp,
        every_record: bool,
    ) -> Result<&GrantInfo, String> {
        let info = self
            .grants
            .get(id)
            .ok_or_else(|| format!("no grant {id} in the ledger"))?;
        let g = &info.grant;
        if info.state != State::Approved {
            return Err(format!("grant {id} is not approved"));
        }
        limits(policy, g)?;
        let start = g.not_before.or(g.created_at);
        if let Some(nb) = g.not_before
            && t < nb
        {
            return Err(format!("grant {id} is not valid before {nb}"));
        }
        if let Some(s) = start
            && t < s
        {
            return Err(format!("grant {id} did not exist yet at {t}"));
        }
        if t >= g.expires_at {
            return Err(format!("grant {id} expired at {}", g.expires_at));
        }
        for (what, at, rev) in &self.revocations {
            if (every_record || *at <= t) && (what == &id.to_string() || what == g.grantee.as_str())
            {
                return Err(format!("grant {id} was revoked by {rev} at {at}"));
            }
        }
        let halt = if every_record {
            self.halted_now()
        } else {
            self.halted_at(t)
        };
        if let Some((h, _)) = halt {
            return Err(format!(
                "automation is halted ({h}), so grant {id} is suspended"
            ));
        }
        Ok(info)
    }
}

/// The policy's limits on a grant's length, checked when it is made and whenever it is used.
pub fn limits(policy: &Policy, g: &Grant) -> Result<(), String> {
    let Some(start) = g.not_before.or(g.created_at) else {
        return Err(format!(
            "grant {} has neither created_at nor not_before",
            g.grant_id
        ));
    };
    let hours = (g.expires_at.unix() - start.unix()) as f64 / 3600.0;
    let (max, what) = if g.break_glass {
        (policy.grants.break_glass_max_hours, "break_glass_max_hours")
    } else {
        (policy.grants.max_hours, "max_hours")
    };
    if hours > f64::from(max) {
        return Err(format!(
            "grant {} lasts {hours:.1} hours, over the policy's grants.{what} of {max}",
            g.grant_id
        ));
    }
    Ok(())
}

/// Whether the grant's scope covers the operation: every path, service, environment and the
/// risk class.
pub fn scope_covers(g: &Grant, op: &Operation) -> Result<(), String> {
    let id = g.grant_id;
    if !g.scope.risk_classes.contains(&op.risk_class) {
        return Err(format!(
            "grant {id} does not include risk class {}",
            op.risk_class
        ));
    }
    let globs: Vec<_> = g
        .scope
        .paths
        .iter()
        .filter_map(|p| super::coverage::allowed_glob(p))
        .collect();
    for p in &op.allowed_paths {
        let p = p
            .trim()
            .trim_start_matches("./")
            .trim_start_matches('/')
            .trim_end_matches('/');
        // A pattern is not a path: whether one glob lies inside another cannot be judged by
        // matching it as text, so under a grant an operation names its paths literally.
        if p.contains(['*', '?', '[']) {
            return Err(format!(
                "grant {id} cannot cover the pattern {p}: under a grant, allowed_paths must be literal paths or directories"
            ));
        }
        if !globs.iter().any(|gl| gl.matches(p)) {
            return Err(format!("grant {id} does not include path {p}"));
        }
    }
    for s in &op.allowed_services {
        if !g.scope.services.iter().any(|x| x == s || x == "*") {
            return Err(format!("grant {id} does not include service {s}"));
        }
    }
    match &op.environment {
        Some(e) if g.scope.environments.iter().any(|x| x == e || x == "*") => {}
        Some(e) => return Err(format!("grant {id} does not include environment {e}")),
        None if g.scope.environments.is_empty() => {}
        None => {
            return Err(format!(
                "grant {id} is limited to environments {}, and the operation names none",
                g.scope.environments.join(", ")
            ));
        }
    }
    Ok(())
}

/// The human signers whose approval a grant signoff carries, or why it carries none.
pub fn grant_signoff_approvers<'a>(
    policy: &Policy,
    idx: &'a GrantIndex,
    record: &Record,
    s: &Signoff,
    clock: GrantClock,
) -> Result<&'a BTreeSet<SignerName>, String> {
    let Some(gid) = &s.grant else {
        return Err("not a grant signoff".into());
    };
    let Record::Operation(op) = record else {
        return Err(format!(
            "grants cover operations only, and {} is not one",
            record.id()
        ));
    };
    if s.role != Role::Approver {
        return Err("a grant signoff must have the approver role".into());
    }
    let info = idx
        .grants
        .get(gid)
        .ok_or_else(|| format!("no grant {gid} in the ledger"))?;
    if info.grant.grantee != s.by {
        return Err(format!(
            "grant {gid} is for {}, not {}",
            info.grant.grantee, s.by
        ));
    }
    match clock {
        GrantClock::Now(now) => {
            if s.at.unix() > now.unix() + super::coverage::MAX_CLOCK_SKEW_SECS {
                return Err(format!("the signoff is dated {}, in the future", s.at));
            }
            idx.live_at(policy, gid, now, true)?;
            idx.live_at(policy, gid, s.at, true)?;
        }
        GrantClock::Claimed => {
            idx.live_at(policy, gid, s.at, false)?;
        }
    }
    scope_covers(&info.grant, op)?;
    Ok(&info.signers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::yaml::parse_record;

    fn grant(paths: &str) -> Grant {
        let text = format!(
            "record: grant\ngrant_id: GRANT-2026-01-27-001\ngrantee: bot\ncreated_at: 2026-01-27T00:00:00Z\n\
             expires_at: 2026-01-27T02:00:00Z\nscope: {{ risk_classes: [SERVICE_RESTART], paths: [{paths}], services: [web], environments: [prod] }}\n"
        );
        match parse_record(&text, 1).expect("a grant") {
            Record::Grant(g) => g,
            _ => unreachable!(),
        }
    }

    fn op(paths: &str) -> Operation {
        let text = format!(
            "operation_id: OPS-2026-01-27-001\noperation_name: n\nobjective: o\nrisk_class: SERVICE_RESTART\n\
             blast_radius: b\nrollback_strategy: r\nallowed_paths: [{paths}]\nallowed_services: [web]\nenvironment: prod\n"
        );
        match parse_record(&text, 1).expect("an operation") {
            Record::Operation(o) => o,
            _ => unreachable!(),
        }
    }

    #[test]
    fn scope_is_judged_on_literal_paths_only() {
        assert!(scope_covers(&grant("\"deploy/\""), &op("deploy/web.yaml")).is_ok());
        assert!(scope_covers(&grant("\"deploy/\""), &op("deployment/web.yaml")).is_err());
        // A pattern in the operation would be matched as text against the grant's pattern.
        let err = scope_covers(&grant("\"deploy/[!p]*\""), &op("\"deploy/*\"")).unwrap_err();
        assert!(err.contains("literal"), "{err}");
        assert!(scope_covers(&grant("\"*/x\""), &op("\"**/x\"")).is_err());
    }
}

#[cfg(test)]
mod binding {
    use super::*;
    use crate::crypto::{Keypair, signoff};
    use crate::model::record::Halt;
    use crate::model::{Kind, Role, yaml};

    #[test]
    fn a_halt_binds_even_when_its_signer_left_the_policy() {
        let kept = Keypair::generate("kept").unwrap();
        let gone = Keypair::generate("gone").unwrap();
        let policy = yaml::parse_policy(&format!(
            "version: 2\nsigners:\n  kept: {{ key: \"{}\", roles: [human, approver] }}\n\
             risk_classes:\n  READ_ONLY: {{ approvals: 0 }}\n  LOW_RISK_CONFIG: {{ approvals: 0 }}\n\
             \x20 SERVICE_RESTART: {{ approvals: 1 }}\n  FILESYSTEM_WRITE: {{ approvals: 1 }}\n",
            kept.public().without_comment()
        ))
        .unwrap();
        let at: Timestamp = "2026-01-27T10:00:00Z".parse().unwrap();
        let mut halt = Record::Halt(Halt {
            record: Kind::Halt,
            halt_id: "HALT-2026-01-27-001".parse().unwrap(),
            created_at: Some(at),
            reason: Some("incident".into()),
            signoffs: Vec::new(),
        });
        let by = "gone".parse().unwrap();
        let s = signoff(&halt, &gone, &by, Role::Requester, at, None).unwrap();
        halt.signoffs_mut().push(s);
        let idx = GrantIndex::build(&policy, [&halt]);
        assert!(
            idx.halted_now().is_some(),
            "a rotated-away signer's halt was lifted"
        );
    }
}

#[cfg(test)]
mod halt_order {
    use super::*;
    use crate::model::Role;
    use crate::model::yaml::parse_record;
    use crate::verify::coverage::fixtures::{Team, id, ts};

    /// A halt or resume (`resumes` names the halt it lifts) signed by alice at `at`.
    fn event(team: &Team, text: &str, at: &str) -> Record {
        let mut r = parse_record(text, 1).expect("the test record parses");
        team.sign(&mut r, "alice", Role::Requester, at, None);
        r
    }

    #[test]
    fn halts_and_resumes_apply_in_ledger_order_and_a_resume_lifts_the_halt_it_names() {
        let team = Team::new();
        let policy = team.policy();
        let h1 = event(
            &team,
            "record: halt\nhalt_id: HALT-2026-01-27-001\n",
            "2026-01-27T10:00:00Z",
        );
        let h2 = event(
            &team,
            "record: halt\nhalt_id: HALT-2026-01-27-002\n",
            "2026-01-27T10:01:00Z",
        );
        // Dated inside the skew ahead of the second halt, written before it.
        let r1_named = event(
            &team,
            "record: resume\nresume_id: RESUME-2026-01-27-001\nresumes: HALT-2026-01-27-001\n",
            "2026-01-27T10:04:00Z",
        );
        let r1_unnamed = event(
            &team,
            "record: resume\nresume_id: RESUME-2026-01-27-001\n",
            "2026-01-27T10:04:00Z",
        );
        let r2_named = event(
            &team,
            "record: resume\nresume_id: RESUME-2026-01-27-002\nresumes: HALT-2026-01-27-002\n",
            "2026-01-27T10:05:00Z",
        );
        // (case, ledger, halted now, halted at 10:10)
        type Row<'a> = (&'a str, Vec<&'a Record>, Option<&'a str>, Option<&'a str>);
        let rows: Vec<Row> = vec![
            (
                "a resume dated ahead does not lift a later halt",
                vec![&h1, &r1_named, &h2],
                Some("HALT-2026-01-27-002"),
                Some("HALT-2026-01-27-002"),
            ),
            (
                "nor does an old resume naming no halt",
                vec![&h1, &r1_unnamed, &h2],
                Some("HALT-2026-01-27-002"),
                Some("HALT-2026-01-27-002"),
            ),
            (
                "a resume naming the second halt leaves the first in force",
                vec![&h1, &h2, &r2_named],
                Some("HALT-2026-01-27-001"),
                Some("HALT-2026-01-27-001"),
            ),
            (
                "a resume naming no halt lifts every halt before it",
                vec![&h1, &h2, &r1_unnamed],
                None,
                None,
            ),
            (
                "each halt lifted by its own resume",
                vec![&h1, &r1_named, &h2, &r2_named],
                None,
                None,
            ),
        ];
        for (name, ledger, now, at) in rows {
            let idx = GrantIndex::build(&policy, ledger.iter().copied());
            assert_eq!(idx.halted_now().map(|(h, _)| h), now.map(id), "{name}: now");
            assert_eq!(
                idx.halted_at(ts("2026-01-27T10:10:00Z")).map(|(h, _)| h),
                at.map(id),
                "{name}: at 10:10"
            );
        }
        // History still follows the claimed times: before the first halt, nothing was halted.
        let idx = GrantIndex::build(&policy, [&h1, &r1_named, &h2]);
        assert_eq!(idx.halted_at(ts("2026-01-27T09:59:59Z")), None);
        assert_eq!(
            idx.halted_at(ts("2026-01-27T10:00:30Z")).map(|(h, _)| h),
            Some(id("HALT-2026-01-27-001"))
        );
    }
}
