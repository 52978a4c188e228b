//! The operations that write the ledger: declare, sign, tag, grant, revoke, halt, resume, and the
//! append transaction they share (lock, fresh id, sign as requester, append). Who may sign as what
//! and when a record is tagged are decided here, once.

use super::error::{Error, Result};
use super::workspace::{Clock, Judged, Signer, Workspace, judge};
use crate::crypto;
use crate::model::record::{Grant, GrantScope, Halt, Operation, Resume, Revocation, Role};
use crate::model::{IdKind, Kind, Record, RecordId, RiskClass, SignerName, Timestamp, yaml};
use crate::store::ledger::{self, LedgerWriter};
use crate::store::{Ledger, tags};
use crate::verify::grants::{GrantIndex, limits, scope_covers};
use crate::verify::records::approve;

/// A write in progress: the ledger lock, and the ledger as it is under the lock.
pub struct Txn<'w> {
    ws: &'w Workspace,
    writer: LedgerWriter<'w>,
    ledger: Ledger,
    grants: GrantIndex,
}

impl<'w> Txn<'w> {
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub fn judge(&self, record: &Record, clock: Clock) -> Result<Judged> {
        judge(self.ws, &self.grants, record, clock)
    }

    /// Appends a record built for `id` (or a fresh id of `kind`), signed by `me` as requester.
    /// None when the given id is already in the ledger (checked under the lock, so concurrent
    /// runs record it once).
    pub fn append_signed(
        &self,
        me: &Signer,
        kind: IdKind,
        id: Option<RecordId>,
        build: impl FnOnce(RecordId) -> Record,
    ) -> Result<Option<(Record, String)>> {
        let id = match id {
            Some(id) if self.ledger.find(&id).is_some() => return Ok(None),
            Some(id) => id,
            None => self.writer.next_id(kind, self.ws.now().date())?,
        };
        let mut record = build(id);
        record.validate()?;
        let s = crypto::signoff_in(
            self.ws.policy().repository_id.as_deref(),
            &record,
            &me.key,
            &me.name,
            Role::Requester,
            self.ws.now(),
            None,
        )?;
        record.signoffs_mut().push(s);
        let file = self.writer.append(&record)?;
        Ok(Some((record, file)))
    }
}

/// What became of the tag after a signoff.
#[derive(Debug)]
pub enum TagOutcome {
    /// Not an operation, or not approved: nothing to tag.
    NotDue,
    /// The tag is there already.
    Exists(String),
    /// The policy reserves tagging to humans, and the signer is automation.
    HumanOnly,
    Made(String),
    /// The record is approved but tagging failed; the next `git ops tag` makes it.
    Failed(String),
}

/// The result of `sign`.
#[derive(Debug)]
pub enum Signed {
    Already { role: Role },
    Now(Box<NewSignoff>),
}

/// A signoff just added.
#[derive(Debug)]
pub struct NewSignoff {
    pub record: Record,
    pub role: Role,
    pub grant: Option<RecordId>,
    pub judged: Judged,
    pub tag: TagOutcome,
    /// Tags of the caller's earlier approvals that a write left undone, made now.
    pub caught_up: Vec<(RecordId, TagOutcome)>,
}

/// A declaration: the seven mandatory fields of the Ops Governor, and the optional ones.
#[derive(Debug, Clone)]
pub struct Declaration {
    pub operation: String,
    pub objective: String,
    pub risk_class: RiskClass,
    pub blast_radius: String,
    pub rollback_strategy: String,
    pub allowed_paths: Vec<String>,
    pub allowed_services: Vec<String>,
    pub changes_summary: Option<String>,
    pub environment: Option<String>,
    pub notes: Option<String>,
}

impl Declaration {
    pub fn validate(&self) -> Result<()> {
        for (flag, v) in [
            ("--operation", &self.operation),
            ("--objective", &self.objective),
            ("--blast-radius", &self.blast_radius),
            ("--rollback-strategy", &self.rollback_strategy),
        ] {
            if v.trim().is_empty() {
                return Err(Error::usage(format!(
                    "{flag} is empty; the declaration needs all seven fields"
                )));
            }
        }
        if self
            .allowed_paths
            .iter()
            .chain(&self.allowed_services)
            .any(|p| p.trim().is_empty())
        {
            return Err(Error::usage("an empty allowed path or service"));
        }
        Ok(())
    }
}

