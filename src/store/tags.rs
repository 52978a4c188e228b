//! Annotated `ops-*` tags, SSH-signed in git's own format so that `git tag -v` accepts them.
//!
//! gix does not sign tags, so the object is built here: the unsigned tag bytes are signed with
//! namespace `git`, the armored signature is appended, and the object and then the ref written.

use gix::ObjectId;
use gix::refs::transaction::PreviousValue;

use super::{Error, Repo, Result};
use crate::crypto::{Keypair, NAMESPACE_GIT};
use crate::model::names::SIG_BEGIN;

pub const TAG_PREFIX: &str = "ops-";

/// An `ops-*` tag as stored.
#[derive(Debug, Clone)]
pub struct TagInfo {
    /// Name of the ref, without `refs/tags/`.
    pub ref_name: String,
    pub object: ObjectId,
    /// False for a lightweight tag (the ref points straight at a commit).
    pub annotated: bool,
    pub target: Option<ObjectId>,
    /// The `tag` header inside the object.
    pub name_inside: Option<String>,
    pub tagger: Option<String>,
    /// The message, without the signature.
    pub message: String,
    /// The bytes the signature covers (the object up to the signature).
    pub signed_payload: Vec<u8>,
    pub signature: Option<String>,
}

pub fn list_ops_tag_names(repo: &Repo) -> Result<Vec<String>> {
    let refs = repo
        .git
        .references()
        .map_err(|e| Error::git("listing tags", e))?;
    let iter = refs
        .prefixed("refs/tags/ops-")
        .map_err(|e| Error::git("listing tags", e))?;
    let mut names = Vec::new();
    for r in iter {
        let r = r.map_err(|e| Error::git("reading tag ref", e))?;
        let full = r.name().as_bstr().to_string();
        if let Some(short) = full.strip_prefix("refs/tags/") {
            names.push(short.to_string());
        }
    }
    names.sort();
    Ok(names)
}

pub fn tag_exists(repo: &Repo, name: &str) -> Result<bool> {
    Ok(repo
        .git
        .try_find_reference(format!("refs/tags/{name}").as_str())
        .map_err(|e| Error::git("reading tag ref", e))?
        .is_some())
}

pub fn read_tag(repo: &Repo, name: &str) -> Result<TagInfo> {
    let r = repo
        .git
        .find_reference(format!("refs/tags/{name}").as_str())
        .map_err(|e| Error::git(format!("reading refs/tags/{name}"), e))?;
    let object = r.id().detach();
    let obj = repo
        .git
        .find_object(object)
        .map_err(|e| Error::git(format!("reading tag {name}"), e))?;
    if obj.kind != gix::object::Kind::Tag {
        return Ok(TagInfo {
            ref_name: name.to_string(),
            object,
            annotated: false,
            target: Some(object),
            name_inside: None,
            tagger: None,
            message: String::new(),
            signed_payload: Vec::new(),
            signature: None,
        });
    }
    Ok(parse_tag_object(name, object, &obj.data))
}

/// Splits raw tag bytes into headers, message and trailing signature, as git does.
pub fn parse_tag_object(ref_name: &str, object: ObjectId, raw: &[u8]) -> TagInfo {
    let text = String::from_utf8_lossy(raw);
    let (headers, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let header = |key: &str| {
        headers
            .lines()
            .find_map(|l| l.strip_prefix(key).and_then(|v| v.strip_prefix(' ')))
            .map(str::to_string)
    };
    let body_start = raw.len() - body.len();
    // The signature starts at the first line that begins with the armor.
    let sig_at = std::iter::once(0)
        .chain(body.match_indices('\n').map(|(i, _)| i + 1))
        .find(|&i| body[i..].starts_with(SIG_BEGIN));
    let (message, signature, payload_len) = match sig_at {
        Some(i) => (
            body[..i].to_string(),
            Some(body[i..].to_string()),
            body_start + i,
        ),
        None => (body.to_string(), None, raw.len()),
    };
    TagInfo {
        ref_name: ref_name.to_string(),
        object,
        annotated: true,
        target: header("object").and_then(|h| ObjectId::from_hex(h.as_bytes()).ok()),
        name_inside: header("tag"),
        tagger: header("tagger"),
        message,
        signed_payload: raw[..payload_len].to_vec(),
        signature,
    }
}

/// Creates the annotated tag `name` on commit `target`, signed by `key`. Refuses an existing tag
/// before writing anything, so a failure leaves no orphan object behind.
pub fn create_signed_tag(
    repo: &Repo,
    name: &str,
    target: ObjectId,
    tagger: &str,
    message: &str,
    key: &Keypair,
) -> Result<ObjectId> {
    if tag_exists(repo, name)? {
        return Err(Error::Usage(format!("tag {name} exists already")));
    }
    let mut bytes =
        format!("object {target}\ntype commit\ntag {name}\ntagger {tagger}\n\n").into_bytes();
    bytes.extend_from_slice(message.as_bytes());
    if !message.ends_with('\n') {
        bytes.push(b'\n');
    }
    let sig = key.sign(NAMESPACE_GIT, &bytes)?;
    bytes.extend_from_slice(sig.as_str().as_bytes());
    let id = gix::objs::Write::write_buf(&repo.git, gix::object::Kind::Tag, &bytes)
        .map_err(|e| Error::git("writing tag object", e))?;
    repo.git
        .tag_reference(name, id, PreviousValue::MustNotExist)
        .map_err(|e| {
            ref_lock_error(repo, name)
                .unwrap_or_else(|| Error::git(format!("creating refs/tags/{name}"), e))
        })?;
    Ok(id)
}

/// How long a ref lock may stand before it is taken for a crashed writer's: git holds one for
/// milliseconds.
const STALE_LOCK_SECS: u64 = 60;

/// When git's lock file of the tag ref is in the way, an error that names it and says how to
/// clear it: git's lock files carry no process id, so a lock is taken as stale by its age.
fn ref_lock_error(repo: &Repo, name: &str) -> Option<Error> {
    let lock = repo.common_dir().join(format!("refs/tags/{name}.lock"));
    let meta = std::fs::metadata(&lock).ok()?;
    let age = meta
        .modified()
        .ok()
        .and_then(|m| m.elapsed().ok())
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let id = name.to_ascii_uppercase();
    Some(Error::Usage(if age >= STALE_LOCK_SECS {
        format!(
            "cannot create refs/tags/{name}: the lock file {} is {age} seconds old, left by a process that crashed; remove it (rm {}) and run `git ops tag {id}`",
            lock.display(),
            lock.display()
        )
    } else {
        format!(
            "cannot create refs/tags/{name}: another git process holds {}; wait a moment and run `git ops tag {id}` (if no git process is running, remove that file)",
            lock.display()
        )
    }))
}

/// Deletes the tag ref `name` (a local tag of a record being renumbered).
pub fn delete_tag(repo: &Repo, name: &str) -> Result<()> {
    let r = repo
        .git
        .find_reference(format!("refs/tags/{name}").as_str())
        .map_err(|e| Error::git(format!("reading refs/tags/{name}"), e))?;
    r.delete()
        .map_err(|e| Error::git(format!("deleting refs/tags/{name}"), e))
}
