//! The seed's auto-ledger: `record` (declare, collect evidence and record the outcome in one
//! step, idempotent by operation id), `close` (an outcome record for an earlier operation) and
//! `rollback` (a ROLLBACK operation pointing at the one it reverts).
//!
//! Evidence collectors that fail are recorded in the entry (lenient, the default), or make the
//! command fail with nothing appended (strict).

use std::path::PathBuf;
use std::time::Duration;

use super::error::{Error, Result};
use super::ops::Appended;
use super::workspace::{Signer, Workspace};
use crate::evidence::{self, Limits, Request};
use crate::model::record::{Evidence, Operation, Outcome, OutcomeKind};
use crate::model::{IdKind, Kind, Record, RecordId, RiskClass};
use crate::verify::decision::{may_close, may_close_as};
use crate::verify::ledger_change::id_date_agrees;

/// Which evidence to collect.
#[derive(Debug, Clone, Default)]
pub struct EvidenceRequest {
    pub proof_path: Option<PathBuf>,
    pub metrics_urls: Vec<String>,
    pub metrics_grep: Vec<String>,
    pub redis_cmds: Vec<String>,
    pub redis_url: String,
    /// Seconds each collector step may take.
    pub timeout_secs: u64,
    /// Any failure refuses the whole write.
    pub strict: bool,
}

/// Evidence collected, with the warnings to show (each is also recorded in the entry).
#[derive(Debug)]
pub struct Gathered {
    pub evidence: Evidence,
    pub warnings: Vec<String>,
}

/// An operation recorded after the fact.
#[derive(Debug, Clone)]
pub struct RecordRequest {
    pub operation: String,
    pub objective: String,
    pub risk_class: RiskClass,
    pub blast_radius: String,
    pub changes_summary: Option<String>,
    /// Default: `git revert <commit>` of the recorded commit.
    pub rollback_strategy: Option<String>,
    /// The id to record under (idempotency key); default: the next free id of today.
    pub operation_id: Option<RecordId>,
    pub allowed_paths: Vec<String>,
    pub allowed_services: Vec<String>,
    pub environment: Option<String>,
    pub outcome: OutcomeKind,
    pub rollback_of: Option<RecordId>,
    pub notes: Option<String>,
}

/// What `record` did.
#[derive(Debug)]
pub enum Recorded {
    /// The id was in the ledger already (idempotency).
    Already(RecordId),
    New(Box<Appended>),
}

/// An outcome appended by `close`.
#[derive(Debug)]
pub struct Closed {
    pub record: Record,
    /// An outcome that had closed the operation before (this one is a correction).
    pub earlier: Option<RecordId>,
}

impl Workspace {
    /// `id` must name an operation in the ledger (`flag` names the argument in messages).
    pub fn must_be_operation(&self, id: &RecordId, flag: &str) -> Result<()> {
        match self.ledger().find(id).map(|l| l.value) {
            Some(Record::Operation(_)) => Ok(()),
            Some(_) => Err(Error::usage(format!("{flag} {id}: not an operation"))),
            None => Err(Error::usage(format!(
                "{flag} {id}: no such operation in the ledger"
            ))),
        }
    }

    /// The first outcome record that closes operation `id`, wherever it is in the ledger (any
    /// month file); an outcome by someone who may not close it ([`may_close`]) closes nothing.
    pub fn closing_outcome(&self, id: &RecordId) -> Option<RecordId> {
        let op = self.ledger().find(id).map(|l| l.value)?;
        self.ledger().records().find_map(|r| match r.value {
            Record::Outcome(o)
                if o.operation_id == *id && may_close(self.policy(), op, r.value) =>
            {
                Some(o.outcome_id)
            }
            _ => None,
        })
    }

