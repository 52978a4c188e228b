//! Ledger records (DESIGN §2.1) and their signoffs (§2.2).
//!
//! A record's fields other than `signoffs` are its payload. The payload is hashed as canonical JSON
//! with `record:` always present, so a flat seed entry without `record:` and the same entry with
//! `record: operation` have one digest.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{
    ArmoredSig, Error, Fingerprint, IdKind, RecordId, RiskClass, SignerName, Timestamp, canonical,
};

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Operation,
    Outcome,
    Grant,
    Revocation,
    Halt,
    Resume,
    /// An entry brought in from a ledger kept before git-ops (docs/IMPORT.md): kept for the
    /// record, never an approval.
    Import,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Operation,
        Kind::Outcome,
        Kind::Grant,
        Kind::Revocation,
        Kind::Halt,
        Kind::Resume,
        Kind::Import,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Operation => "operation",
            Kind::Outcome => "outcome",
            Kind::Grant => "grant",
            Kind::Revocation => "revocation",
            Kind::Halt => "halt",
            Kind::Resume => "resume",
            Kind::Import => "import",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn id_kind(self) -> IdKind {
        match self {
            Kind::Operation => IdKind::Operation,
            Kind::Outcome => IdKind::Outcome,
            Kind::Grant => IdKind::Grant,
            Kind::Revocation => IdKind::Revocation,
            Kind::Halt => IdKind::Halt,
            Kind::Resume => IdKind::Resume,
            // An imported entry keeps the operation id it had.
            Kind::Import => IdKind::Operation,
        }
    }

    /// The field that holds the record's own id.
    pub fn id_field(self) -> &'static str {
        match self {
            Kind::Operation => "operation_id",
            Kind::Outcome => "outcome_id",
            Kind::Grant => "grant_id",
            Kind::Revocation => "revocation_id",
            Kind::Halt => "halt_id",
            Kind::Resume => "resume_id",
            Kind::Import => "operation_id",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Requester,
    Approver,
    /// The person who imported an entry from an earlier ledger: attests where it came from,
    /// never approves it.
    Importer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Requester => "requester",
            Role::Approver => "approver",
            Role::Importer => "importer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum OutcomeKind {
    #[serde(rename = "SUCCESS")]
    Success,
    #[serde(rename = "PARTIAL")]
    Partial,
    #[serde(rename = "ROLLBACK")]
    Rollback,
}

impl OutcomeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Success => "SUCCESS",
            OutcomeKind::Partial => "PARTIAL",
            OutcomeKind::Rollback => "ROLLBACK",
        }
    }
}

impl std::str::FromStr for OutcomeKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "SUCCESS" => Ok(OutcomeKind::Success),
            "PARTIAL" => Ok(OutcomeKind::Partial),
            "ROLLBACK" => Ok(OutcomeKind::Rollback),
            _ => Err(Error::invalid(
                "outcome",
                s,
                "expected SUCCESS, PARTIAL or ROLLBACK",
            )),
        }
    }
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signoff {
    pub by: SignerName,
    pub role: Role,
    pub at: Timestamp,
    pub key: Fingerprint,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<RecordId>,
    /// The content the signer reviewed: the pin of the operation's allowed paths in one commit
    /// (docs/SIGNED-COMMITS.md, "Content pinning"). Signed as part of the statement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
    pub sig: ArmoredSig,
}

/// The bytes a signoff signs (DESIGN §2.2): canonical JSON binding the signature to one record,
/// payload, signer, role, time and grant.
#[derive(Serialize)]
pub struct Statement<'a> {
    #[serde(rename = "type")]
    pub ty: &'static str,
    pub record: &'a RecordId,
    pub payload_sha256: &'a str,
    pub by: &'a SignerName,
    pub role: Role,
    pub at: Timestamp,
    pub grant: Option<&'a RecordId>,
    /// The policy's `repository_id`, when it has one: binds the signature to one repository.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo: Option<&'a str>,
    /// The pinned content, when the signoff pins one (absent otherwise, never `null`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin: Option<&'a str>,
}

pub const STATEMENT_TYPE: &str = "git-ops/signoff/v1";

impl Statement<'_> {
    pub fn to_bytes(&self) -> Vec<u8> {
        canonical::to_vec(self).expect("a statement has no floats and string keys only")
    }
}

