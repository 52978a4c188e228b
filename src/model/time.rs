//! RFC 3339 UTC timestamps with a `Z` suffix and whole seconds: one string form, so that the signed
//! bytes of a statement never depend on how a parser normalises a time.

use std::fmt;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Error;

const FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    pub fn from_datetime(t: DateTime<Utc>) -> Self {
        // Whole seconds only: the string form has no fraction.
        Timestamp(DateTime::from_timestamp(t.timestamp(), 0).expect("a valid time stays valid"))
    }

    pub fn from_unix(secs: i64) -> Option<Self> {
        DateTime::from_timestamp(secs, 0).map(Timestamp)
    }

    pub fn datetime(&self) -> DateTime<Utc> {
        self.0
    }

    pub fn unix(&self) -> i64 {
        self.0.timestamp()
    }

    /// The latest time the string form can hold (four-digit years): 9999-12-31T23:59:59Z.
    pub fn max_value() -> Self {
        Timestamp(
            DateTime::from_timestamp(253_402_300_799, 0).expect("9999-12-31T23:59:59Z is valid"),
        )
    }

    /// `hours` later, or None when that is past [`Timestamp::max_value`] (or before year 0):
    /// what a writer uses, so that it never writes a time the reader refuses.
    pub fn checked_plus_hours(&self, hours: i64) -> Option<Self> {
        let t = self
            .0
            .checked_add_signed(chrono::Duration::try_hours(hours)?)?;
        (t <= Self::max_value().0 && chrono::Datelike::year(&t) >= 0).then_some(Timestamp(t))
    }

    /// `hours` later, saturating at [`Timestamp::max_value`]: what a reader uses to compute a
    /// window from times it has read (a far-future time then stays far in the future).
    pub fn plus_hours(&self, hours: i64) -> Self {
        self.checked_plus_hours(hours)
            .unwrap_or(if hours >= 0 { Self::max_value() } else { *self })
    }

    pub fn date(&self) -> chrono::NaiveDate {
        self.0.date_naive()
    }
}

impl std::str::FromStr for Timestamp {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let naive = NaiveDateTime::parse_from_str(s, FORMAT).map_err(|e| {
            Error::invalid(
                "timestamp",
                s,
                format!("{e}; expected RFC 3339 UTC like 2026-01-27T06:15:30Z"),
            )
        })?;
        // chrono reads `:60` as a leap second, which would give one instant two strings.
        if chrono::Timelike::nanosecond(&naive) >= 1_000_000_000 {
            return Err(Error::invalid("timestamp", s, "seconds must be 00 to 59"));
        }
        let t = Timestamp(naive.and_utc());
        if t.to_string() != s {
            return Err(Error::invalid(
                "timestamp",
                s,
                "expected RFC 3339 UTC with whole seconds and a Z, like 2026-01-27T06:15:30Z",
            ));
        }
        Ok(t)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format(FORMAT))
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl From<Timestamp> for String {
    fn from(t: Timestamp) -> String {
        t.to_string()
    }
}

impl TryFrom<String> for Timestamp {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        s.parse()
    }
}

#[cfg(test)]
mod overflow {
    use super::*;

    #[test]
    fn windows_never_overflow_and_stay_readable() {
        let t: Timestamp = "2026-12-02T10:00:00Z".parse().unwrap();
        assert_eq!(
            t.checked_plus_hours(1).unwrap().to_string(),
            "2026-12-02T11:00:00Z"
        );
        assert!(t.checked_plus_hours(i64::from(u32::MAX)).is_none());
        assert!(t.checked_plus_hours(70_000_000).is_none(), "year 10012");
        assert!(t.checked_plus_hours(i64::MAX).is_none());
        assert_eq!(t.plus_hours(i64::MAX), Timestamp::max_value());
        let max = Timestamp::max_value().to_string();
        assert_eq!(max, "9999-12-31T23:59:59Z");
        assert_eq!(max.parse::<Timestamp>().unwrap(), Timestamp::max_value());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_other_forms() {
        let t: Timestamp = "2026-01-27T06:15:30Z".parse().unwrap();
        assert_eq!(t.to_string(), "2026-01-27T06:15:30Z");
        for bad in [
            "2026-01-27T06:15:30+00:00",
            "2026-01-27 06:15:30Z",
            "2026-01-27T06:15:30.5Z",
            "2026-1-27T06:15:30Z",
            "2026-02-30T00:00:00Z",
            "",
        ] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad} accepted");
        }
    }

    /// One string form per instant: `12:00:60Z` would be a second name for `12:00:59Z` (chrono
    /// reads `:60` as a leap second at any minute), and RFC 3339 allows `:60` only at the end of
    /// a day with a leap second. git-ops has no use for leap seconds: refuse `:60`.
    #[test]
    fn refuses_second_60() {
        for s in ["2026-01-27T12:00:60Z", "2026-01-27T23:59:60Z"] {
            assert!(s.parse::<Timestamp>().is_err(), "{s} accepted");
        }
    }

    mod props {
        use proptest::prelude::*;

        use super::super::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Every instant from 0000-01-01 to 9999-12-31 (what four year digits can write).
            #[test]
            fn timestamps_read_back_as_written(secs in -62_167_219_200i64..253_402_300_800) {
                let t = Timestamp::from_unix(secs).expect("in range");
                let s = t.to_string();
                prop_assert_eq!(s.parse::<Timestamp>().expect("its own form"), t);
                prop_assert_eq!(t.unix(), secs);
                let json = serde_json::to_string(&t).expect("timestamps are strings");
                prop_assert_eq!(serde_json::from_str::<Timestamp>(&json).expect("read back"), t);
            }

            /// One string form: whatever parses prints back as the same text.
            #[test]
            fn only_the_canonical_form_parses(
                s in prop_oneof![
                    any::<String>(),
                    "[0-9+-]{4,6}-[0-9]{1,2}-[0-9]{1,2}[T ][0-9]{1,2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,3})?(Z|z|[+-]00:00)?",
                ]
            ) {
                if let Ok(t) = s.parse::<Timestamp>() {
                    prop_assert_eq!(t.to_string(), s);
                }
            }
        }
    }
}
