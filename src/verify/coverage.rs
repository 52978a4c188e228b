//! Coverage (DESIGN §3): is a change (a commit against its parent, or the staged change against
//! HEAD) allowed? Returns a report; prints nothing.
//!
//! The policy in force is the old side's (the parent commit's), so a change can never loosen the
//! rules it is judged by. Ledger files follow their own rule: records and signoffs may be added
//! (each checked on its own), nothing may be edited or removed.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::Datelike;

use super::grants::{GrantClock, GrantIndex};
use super::records::{RecordCheck, State, check_record, check_record_with};
use super::{Finding, Report, Severity};
use crate::model::glob::Glob;
use crate::model::policy::{LEDGER_DIR, POLICY_PATH, Policy};
use crate::model::record::Record;
use crate::model::{Kind, RecordId, RiskClass, Timestamp, yaml};
use crate::store::diff::{Change, ChangeKind, EntryKind};
use crate::store::ledger::{LedgerFile, month_of, month_path};
use crate::store::snapshot::SideReader;
use crate::store::{self};

pub struct ChangeContext<'a> {
    pub old: &'a SideReader<'a>,
    pub new: &'a SideReader<'a>,
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
}

type Files = HashMap<String, Option<Result<LedgerFile, String>>>;

fn parse_policy(text: Option<String>) -> Option<Result<Policy, String>> {
    text.map(|t| yaml::parse_policy(&t).map_err(|e| e.to_string()))
}

fn load_file(
    reader: &SideReader<'_>,
    cache: &mut Files,
    path: &str,
) -> Result<Option<Result<LedgerFile, String>>, store::Error> {
    if let Some(v) = cache.get(path) {
        return Ok(v.clone());
    }
    let v = reader
        .read_string(path)?
        .map(|text| LedgerFile::parse(path, text).map_err(|e| e.to_string()));
    cache.insert(path.to_string(), v.clone());
    Ok(v)
}