    /// Collects the evidence `req` asks for (plus git and host, plus `services`). In lenient mode
    /// a collector whose arguments are invalid (a bad regex, a redis write) is skipped and the
    /// reason recorded; in strict mode any failure is an error and nothing is written.
    pub fn gather(&self, req: &EvidenceRequest, services: &[String]) -> Result<Gathered> {
        let strict = req.strict;
        let limits = Limits {
            timeout: Duration::from_secs(req.timeout_secs.max(1)),
            ..Limits::default()
        };
        let mut metrics_urls = req.metrics_urls.clone();
        let mut metrics_grep = req.metrics_grep.clone();
        let mut redis_cmds = req.redis_cmds.clone();
        let mut redis_url = req.redis_url.clone();
        let mut services = services.to_vec();
        let mut skipped = Vec::new();
        {
            let base = Request {
                limits,
                ..Request::default()
            };
            let parts: [(&str, Request); 3] = [
                (
                    "metrics",
                    Request {
                        metrics_urls: &metrics_urls,
                        metrics_grep: &metrics_grep,
                        ..base.clone()
                    },
                ),
                (
                    "redis",
                    Request {
                        redis_url: &redis_url,
                        redis_cmds: &redis_cmds,
                        ..base.clone()
                    },
                ),
                (
                    "services",
                    Request {
                        services: &services,
                        ..base.clone()
                    },
                ),
            ];
            for (name, part) in parts {
                if let Err(e) = evidence::validate(&part) {
                    if strict {
                        return Err(Error::Rejected(format!(
                            "evidence ({name}): {e}; nothing was recorded (strict mode)"
                        )));
                    }
                    skipped.push((name, format!("{name}: not collected: {e}")));
                }
            }
        }
        for (name, _) in &skipped {
            match *name {
                "metrics" => {
                    metrics_urls.clear();
                    metrics_grep.clear();
                }
                "redis" => {
                    redis_cmds.clear();
                    redis_url = evidence::DEFAULT_REDIS_URL.to_string();
                }
                _ => services.clear(),
            }
        }
        let collect = Request {
            repo_dir: Some(self.root()),
            proof_path: req.proof_path.as_deref(),
            metrics_urls: &metrics_urls,
            metrics_grep: &metrics_grep,
            redis_url: &redis_url,
            redis_cmds: &redis_cmds,
            services: &services,
            limits,
        };
        let (mut ev, errors) = evidence::collect(&collect, self.now());
        let mut warnings = Vec::new();
        for (_, e) in skipped {
            ev.errors.push(e.clone());
            warnings.push(e);
        }
        if !errors.is_empty() {
            if strict {
                return Err(Error::Rejected(format!(
                    "evidence collection failed ({}); nothing was recorded (strict mode)",
                    errors.join("; ")
                )));
            }
            for e in &errors {
                warnings.push(format!("evidence: {e} (recorded in the entry)"));
            }
        }
        Ok(Gathered {
            evidence: ev,
            warnings,
        })
    }

    /// Checks what `record` needs before evidence is collected: `Some(id)` when the operation id
    /// is already recorded (nothing more to do).
    pub fn record_precheck(&self, r: &RecordRequest) -> Result<Option<RecordId>> {
        if r.outcome == OutcomeKind::Rollback && r.rollback_of.is_none() {
            return Err(Error::usage(
                "--outcome ROLLBACK needs --rollback-of <operation id>",
            ));
        }
        if let Some(id) = &r.operation_id {
            if id.kind() != IdKind::Operation {
                return Err(Error::usage(format!(
                    "--operation-id {id}: not an operation id (OPS-YYYY-MM-DD-NNN)"
                )));
            }
            if self.ledger().find(id).is_some() {
                return Ok(Some(*id));
            }
        }
        if let Some(of) = &r.rollback_of {
            self.must_be_operation(of, "--rollback-of")?;
        }
        Ok(None)
    }

    /// Refuses unless `me` may close operation `id` or roll it back: its requester, one of its
    /// approvers, or a human signer ([`may_close_as`]; verify refuses the same outcome records).
    pub fn may_close(&self, me: &Signer, id: &RecordId, what: &str) -> Result<()> {
        let Some(op) = self.ledger().find(id).map(|l| l.value) else {
            return Ok(());
        };
        if may_close_as(self.policy(), op, &me.name) {
            return Ok(());
        }
        Err(Error::Rejected(format!(
            "{} may not {what} {id}: only its requester, its approvers or a human signer may",
            me.name
        )))
    }

    /// `record`: an operation with its outcome and evidence, signed by `me` as requester.
    pub fn record(&self, me: &Signer, r: RecordRequest, ev: Evidence) -> Result<Recorded> {
        if let Some(of) = &r.rollback_of {
            self.may_close(me, of, "roll back")?;
        }
        let rollback_strategy = r
            .rollback_strategy
            .clone()
            .unwrap_or_else(|| default_rollback(&ev));
        let op = self.recorded_operation(me, ev, r.clone(), rollback_strategy)?;
        match self.append_operation(me, op, r.operation_id)? {
            None => Ok(Recorded::Already(
                r.operation_id.expect("only a given id can be taken"),
            )),
            Some((record, file)) => Ok(Recorded::New(Box::new(
                self.after_append(me, record, file)?,
            ))),
        }
    }

