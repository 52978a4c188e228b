//! The lines that tell a person what a write to the ledger did: the signoff, the tag.

use crate::engine::{Signed, TagOutcome, state_word};
use crate::model::{RecordId, SignerName};

/// What became of the tag of `id` after `signer` signed or declared it, as lines for standard
/// error (none when there is nothing to say).
pub fn tag(id: &RecordId, outcome: &TagOutcome, signer: &SignerName) -> Vec<String> {
    match outcome {
        TagOutcome::NotDue | TagOutcome::Exists(_) => Vec::new(),
        TagOutcome::HumanOnly => vec![format!(
            "{id} is approved; the policy reserves tagging to humans: a human runs `git ops tag {id}`"
        )],
        TagOutcome::Made(name) => vec![format!(
            "tagged {id} as {name} (signed by {signer}; `git tag -v {name}` checks it once `git ops keys setup-git` has set up this clone)"
        )],
        TagOutcome::Failed(e) => vec![
            format!("{id} is approved, but no tag was made: {e}"),
            format!("hint: after your next commit, run `git ops tag {id}`"),
        ],
    }
}

/// The line `git ops sign` prints on standard output.
pub fn signed(id: &RecordId, signer: &SignerName, s: &Signed) -> String {
    match s {
        Signed::Already { role } => format!("{id} is already signed by {signer} as {role}"),
        Signed::Now(n) => format!(
            "signed {id} as {} by {signer}{}: {} ({} of {} approvals)",
            n.role,
            n.grant.map(|g| format!(" under {g}")).unwrap_or_default(),
            state_word(n.judged.state()),
            n.judged.approvals(),
            n.judged.required()
        ),
    }
}
