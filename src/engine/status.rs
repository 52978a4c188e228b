//! The posture of a repository: `OK` or `HALTED`, the grants live now, the operations waiting
//! for approval, and those approved but not usable now (their grant is halted or revoked).

use serde::Serialize;

use super::error::Result;
use super::workspace::{Clock, Workspace};
use crate::model::{Record, RecordId, SignerName, Timestamp};
use crate::verify::records::State;

#[derive(Debug, Serialize)]
pub struct LastHalt {
    pub id: RecordId,
    pub at: Timestamp,
    pub reason: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ActiveGrant {
    pub id: RecordId,
    pub grantee: SignerName,
    pub expires_at: Timestamp,
    pub seconds_left: i64,
    pub break_glass: bool,
}

#[derive(Debug, Serialize)]
pub struct Waiting {
    pub id: RecordId,
    pub approvals: u32,
    pub required: u32,
}

#[derive(Debug, Serialize)]
pub struct Suspended {
    pub id: RecordId,
    /// Why its approval does not count now.
    pub why: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Status {
    pub posture: &'static str,
    pub halted_by: Option<RecordId>,
    pub last_halt: Option<LastHalt>,
    pub active_grants: Vec<ActiveGrant>,
    pub waiting_for_approval: Vec<Waiting>,
    pub suspended: Vec<Suspended>,
}

impl Workspace {
    /// The posture. A record's state is its state as history (the approval that was made), as
    /// `list`, `show` and `verify` show it; an approved operation whose approval does not count at
    /// the verifier's clock (a halted or revoked grant) is listed as suspended.
    pub fn status(&self) -> Result<Status> {
        let idx = self.grants();
        let now = self.now();
        let halted_by = idx.halted_now().map(|(id, _)| id);
        let last_halt =
            idx.halts
                .iter()
                .rev()
                .find(|(_, h, _, _)| *h)
                .map(|(at, _, id, reason)| LastHalt {
                    id: *id,
                    at: *at,
                    reason: reason.clone(),
                });
        let active_grants = idx
            .grants
            .iter()
            .filter(|(id, _)| idx.live_at(self.policy(), id, now, true).is_ok())
            .map(|(id, info)| ActiveGrant {
                id: *id,
                grantee: info.grant.grantee.clone(),
                expires_at: info.grant.expires_at,
                seconds_left: (info.grant.expires_at.unix() - now.unix()).max(0),
                break_glass: info.grant.break_glass,
            })
            .collect();
        let mut waiting = Vec::new();
        let mut suspended = Vec::new();
        for r in self.ledger().records() {
            let history = self.judge(r.value, Clock::History)?;
            match history.state() {
                State::Pending => waiting.push(Waiting {
                    id: *r.value.id(),
                    approvals: history.approvals(),
                    required: history.required(),
                }),
                State::Approved if matches!(r.value, Record::Operation(_)) => {
                    let now = self.judge(r.value, Clock::Now)?;
                    if now.state() != State::Approved {
                        suspended.push(Suspended {
                            id: *r.value.id(),
                            why: why_not_now(&now),
                        });
                    }
                }
                _ => {}
            }
        }
        Ok(Status {
            posture: if halted_by.is_some() { "HALTED" } else { "OK" },
            halted_by,
            last_halt,
            active_grants,
            waiting_for_approval: waiting,
            suspended,
        })
    }
}

/// A grant as `grant list` shows it.
#[derive(Debug, Serialize)]
pub struct GrantRow {
    pub id: RecordId,
    pub grantee: SignerName,
    pub state: State,
    pub live: bool,
    pub not_live_because: Option<String>,
    pub not_before: Option<Timestamp>,
    pub expires_at: Timestamp,
    pub seconds_left: i64,
    pub break_glass: bool,
    pub scope: crate::model::record::GrantScope,
    pub signers: std::collections::BTreeSet<SignerName>,
    pub reason: Option<String>,
}

impl Workspace {
    /// Every grant (or only those live now), with why it is not live.
    pub fn grant_rows(&self, active_only: bool) -> Vec<GrantRow> {
        let idx = self.grants();
        let now = self.now();
        let mut rows = Vec::new();
        for (id, info) in &idx.grants {
            let why = idx.live_at(self.policy(), id, now, true).err();
            if active_only && why.is_some() {
                continue;
            }
            let g = &info.grant;
            rows.push(GrantRow {
                id: *id,
                grantee: g.grantee.clone(),
                state: info.state,
                live: why.is_none(),
                not_live_because: why,
                not_before: g.not_before,
                expires_at: g.expires_at,
                seconds_left: (g.expires_at.unix() - now.unix()).max(0),
                break_glass: g.break_glass,
                scope: g.scope.clone(),
                signers: info.signers.clone(),
                reason: g.reason.clone(),
            });
        }
        rows
    }
}

/// An operation judged at both clocks: the approval that was made, and whether it counts now.
#[derive(Debug)]
pub struct Standing {
    pub history: super::Judged,
    pub now: super::Judged,
    /// Whether it could cover a change now, and why not: the same decision the hooks make
    /// (approved now, inside its window, not closed).
    pub live: std::result::Result<(), crate::verify::candidate::Unusable>,
}

/// Why a record judged now falls short: the signoffs that do not count (a halted or revoked
/// grant), then what makes it invalid now (a signoff whose key was rotated out of the policy in
/// force, which only the earlier policy versions accept as history).
pub fn why_not_now(now: &super::Judged) -> Vec<String> {
    let check = &now.check;
    check
        .notes
        .iter()
        .cloned()
        .chain(check.problems.iter().map(|p| p.to_string()))
        .collect()
}

impl Standing {
    /// Why the approval made does not count now (empty when it does).
    pub fn why_not_now(&self) -> Vec<String> {
        why_not_now(&self.now)
    }
}

impl Workspace {
    /// Both judgements of operation `id`.
    pub fn standing(&self, id: &RecordId) -> Result<Standing> {
        let record = self.find(id)?.value;
        if record.as_operation().is_none() {
            return Err(super::Error::usage(format!("{id} is not an operation")));
        }
        let now = self.judge(record, Clock::Now)?;
        let live = crate::verify::candidate::usable_now(
            self.policy(),
            record,
            &now.check,
            self.closing_outcome(id),
            self.grants().halted_now().map(|(h, _)| h),
            self.now(),
        )
        .map(|_| ());
        Ok(Standing {
            history: self.judge(record, Clock::History)?,
            now,
            live,
        })
    }

    /// `git ops use <id>`: makes `id` the operation whose trailer the next commits get.
    pub fn use_operation(&self, id: &RecordId) -> Result<Standing> {
        let standing = self.standing(id)?;
        crate::store::active::write(self.repo(), id)?;
        Ok(standing)
    }
}