/// Judges a change. I/O errors (a missing object, an unreadable file) are returned, and callers
/// reject the change: fail closed.
pub fn judge(ctx: &ChangeContext<'_>) -> Result<Judgement, store::Error> {
    let mut j = Judgement::default();
    let old_policy = parse_policy(ctx.old.read_string(POLICY_PATH)?);
    let policy = match old_policy {
        Some(Ok(p)) => p,
        Some(Err(e)) => {
            j.report.push(
                Finding::error(
                    "policy-unreadable",
                    format!("the policy in force does not parse: {e}"),
                )
                .at(POLICY_PATH, None),
            );
            return Ok(j);
        }
        None => {
            // Nothing was governed before this change.
            if let Some(new) = parse_policy(ctx.new.read_string(POLICY_PATH)?) {
                match new {
                    Ok(_) => j.bootstrap = true,
                    Err(e) => j.report.push(
                        Finding::error(
                            "policy-invalid",
                            format!("the new policy does not parse: {e}"),
                        )
                        .at(POLICY_PATH, None),
                    ),
                }
            }
            return Ok(j);
        }
    };

    let mut old_files: Files = HashMap::new();
    let mut new_files: Files = HashMap::new();
    let mut linked: BTreeSet<RecordId> = BTreeSet::new();
    let mut governed: Vec<&Change> = Vec::new();

    for c in ctx.changes {
        let path = c.path.as_str();
        let new_kind = c.new.map(|(_, k)| k);
        if path.starts_with(&format!("{LEDGER_DIR}/")) {
            if matches!(new_kind, Some(EntryKind::Symlink | EntryKind::Submodule)) {
                j.report.push(
                    Finding::error(
                        "symlink",
                        format!("{path}: symlinks and submodules are refused in the ledger"),
                    )
                    .at(path, None),
                );
                continue;
            }
            check_ledger_change(
                ctx,
                &policy,
                c,
                &mut old_files,
                &mut new_files,
                &mut linked,
                &mut j.report,
            )?;
            continue;
        }
        if matches!(c.kind, ChangeKind::Modified | ChangeKind::Deleted) && policy.is_immutable(path)
        {
            let what = if c.kind == ChangeKind::Deleted {
                "deleted"
            } else {
                "modified"
            };
            j.report.push(
                Finding::error(
                    "immutable",
                    format!("{path} is immutable under the policy (may be added, never changed or deleted) and was {what}; add a new artifact that refers to it instead"),
                )
                .at(path, None),
            );
        }
        if policy.governs(path) {
            if matches!(new_kind, Some(EntryKind::Symlink | EntryKind::Submodule)) {
                j.report.push(
                    Finding::error(
                        "symlink",
                        format!("{path}: symlinks and submodules are refused under governed paths"),
                    )
                    .at(path, None),
                );
            }
            governed.push(c);
        }
    }

    // A policy change must parse, and its version must increase.
    if let Some(c) = ctx.changes.iter().find(|c| c.path == POLICY_PATH) {
        match parse_policy(ctx.new.read_string(POLICY_PATH)?) {
            None => j.report.push(
                Finding::error("policy-removed", format!("{POLICY_PATH} is deleted; a governed repository keeps its policy"))
                    .at(POLICY_PATH, None),
            ),
            Some(Err(e)) => j
                .report
                .push(Finding::error("policy-invalid", format!("the new policy does not parse: {e}")).at(POLICY_PATH, None)),
            Some(Ok(new)) if new.version <= policy.version && c.kind == ChangeKind::Modified => j.report.push(
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
    }

    if governed.is_empty() {
        j.linked_by_change = linked.into_iter().collect();
        return Ok(j);
    }

    // Candidates: records linked by this change, then those the trailers name.
    let mut candidates: BTreeMap<RecordId, Result<Candidate, String>> = BTreeMap::new();
    for id in linked.iter().chain(ctx.links.iter()) {
        if candidates.contains_key(id) {
            continue;
        }
        let c = candidate(ctx, &policy, id, &mut new_files)?;
        if ctx.links.contains(id)
            && let Err(why) = &c
        {
            j.report.push(
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

    for c in governed {
        let path = c.path.as_str();
        let rules: Vec<_> = policy.rules_for(path).collect();
        let min_risk = rules.iter().map(|r| r.min_risk).max();
        let need_approvals = rules.iter().filter_map(|r| r.approvals).max().unwrap_or(0);
        let human_only = rules.iter().any(|r| r.human_only);
        let mut reasons = Vec::new();
        let mut covered_by = None;
        for (id, cand) in &candidates {
            let Ok(cand) = cand else { continue };
            if !cand.allowed.iter().any(|g| g.matches(path)) {
                reasons.push(format!(
                    "{id} does not allow {path} (allowed_paths: {})",
                    cand.allowed_text.join(", ")
                ));
                continue;
            }
            if let Some(min) = min_risk
                && cand.risk < min
            {
                reasons.push(format!(
                    "{id} is {} but {path} needs at least {min}",
                    cand.risk
                ));
                continue;
            }
            if cand.approvals < need_approvals {
                reasons.push(format!(
                    "{id} has {} approvals but {path} needs {need_approvals}",
                    cand.approvals
                ));
                continue;
            }
            // The policy decides everything else: changing it always takes a human requester and,
            // where there is more than one human approver, another human's own approval, whatever
            // the risk classes say.
            let needs_second = policy.signers.values().filter(|e| e.is_approver()).count() > 1;
            if path == POLICY_PATH
                && !(cand.requester_human && (cand.other_direct_approvals >= 1 || !needs_second))
            {
                reasons.push(format!(
                    "{path} needs an operation requested by a human and approved by another human ({id} is not)"
                ));
                continue;
            }
            if human_only && !cand.requester_human {
                reasons.push(format!(
                    "{path} is human-only, and {id} was requested by automation"
                ));
                continue;
            }
            if human_only && cand.direct_approvals < cand.required.max(need_approvals) {
                reasons.push(format!(
                    "{path} is human-only, and {id} has {} approvals signed by humans themselves (grants never count here)",
                    cand.direct_approvals
                ));
                continue;
            }
            covered_by = Some(*id);
            break;
        }
        let rule_names: Vec<String> = rules
            .iter()
            .flat_map(|r| {
                r.paths
                    .iter()
                    .filter(|g| g.matches(path))
                    .map(|g| g.as_str().to_string())
            })
            .chain((path == POLICY_PATH).then(|| "the policy file itself".to_string()))
            .collect();
        if covered_by.is_none() {
            let mut msg = format!(
                "{path} is governed ({}{}) and no approved, live operation linked to this change covers it",
                rule_names.join(", "),
                min_risk
                    .map(|r| format!("; min risk {r}"))
                    .unwrap_or_default()
            );
            if candidates.is_empty() {
                msg.push_str(
                    "; no operation is linked (add one in the same change, or an Ops-Id trailer)",
                );
            }
            for r in &reasons {
                msg.push_str("; ");
                msg.push_str(r);
            }
            for (id, cand) in &candidates {
                if let Err(why) = cand {
                    msg.push_str(&format!("; {id}: {why}"));
                }
            }
            j.report
                .push(Finding::error("uncovered", msg).at(path, None));
        }
        j.governed.push(PathVerdict {
            path: path.to_string(),
            rules: rule_names,
            min_risk,
            covered_by,
        });
    }
    j.linked_by_change = linked.into_iter().collect();
    Ok(j)
}

/// Checks `record` under `policy`; a record with grant signoffs is judged against every grant,
/// revocation and halt in the new side's ledger, at the verifier's clock.
fn check_now(
    ctx: &ChangeContext<'_>,
    policy: &Policy,
    record: &Record,
    files: &mut Files,
) -> Result<RecordCheck, store::Error> {
    check_on_side(ctx.new, policy, record, ctx.now, files)
}

/// Every grant, revocation, halt and resume in the ledger on `side` (month files that do not
/// parse are skipped: they are reported where they are read).
pub fn grant_index_on_side(
    side: &SideReader<'_>,
    policy: &Policy,
    files: &mut HashMap<String, Option<Result<LedgerFile, String>>>,
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
    side: &SideReader<'_>,
    policy: &Policy,
    record: &Record,
    now: Timestamp,
    files: &mut HashMap<String, Option<Result<LedgerFile, String>>>,
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

/// An operation that could cover paths.
struct Candidate {
    risk: RiskClass,
    allowed: Vec<Glob>,
    allowed_text: Vec<String>,
    approvals: u32,
    /// Approvals signed by humans themselves, not through a grant.
    direct_approvals: u32,
    requester_human: bool,
    /// Direct approvals by someone other than the requester.
    other_direct_approvals: u32,
    required: u32,
}

/// An allowed path is anchored at the repository root (`deploy/` is `/deploy/`).
pub fn allowed_glob(p: &str) -> Option<Glob> {
    let p = p.trim().trim_start_matches("./").trim_start_matches('/');
    if p.is_empty() {
        return None;
    }
    Glob::new(&format!("/{p}")).ok()
}

fn candidate(
    ctx: &ChangeContext<'_>,
    policy: &Policy,
    id: &RecordId,
    files: &mut Files,
) -> Result<Result<Candidate, String>, store::Error> {
    if id.kind() != crate::model::IdKind::Operation {
        return Ok(Err("not an operation id".into()));
    }
    let path = month_path(&id.month());
    let Some(file) = load_file(ctx.new, files, &path)? else {
        return Ok(Err(format!(
            "no such record in this change's ledger ({path} is not in it; is it staged? `git add {path}`)"
        )));
    };
    let file = match file {
        Ok(f) => f,
        Err(e) => return Ok(Err(format!("its ledger file does not parse: {e}"))),
    };
    let Some((_, record)) = file.records.iter().find(|(_, r)| r.id() == id) else {
        return Ok(Err(format!(
            "no such record in this change's ledger (if it is in your working tree, stage it: `git add {path}`)"
        )));
    };
    let Record::Operation(op) = record else {
        return Ok(Err("not an operation".into()));
    };
    let check = check_now(ctx, policy, record, files)?;
    match check.state() {
        State::Approved => {}
        State::Pending => {
            let mut why = if check.human_only && check.approvals() >= check.required {
                format!(
                    "pending: it touches a human-only rule, which needs {} approvals signed by humans themselves, and grants do not count there ({} so far)",
                    check.required,
                    check.direct_approvals()
                )
            } else {
                format!(
                    "pending: {} of {} approvals (run `git ops sign {id}`)",
                    check.approvals(),
                    check.required
                )
            };
            for n in &check.notes {
                why.push_str("; ");
                why.push_str(n);
            }
            return Ok(Err(why));
        }

        State::Invalid => {
            let why: Vec<_> = check.problems.iter().map(|(_, m)| m.as_str()).collect();
            return Ok(Err(format!("invalid: {}", why.join("; "))));
        }
    }
    let expires = op.expires_at.or_else(|| {
        op.created_at
            .map(|c| c.plus_hours(policy.operations.default_window_hours.into()))
    });
    match expires {
        None => {
            return Ok(Err(
                "it has neither expires_at nor created_at, so its window cannot be judged".into(),
            ));
        }
        Some(e) if ctx.now >= e => return Ok(Err(format!("expired at {e}"))),
        Some(_) => {}
    }
    if let Some(c) = op.created_at
        && c.unix() > ctx.now.unix() + MAX_CLOCK_SKEW_SECS
    {
        return Ok(Err(format!("created_at {c} is in the future")));
    }
    if let Some(out) = closing_outcome(ctx, id, files)? {
        return Ok(Err(format!("closed by outcome {out}")));
    }
    let allowed: Vec<Glob> = op
        .allowed_paths
        .iter()
        .filter_map(|p| allowed_glob(p))
        .collect();
    Ok(Ok(Candidate {
        risk: op.risk_class,
        allowed,
        allowed_text: op.allowed_paths.clone(),
        approvals: check.approvals(),
        direct_approvals: check.direct_approvals(),
        requester_human: check.requester_human,
        other_direct_approvals: check
            .approvers
            .iter()
            .filter(|a| Some(*a) != check.requester.as_ref())
            .count() as u32,
        required: check.required,
    }))
}

/// Clocks disagree a little; more than this and a claimed time is refused.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// An outcome record that closes `id`, in the month files from `id`'s month to now's.
fn closing_outcome(
    ctx: &ChangeContext<'_>,
    id: &RecordId,
    files: &mut Files,
) -> Result<Option<RecordId>, store::Error> {
    let (mut y, mut m) = (id.date().year(), id.date().month());
    let end = ctx.now.date();
    let mut guard = 0;
    while (y, m) <= (end.year(), end.month()) && guard < 120 {
        let path = month_path(&format!("{y:04}-{m:02}"));
        if let Some(Ok(f)) = load_file(ctx.new, files, &path)? {
            for (_, r) in &f.records {
                if let Record::Outcome(o) = r
                    && &o.operation_id == id
                {
                    return Ok(Some(o.outcome_id));
                }
            }
        }
        m += 1;
        if m == 13 {
            m = 1;
            y += 1;
        }
        guard += 1;
    }
    Ok(None)
}

/// What must hold between any earlier and later state of a ledger file: every earlier record is
/// still there, in the same order, with the same payload and every earlier signoff exactly as it
/// was (signoffs are only added). Returns the records that kept all that, as (span in the new
/// file, old record, new record); everything else is reported.
pub fn preserved<'a>(
    path: &str,
    old: &'a LedgerFile,
    new: &'a LedgerFile,
    report: &mut Report,
) -> Vec<(&'a crate::model::yaml::DocSpan, &'a Record, &'a Record)> {
    let mut kept = Vec::new();
    for (_, r_old) in &old.records {
        let id = r_old.id();
        let Some((span, r_new)) = new.records.iter().find(|(_, r)| r.id() == id) else {
            report.push(
                Finding::error(
                    "record-removed",
                    format!("{id} was removed from {path}; records are never removed"),
                )
                .at(path, None)
                .record(*id),
            );
            continue;
        };
        if r_new.payload_sha256() != r_old.payload_sha256() {
            let a = yaml::render_value(&r_old.payload_json());
            let b = yaml::render_value(&r_new.payload_json());
            let diff = similar::TextDiff::from_lines(&a, &b)
                .unified_diff()
                .context_radius(2)
                .header(&format!("{id} before"), &format!("{id} after"))
                .to_string();
            report.push(
                Finding::error(
                    "payload-edited",
                    format!("{id}: its payload was edited; records are immutable (add a new record that refers to it)"),
                )
                .at(path, Some(span.first_line))
                .record(*id)
                .diff(diff),
            );
            continue;
        }
        // Every earlier signoff must still be there exactly as it was: not removed, and not
        // edited (a changed `at` or role keeps the count but not the signature's meaning).
        if let Some(lost) = r_old
            .signoffs()
            .iter()
            .find(|s| !r_new.signoffs().contains(s))
        {
            let what = if r_new.signoffs().iter().any(|n| n.sig == lost.sig) {
                "edited"
            } else {
                "removed"
            };
            report.push(
                Finding::error(
                    "signoff-removed",
                    format!("{id}: the signoff by {} ({}) was {what}; signoffs are never changed, only added", lost.by, lost.role),
                )
                .at(path, Some(span.first_line))
                .record(*id),
            );
            continue;
        }
        kept.push((span, r_old, r_new));
    }
    // Order matters (a halt and a resume in the same second apply in ledger order): earlier
    // records keep their order, and new ones come after them.
    let old_ids: Vec<&RecordId> = old.records.iter().map(|(_, r)| r.id()).collect();
    let new_order: Vec<&RecordId> = new
        .records
        .iter()
        .map(|(_, r)| r.id())
        .filter(|id| old_ids.contains(id))
        .collect();
    if new_order.len() == old_ids.len() && new_order != old_ids {
        report.push(
            Finding::error(
                "ledger-reordered",
                format!("{path}: earlier records were reordered; the ledger only grows at the end"),
            )
            .at(path, None),
        );
    }
    let last_old = new
        .records
        .iter()
        .rposition(|(_, r)| old_ids.contains(&r.id()));
    let first_new = new
        .records
        .iter()
        .position(|(_, r)| !old_ids.contains(&r.id()));
    if let (Some(l), Some(f)) = (last_old, first_new)
        && f < l
    {
        report.push(
            Finding::error(
                "ledger-reordered",
                format!("{path}: a new record was inserted before earlier ones; append at the end"),
            )
            .at(path, None),
        );
    }
    kept
}

#[allow(clippy::too_many_arguments)]
fn check_ledger_change(
    ctx: &ChangeContext<'_>,
    policy: &Policy,
    c: &Change,
    old_files: &mut Files,
    new_files: &mut Files,
    linked: &mut BTreeSet<RecordId>,
    report: &mut Report,
) -> Result<(), store::Error> {
    let path = c.path.as_str();
    if month_of(path).is_none() || path.matches('/').count() != 2 {
        report.push(
            Finding::error(
                "ledger-file",
                format!("{path}: only ops/ledger/YYYY-MM.yaml files may be in the ledger"),
            )
            .at(path, None),
        );
        return Ok(());
    }
    let old = load_file(ctx.old, old_files, path)?;
    let new = load_file(ctx.new, new_files, path)?;
    let old = match old {
        Some(Ok(f)) => Some(f),
        // The old side was already broken; judge the new side on its own.
        Some(Err(_)) | None => None,
    };
    let new = match new {
        Some(Ok(f)) => f,
        Some(Err(e)) => {
            report.push(Finding::error("schema", e).at(path, None));
            return Ok(());
        }
        None => {
            if old.as_ref().is_some_and(|f| !f.records.is_empty()) {
                report.push(
                    Finding::error(
                        "record-removed",
                        format!("{path} is deleted; ledger records are never removed"),
                    )
                    .at(path, None),
                );
            }
            return Ok(());
        }
    };
    let mut ids = BTreeSet::new();
    for (span, r) in &new.records {
        if !ids.insert(*r.id()) {
            report.push(
                Finding::error(
                    "duplicate-id",
                    format!("{} appears twice in {path}", r.id()),
                )
                .at(path, Some(span.first_line)),
            );
        }
    }
    let old_by_id: BTreeMap<RecordId, &Record> = old
        .as_ref()
        .map(|f| f.records.iter().map(|(_, r)| (*r.id(), r)).collect())
        .unwrap_or_default();
    let kept = match &old {
        Some(old) => preserved(path, old, &new, report),
        None => Vec::new(),
    };
    for (span, r_old, r_new) in kept {
        let id = r_old.id();
        if r_new != r_old {
            for s in r_new
                .signoffs()
                .iter()
                .filter(|s| !r_old.signoffs().contains(s))
            {
                if s.at.unix() > ctx.now.unix() + MAX_CLOCK_SKEW_SECS {
                    report.push(
                        Finding::error(
                            "future-signoff",
                            format!("{id}: signoff by {} is dated {}, in the future", s.by, s.at),
                        )
                        .at(path, Some(span.first_line))
                        .record(*id),
                    );
                }
            }
            let check = check_now(ctx, policy, r_new, new_files)?;
            for (code, msg) in &check.problems {
                report.push(
                    Finding::error(code, format!("{id}: {msg}"))
                        .at(path, Some(span.first_line))
                        .record(*id),
                );
            }
            let was = check_record(policy, r_old).state();
            if check.state() == State::Approved
                && was != State::Approved
                && r_new.kind() == Kind::Operation
            {
                linked.insert(*id);
            }
        }
    }
    for (span, r) in &new.records {
        if old_by_id.contains_key(r.id()) {
            continue;
        }
        let check = check_now(ctx, policy, r, new_files)?;
        for (code, msg) in &check.problems {
            report.push(
                Finding::error(code, format!("{}: {msg}", r.id()))
                    .at(path, Some(span.first_line))
                    .record(*r.id()),
            );
        }
        if r.kind() == Kind::Operation && check.state() == State::Approved {
            linked.insert(*r.id());
        }
        // A new record's claimed times are judged against the verifier's clock, and no signoff
        // may claim to predate the record it signs.
        let created = r.created_at();
        for s in r.signoffs() {
            if let Some(c) = created
                && s.at.unix() < c.unix() - MAX_CLOCK_SKEW_SECS
            {
                report.push(
                    Finding::error(
                        "backdated-signoff",
                        format!(
                            "{}: signoff by {} is dated {}, before the record was made ({c})",
                            r.id(),
                            s.by,
                            s.at
                        ),
                    )
                    .at(path, Some(span.first_line))
                    .record(*r.id()),
                );
            }
            if s.at.unix() > ctx.now.unix() + MAX_CLOCK_SKEW_SECS {
                report.push(
                    Finding::error(
                        "future-signoff",
                        format!(
                            "{}: signoff by {} is dated {}, in the future",
                            r.id(),
                            s.by,
                            s.at
                        ),
                    )
                    .at(path, Some(span.first_line))
                    .record(*r.id()),
                );
            }
        }
    }
    Ok(())
}