    /// `close`: an outcome record for operation `id`; it then covers no more changes.
    pub fn close(
        &self,
        me: &Signer,
        id: &RecordId,
        outcome: OutcomeKind,
        rollback_of: Option<RecordId>,
        notes: Option<String>,
        ev: Evidence,
    ) -> Result<Closed> {
        self.operation(id)?;
        self.may_close(me, id, "close")?;
        let earlier = self.closing_outcome(id);
        if let Some(of) = &rollback_of {
            self.must_be_operation(of, "--rollback-of")?;
        }
        let rollback_of = match outcome {
            OutcomeKind::Rollback => Some(rollback_of.unwrap_or(*id)),
            _ => rollback_of,
        };
        let now = self.now();
        let ids = [id.to_string()];
        let (record, _) = self.audited("sign", &ids, Some(me), || {
            self.append_signed(me, IdKind::Outcome, |oid| {
                Record::Outcome(Outcome {
                    record: Kind::Outcome,
                    outcome_id: oid,
                    operation_id: *id,
                    outcome,
                    created_at: Some(now),
                    execution_timestamp: Some(now),
                    rollback_of,
                    evidence: Some(ev),
                    notes,
                    signoffs: Vec::new(),
                })
            })
        })?;
        Ok(Closed { record, earlier })
    }

    /// The operation a `rollback` of `id` declares (its fields default from the original).
    pub fn rollback_request(
        &self,
        id: &RecordId,
        operation: Option<String>,
        objective: Option<String>,
        changes_summary: Option<String>,
        notes: Option<String>,
    ) -> Result<RecordRequest> {
        let (_, orig) = self.operation(id)?;
        Ok(RecordRequest {
            operation: operation
                .unwrap_or_else(|| format!("Rollback of {id}: {}", orig.operation_name)),
            objective: objective.unwrap_or_else(|| format!("Revert {id}")),
            risk_class: orig.risk_class,
            blast_radius: orig.blast_radius.clone(),
            changes_summary,
            rollback_strategy: Some(format!("re-apply {id} under a new operation")),
            operation_id: None,
            allowed_paths: orig.allowed_paths.clone(),
            allowed_services: orig.allowed_services.clone(),
            environment: orig.environment.clone(),
            outcome: OutcomeKind::Rollback,
            rollback_of: Some(*id),
            notes,
        })
    }

    /// An operation recorded after the fact: requested by the caller now, with its outcome and
    /// the evidence, open for the policy's window (the id is assigned when it is appended).
    fn recorded_operation(
        &self,
        me: &Signer,
        ev: Evidence,
        d: RecordRequest,
        rollback_strategy: String,
    ) -> Result<Operation> {
        let now = self.now();
        let hours = i64::from(self.policy().operations.default_window_hours);
        let expires_at = super::ops::window_end(now, hours)?;
        // An id carries the UTC date its record was made (verify refuses `id-date` otherwise).
        // An id given as an idempotency key may name another day: such a record states no
        // created_at rather than one its id contradicts; its window is its expires_at.
        let created_at = match d.operation_id {
            Some(id) if !id_date_agrees(&id, now) => None,
            _ => Some(now),
        };
        Ok(Operation {
            record: Kind::Operation,
            operation_id: "OPS-2000-01-01-001".parse().expect("a valid placeholder"),
            operation_name: d.operation,
            objective: d.objective,
            risk_class: d.risk_class,
            blast_radius: d.blast_radius,
            rollback_strategy,
            allowed_paths: d.allowed_paths,
            allowed_services: d.allowed_services,
            changes_summary: d.changes_summary,
            environment: d.environment,
            requested_by: Some(me.name.clone()),
            created_at,
            expires_at: Some(expires_at),
            git_commit: ev.git.as_ref().map(|g| g.commit.clone()),
            git_branch: ev.git.as_ref().and_then(|g| g.branch.clone()),
            hostname: ev.hostname.clone(),
            rollback_of: d.rollback_of,
            notes: d.notes,
            outcome: Some(d.outcome),
            execution_timestamp: Some(now),
            evidence: Some(ev),
            signoffs: Vec::new(),
        })
    }

    /// Appends `op` under `id` (or a fresh id), signed by the caller. None when `id` is taken (a
    /// concurrent run recorded it first).
    fn append_operation(
        &self,
        me: &Signer,
        op: Operation,
        id: Option<RecordId>,
    ) -> Result<Option<(Record, String)>> {
        let ids = id.map(|i| vec![i.to_string()]).unwrap_or_default();
        self.audited("sign", &ids, Some(me), || {
            self.begin()?
                .append_signed(me, IdKind::Operation, id, |id| {
                    Record::Operation(Operation {
                        operation_id: id,
                        ..op
                    })
                })
        })
    }
}

fn default_rollback(ev: &Evidence) -> String {
    match &ev.git {
        Some(g) => format!("git revert {} and redeploy", g.commit_short),
        None => "revert the change and redeploy".to_string(),
    }
}