/// Evidence collected by the auto-ledger (DESIGN §2.1). Every collector may instead record an
/// `error`, so a failed collection is visible in the record.
#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collected_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitEvidence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub services_status: BTreeMap<String, ServiceStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof_file: Option<ProofFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_snapshot: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_snapshot: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitEvidence {
    pub commit: String,
    pub commit_short: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    pub dirty: bool,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceStatus {
    pub active: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal: Option<String>,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofFile {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtime_utc: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn kind_operation() -> Kind {
    Kind::Operation
}

#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operation {
    #[serde(default = "kind_operation")]
    pub record: Kind,
    pub operation_id: RecordId,
    pub operation_name: String,
    pub objective: String,
    pub risk_class: RiskClass,
    pub blast_radius: String,
    pub rollback_strategy: String,
    pub allowed_paths: Vec<String>,
    pub allowed_services: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes_summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<SignerName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_of: Option<RecordId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<OutcomeKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_timestamp: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
    #[serde(default)]
    pub signoffs: Vec<Signoff>,
}

#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    pub record: Kind,
    pub outcome_id: RecordId,
    pub operation_id: RecordId,
    pub outcome: OutcomeKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_timestamp: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_of: Option<RecordId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(default)]
    pub signoffs: Vec<Signoff>,
}

#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantScope {
    pub risk_classes: Vec<RiskClass>,
    pub paths: Vec<String>,
    pub services: Vec<String>,
    pub environments: Vec<String>,
    #[serde(default)]
    pub auto_rollback: bool,
}

#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    pub record: Kind,
    pub grant_id: RecordId,
    pub grantee: SignerName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Timestamp>,
    pub expires_at: Timestamp,
    pub scope: GrantScope,
    #[serde(default)]
    pub break_glass: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default)]
    pub signoffs: Vec<Signoff>,
}

#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revocation {
    pub record: Kind,
    pub revocation_id: RecordId,
    /// A grant id, or a signer name (revokes every grant to that signer).
    pub revokes: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default)]
    pub signoffs: Vec<Signoff>,
}

#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Halt {
    pub record: Kind,
    pub halt_id: RecordId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default)]
    pub signoffs: Vec<Signoff>,
}

#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resume {
    pub record: Kind,
    pub resume_id: RecordId,
    /// The halt this resume lifts. Without it (ledgers written before it existed), a resume lifts
    /// the halts before it in ledger order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumes: Option<RecordId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default)]
    pub signoffs: Vec<Signoff>,
}

/// Where an imported entry was read (docs/IMPORT.md).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportSource {
    /// Repository-relative path of the file it was read from.
    pub file: String,
    /// First line of the entry in that file (1-based).
    pub line: u64,
    /// HEAD when it was imported (None in a repository without commits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Hex SHA-256 of the entry's text as read, so anyone can find it again.
    pub sha256: String,
}

/// An entry of a ledger kept before git-ops (the seeds' `docs/OPS_CHANGELOG.md` blocks or flat
/// `ops/ledger` entries), kept field for field under the id it had. Its `approved_by` and
/// `requested_by` are what the old ledger claimed: nobody's signature backs them, so an import
/// record is never an operation for coverage, whatever its entry says. The one signoff is the
/// importer's (role `importer`), attesting where the entry came from.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Imported {
    pub record: Kind,
    pub operation_id: RecordId,
    pub imported_by: SignerName,
    pub imported_at: Timestamp,
    pub source: ImportSource,
    /// The entry as read. Numbers that signed data cannot hold (fractions, beyond 2^53) are kept
    /// as text.
    pub entry: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub signoffs: Vec<Signoff>,
}

#[derive(Clone, PartialEq, Debug)]
#[allow(clippy::large_enum_variant)] // records are few and short-lived; boxing would only add noise
pub enum Record {
    Operation(Operation),
    Outcome(Outcome),
    Grant(Grant),
    Revocation(Revocation),
    Halt(Halt),
    Resume(Resume),
    Import(Imported),
}

macro_rules! each {
    ($self:expr, $r:ident => $e:expr) => {
        match $self {
            Record::Operation($r) => $e,
            Record::Outcome($r) => $e,
            Record::Grant($r) => $e,
            Record::Revocation($r) => $e,
            Record::Halt($r) => $e,
            Record::Resume($r) => $e,
            Record::Import($r) => $e,
        }
    };
}

