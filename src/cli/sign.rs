//! `git ops sign` and `git ops tag`: add the caller's signoff; create the signed tag when an
//! operation first reaches its threshold.

use std::io::Write;
use std::path::PathBuf;

use super::Result;

use git_ops::engine::{Signed, TagOutcome};
use git_ops::model::{RecordId, SignerName};
use git_ops::render::{line, outcome};

use super::common::{Ctx, signer};

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
    /// Pin the signoff to the content of the operation's allowed paths in this commit (the
    /// change you reviewed); rules with `pin: tree` accept only pinned content.
    #[arg(long, value_name = "COMMIT")]
    pub pin: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct TagArgs {
    /// The approved operation to tag.
    #[arg(required_unless_present = "missing", conflicts_with = "missing")]
    pub id: Option<RecordId>,
    /// Tag every approved operation that has no tag yet (a write that ended before its tag).
    #[arg(long)]
    pub missing: bool,
    #[arg(long)]
    pub key: Option<PathBuf>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<u8> {
    let ws = ctx.workspace()?;
    let me = signer(&ws, args.key.as_deref())?;
    let signed = ws.sign_pinned(&me, &args.id, args.grant, args.pin.as_deref())?;
    writeln!(
        std::io::stdout(),
        "{}",
        outcome::signed(&args.id, &me.name, &signed)
    )?;
    if let Signed::Now(n) = &signed {
        print_tags(&args.id, &n.tag, &n.caught_up, &me.name);
    }
    Ok(0)
}

/// Says on standard error what became of the tag.
pub fn print_tag(id: &RecordId, tag: &TagOutcome, signer: &SignerName) {
    for l in outcome::tag(id, tag, signer) {
        eprintln!("{l}");
    }
}

/// Says what became of a write's tag, and of the earlier tags it caught up on.
pub fn print_tags(
    id: &RecordId,
    tag: &TagOutcome,
    caught_up: &[(RecordId, TagOutcome)],
    signer: &SignerName,
) {
    print_tag(id, tag, signer);
    for (earlier, t) in caught_up {
        print_tag(earlier, t, signer);
    }
}

pub fn run_tag(ctx: &Ctx, args: TagArgs) -> Result<u8> {
    let ws = ctx.workspace()?;
    let me = signer(&ws, args.key.as_deref())?;
    let Some(id) = args.id else {
        let done = ws.tag_missing_of(&me, false);
        if done.is_empty() {
            writeln!(std::io::stdout(), "no approved operation lacks its tag")?;
        }
        for (id, outcome) in &done {
            print_tag(id, outcome, &me.name);
        }
        let failed = done
            .iter()
            .any(|(_, o)| matches!(o, TagOutcome::Failed(_) | TagOutcome::HumanOnly));
        return Ok(if failed { 1 } else { 0 });
    };
    match ws.tag(&me, &id)? {
        TagOutcome::Exists(name) => writeln!(std::io::stdout(), "{} exists already", line(&name))?,
        other => print_tag(&id, &other, &me.name),
    }
    Ok(0)
}
