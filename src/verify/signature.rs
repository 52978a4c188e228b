//! Who made a commit (docs/SIGNED-COMMITS.md): git's own SSH commit signature (the `gpgsig`
//! header, SSHSIG namespace `git`), verified in-process against the keys of the policy in force,
//! and the rules that use it: a governed commit is signed by a signer of the operation that
//! covers it (`commits.require_signature`), and a commit made by automation stays inside the
//! automation bounds (`automation:`).

use std::collections::BTreeSet;

use gix::ObjectId;

use super::Finding;
use super::coverage::Judgement;
use crate::crypto::{self, NAMESPACE_GIT};
use crate::model::policy::{POLICY_PATH, Policy, RequireSignature};
use crate::model::{RecordId, SignerName};
use crate::store::diff::{Change, ChangeKind};
use crate::store::ledger::{LedgerFile, month_path};
use crate::store::repo::CommitInfo;
use crate::store::snapshot::Side;
use crate::store::{self, Repo};

/// A commit's signature and the bytes it signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitSignature {
    /// The object without its `gpgsig` header: what git signs.
    pub payload: Vec<u8>,
    /// The armored signature (`-----BEGIN SSH SIGNATURE-----`, or another format's armor).
    pub armored: String,
}

/// Splits a raw commit object into its signed payload and its `gpgsig` signature. `Ok(None)` for
/// an unsigned commit; an error for a commit with two signatures (which one git checks is not
/// ours to guess).
pub fn split_commit(raw: &[u8]) -> Result<Option<CommitSignature>, String> {
    let header_end = raw
        .windows(2)
        .position(|w| w == b"\n\n")
        .map(|p| p + 1)
        .unwrap_or(raw.len());
    let (headers, rest) = raw.split_at(header_end);
    let mut payload = Vec::with_capacity(raw.len());
    let mut sig: Option<Vec<u8>> = None;
    let mut in_sig = false;
    for line in headers.split_inclusive(|b| *b == b'\n') {
        if in_sig && line.first() == Some(&b' ') {
            let s = sig.as_mut().expect("in a signature");
            s.extend_from_slice(&line[1..]);
            continue;
        }
        in_sig = false;
        if let Some(value) = line.strip_prefix(b"gpgsig ") {
            if sig.is_some() {
                return Err("the commit carries two gpgsig headers".into());
            }
            sig = Some(value.to_vec());
            in_sig = true;
            continue;
        }
        payload.extend_from_slice(line);
    }
    payload.extend_from_slice(rest);
    match sig {
        None => Ok(None),
        Some(s) => {
            let armored =
                String::from_utf8(s).map_err(|_| "the commit signature is not text".to_string())?;
            Ok(Some(CommitSignature { payload, armored }))
        }
    }
}

/// Whose key made a commit's signature, as far as the policy knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitSigner {
    /// No `gpgsig` header.
    Unsigned,
    /// A valid SSH signature (namespace `git`) by this policy signer.
    Signer(SignerName),
    /// A signature by a key no signer of the policy has, or one that does not verify.
    Invalid(String),
}

impl CommitSigner {
    pub fn name(&self) -> Option<&SignerName> {
        match self {
            CommitSigner::Signer(n) => Some(n),
            _ => None,
        }
    }

    /// How people read it: the signer's name, `unsigned`, or why the signature counts for no one.
    pub fn describe(&self) -> String {
        match self {
            CommitSigner::Unsigned => "unsigned".into(),
            CommitSigner::Signer(n) => n.to_string(),
            CommitSigner::Invalid(why) => format!("no valid signer ({why})"),
        }
    }
}

/// Verifies the signature of commit `id` against every signer key of `policy`, in-process (no
/// `ssh-keygen`). Strict ed25519, namespace `git`.
pub fn commit_signer(
    repo: &Repo,
    id: ObjectId,
    policy: &Policy,
) -> Result<CommitSigner, store::Error> {
    let raw = repo.raw_commit(id)?;
    Ok(signer_of_raw(&raw, policy))
}

