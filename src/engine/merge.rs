//! The union merge of ledger files, which git runs as the `git ops merge-driver` of
//! `.gitattributes`. Records of both sides are kept (ours first, then theirs); the same record on
//! both sides gets the union of its signoffs; the same id with two different payloads is a
//! conflict, and nothing is merged.

use crate::model::Record;
use crate::model::yaml::{self, YamlError};

/// Why two versions of a ledger file cannot be merged without a person.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("our side: {0}")]
    Ours(YamlError),
    #[error("their side: {0}")]
    Theirs(YamlError),
    /// The ids whose payload differs between the sides.
    #[error(
        "both sides changed the payload of {}: records are immutable, so this needs a person",
        .0.join(", ")
    )]
    Conflict(Vec<String>),
    #[error("the merged file does not parse: {0}")]
    Merged(YamlError),
}

impl Error {
    /// The exit code of a merge that fails with this error: the merge is refused (1), and a
    /// person resolves it.
    pub fn exit_code(&self) -> u8 {
        1
    }
}

/// The union merge of two versions of one ledger file: `ours` followed by the records only
/// `theirs` has. The text of a record is kept byte for byte unless it gains signoffs.
pub fn merge_texts(ours: &str, theirs: &str) -> Result<String, Error> {
    let a = yaml::parse_stream(ours).map_err(Error::Ours)?;
    let b = yaml::parse_stream(theirs).map_err(Error::Theirs)?;
    let mut out = String::with_capacity(ours.len() + theirs.len());
    let mut conflicts = Vec::new();
    for (span, ra) in &a {
        match b.iter().find(|(_, rb)| rb.id() == ra.id()) {
            None => out.push_str(&ours[span.bytes.clone()]),
            Some((_, rb)) if rb.payload_sha256() != ra.payload_sha256() => {
                conflicts.push(ra.id().to_string())
            }
            Some((_, rb)) => {
                let mut merged: Record = ra.clone();
                let have: Vec<String> = ra.signoffs().iter().map(|s| s.sig.to_string()).collect();
                let extra: Vec<_> = rb
                    .signoffs()
                    .iter()
                    .filter(|s| !have.contains(&s.sig.to_string()))
                    .cloned()
                    .collect();
                if extra.is_empty() {
                    out.push_str(&ours[span.bytes.clone()]);
                } else {
                    merged.signoffs_mut().extend(extra);
                    out.push_str(&yaml::render_record(&merged));
                }
            }
        }
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    for (span, rb) in &b {
        if !a.iter().any(|(_, ra)| ra.id() == rb.id()) {
            let text = &theirs[span.bytes.clone()];
            if !text.starts_with("---") {
                out.push_str("---\n");
            }
            out.push_str(text);
            if !out.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    if !conflicts.is_empty() {
        return Err(Error::Conflict(conflicts));
    }
    yaml::parse_stream(&out).map_err(Error::Merged)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::OnceLock;

    use proptest::prelude::*;

    use super::*;
    use crate::crypto::{Keypair, signoff};
    use crate::model::yaml::parse_record;
    use crate::model::{Role, Timestamp};

    /// Three signers, made once: key generation is the slow part of a case.
    fn keys() -> &'static [(Keypair, &'static str, Role); 3] {
        static KEYS: OnceLock<[(Keypair, &'static str, Role); 3]> = OnceLock::new();
        KEYS.get_or_init(|| {
            let key = |name| Keypair::generate(name).expect("a new key");
            [
                (key("alice"), "alice", Role::Requester),
                (key("bob"), "bob", Role::Approver),
                (key("carol"), "carol", Role::Approver),
            ]
        })
    }

    /// Operation `n`, signed by alice (its requester), and then by each of `approvers` (indices
    /// into [`keys`]) at minute `minute` past 07:00.
    fn operation(n: u32, name: &str, approvers: &[(usize, u32)]) -> Record {
        let text = format!(
            "operation_id: OPS-2026-01-27-{n:03}\noperation_name: {name:?}\nobjective: o\n\
             risk_class: SERVICE_RESTART\nblast_radius: b\nrollback_strategy: r\n\
             allowed_paths: [deploy/]\nallowed_services: [web]\nenvironment: prod\n\
             requested_by: alice\n"
        );
        let mut record = parse_record(&text, 1).expect("an operation");
        let mut sign = |who: usize, at: &str| {
            let (key, by, role) = &keys()[who];
            let at: Timestamp = at.parse().expect("a timestamp");
            let by = by.parse().expect("a signer name");
            let s = signoff(&record, key, &by, *role, at, None).expect("a signoff");
            record.signoffs_mut().push(s);
        };
        sign(0, "2026-01-27T06:00:00Z");
        for &(who, minute) in approvers {
            sign(who, &format!("2026-01-27T07:{minute:02}:00Z"));
        }
        record
    }

    fn file(records: &[Record]) -> String {
        records.iter().map(yaml::render_record).collect()
    }

    /// What a merge must keep of one record: its payload and the set of its signatures.
    type Kept = (String, BTreeSet<String>);

    fn kept(r: &Record) -> Kept {
        let sigs = r.signoffs().iter().map(|s| s.sig.to_string()).collect();
        (r.payload_sha256(), sigs)
    }

    /// Checks `merged` against both sides and returns what it holds, by id.
    fn check(ours: &[Record], theirs: &[Record], merged: &str) -> BTreeMap<String, Kept> {
        let parsed: Vec<Record> = yaml::parse_stream(merged)
            .expect("the merge parses")
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        let ids: Vec<String> = parsed.iter().map(|r| r.id().to_string()).collect();
        let got: BTreeMap<String, Kept> = parsed
            .iter()
            .map(|r| (r.id().to_string(), kept(r)))
            .collect();
        assert_eq!(got.len(), ids.len(), "a record is duplicated: {ids:?}");

        // Nothing lost: every record of either side, with every signature of either side.
        let mut want: BTreeMap<String, Kept> = BTreeMap::new();
        for r in ours.iter().chain(theirs) {
            let (payload, sigs) = kept(r);
            let entry = want
                .entry(r.id().to_string())
                .or_insert_with(|| (payload.clone(), BTreeSet::new()));
            assert_eq!(entry.0, payload, "the generator made a conflict");
            entry.1.extend(sigs);
        }
        assert_eq!(got, want);

        // Each side's records keep their relative order.
        for side in [ours, theirs] {
            let positions: Vec<usize> = side
                .iter()
                .map(|r| {
                    let id = r.id().to_string();
                    ids.iter().position(|i| *i == id).expect("kept")
                })
                .collect();
            assert!(
                positions.windows(2).all(|w| w[0] < w[1]),
                "a side's order is lost: {ids:?}"
            );
        }
        got
    }

    /// Two sides of one ledger file: a shared prefix, on which each side may have added
    /// approvals, then records only that side has.
    #[derive(Debug, Clone)]
    struct Sides {
        ours: Vec<Record>,
        theirs: Vec<Record>,
    }

    fn sides() -> impl Strategy<Value = Sides> {
        let name = "[A-Za-z][A-Za-z0-9 ]{0,11}";
        // Per shared record: its name, our approvals, their approvals ((signer, minute) pairs).
        let approvals = || proptest::collection::vec((1usize..3, 0u32..3), 0..3);
        let shared = proptest::collection::vec((name, approvals(), approvals()), 0..5);
        let own = || proptest::collection::vec(name, 0..5);
        (shared, own(), own()).prop_map(|(shared, ours_new, theirs_new)| {
            let mut ours = Vec::new();
            let mut theirs = Vec::new();
            for (n, (name, a, b)) in (1u32..).zip(&shared) {
                ours.push(operation(n, name, a));
                theirs.push(operation(n, name, b));
            }
            for (n, name) in (100u32..).zip(&ours_new) {
                ours.push(operation(n, name, &[]));
            }
            for (n, name) in (200u32..).zip(&theirs_new) {
                theirs.push(operation(n, name, &[(1, 0)]));
            }
            Sides { ours, theirs }
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The merge never loses or duplicates a record or a signature, keeps each side's
        /// order, and swapping the sides changes at most the order between their new records.
        #[test]
        fn the_merge_keeps_everything_once_in_order_whichever_side_is_ours(s in sides()) {
            let (ours, theirs) = (file(&s.ours), file(&s.theirs));
            let merged = merge_texts(&ours, &theirs).expect("no conflict");
            let swapped = merge_texts(&theirs, &ours).expect("no conflict");
            let a = check(&s.ours, &s.theirs, &merged);
            let b = check(&s.theirs, &s.ours, &swapped);
            prop_assert_eq!(a, b);
        }

        /// Merging a file with itself, or with an older version of itself, changes nothing.
        #[test]
        fn merging_a_file_with_its_own_past_is_the_file(s in sides(), cut in 0usize..10) {
            let ours = file(&s.ours);
            prop_assert_eq!(merge_texts(&ours, &ours).expect("no conflict"), ours.clone());
            let past = file(&s.ours[..cut.min(s.ours.len())]);
            prop_assert_eq!(merge_texts(&ours, &past).expect("no conflict"), ours);
        }
    }

    #[test]
    fn a_payload_changed_on_both_sides_is_a_conflict_naming_the_id() {
        let ours = file(&[operation(1, "Restart web", &[])]);
        let theirs = file(&[operation(1, "Restart api", &[])]);
        let e = merge_texts(&ours, &theirs).unwrap_err();
        assert!(matches!(&e, Error::Conflict(ids) if ids == &["OPS-2026-01-27-001"]));
        assert_eq!(
            e.to_string(),
            "both sides changed the payload of OPS-2026-01-27-001: records are immutable, so \
             this needs a person"
        );
    }
}
