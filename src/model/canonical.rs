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
}