/// [`commit_signer`] on the bytes of a commit object.
pub fn signer_of_raw(raw: &[u8], policy: &Policy) -> CommitSigner {
    let sig = match split_commit(raw) {
        Ok(None) => return CommitSigner::Unsigned,
        Ok(Some(s)) => s,
        Err(e) => return CommitSigner::Invalid(e),
    };
    if !sig
        .armored
        .trim_start()
        .starts_with("-----BEGIN SSH SIGNATURE-----")
    {
        return CommitSigner::Invalid("not an SSH signature (gpg.format=ssh is needed)".into());
    }
    let mut found = None;
    for (name, entry) in &policy.signers {
        match crypto::verify(&entry.key, NAMESPACE_GIT, &sig.payload, &sig.armored) {
            Ok(()) => return CommitSigner::Signer(name.clone()),
            Err(crypto::Error::WrongKey { found: f, .. }) => found = Some(f),
            Err(e) => return CommitSigner::Invalid(format!("signature by {name}'s key: {e}")),
        }
    }
    CommitSigner::Invalid(match found {
        Some(f) => format!("signed by key {f}, which no signer of the policy has"),
        None => "the policy has no signers".into(),
    })
}

/// The signers who may sign a commit covered by record `id`: its requester, its approvers and,
/// for a record signed under a grant, the grantee (every signoff's `by`). Read from the ledger of
/// the commit's own tree (`new`).
pub fn record_signers(new: &dyn Side, id: &RecordId) -> Result<BTreeSet<SignerName>, store::Error> {
    let path = month_path(&id.month());
    let Some(text) = new.read_string(&path)? else {
        return Ok(BTreeSet::new());
    };
    let Ok(file) = LedgerFile::parse(&path, text) else {
        return Ok(BTreeSet::new());
    };
    Ok(file
        .records
        .iter()
        .filter(|(_, r)| r.id() == id)
        .flat_map(|(_, r)| r.signoffs().iter().map(|s| s.by.clone()))
        .collect())
}

/// The changes (against its first parent) a merge makes itself: everything but the paths a
/// clean three-way merge takes from the second parent, that is, the paths whose content equals
/// the second parent's and which the first parent's side left as the merge base had them. Those
/// changes were judged at the second side's own commits. A commit with one parent owns all its
/// changes, and so does (fail closed) an octopus merge, a merge of unrelated histories (no merge
/// base: the other side's commits were judged under no policy) and a merge whose base has no
/// policy (the other side's commits may predate it).
pub fn merge_owned<'c>(
    repo: &Repo,
    info: &CommitInfo,
    changes: &'c [Change],
) -> Result<Vec<&'c Change>, store::Error> {
    let all = || Ok(changes.iter().collect());
    let [first, second] = info.parents[..] else {
        return all();
    };
    let Some(base) = repo.merge_base(first, second)? else {
        return all();
    };
    if repo.blob_at(base, POLICY_PATH)?.is_none() {
        return all();
    }
    let paths = |a, b| -> Result<BTreeSet<String>, store::Error> {
        Ok(repo
            .diff_trees(Some(a), Some(b))?
            .into_iter()
            .map(|c| c.path)
            .collect())
    };
    let tree = repo.commit_tree(info.id)?;
    let not_theirs = paths(repo.commit_tree(second)?, tree)?;
    let ours_moved = paths(repo.commit_tree(base)?, repo.commit_tree(first)?)?;
    Ok(changes
        .iter()
        .filter(|c| not_theirs.contains(&c.path) || ours_moved.contains(&c.path))
        .collect())
}

/// What the signature rules need to know about one judged commit.
pub struct SignedCommit<'a> {
    pub repo: &'a Repo,
    pub info: &'a CommitInfo,
    /// Its changes against its first parent.
    pub changes: &'a [Change],
    /// The policy in force (the first parent's).
    pub policy: &'a Policy,
    /// The commit's own tree, whose ledger names the covering operation's signers.
    pub new: &'a dyn Side,
    /// The verifier's clock.
    pub now: crate::model::Timestamp,
}

