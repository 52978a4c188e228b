//! Tags against file records: name, the name inside the object, id, payload and signature agree;
//! no tag lacks its record; with `require_tags`, no approved operation lacks its tag.

use std::collections::{BTreeMap, BTreeSet};

use super::records::State;
use super::{Finding, Report};
use crate::crypto::{self, NAMESPACE_GIT};
use crate::model::policy::Policy;
use crate::model::record::{Kind, Record};
use crate::model::{RecordId, yaml};
use crate::store::tags::TagInfo;

/// Records by id, with their state and place.
pub type RecordIndex<'a> = BTreeMap<RecordId, (&'a Record, State, String, u64)>;

pub fn check_tags(
    policy: &Policy,
    earlier: &[Policy],
    records: &RecordIndex<'_>,
    tags: &[TagInfo],
    report: &mut Report,
) {
    let mut tagged = BTreeSet::new();
    for tag in tags {
        let name = &tag.ref_name;
        let Ok(id) = RecordId::from_tag_name(name) else {
            report.push(Finding::error(
                "stray-tag",
                format!("tag {name} is under ops-* but is not an operation record's tag (ops-YYYY-MM-DD-NNN)"),
            ));
            continue;
        };
        tagged.insert(id);
        let Some((file_record, state, file, line)) = records.get(&id) else {
            report.push(
                Finding::error(
                    "tag-without-record",
                    format!(
                        "tag {name} has no record {id} in the ledger files (was the entry deleted?)"
                    ),
                )
                .record(id),
            );
            continue;
        };
        let at = |f: Finding| f.at(file, Some(*line)).record(id);
        if !tag.annotated {
            report.push(at(Finding::error(
                "lightweight-tag",
                format!("tag {name} is not an annotated tag"),
            )));
            continue;
        }
        if tag.name_inside.as_deref() != Some(name.as_str()) {
            report.push(at(Finding::error(
                "tag-name-mismatch",
                format!(
                    "tag {name} names itself {:?} inside the tag object",
                    tag.name_inside.as_deref().unwrap_or("")
                ),
            )));
        }
        match &tag.signature {
            None => report.push(at(Finding::error(
                "unsigned-tag",
                format!("tag {name} is not signed"),
            ))),
            Some(sig) => {
                // The current signers first, then those of earlier policies (a key rotated since
                // the tag was made).
                let signer = std::iter::once(policy)
                    .chain(earlier.iter())
                    .flat_map(|p| p.signers.iter())
                    .find(|(_, s)| {
                        crypto::verify(&s.key, NAMESPACE_GIT, &tag.signed_payload, sig).is_ok()
                    });
                match signer {
                    None => report.push(at(Finding::error(
                        "bad-tag-signature",
                        format!("tag {name}: its signature does not verify with any signer's key in the policy"),
                    ))),
                    Some((who, entry)) if policy.operations.human_only_tags && !entry.is_human() => {
                        report.push(at(Finding::error(
                            "tag-by-automation",
                            format!("tag {name} is signed by {who}, which is automation, and the policy reserves tagging to humans"),
                        )))
                    }
                    Some(_) => {}
                }
            }
        }
        // A tag says "approved": a tag of an operation that is not approved is false.
        if file_record.kind() != Kind::Operation {
            // An imported entry attests history and is never approved, so never tagged.
            report.push(at(Finding::error(
                "tag-unapproved",
                format!(
                    "tag {name} exists, but {id} is not an operation (it is a `{}` record), so nothing approved it",
                    file_record.kind()
                ),
            )));
        } else if *state != State::Approved {
            report.push(at(Finding::error(
                "tag-unapproved",
                format!("tag {name} exists, but {id} is not approved"),
            )));
        }
        let tag_record = tag
            .message
            .split_once("\n\n")
            .ok_or_else(|| "no record after the title line".to_string())
            .and_then(|(_, body)| yaml::parse_record(body, 1).map_err(|e| e.to_string()));
        match tag_record {
            Err(e) => report.push(at(Finding::error(
                "tag-record-unreadable",
                format!("tag {name}: the record in its message does not parse: {e}"),
            ))),
            Ok(tr) => {
                if tr.id() != &id {
                    report.push(at(Finding::error(
                        "tag-id-mismatch",
                        format!("tag {name} carries record {}, not {id}", tr.id()),
                    )));
                }
                if tr.payload_sha256() != file_record.payload_sha256() {
                    let a = yaml::render_value(&file_record.payload_json());
                    let b = yaml::render_value(&tr.payload_json());
                    let diff = similar::TextDiff::from_lines(&a, &b)
                        .unified_diff()
                        .context_radius(2)
                        .header(&format!("{file} ({id})"), &format!("refs/tags/{name}"))
                        .to_string();
                    report.push(at(Finding::error(
                        "tag-payload-mismatch",
                        format!("tag {name} and the ledger file disagree on the payload of {id}"),
                    )
                    .diff(diff)));
                }
                let file_sigs: BTreeSet<_> = file_record
                    .signoffs()
                    .iter()
                    .map(|s| s.sig.as_str())
                    .collect();
                if let Some(lost) = tr
                    .signoffs()
                    .iter()
                    .find(|s| !file_sigs.contains(s.sig.as_str()))
                {
                    report.push(at(Finding::error(
                        "signoff-removed",
                        format!(
                            "tag {name} holds a signoff by {} ({}) that the ledger file no longer has",
                            lost.by, lost.role
                        ),
                    )));
                }
            }
        }
    }
    if policy.operations.require_tags {
        for (id, (r, state, file, line)) in records {
            if r.kind() == Kind::Operation && *state == State::Approved && !tagged.contains(id) {
                report.push(
                    Finding::error(
                        "missing-tag",
                        format!(
                            "{id} is approved but has no tag {} (the policy requires tags)",
                            id.tag_name()
                        ),
                    )
                    .at(file, Some(*line))
                    .record(*id),
                );
            }
        }
    }
}
