//! `git ops sign` and `git ops tag`: add the caller's signoff; create the signed tag when an
//! operation first reaches its threshold.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;

use git_ops::crypto;
use git_ops::model::policy::Policy;
use git_ops::model::record::Role;
use git_ops::model::{Kind, Record, RecordId, yaml};
use git_ops::render::line;
use git_ops::store::ledger::{Ledger, LedgerWriter};
use git_ops::store::{Repo, tags};
use git_ops::verify::grants::{GrantClock, GrantIndex, scope_covers};
use git_ops::verify::records::{State, check_record, check_record_with};

use super::common::{Ctx, Me, audited, load_key, load_policy, whoami};
use super::{usage, usage_hint};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The record to sign (OPS-..., GRANT-..., ...).
    pub id: RecordId,
    /// Sign as automation under this grant.
    #[arg(long)]
    pub grant: Option<RecordId>,
    /// Private key to sign with.
    #[arg(long)]
    pub key: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct TagArgs {
    /// The approved operation to tag.
    pub id: RecordId,
    #[arg(long)]
    pub key: Option<PathBuf>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    let repo = ctx.repo()?;
    let root = repo.workdir()?.to_path_buf();
    let policy = load_policy(&root)?;
    let me = whoami(&policy, load_key(Some(&repo), args.key.as_deref())?)?;
    let ids = [args.id.to_string()];
    audited(Some(&repo), "sign", &ids, Some(&me), || {
        sign(ctx, &repo, &policy, &me, &args)
    })
}

fn sign(ctx: &Ctx, repo: &Repo, policy: &Policy, me: &Me, args: &Args) -> Result<u8> {
    let now = ctx.now();
    let writer = LedgerWriter::lock(repo)?;
    let ledger = writer.ledger()?;
    let found = ledger.find(&args.id).ok_or_else(|| {
        usage_hint(
            format!("no record {} in the ledger", args.id),
            "git ops list shows the records",
        )
    })?;
    let record = found.value;
    let grants = GrantIndex::build(policy, ledger.records().map(|r| r.value));
    let check = check_record_with(policy, record, Some((&grants, GrantClock::Now(now))));
    let role = if check.requester.is_none() {
        Role::Requester
    } else {
        Role::Approver
    };
    if record
        .signoffs()
        .iter()
        .any(|s| s.by == me.name && s.role == role)
    {
        writeln!(
            std::io::stdout(),
            "{} is already signed by {} as {role}",
            args.id,
            me.name
        )?;
        return Ok(0);
    }
    if role == Role::Requester {
        if let Some(op) = record.as_operation()
            && let Some(rb) = &op.requested_by
            && rb != &me.name
        {
            return Err(usage(format!(
                "{} was requested by {rb}; only {rb} can sign it as requester",
                args.id
            )));
        }
    } else {
        if let Some(g) = &args.grant {
            check_grant_for_me(policy, &grants, record, g, me, now)?;
        } else if !me.entry.is_approver() {
            return Err(usage_hint(
                format!(
                    "{} is not a human approver in the policy, so cannot approve {}",
                    me.name, args.id
                ),
                "automation approves only inside a grant: git ops sign <id> --grant <grant-id>",
            ));
        }
        let self_ok = record
            .as_operation()
            .is_some_and(|op| policy.risk_rule(op.risk_class).self_approval);
        if check.requester.as_ref() == Some(&me.name) && args.grant.is_none() && !self_ok {
            return Err(usage(format!(
                "you requested {}; your own approval does not count for its risk class (no self_approval)",
                args.id
            )));
        }
    }
    let s = crypto::signoff(record, &me.key, &me.name, role, now, args.grant)?;
    let updated = writer.update(&args.id, |r| {
        r.signoffs_mut().push(s);
        Ok(())
    })?;
    drop(writer);
    let after = check_record_with(policy, &updated, Some((&grants, GrantClock::Now(now))));
    writeln!(
        std::io::stdout(),
        "signed {} as {role} by {}{}: {} ({} of {} approvals)",
        args.id,
        me.name,
        args.grant
            .map(|g| format!(" under {g}"))
            .unwrap_or_default(),
        state_word(after.state()),
        after.approvals(),
        after.required
    )?;
    after_signing_with(repo, policy, me, &updated, after.state())?;
    Ok(0)
}