/// Checks the commit's signature against `commits.require_signature` and the automation bounds;
/// returns the findings (errors) and the verified signer, when the signature was read. A commit
/// is only read when the policy asks for something: for a policy with neither rule, nothing.
pub fn check_commit(
    c: &SignedCommit<'_>,
    judgement: &Judgement,
) -> Result<(Vec<Finding>, Option<CommitSigner>), store::Error> {
    let mut out = Vec::new();
    let mode = c.policy.commits.require_signature;
    let governed = !judgement.governed.is_empty();
    let wants_pins = governed_pinned(c.policy) && governed;
    let wants_governed = mode != RequireSignature::None && governed;
    let wants_all = mode == RequireSignature::All;
    let wants_signer = wants_governed || wants_all || c.policy.automation.is_some();
    if !wants_pins && !wants_signer {
        return Ok((out, None));
    }
    // What a merge made itself may ask `git merge-base`: found once for both rules.
    let owned = merge_owned(c.repo, c.info, c.changes)?;
    if wants_pins {
        let tree = c.repo.commit_tree(c.info.id)?;
        out.extend(pin_findings(
            c.repo, c.policy, judgement, &owned, tree, c.new, c.now,
        )?);
    }
    if !wants_signer {
        return Ok((out, None));
    }
    let signer = commit_signer(c.repo, c.info.id, c.policy)?;
    if wants_governed {
        // Every operation that covers a governed path the commit changes (of its own) must
        // count the commit's signer among its signers: the one coverage chose for that path.
        let ops: BTreeSet<RecordId> = judgement
            .governed
            .iter()
            .filter(|v| owned.iter().any(|o| o.path == v.path))
            .filter_map(|v| v.covered_by)
            .collect();
        for id in &ops {
            let allowed = record_signers(c.new, id)?;
            if signer.name().is_some_and(|n| allowed.contains(n)) {
                continue;
            }
            let names: Vec<String> = allowed.iter().map(|n| n.to_string()).collect();
            out.push(
                Finding::error(
                    "commit-signature",
                    format!(
                        "this commit changes governed paths under {id} and is {}; the policy (commits.require_signature: governed) asks for git's SSH commit signature by a signer of {id} ({}): commit with `git commit -S` and gpg.format=ssh, user.signingKey set to your key",
                        signer.describe(),
                        names.join(", ")
                    ),
                )
                .record(*id),
            );
        }
    } else if wants_all && !owned.is_empty() && signer.name().is_none() {
        out.push(Finding::error(
            "commit-signature",
            format!(
                "this commit is {}; the policy (commits.require_signature: all) asks every commit to carry git's SSH commit signature by a signer of the policy",
                signer.describe()
            ),
        ));
    }
    if let Some(name) = signer.name()
        && c.policy.is_bounded_automation(name)
    {
        out.extend(bounds_findings(
            c.policy,
            &owned,
            &format!("signed by {name}"),
        ));
    }
    Ok((out, Some(signer)))
}

/// The `pin: tree` rules for the governed `changes` of a judged change whose new tree is `tree`:
/// each path under the operation coverage chose for it (fail closed rather than look for another
/// linked operation whose pins would do). An uncovered path is refused as such already.
pub fn pin_findings(
    repo: &Repo,
    policy: &Policy,
    judgement: &Judgement,
    changes: &[&Change],
    tree: ObjectId,
    new: &dyn Side,
    now: crate::model::Timestamp,
) -> Result<Vec<Finding>, store::Error> {
    let mut out = Vec::new();
    if !governed_pinned(policy) {
        return Ok(out);
    }
    let mut by_op: std::collections::BTreeMap<RecordId, Vec<&Change>> = Default::default();
    for v in &judgement.governed {
        if let (Some(op), Some(ch)) = (v.covered_by, changes.iter().find(|o| o.path == v.path)) {
            by_op.entry(op).or_default().push(ch);
        }
    }
    for (op, changes) in by_op {
        let candidates = [op];
        out.extend(super::pin::check_pins(
            &super::pin::PinCheck {
                repo,
                policy,
                tree,
                new,
                candidates: &candidates,
                now,
            },
            &changes,
        )?);
    }
    Ok(out)
}

/// Whether some rule of `policy` pins content.
fn governed_pinned(policy: &Policy) -> bool {
    policy.rules.iter().any(|r| r.pin.is_some())
}