/// A new grant, as `grant create` asks for it.
#[derive(Debug, Clone)]
pub struct GrantRequest {
    pub grantee: SignerName,
    pub risk_classes: Vec<RiskClass>,
    pub paths: Vec<String>,
    pub services: Vec<String>,
    pub environments: Vec<String>,
    pub expires_in_hours: u32,
    pub not_before: Option<Timestamp>,
    pub break_glass: bool,
    pub auto_rollback: bool,
    pub reason: Option<String>,
}

/// A record appended by the caller, and what followed.
#[derive(Debug)]
pub struct Appended {
    pub record: Record,
    pub file: String,
    pub judged: Judged,
    pub tag: TagOutcome,
    /// Tags of the caller's earlier approvals that a write left undone, made now.
    pub caught_up: Vec<(RecordId, TagOutcome)>,
}

impl Workspace {
    /// Takes the ledger lock and reads the ledger as it is under it.
    pub fn begin(&self) -> Result<Txn<'_>> {
        let writer = LedgerWriter::lock(self.repo())?;
        let ledger = writer.ledger()?;
        let grants = GrantIndex::build(self.policy(), ledger.records().map(|r| r.value));
        Ok(Txn {
            ws: self,
            writer,
            ledger,
            grants,
        })
    }

    /// Appends a record of `kind` signed by `me` as requester, under a fresh id.
    pub fn append_signed(
        &self,
        me: &Signer,
        kind: IdKind,
        build: impl FnOnce(RecordId) -> Record,
    ) -> Result<(Record, String)> {
        let tx = self.begin()?;
        Ok(tx
            .append_signed(me, kind, None, build)?
            .expect("a fresh id is never taken"))
    }

    /// Declares an operation signed by `me` as requester, and tags it when it needs no approval.
    pub fn declare(
        &self,
        me: &Signer,
        d: Declaration,
        expires_in_hours: Option<u32>,
    ) -> Result<Appended> {
        d.validate()?;
        let hours = expires_in_hours.unwrap_or(self.policy().operations.default_window_hours);
        if hours == 0 {
            return Err(Error::usage("--expires-in-hours must be at least 1"));
        }
        let now = self.now();
        let expires_at = window_end(now, hours.into())?;
        let git_commit = self.repo().head_commit()?.map(|c| c.to_string());
        let git_branch = self.repo().head_branch();
        let (record, file) = self.append_signed(me, IdKind::Operation, |id| {
            Record::Operation(Operation {
                record: Kind::Operation,
                operation_id: id,
                operation_name: d.operation,
                objective: d.objective,
                risk_class: d.risk_class,
                blast_radius: d.blast_radius,
                rollback_strategy: d.rollback_strategy,
                allowed_paths: d.allowed_paths,
                allowed_services: d.allowed_services,
                changes_summary: d.changes_summary,
                environment: d.environment,
                requested_by: Some(me.name.clone()),
                created_at: Some(now),
                expires_at: Some(expires_at),
                git_commit,
                git_branch,
                hostname: None,
                rollback_of: None,
                notes: d.notes,
                outcome: None,
                execution_timestamp: None,
                evidence: None,
                signoffs: Vec::new(),
            })
        })?;
        self.after_append(me, record, file)
    }

    /// Judges a record the caller just appended and tags it when it is due.
    pub fn after_append(&self, me: &Signer, record: Record, file: String) -> Result<Appended> {
        let judged = self.judge(&record, Clock::History)?;
        let tag = self.tag_if_due(me, &record, &judged);
        let caught_up = self.tag_missing(me);
        Ok(Appended {
            record,
            file,
            judged,
            tag,
            caught_up,
        })
    }

    /// Adds the caller's signoff to `id`: as requester when the record has no valid requester
    /// yet, else as approver (under `grant` for automation). Tags an operation that reaches its
    /// threshold.
    pub fn sign(&self, me: &Signer, id: &RecordId, grant: Option<RecordId>) -> Result<Signed> {
        self.sign_pinned(me, id, grant, None)
    }

    /// [`Self::sign`], the signoff pinned to the content of the operation's allowed paths in
    /// commit `pin` (docs/SIGNED-COMMITS.md): what `git ops sign --pin <commit>` does. A signer
    /// may sign again pinned to other content; the same pin twice is `Already`.
    pub fn sign_pinned(
        &self,
        me: &Signer,
        id: &RecordId,
        grant: Option<RecordId>,
        pin: Option<&str>,
    ) -> Result<Signed> {
        let ids = [id.to_string()];
        self.audited("sign", &ids, Some(me), || {
            let tx = self.begin()?;
            let record = tx.ledger().find(id).map(|l| l.value).ok_or_else(|| {
                Error::hinted(
                    format!("no record {id} in the ledger"),
                    "git ops list shows the records",
                )
            })?;
            if record.kind() == Kind::Import {
                return Err(Error::hinted(
                    format!(
                        "{id} was imported from an earlier ledger: it is kept as it was and cannot be signed or approved"
                    ),
                    "declare the work again with git ops new, and sign that",
                ));
            }
            let before = tx.judge(record, Clock::Now)?;
            let role = if before.check.requester.is_none() {
                Role::Requester
            } else {
                Role::Approver
            };
            let pin = match pin {
                None => None,
                Some(rev) => {
                    let commit = self.repo().resolve_commit(rev)?;
                    let Some(p) = crate::verify::pin::pin_of_record(self.repo(), commit, record)?
                    else {
                        return Err(Error::usage(format!(
                            "{id} is a {}; only operations pin content",
                            record.kind()
                        )));
                    };
                    Some(p)
                }
            };
            if record
                .signoffs()
                .iter()
                .any(|s| s.by == me.name && s.role == role && s.pin == pin)
            {
                return Ok(Signed::Already { role });
            }
            if role == Role::Requester {
                if let Some(op) = record.as_operation()
                    && let Some(rb) = &op.requested_by
                    && rb != &me.name
                {
                    return Err(Error::usage(format!(
                        "{id} was requested by {rb}; only {rb} can sign it as requester"
                    )));
                }
            } else {
                if let Some(g) = &grant {
                    self.may_sign_under_grant(&tx.grants, record, g, me)?;
                } else if !me.entry.is_approver() {
                    return Err(Error::hinted(
                        format!(
                            "{} is not a human approver in the policy, so cannot approve {id}",
                            me.name
                        ),
                        "automation approves only inside a grant: git ops sign <id> --grant <grant-id>",
                    ));
                }
                let self_ok = record
                    .as_operation()
                    .is_some_and(|op| self.policy().risk_rule(op.risk_class).self_approval);
                if before.check.requester.as_ref() == Some(&me.name) && grant.is_none() && !self_ok
                {
                    return Err(Error::usage(format!(
                        "you requested {id}; your own approval does not count for its risk class (no self_approval)"
                    )));
                }
            }
            let repo = self.policy().repository_id.as_deref();
            let mut s =
                crypto::signoff_in(repo, record, &me.key, &me.name, role, self.now(), grant)?;
            if pin.is_some() {
                // The pin is part of the statement: sign again with it.
                s.pin = pin;
                let digest = record.payload_sha256();
                let statement = record.statement_in(repo, &digest, &s).to_bytes();
                s.sig = me.key.sign(crypto::NAMESPACE_LEDGER, &statement)?;
            }
            let updated = tx.writer.update(id, |r| {
                r.signoffs_mut().push(s);
                Ok(())
            })?;
            drop(tx);
            let judged = self.judge(&updated, Clock::History)?;
            let tag = self.tag_if_due(me, &updated, &judged);
            let caught_up = self.tag_missing(me);
            Ok(Signed::Now(Box::new(NewSignoff {
                record: updated,
                role,
                grant,
                judged,
                tag,
                caught_up,
            })))
        })
    }

    /// A grant signoff must be by the grantee, under a grant live now, whose scope covers the
    /// record.
    fn may_sign_under_grant(
        &self,
        grants: &GrantIndex,
        record: &Record,
        grant: &RecordId,
        me: &Signer,
    ) -> Result<()> {
        let info = grants
            .grants
            .get(grant)
            .ok_or_else(|| Error::usage(format!("no grant {grant} in the ledger")))?;
        if info.grant.grantee != me.name {
            return Err(Error::usage(format!(
                "{grant} is granted to {}, not to {}",
                info.grant.grantee, me.name
            )));
        }
        grants
            .live_at(self.policy(), grant, self.now(), true)
            .map_err(|why| Error::usage(format!("refused: {why}")))?;
        let Some(op) = record.as_operation() else {
            return Err(Error::usage(format!(
                "grants cover operations only, and {} is a {}",
                record.id(),
                record.kind()
            )));
        };
        scope_covers(&info.grant, op)
            .map_err(|why| Error::usage(format!("refused, out of scope: {why}")))
    }

    /// Tags `record` when it is an approved operation without a tag, unless the policy reserves
    /// tagging to humans and `me` is automation. Never fails: a failure is reported in the
    /// outcome, and `git ops tag` makes the tag later.
    fn tag_if_due(&self, me: &Signer, record: &Record, judged: &Judged) -> TagOutcome {
        if record.kind() != Kind::Operation {
            return TagOutcome::NotDue;
        }
        let Some(approved) = approve(record, &judged.check) else {
            return TagOutcome::NotDue;
        };
        let name = record.id().tag_name();
        match tags::tag_exists(self.repo(), &name) {
            Ok(true) => return TagOutcome::Exists(name),
            Ok(false) => {}
            Err(e) => return TagOutcome::Failed(e.to_string()),
        }
        if self.policy().operations.human_only_tags && !me.entry.is_human() {
            return TagOutcome::HumanOnly;
        }
        let ids = [record.id().to_string()];
        match self.audited("tag", &ids, Some(me), || self.make_tag(me, approved)) {
            Ok(name) => TagOutcome::Made(name),
            Err(e) => TagOutcome::Failed(e.to_string()),
        }
    }

    /// `git ops tag`: the signed tag of an approved operation (approval as it was made: grant
    /// signoffs are judged at the time they claim, even if the grant has expired since).
    pub fn tag(&self, me: &Signer, id: &RecordId) -> Result<TagOutcome> {
        let record = self.find(id)?.value;
        if record.kind() != Kind::Operation {
            return Err(Error::usage(format!(
                "{id} is not an operation; only operations are tagged"
            )));
        }
        if self.policy().operations.human_only_tags && !me.entry.is_human() {
            return Err(Error::usage(format!(
                "the policy reserves tagging to humans, and {} is automation",
                me.name
            )));
        }
        let judged = self.judge(record, Clock::History)?;
        let Some(approved) = approve(record, &judged.check) else {
            return Err(Error::usage(format!(
                "{id} is {}, not approved: nothing to tag",
                super::workspace::state_word(judged.state())
            )));
        };
        let name = id.tag_name();
        if tags::tag_exists(self.repo(), &name)? {
            return Ok(TagOutcome::Exists(name));
        }
        let ids = [id.to_string()];
        let made = self.audited("tag", &ids, Some(me), || self.make_tag(me, approved))?;
        Ok(TagOutcome::Made(made))
    }

    fn make_tag(
        &self,
        me: &Signer,
        approved: crate::verify::records::Approved<'_>,
    ) -> Result<String> {
        let record = approved.record();
        let Some(head) = self.repo().head_commit()? else {
            return Err(Error::usage("the repository has no commit yet"));
        };
        let name = record.id().tag_name();
        let title: String = record
            .as_operation()
            .map(|o| {
                o.operation_name
                    .chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect()
            })
            .unwrap_or_default();
        let message = format!(
            "{}: {title}\n\n{}",
            record.id(),
            yaml::render_record(record)
        );
        // The tagger is the signer whose key signs the tag, not whoever configured this clone.
        let who = me.name.to_string();
        let email = Some(me.key.comment())
            .filter(|c| c.contains('@'))
            .unwrap_or_default();
        let when = chrono::Utc::now().timestamp();
        let tagger = format!(
            "{} <{}> {when} +0000",
            sanitize_ident(&who),
            sanitize_ident(email)
        );
        tags::create_signed_tag(self.repo(), &name, head, &tagger, &message, &me.key)?;
        Ok(name)
    }

    /// `grant create`: a grant signed by a human approver, within the policy's limits.
    pub fn grant(&self, me: &Signer, a: GrantRequest) -> Result<Appended> {
        let ids = [format!("grantee={}", a.grantee)];
        self.audited("grant", &ids, Some(me), || {
            require_human_approver(me, "grant")?;
            let policy = self.policy();
            if policy.signer(&a.grantee).is_none() {
                return Err(Error::hinted(
                    format!("unknown grantee {}: not a signer in the policy", a.grantee),
                    "add it first: git ops keys add <name> <pubkey> --role automation",
                ));
            }
            if a.expires_in_hours == 0 {
                return Err(Error::usage("--expires-in-hours must be at least 1"));
            }
            let now = self.now();
            let start = a.not_before.unwrap_or(now);
            let expires_at = window_end(start, a.expires_in_hours.into())?;
            if start.unix() + i64::from(a.expires_in_hours) * 3600 <= now.unix() {
                return Err(Error::usage("the grant would expire in the past"));
            }
            for p in &a.paths {
                let p = p.trim_start_matches('/');
                if let Some(r) = policy.rules_for(p).find(|r| r.human_only) {
                    return Err(Error::usage(format!(
                        "{p} falls under a human_only rule ({}); no grant can cover it",
                        r.paths
                            .iter()
                            .map(|g| g.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
            let grant = Grant {
                record: Kind::Grant,
                grant_id: "GRANT-2000-01-01-001"
                    .parse()
                    .expect("a valid placeholder id"),
                grantee: a.grantee.clone(),
                created_at: Some(now),
                not_before: a.not_before,
                expires_at,
                scope: GrantScope {
                    risk_classes: a.risk_classes.clone(),
                    paths: a.paths.clone(),
                    services: a.services.clone(),
                    environments: a.environments.clone(),
                    auto_rollback: a.auto_rollback,
                },
                break_glass: a.break_glass,
                reason: a.reason.clone(),
                signoffs: Vec::new(),
            };
            limits(policy, &grant).map_err(|e| {
                Error::usage(e.replace(&grant.grant_id.to_string(), "the new grant"))
            })?;
            let (record, file) = self.append_signed(me, IdKind::Grant, |id| {
                Record::Grant(Grant {
                    grant_id: id,
                    ..grant
                })
            })?;
            self.after_append(me, record, file)
        })
    }

    /// `grant revoke`: revokes a grant, or every grant to a signer.
    pub fn revoke(&self, me: &Signer, target: &str, reason: Option<String>) -> Result<Appended> {
        self.audited("revoke", &[target.to_string()], Some(me), || {
            require_human_approver(me, "revoke")?;
            if let Ok(id) = target.parse::<RecordId>() {
                match self.ledger().find(&id).map(|l| l.value) {
                    Some(Record::Grant(_)) => {}
                    Some(_) => return Err(Error::usage(format!("{id} is not a grant"))),
                    None => return Err(Error::usage(format!("no grant {id} in the ledger"))),
                }
            } else {
                let name = SignerName::new(target).map_err(|_| {
                    Error::usage(format!(
                        "{target:?} is neither a grant id nor a signer name"
                    ))
                })?;
                if self.policy().signer(&name).is_none() {
                    return Err(Error::usage(format!("unknown signer {name}")));
                }
            }
            let now = self.now();
            let (record, file) = self.append_signed(me, IdKind::Revocation, |id| {
                Record::Revocation(Revocation {
                    record: Kind::Revocation,
                    revocation_id: id,
                    revokes: target.to_string(),
                    created_at: Some(now),
                    reason,
                    signoffs: Vec::new(),
                })
            })?;
            self.after_append(me, record, file)
        })
    }

    /// `halt`: freezes automation (humans only).
    pub fn halt(&self, me: &Signer, reason: Option<String>) -> Result<Appended> {
        self.audited("halt", &[], Some(me), || {
            if !me.entry.is_human() {
                return Err(Error::usage(format!(
                    "only humans may halt, and {} is automation",
                    me.name
                )));
            }
            let now = self.now();
            let (record, file) = self.append_signed(me, IdKind::Halt, |id| {
                Record::Halt(Halt {
                    record: Kind::Halt,
                    halt_id: id,
                    created_at: Some(now),
                    reason,
                    signoffs: Vec::new(),
                })
            })?;
            self.after_append(me, record, file)
        })
    }

    /// `resume`: lifts a halt (human approvers only).
    pub fn resume(&self, me: &Signer, reason: Option<String>) -> Result<Appended> {
        self.audited("resume", &[], Some(me), || {
            require_human_approver(me, "resume")?;
            let Some((halt, _)) = self.grants().halted_now() else {
                return Err(Error::usage("automation is not halted: nothing to resume"));
            };
            let now = self.now();
            let (record, file) = self.append_signed(me, IdKind::Resume, |id| {
                Record::Resume(Resume {
                    record: Kind::Resume,
                    resume_id: id,
                    resumes: Some(halt),
                    created_at: Some(now),
                    reason,
                    signoffs: Vec::new(),
                })
            })?;
            self.after_append(me, record, file)
        })
    }
}

/// Human approvers only: automation can never grant, revoke, halt or resume.
pub fn require_human_approver(me: &Signer, action: &str) -> Result<()> {
    if !me.entry.is_approver() {
        return Err(Error::usage(format!(
            "only human approvers may {action}, and {} is {}",
            me.name,
            if me.entry.is_human() {
                "not an approver"
            } else {
                "automation"
            }
        )));
    }
    Ok(())
}

/// The end of a window of `hours` from `start`, refused when it is past what the ledger's
/// timestamps can hold (year 9999).
pub(super) fn window_end(start: Timestamp, hours: i64) -> Result<Timestamp> {
    start.checked_plus_hours(hours).ok_or_else(|| {
        Error::usage(format!(
            "{hours} hours from {start} is past {}, the latest time the ledger can hold; choose a shorter window",
            Timestamp::max_value()
        ))
    })
}

/// git refuses `<`, `>` and newlines in ident fields.
fn sanitize_ident(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '<' | '>' | '\n' | '\r' | '\0'))
        .collect()
}

/// A record given a new id by [`Workspace::renumber`].
#[derive(Debug)]
pub struct Renumbered {
    pub old: RecordId,
    pub new: RecordId,
    /// The ledger file that holds it.
    pub file: String,
    /// Where the old id is taken by another record (a remote-tracking branch), if anywhere.
    pub clash: Option<String>,
    /// Signoffs other than the caller's requester signoff, dropped: the new id changes the
    /// statement every signoff signs, so these signers must sign again.
    pub dropped: Vec<(SignerName, Role)>,
    /// The local tag of the old id, deleted (it named the old id).
    pub tag_deleted: Option<String>,
    /// The old id is in the last commit's ledger: a commit that renumbers it reads as a removed
    /// record and is refused, so the unpushed commits must be folded into one first.
    pub committed: bool,
}

impl Workspace {
    /// `renumber`: gives a fresh id to the caller's own records (those it signed as requester)
    /// whose id another record already has on a remote-tracking branch, or to `only`. A record
    /// that is on a remote-tracking branch as it is here was pushed, and is never renumbered.
    /// The renumbered record is signed again by the caller as requester; every other signoff is
    /// dropped (see [`Renumbered::dropped`]), and a local tag of the old id is deleted.
    pub fn renumber(&self, me: &Signer, only: Option<RecordId>) -> Result<Vec<Renumbered>> {
        let ids: Vec<String> = only.iter().map(|i| i.to_string()).collect();
        self.audited("renumber", &ids, Some(me), || {
            let tx = self.begin()?;
            if let Some(id) = &only
                && tx.ledger().find(id).is_none()
            {
                return Err(Error::hinted(
                    format!("no record {id} in the ledger"),
                    "git ops list shows the records",
                ));
            }
            let mut plan: Vec<(Record, Option<String>)> = Vec::new();
            for f in &tx.ledger().files {
                let remote = ledger::remote_month_files(self.repo(), &f.month)?;
                for (_, r) in &f.records {
                    if only.is_some_and(|o| o != *r.id()) {
                        continue;
                    }
                    let mine = r
                        .signoffs()
                        .iter()
                        .any(|s| s.role == Role::Requester && s.by == me.name);
                    let there: Vec<&Record> = remote
                        .iter()
                        .flat_map(|rf| rf.records.iter().map(|(_, x)| x))
                        .filter(|x| x.id() == r.id())
                        .collect();
                    let pushed = there
                        .iter()
                        .any(|x| x.payload_sha256() == r.payload_sha256());
                    if only.is_some() {
                        if !mine {
                            return Err(Error::usage(format!(
                                "{} was not requested by {}: only its requester may renumber it",
                                r.id(),
                                me.name
                            )));
                        }
                        if pushed {
                            return Err(Error::usage(format!(
                                "{} is on a remote-tracking branch as it is here: it was pushed, and a pushed record keeps its id",
                                r.id()
                            )));
                        }
                    } else if !mine || pushed || there.is_empty() {
                        continue;
                    }
                    let clash = there.first().map(|x| match x.as_operation() {
                        Some(op) => format!("a remote-tracking branch has {} as {:?}", x.id(), op.operation_name),
                        None => format!("a remote-tracking branch has another {} {}", x.kind(), x.id()),
                    });
                    plan.push((r.clone(), clash));
                }
            }
            let mut done = Vec::new();
            for (old, clash) in plan {
                let new_id = tx.writer.next_id(old.id().kind(), old.id().date())?;
                let mut new = old.clone();
                set_id(&mut new, new_id);
                let dropped = old
                    .signoffs()
                    .iter()
                    .filter(|s| !(s.role == Role::Requester && s.by == me.name))
                    .map(|s| (s.by.clone(), s.role))
                    .collect();
                new.signoffs_mut().clear();
                new.validate()?;
                let s = crypto::signoff_in(
                    self.policy().repository_id.as_deref(),
                    &new,
                    &me.key,
                    &me.name,
                    Role::Requester,
                    self.now(),
                    None,
                )?;
                new.signoffs_mut().push(s);
                let committed = match self.repo().head_commit()? {
                    Some(head) => self
                        .repo()
                        .blob_at(head, &ledger::month_path(&old.id().month()))?
                        .and_then(|b| String::from_utf8(b).ok())
                        .and_then(|t| ledger::LedgerFile::parse(&ledger::month_path(&old.id().month()), t).ok())
                        .is_some_and(|f| f.records.iter().any(|(_, r)| r.id() == old.id())),
                    None => false,
                };
                let file = tx.writer.replace(old.id(), &new)?;
                let tag_deleted = self.delete_own_tag(&old)?;
                done.push(Renumbered {
                    old: *old.id(),
                    new: new_id,
                    file,
                    clash,
                    dropped,
                    tag_deleted,
                    committed,
                });
            }
            Ok(done)
        })
    }

    /// Deletes the tag of `record`'s id when it carries this very record (a tag carrying
    /// another record of that id is someone else's, and stays).
    fn delete_own_tag(&self, record: &Record) -> Result<Option<String>> {
        let name = record.id().tag_name();
        if record.kind() != Kind::Operation || !tags::tag_exists(self.repo(), &name)? {
            return Ok(None);
        }
        let info = tags::read_tag(self.repo(), &name)?;
        let carried = info
            .message
            .split_once("\n\n")
            .and_then(|(_, body)| yaml::parse_record(body, 1).ok());
        if carried.is_some_and(|t| t.payload_sha256() == record.payload_sha256()) {
            tags::delete_tag(self.repo(), &name)?;
            return Ok(Some(name));
        }
        Ok(None)
    }

    /// Tags the approved operations whose last signoff is the caller's and whose tag is missing:
    /// a command that ended (killed, or a tag ref lock in the way) after writing the signoff and
    /// before the tag. Run by the next `new` or `sign`; best effort, like tagging itself.
    pub fn tag_missing(&self, me: &Signer) -> Vec<(RecordId, TagOutcome)> {
        self.tag_missing_of(me, true)
    }

    /// `git ops tag --missing`: tags every approved operation of the ledger that has no tag yet
    /// (`only_mine`: only those whose last signoff is the caller's).
    pub fn tag_missing_of(&self, me: &Signer, only_mine: bool) -> Vec<(RecordId, TagOutcome)> {
        let mut out = Vec::new();
        for r in self.ledger().records() {
            let record = r.value;
            if record.kind() != Kind::Operation
                || (only_mine && record.signoffs().last().is_none_or(|s| s.by != me.name))
                || tags::tag_exists(self.repo(), &record.id().tag_name()).unwrap_or(true)
            {
                continue;
            }
            let Ok(judged) = self.judge(record, Clock::History) else {
                continue;
            };
            match self.tag_if_due(me, record, &judged) {
                TagOutcome::NotDue => {}
                done => out.push((*record.id(), done)),
            }
        }
        out
    }
}

/// Gives `record` the id `id`.
fn set_id(record: &mut Record, id: RecordId) {
    match record {
        Record::Operation(r) => r.operation_id = id,
        Record::Outcome(r) => r.outcome_id = id,
        Record::Grant(r) => r.grant_id = id,
        Record::Revocation(r) => r.revocation_id = id,
        Record::Halt(r) => r.halt_id = id,
        Record::Resume(r) => r.resume_id = id,
        Record::Import(r) => r.operation_id = id,
    }
}