/// A grant signoff must be by the grantee, under a grant live now, whose scope covers the record.
fn check_grant_for_me(
    policy: &Policy,
    grants: &GrantIndex,
    record: &Record,
    grant: &RecordId,
    me: &Me,
    now: git_ops::model::Timestamp,
) -> Result<()> {
    let info = grants
        .grants
        .get(grant)
        .ok_or_else(|| usage(format!("no grant {grant} in the ledger")))?;
    if info.grant.grantee != me.name {
        return Err(usage(format!(
            "{grant} is granted to {}, not to {}",
            info.grant.grantee, me.name
        )));
    }
    grants
        .live_at(policy, grant, now, true)
        .map_err(|why| usage(format!("refused: {why}")))?;
    let Some(op) = record.as_operation() else {
        return Err(usage(format!(
            "grants cover operations only, and {} is a {}",
            record.id(),
            record.kind()
        )));
    };
    scope_covers(&info.grant, op).map_err(|why| usage(format!("refused, out of scope: {why}")))
}

pub fn state_word(s: State) -> &'static str {
    match s {
        State::Approved => "approved",
        State::Pending => "pending",
        State::Invalid => "invalid",
    }
}

/// After a signoff: when an operation has reached its threshold and has no tag yet, tag it
/// (unless the policy reserves tagging to humans and the signer is automation).
pub fn after_signing(repo: &Repo, policy: &Policy, me: &Me, record: &Record) -> Result<()> {
    after_signing_with(
        repo,
        policy,
        me,
        record,
        check_record(policy, record).state(),
    )
}

pub fn after_signing_with(
    repo: &Repo,
    policy: &Policy,
    me: &Me,
    record: &Record,
    state: State,
) -> Result<()> {
    if record.kind() != Kind::Operation || state != State::Approved {
        return Ok(());
    }
    let name = record.id().tag_name();
    if tags::tag_exists(repo, &name)? {
        return Ok(());
    }
    if policy.operations.human_only_tags && !me.entry.is_human() {
        eprintln!(
            "{} is approved; the policy reserves tagging to humans: a human runs `git ops tag {}`",
            record.id(),
            record.id()
        );
        return Ok(());
    }
    let ids = [record.id().to_string()];
    let made = audited(Some(repo), "tag", &ids, Some(me), || {
        make_tag(repo, me, record)
    });
    if let Err(e) = made {
        eprintln!("{} is approved, but no tag was made: {e:#}", record.id());
        eprintln!(
            "hint: after your next commit, run `git ops tag {}`",
            record.id()
        );
    }
    Ok(())
}

fn make_tag(repo: &Repo, me: &Me, record: &Record) -> Result<()> {
    let Some(head) = repo.head_commit()? else {
        return Err(usage("the repository has no commit yet"));
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
    tags::create_signed_tag(repo, &name, head, &tagger, &message, &me.key)?;
    eprintln!(
        "tagged {} as {name} (signed by {}, check with `git tag -v {name}`)",
        record.id(),
        me.name
    );
    Ok(())
}

/// git refuses `<`, `>` and newlines in ident fields.
fn sanitize_ident(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '<' | '>' | '\n' | '\r' | '\0'))
        .collect()
}

pub fn run_tag(ctx: &Ctx, args: TagArgs) -> Result<u8> {
    let repo = ctx.repo()?;
    let root = repo.workdir()?.to_path_buf();
    let policy = load_policy(&root)?;
    let me = whoami(&policy, load_key(Some(&repo), args.key.as_deref())?)?;
    let ledger = Ledger::load(&root)?;
    let record = ledger
        .find(&args.id)
        .ok_or_else(|| usage(format!("no record {} in the ledger", args.id)))?
        .value;
    if record.kind() != Kind::Operation {
        return Err(usage(format!(
            "{} is not an operation; only operations are tagged",
            args.id
        )));
    }
    if policy.operations.human_only_tags && !me.entry.is_human() {
        return Err(usage(format!(
            "the policy reserves tagging to humans, and {} is automation",
            me.name
        )));
    }
    // Approval as it was made: grant signoffs are judged at the time they claim (the tag records
    // an approval that happened, even if the grant has expired since).
    let grants = GrantIndex::build(&policy, ledger.records().map(|r| r.value));
    let state = check_record_with(&policy, record, Some((&grants, GrantClock::Claimed))).state();
    if state != State::Approved {
        return Err(usage(format!(
            "{} is {}, not approved: nothing to tag",
            args.id,
            state_word(state)
        )));
    }
    let name = args.id.tag_name();
    if tags::tag_exists(&repo, &name)? {
        writeln!(std::io::stdout(), "{} exists already", line(&name))?;
        return Ok(0);
    }
    let ids = [args.id.to_string()];
    audited(Some(&repo), "tag", &ids, Some(&me), || {
        make_tag(&repo, &me, record)
    })?;
    Ok(0)
}