/// The automation bounds (`automation.may_change`, `automation.may_add`) applied to `changes`
/// made by automation (`made` says how we know: "signed by X", "pushed by X").
pub fn bounds_findings(policy: &Policy, changes: &[&Change], made: &str) -> Vec<Finding> {
    let Some(a) = &policy.automation else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for ch in changes {
        // A rename is a deletion and an addition: both ends must be inside the bounds.
        let may_change = a.may_change.iter().any(|g| g.matches(&ch.path));
        let may_add = ch.kind == ChangeKind::Added && a.may_add.iter().any(|g| g.matches(&ch.path));
        if may_change || may_add {
            continue;
        }
        let what = match ch.kind {
            ChangeKind::Added => "adds",
            ChangeKind::Modified => "changes",
            ChangeKind::Deleted => "deletes",
        };
        out.push(
            Finding::error(
                "automation-bounds",
                format!(
                    "{}: this commit, {made} (automation), {what} a path outside the automation bounds (may_change: [{}], may_add: [{}]); a human must make this change",
                    ch.path,
                    a.may_change.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(", "),
                    a.may_add.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(", "),
                ),
            )
            .at(&ch.path, None),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGNED: &[u8] = b"tree 1111111111111111111111111111111111111111\n\
parent 2222222222222222222222222222222222222222\n\
author A <a@x> 1 +0000\n\
committer A <a@x> 1 +0000\n\
gpgsig -----BEGIN SSH SIGNATURE-----\n \
U1NIU0lH\n \
-----END SSH SIGNATURE-----\n\
\n\
message\n\ngpgsig in the body is not a header\n";

    #[test]
    fn the_signed_payload_is_the_object_without_its_gpgsig_header() {
        let s = split_commit(SIGNED).unwrap().unwrap();
        assert_eq!(
            s.armored,
            "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n"
        );
        let want: &[u8] = b"tree 1111111111111111111111111111111111111111\n\
parent 2222222222222222222222222222222222222222\n\
author A <a@x> 1 +0000\n\
committer A <a@x> 1 +0000\n\
\n\
message\n\ngpgsig in the body is not a header\n";
        assert_eq!(s.payload, want);
    }

    /// A commit object signed as git signs one: the armored SSHSIG (namespace `git`) over the
    /// unsigned object, inserted as the `gpgsig` header before the blank line.
    fn signed_commit(key: &crypto::Keypair, namespace: &str, body: &str) -> Vec<u8> {
        let unsigned = format!(
            "tree 1111111111111111111111111111111111111111\n\
             author A <a@x> 1 +0000\ncommitter A <a@x> 1 +0000\n\n{body}"
        );
        let sig = key.sign(namespace, unsigned.as_bytes()).unwrap();
        let header = format!("gpgsig {}\n", sig.as_str().trim_end().replace('\n', "\n "));
        let at = unsigned.find("\n\n").unwrap() + 1;
        let mut out = unsigned[..at].to_string();
        out.push_str(&header);
        out.push_str(&unsigned[at..]);
        out.into_bytes()
    }

    #[test]
    fn signatures_are_verified_in_process_against_the_policy_keys() {
        use crate::engine::init::starter_policy;
        use crate::model::yaml;
        let alice = crypto::Keypair::generate("alice").unwrap();
        let eve = crypto::Keypair::generate("eve").unwrap();
        let name = SignerName::new("alice").unwrap();
        let policy =
            yaml::parse_policy(&starter_policy(&name, &alice.public().without_comment())).unwrap();
        let good = signed_commit(&alice, NAMESPACE_GIT, "change\n");
        assert_eq!(signer_of_raw(&good, &policy), CommitSigner::Signer(name));
        // Another message under the same signature does not verify.
        let text = String::from_utf8(good.clone()).unwrap();
        let forged = text.replace("change\n", "other\n").into_bytes();
        assert!(
            matches!(signer_of_raw(&forged, &policy), CommitSigner::Invalid(ref w) if w.contains("does not verify")),
            "{:?}",
            signer_of_raw(&forged, &policy)
        );
        // A key the policy does not know, and a ledger-namespace signature, count for no one.
        let by_eve = signed_commit(&eve, NAMESPACE_GIT, "change\n");
        assert!(
            matches!(signer_of_raw(&by_eve, &policy), CommitSigner::Invalid(ref w) if w.contains("no signer of the policy")),
        );
        let wrong_ns = signed_commit(&alice, crypto::NAMESPACE_LEDGER, "change\n");
        assert!(matches!(
            signer_of_raw(&wrong_ns, &policy),
            CommitSigner::Invalid(_)
        ));
        let unsigned = b"tree 1111111111111111111111111111111111111111\n\nmsg\n";
        assert_eq!(signer_of_raw(unsigned, &policy), CommitSigner::Unsigned);
    }

    #[test]
    fn unsigned_and_doubly_signed_commits() {
        let unsigned =
            b"tree 1111111111111111111111111111111111111111\nauthor A <a@x> 1 +0000\n\nmsg\n";
        assert_eq!(split_commit(unsigned).unwrap(), None);
        let mut twice = SIGNED.to_vec();
        let at = twice.windows(7).position(|w| w == b"gpgsig ").unwrap();
        let header = b"gpgsig x\n".to_vec();
        twice.splice(at..at, header);
        assert!(split_commit(&twice).is_err());
    }
}
