//! The union merge of ledger files, which git runs as the `git ops merge-driver` of
//! `.gitattributes`. A ledger is a set of records with a stable order: the merge keeps every
//! record of both sides once, each side's records in their relative order, and interleaves the
//! records only one side has by time (then id), so that both merge directions give the same order.
//! The same record on both sides gets the union of its signoffs. The same id with two different
//! payloads is a conflict: both versions are kept between conflict markers, which no ledger
//! parser accepts, so the file cannot be committed until a person resolves it.

use std::collections::{BTreeSet, HashMap};

use crate::model::Record;
use crate::model::yaml::{self, DocSpan, YamlError};

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

/// The result of a merge: the text to write, and the ids in conflict (whose two versions the
/// text holds between conflict markers).
#[derive(Debug)]
pub struct Merged {
    pub text: String,
    pub conflicts: Vec<String>,
}

/// The union merge of two versions of one ledger file. Fails when there is a conflict; see
/// [`merge`] for the text with conflict markers.
pub fn merge_texts(ours: &str, theirs: &str) -> Result<String, Error> {
    let m = merge(ours, theirs)?;
    if m.conflicts.is_empty() {
        Ok(m.text)
    } else {
        Err(Error::Conflict(m.conflicts))
    }
}

type Docs = Vec<(DocSpan, Record)>;

/// Appends one document, with its `---` separator when the text lacks one.
fn push_doc(out: &mut String, text: &str) {
    if !out.is_empty() && !text.starts_with("---") {
        out.push_str("---\n");
    }
    out.push_str(text);
    if !out.ends_with('\n') {
        out.push('\n');
    }
}

/// Where a record goes among those only one side has: by creation time, then by id.
fn order_key(r: &Record) -> (i64, String) {
    (
        r.created_at().map(|t| t.unix()).unwrap_or(i64::MIN),
        r.id().to_string(),
    )
}

