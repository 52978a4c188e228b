//! Record ids: `PREFIX-YYYY-MM-DD-NNN`, where NNN counts the records of that kind and day.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::Error;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum IdKind {
    Operation,
    Outcome,
    Grant,
    Revocation,
    Halt,
    Resume,
}

impl IdKind {
    pub const ALL: [IdKind; 6] = [
        IdKind::Operation,
        IdKind::Outcome,
        IdKind::Grant,
        IdKind::Revocation,
        IdKind::Halt,
        IdKind::Resume,
    ];

    pub fn prefix(self) -> &'static str {
        match self {
            IdKind::Operation => "OPS",
            IdKind::Outcome => "OUT",
            IdKind::Grant => "GRANT",
            IdKind::Revocation => "REV",
            IdKind::Halt => "HALT",
            IdKind::Resume => "RESUME",
        }
    }

    fn from_prefix(p: &str) -> Option<IdKind> {
        IdKind::ALL.into_iter().find(|k| k.prefix() == p)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct RecordId {
    kind: IdKind,
    date: NaiveDate,
    seq: u32,
}

/// The largest sequence number of a day: ids stay short and sort as text within a day.
pub const MAX_SEQ: u32 = 99_999;

impl RecordId {
    pub fn new(kind: IdKind, date: NaiveDate, seq: u32) -> Result<Self, Error> {
        if seq == 0 || seq > MAX_SEQ {
            return Err(Error::invalid(
                "record id sequence",
                seq.to_string(),
                "must be 1..=99999",
            ));
        }
        Ok(RecordId { kind, date, seq })
    }

    pub fn kind(&self) -> IdKind {
        self.kind
    }
    pub fn date(&self) -> NaiveDate {
        self.date
    }
    pub fn seq(&self) -> u32 {
        self.seq
    }

    /// `YYYY-MM`, the month file the record belongs in.
    pub fn month(&self) -> String {
        self.date.format("%Y-%m").to_string()
    }

    /// Name of the annotated tag of an operation: the lower-cased id.
    pub fn tag_name(&self) -> String {
        self.to_string().to_ascii_lowercase()
    }

    /// Parse `ops-2026-01-27-011` (a tag name) back into an operation id.
    pub fn from_tag_name(name: &str) -> Result<Self, Error> {
        let id: RecordId = name.to_ascii_uppercase().parse()?;
        if id.kind != IdKind::Operation || id.tag_name() != name {
            return Err(Error::invalid(
                "tag name",
                name,
                "expected ops-YYYY-MM-DD-NNN",
            ));
        }
        Ok(id)
    }
}

impl std::str::FromStr for RecordId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::invalid("record id", s, why.to_string());
        let mut parts = s.splitn(2, '-');
        let prefix = parts.next().unwrap_or_default();
        let rest = parts
            .next()
            .ok_or_else(|| bad("expected PREFIX-YYYY-MM-DD-NNN"))?;
        let kind = IdKind::from_prefix(prefix)
            .ok_or_else(|| bad("unknown prefix; expected OPS, OUT, GRANT, REV, HALT or RESUME"))?;
        if rest.len() < 14 || rest.as_bytes()[10] != b'-' {
            return Err(bad("expected PREFIX-YYYY-MM-DD-NNN"));
        }
        let date =
            NaiveDate::parse_from_str(&rest[..10], "%Y-%m-%d").map_err(|_| bad("invalid date"))?;
        let num = &rest[11..];
        if !num.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("the sequence number must be digits"));
        }
        let seq: u32 = num.parse().map_err(|_| bad("sequence number too large"))?;
        let id =
            RecordId::new(kind, date, seq).map_err(|_| bad("sequence number must be 1..=99999"))?;
        // One string form only: `OPS-2026-01-27-7` and `OPS-2026-01-27-0007` are refused.
        if id.to_string() != s {
            return Err(bad(
                "the sequence number must have three digits (or more, without leading zeros, above 999)",
            ));
        }
        Ok(id)
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}-{:03}",
            self.kind.prefix(),
            self.date.format("%Y-%m-%d"),
            self.seq
        )
    }
}

impl fmt::Debug for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl From<RecordId> for String {
    fn from(id: RecordId) -> String {
        id.to_string()
    }
}

impl TryFrom<String> for RecordId {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_kind_and_renders_back() {
        for s in [
            "OPS-2026-01-27-011",
            "OUT-2026-01-27-001",
            "GRANT-2026-12-31-999",
            "REV-2026-02-01-1000",
            "HALT-2026-02-01-002",
            "RESUME-2026-02-01-003",
        ] {
            let id: RecordId = s.parse().unwrap();
            assert_eq!(id.to_string(), s);
        }
    }

    #[test]
    fn refuses_malformed_ids() {
        for s in [
            "OPS-2026-01-27-11",
            "OPS-2026-01-27-0011",
            "OPS-2026-01-27-000",
            "ops-2026-01-27-011",
            "XYZ-2026-01-27-011",
            "OPS-2026-13-27-011",
            "OPS-2026-01-27-01a",
            "OPS-2026-01-27",
            "OPS-2026-01-27-+11",
        ] {
            assert!(s.parse::<RecordId>().is_err(), "{s} accepted");
        }
    }

    #[test]
    fn tag_names_round_trip() {
        let id: RecordId = "OPS-2026-01-27-011".parse().unwrap();
        assert_eq!(id.tag_name(), "ops-2026-01-27-011");
        assert_eq!(RecordId::from_tag_name("ops-2026-01-27-011").unwrap(), id);
        assert!(RecordId::from_tag_name("ops-grant-2026-01-27-011").is_err());
        assert!(RecordId::from_tag_name("OPS-2026-01-27-011").is_err());
    }

    mod props {
        use proptest::prelude::*;

        use super::super::*;

        fn id() -> impl Strategy<Value = RecordId> {
            (
                prop::sample::select(IdKind::ALL.to_vec()),
                0i32..=9999,
                1u32..=366,
                1u32..=MAX_SEQ,
            )
                .prop_filter_map("a calendar date", |(kind, y, ord, seq)| {
                    RecordId::new(kind, NaiveDate::from_yo_opt(y, ord)?, seq).ok()
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn ids_read_back_as_written(id in id()) {
                let s = id.to_string();
                prop_assert_eq!(s.parse::<RecordId>().expect("its own form"), id);
                prop_assert_eq!(id.month(), s.split('-').skip(1).take(2).collect::<Vec<_>>().join("-"));
                if id.kind() == IdKind::Operation {
                    prop_assert_eq!(RecordId::from_tag_name(&id.tag_name()).expect("a tag name"), id);
                }
                // The order of ids is the order of (kind, date, seq): within a kind, by date.
                let json = serde_json::to_string(&id).expect("ids are strings");
                prop_assert_eq!(serde_json::from_str::<RecordId>(&json).expect("read back"), id);
            }

            /// One string form: whatever parses prints back as the same text.
            #[test]
            fn only_the_canonical_form_parses(
                s in prop_oneof![
                    any::<String>(),
                    "(OPS|OUT|GRANT|REV|HALT|RESUME|ops|X)-[0-9+ -]{8,12}-[0-9+]{1,6}",
                ]
            ) {
                if let Ok(id) = s.parse::<RecordId>() {
                    prop_assert_eq!(id.to_string(), s);
                }
            }
        }
    }
}