impl Record {
    pub fn kind(&self) -> Kind {
        each!(self, r => r.record)
    }

    pub fn id(&self) -> &RecordId {
        match self {
            Record::Operation(r) => &r.operation_id,
            Record::Outcome(r) => &r.outcome_id,
            Record::Grant(r) => &r.grant_id,
            Record::Revocation(r) => &r.revocation_id,
            Record::Halt(r) => &r.halt_id,
            Record::Resume(r) => &r.resume_id,
            Record::Import(r) => &r.operation_id,
        }
    }

    pub fn signoffs(&self) -> &[Signoff] {
        each!(self, r => &r.signoffs)
    }

    pub fn signoffs_mut(&mut self) -> &mut Vec<Signoff> {
        each!(self, r => &mut r.signoffs)
    }

    pub fn as_operation(&self) -> Option<&Operation> {
        match self {
            Record::Operation(o) => Some(o),
            _ => None,
        }
    }

    /// When the record says it was made, if it says.
    pub fn created_at(&self) -> Option<Timestamp> {
        match self {
            Record::Operation(r) => r.created_at,
            Record::Outcome(r) => r.created_at,
            Record::Grant(r) => r.created_at,
            Record::Revocation(r) => r.created_at,
            Record::Halt(r) => r.created_at,
            Record::Resume(r) => r.created_at,
            // Imported today under the id it had then: its id's date is not the import's.
            Record::Import(_) => None,
        }
    }

    /// The record as a JSON object, signoffs included.
    pub fn to_json(&self) -> serde_json::Value {
        each!(self, r => serde_json::to_value(r)).expect("records serialise to JSON")
    }

    /// The payload: every field but `signoffs`, with `record` always present.
    pub fn payload_json(&self) -> serde_json::Value {
        let mut v = self.to_json();
        if let Some(obj) = v.as_object_mut() {
            obj.remove("signoffs");
        }
        v
    }

    /// Hex SHA-256 of the payload's canonical JSON (DESIGN §2.2).
    pub fn payload_sha256(&self) -> String {
        canonical::sha256_hex(&self.payload_json())
    }