/// The union merge of two versions of one ledger file (see the module's documentation). The
/// text of a record is kept byte for byte unless it gains signoffs. Errors only when a side does
/// not parse.
pub fn merge(ours: &str, theirs: &str) -> Result<Merged, Error> {
    let a: Docs = yaml::parse_stream(ours).map_err(Error::Ours)?;
    let b: Docs = yaml::parse_stream(theirs).map_err(Error::Theirs)?;
    let in_a: HashMap<String, usize> = a
        .iter()
        .enumerate()
        .map(|(i, (_, r))| (r.id().to_string(), i))
        .collect();
    let in_b: HashMap<String, usize> = b
        .iter()
        .enumerate()
        .map(|(i, (_, r))| (r.id().to_string(), i))
        .collect();
    let mut out = String::with_capacity(ours.len() + theirs.len());
    let mut conflicts = Vec::new();
    let mut done: BTreeSet<String> = BTreeSet::new();
    // Emits record `id`, from whichever sides have it.
    let mut emit = |id: &str, out: &mut String| {
        let ra = in_a.get(id).map(|&i| &a[i]);
        let rb = in_b.get(id).map(|&i| &b[i]);
        match (ra, rb) {
            (Some((span, _)), None) => push_doc(out, &ours[span.bytes.clone()]),
            (None, Some((span, _))) => push_doc(out, &theirs[span.bytes.clone()]),
            (Some((sa, ra)), Some((sb, rb))) if ra.payload_sha256() != rb.payload_sha256() => {
                conflicts.push(id.to_string());
                out.push_str(&format!("<<<<<<< ours: {id}\n"));
                out.push_str(&ours[sa.bytes.clone()]);
                if !out.ends_with('\n') {
                    out.push('\n');
                }
                out.push_str("=======\n");
                out.push_str(&theirs[sb.bytes.clone()]);
                if !out.ends_with('\n') {
                    out.push('\n');
                }
                out.push_str(&format!(">>>>>>> theirs: {id}\n"));
            }
            (Some((span, ra)), Some((_, rb))) => {
                let have: Vec<String> = ra.signoffs().iter().map(|s| s.sig.to_string()).collect();
                let extra: Vec<_> = rb
                    .signoffs()
                    .iter()
                    .filter(|s| !have.contains(&s.sig.to_string()))
                    .cloned()
                    .collect();
                if extra.is_empty() {
                    push_doc(out, &ours[span.bytes.clone()]);
                } else {
                    let mut merged: Record = ra.clone();
                    merged.signoffs_mut().extend(extra);
                    push_doc(out, &yaml::render_record(&merged));
                }
            }
            (None, None) => {}
        }
    };
    let (mut i, mut j) = (0, 0);
    loop {
        while i < a.len() && done.contains(&a[i].1.id().to_string()) {
            i += 1;
        }
        while j < b.len() && done.contains(&b[j].1.id().to_string()) {
            j += 1;
        }
        let id = match (a.get(i), b.get(j)) {
            (None, None) => break,
            (Some((_, x)), None) => x.id().to_string(),
            (None, Some((_, y))) => y.id().to_string(),
            (Some((_, x)), Some((_, y))) => {
                let (xi, yi) = (x.id().to_string(), y.id().to_string());
                let x_only = !in_b.contains_key(&xi);
                let y_only = !in_a.contains_key(&yi);
                if xi == yi || (x_only && !y_only) {
                    xi
                } else if y_only && !x_only {
                    yi
                } else if x_only && y_only {
                    if order_key(y) < order_key(x) { yi } else { xi }
                } else {
                    // Both are shared but the sides disagree on their order: ours wins, and
                    // verify names the reordering.
                    xi
                }
            }
        };
        emit(&id, &mut out);
        done.insert(id);
    }
    if conflicts.is_empty() {
        yaml::parse_stream(&out).map_err(Error::Merged)?;
    }
    Ok(Merged {
        text: out,
        conflicts,
    })
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
            // Both directions give the same order, so criss-cross merges agree.
            prop_assert_eq!(ids_of(&merged), ids_of(&swapped));
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

    fn ids_of(text: &str) -> Vec<String> {
        yaml::parse_stream(text)
            .expect("the merge parses")
            .iter()
            .map(|(_, r)| r.id().to_string())
            .collect()
    }

    #[test]
    fn records_only_one_side_has_are_interleaved_by_time_whichever_side_is_ours() {
        // Ours added 100 and 102, theirs 101 (made between them, by minute of creation).
        let at = |n: u32, minute: u32| {
            let mut r = operation(n, &format!("op {n}"), &[]);
            if let Record::Operation(op) = &mut r {
                op.created_at = Some(
                    format!("2026-01-27T05:{minute:02}:00Z")
                        .parse()
                        .expect("a time"),
                );
            }
            r
        };
        let shared = operation(1, "shared", &[]);
        let ours = file(&[shared.clone(), at(100, 1), at(102, 3)]);
        let theirs = file(&[shared, at(101, 2)]);
        let want = [
            "OPS-2026-01-27-001",
            "OPS-2026-01-27-100",
            "OPS-2026-01-27-101",
            "OPS-2026-01-27-102",
        ];
        assert_eq!(
            ids_of(&merge_texts(&ours, &theirs).expect("no conflict")),
            want
        );
        assert_eq!(
            ids_of(&merge_texts(&theirs, &ours).expect("no conflict")),
            want
        );
    }

    #[test]
    fn a_conflict_keeps_both_versions_between_markers_and_does_not_parse() {
        let kept = operation(1, "Kept", &[]);
        let ours = file(&[
            kept.clone(),
            operation(2, "Restart web", &[]),
            operation(3, "Mine", &[]),
        ]);
        let theirs = file(&[
            kept,
            operation(2, "Restart api", &[]),
            operation(4, "Theirs", &[]),
        ]);
        let m = merge(&ours, &theirs).expect("both sides parse");
        assert_eq!(m.conflicts, ["OPS-2026-01-27-002"]);
        assert!(
            m.text.contains("<<<<<<< ours: OPS-2026-01-27-002\n"),
            "{}",
            m.text
        );
        assert!(m.text.contains("\n=======\n"), "{}", m.text);
        assert!(
            m.text.contains(">>>>>>> theirs: OPS-2026-01-27-002\n"),
            "{}",
            m.text
        );
        for name in ["Restart web", "Restart api", "Kept", "Mine", "Theirs"] {
            assert!(m.text.contains(name), "{name} is lost:\n{}", m.text);
        }
        assert!(yaml::parse_stream(&m.text).is_err(), "{}", m.text);
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
