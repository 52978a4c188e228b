//! RFC 8785 (JCS) canonical JSON, and the SHA-256 digests taken over it.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Error;

pub fn to_vec<T: Serialize>(v: &T) -> Result<Vec<u8>, Error> {
    serde_json_canonicalizer::to_vec(v).map_err(|e| Error::Canonical(e.to_string()))
}

pub fn sha256_hex_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub fn sha256_hex<T: Serialize>(v: &T) -> String {
    sha256_hex_bytes(&to_vec(v).expect("payloads have no floats and string keys only"))
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_keys_and_drops_whitespace() {
        let v = serde_json::json!({"b": 1, "a": [true, null, "x\u{20ac}"], "c": {"z": 1, "y": 2}});
        assert_eq!(
            String::from_utf8(to_vec(&v).unwrap()).unwrap(),
            r#"{"a":[true,null,"x€"],"b":1,"c":{"y":2,"z":1}}"#
        );
    }

    #[test]
    fn rfc8785_escapes() {
        let v = serde_json::json!({"\u{000f}": "\u{001f}\"\\/\n"});
        assert_eq!(
            String::from_utf8(to_vec(&v).unwrap()).unwrap(),
            "{\"\\u000f\":\"\\u001f\\\"\\\\/\\n\"}"
        );
    }

    /// RFC 8785 orders keys by their UTF-16 code units, not by code points: U+10000 (a
    /// surrogate pair starting 0xD800) sorts before U+FFFF.
    #[test]
    fn sorts_keys_by_utf16_code_units() {
        let v = serde_json::json!({"\u{ffff}": 1, "\u{10000}": 2, "a": 3});
        assert_eq!(
            String::from_utf8(to_vec(&v).unwrap()).unwrap(),
            "{\"a\":3,\"\u{10000}\":2,\"\u{ffff}\":1}"
        );
    }

    mod props {
        use proptest::prelude::*;
        use serde_json::{Map, Value};

        use super::super::*;

        /// JSON without floats (the schema has none), integers within ±2^53, any strings.
        fn json() -> BoxedStrategy<Value> {
            let key = prop_oneof![any::<String>(), "[a-z_]{1,8}"];
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                (-(1i64 << 53)..(1i64 << 53)).prop_map(Value::from),
                any::<String>().prop_map(Value::String),
            ];
            leaf.prop_recursive(4, 64, 6, move |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    prop::collection::vec((key.clone(), inner), 0..6)
                        .prop_map(|kv| Value::Object(kv.into_iter().collect())),
                ]
            })
            .boxed()
        }

        /// The same value with every object's keys inserted in reverse order.
        fn reversed(v: &Value) -> Value {
            match v {
                Value::Array(a) => Value::Array(a.iter().map(reversed).collect()),
                Value::Object(o) => {
                    let mut m = Map::new();
                    for (k, x) in o.iter().rev() {
                        m.insert(k.clone(), reversed(x));
                    }
                    Value::Object(m)
                }
                other => other.clone(),
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn canonical_bytes_are_stable(v in json()) {
                let a = to_vec(&v).expect("no floats");
                prop_assert_eq!(&to_vec(&v.clone()).expect("no floats"), &a);
                // Key order of the input does not matter.
                prop_assert_eq!(&to_vec(&reversed(&v)).expect("no floats"), &a);
                // The bytes are JSON for the same value, and canonical again.
                let back: Value = serde_json::from_slice(&a).expect("canonical JSON is JSON");
                prop_assert_eq!(&back, &v);
                prop_assert_eq!(&to_vec(&back).expect("no floats"), &a);
                prop_assert_eq!(sha256_hex(&reversed(&v)), sha256_hex_bytes(&a));
            }
        }
    }
}