    /// The statement a signoff on this record signs, in a repository without an id.
    pub fn statement<'a>(&'a self, digest: &'a str, s: &'a Signoff) -> Statement<'a> {
        self.statement_in(None, digest, s)
    }

    /// The statement a signoff on this record signs in the repository whose policy has
    /// `repository_id` `repo` (None: a policy without one).
    pub fn statement_in<'a>(
        &'a self,
        repo: Option<&'a str>,
        digest: &'a str,
        s: &'a Signoff,
    ) -> Statement<'a> {
        Statement {
            repo,
            ty: STATEMENT_TYPE,
            record: self.id(),
            payload_sha256: digest,
            by: &s.by,
            role: s.role,
            at: s.at,
            grant: s.grant.as_ref(),
            pin: s.pin.as_deref(),
        }
    }

    /// Checks beyond the types: the id's kind and the mandatory declaration.
    pub fn validate(&self) -> Result<(), Error> {
        let id = self.id();
        // Canonical JSON writes numbers as IEEE doubles: above 2^53 two values would share one
        // digest, so a signed number could be changed without breaking its signature.
        safe_integers(&self.payload_json(), id)?;
        if id.kind() != self.kind().id_kind() {
            return Err(Error::Schema(format!(
                "{} must be a {}-... id, not {id}",
                self.kind().id_field(),
                self.kind().id_kind().prefix()
            )));
        }
        match self {
            Record::Operation(o) => {
                for (field, value) in [
                    ("operation_name", &o.operation_name),
                    ("objective", &o.objective),
                    ("blast_radius", &o.blast_radius),
                    ("rollback_strategy", &o.rollback_strategy),
                ] {
                    if value.trim().is_empty() {
                        return Err(Error::Schema(format!(
                            "{id}: `{field}` is empty; the mandatory declaration needs all seven fields"
                        )));
                    }
                }
                if let (Some(c), Some(e)) = (o.created_at, o.expires_at)
                    && e <= c
                {
                    return Err(Error::Schema(format!(
                        "{id}: expires_at is not after created_at"
                    )));
                }
                if o.outcome == Some(OutcomeKind::Rollback) && o.rollback_of.is_none() {
                    return Err(Error::Schema(format!(
                        "{id}: outcome ROLLBACK needs `rollback_of: <operation id>`"
                    )));
                }
                check_op_ref(id, "rollback_of", o.rollback_of.as_ref())?;
            }
            Record::Outcome(o) => {
                check_op_ref(id, "operation_id", Some(&o.operation_id))?;
                check_op_ref(id, "rollback_of", o.rollback_of.as_ref())?;
                if o.outcome == OutcomeKind::Rollback && o.rollback_of.is_none() {
                    return Err(Error::Schema(format!(
                        "{id}: outcome ROLLBACK needs `rollback_of: <operation id>`"
                    )));
                }
            }
            Record::Grant(g) => {
                if let Some(nb) = g.not_before
                    && g.expires_at <= nb
                {
                    return Err(Error::Schema(format!(
                        "{id}: expires_at is not after not_before"
                    )));
                }
                if g.scope.risk_classes.is_empty() {
                    return Err(Error::Schema(format!("{id}: scope.risk_classes is empty")));
                }
            }
            Record::Resume(r) => {
                if let Some(h) = &r.resumes
                    && h.kind() != IdKind::Halt
                {
                    return Err(Error::Schema(format!(
                        "{id}: `resumes` must name a halt (HALT-...), not {h}"
                    )));
                }
            }
            Record::Revocation(r) => {
                if r.revokes.parse::<RecordId>().is_err() && SignerName::new(&r.revokes).is_err() {
                    return Err(Error::Schema(format!(
                        "{id}: `revokes` must be a grant id or a signer name, not {:?}",
                        r.revokes
                    )));
                }
            }
            Record::Halt(_) => {}
            Record::Import(i) => {
                match i.entry.get("operation_id").and_then(|v| v.as_str()) {
                    Some(e) if e.parse::<RecordId>().ok().as_ref() == Some(id) => {}
                    _ => {
                        return Err(Error::Schema(format!(
                            "{id}: the imported entry's operation_id must be {id}"
                        )));
                    }
                }
                if i.signoffs.iter().any(|s| s.role != Role::Importer) {
                    return Err(Error::Schema(format!(
                        "{id}: an imported entry is signed by its importer only (role importer); it cannot be approved"
                    )));
                }
            }
        }
        for s in self.signoffs() {
            if s.role == Role::Importer && self.kind() != Kind::Import {
                return Err(Error::Schema(format!(
                    "{id}: signoff by {} has role importer, which only imported entries have",
                    s.by
                )));
            }
            if let Some(g) = &s.grant
                && g.kind() != IdKind::Grant
            {
                return Err(Error::Schema(format!(
                    "{id}: signoff by {} names {g}, which is not a grant id",
                    s.by
                )));
            }
        }
        Ok(())
    }
}

/// The largest integer that canonical JSON (IEEE doubles) represents exactly.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

fn safe_integers(v: &serde_json::Value, id: &RecordId) -> Result<(), Error> {
    match v {
        serde_json::Value::Number(n) => {
            let ok = n.as_u64().is_some_and(|u| u <= MAX_SAFE_INTEGER)
                || n.as_i64()
                    .is_some_and(|i| i.unsigned_abs() <= MAX_SAFE_INTEGER);
            if ok {
                Ok(())
            } else {
                Err(Error::Schema(format!(
                    "{id}: the number {n} is out of range; signed numbers must be integers of at most 2^53-1"
                )))
            }
        }
        serde_json::Value::Array(a) => a.iter().try_for_each(|x| safe_integers(x, id)),
        serde_json::Value::Object(o) => o.values().try_for_each(|x| safe_integers(x, id)),
        _ => Ok(()),
    }
}

fn check_op_ref(id: &RecordId, field: &str, r: Option<&RecordId>) -> Result<(), Error> {
    match r {
        Some(r) if r.kind() != IdKind::Operation => Err(Error::Schema(format!(
            "{id}: `{field}` must name an operation (OPS-...), not {r}"
        ))),
        _ => Ok(()),
    }
}
