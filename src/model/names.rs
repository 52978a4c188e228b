//! Newtypes with one string form each: signer names, key fingerprints, public keys and armored
//! signatures. A bad value fails when a file is read, not deep inside a check.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Error;

macro_rules! string_newtype {
    ($name:ident, $what:literal) => {
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", $what, self.as_str())
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.as_str().to_string()
            }
        }
        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(s: String) -> Result<Self, Error> {
                $name::new(&s)
            }
        }
        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                $name::new(s)
            }
        }
    };
}

/// A signer's name as the policy lists it: also the principal in git's allowed_signers file, so it
/// may not contain white space, commas, quotes or wildcards.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct SignerName(String);

impl SignerName {
    pub fn new(s: &str) -> Result<Self, Error> {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@');
        if s.is_empty() || s.len() > 64 {
            return Err(Error::invalid(
                "signer name",
                s,
                "must be 1 to 64 characters",
            ));
        }
        if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) || !s.chars().all(ok_char) {
            return Err(Error::invalid(
                "signer name",
                s,
                "use letters, digits, '.', '_', '-' and '@', starting with a letter or digit",
            ));
        }
        Ok(SignerName(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_newtype!(SignerName, "SignerName");

/// OpenSSH SHA-256 fingerprint of a public key, `SHA256:` and 43 base64 characters.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Fingerprint(String);

impl Fingerprint {
    pub fn new(s: &str) -> Result<Self, Error> {
        let b64 = s.strip_prefix("SHA256:").ok_or_else(|| {
            Error::invalid(
                "key fingerprint",
                s,
                "expected SHA256:<43 base64 characters>",
            )
        })?;
        let ok = b64.len() == 43
            && b64
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
        if !ok {
            return Err(Error::invalid(
                "key fingerprint",
                s,
                "expected SHA256:<43 base64 characters>",
            ));
        }
        Ok(Fingerprint(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_newtype!(Fingerprint, "Fingerprint");

/// An ed25519 public key in OpenSSH one-line form (`ssh-ed25519 AAAA... comment`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct PublicKeyLine {
    text: String,
    key: ssh_key::PublicKey,
}

impl PublicKeyLine {
    pub fn new(s: &str) -> Result<Self, Error> {
        let s = s.trim();
        let key = ssh_key::PublicKey::from_openssh(s).map_err(|e| {
            Error::invalid("public key", s, format!("not an OpenSSH public key ({e})"))
        })?;
        if !matches!(
            key.algorithm(),
            ssh_key::Algorithm::Ed25519 | ssh_key::Algorithm::SkEd25519
        ) {
            return Err(Error::invalid(
                "public key",
                s,
                format!(
                    "{} keys are not accepted; git-ops uses ssh-ed25519 (or FIDO sk-ssh-ed25519@openssh.com) keys only",
                    key.algorithm()
                ),
            ));
        }
        Ok(PublicKeyLine {
            text: s.to_string(),
            key,
        })
    }

    pub fn from_key(key: &ssh_key::PublicKey) -> Result<Self, Error> {
        let text = key
            .to_openssh()
            .map_err(|e| Error::invalid("public key", "", e.to_string()))?;
        Self::new(&text)
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn key(&self) -> &ssh_key::PublicKey {
        &self.key
    }

    /// The raw 32-byte ed25519 key (of a FIDO key too).
    pub fn ed25519_bytes(&self) -> [u8; 32] {
        match self.key.key_data() {
            ssh_key::public::KeyData::Ed25519(k) => k.0,
            ssh_key::public::KeyData::SkEd25519(k) => k.public_key().0,
            _ => unreachable!("PublicKeyLine::new admits ed25519 keys only"),
        }
    }

    /// Whether this is a FIDO security key (`sk-ssh-ed25519@openssh.com`).
    pub fn is_security_key(&self) -> bool {
        self.key.algorithm() == ssh_key::Algorithm::SkEd25519
    }

    /// `ssh-ed25519 AAAA...` without the comment: what identifies the key.
    pub fn without_comment(&self) -> String {
        let mut k = self.key.clone();
        k.set_comment("");
        k.to_openssh().unwrap_or_default().trim().to_string()
    }

    pub fn fingerprint(&self) -> Fingerprint {
        let fp = self.key.fingerprint(ssh_key::HashAlg::Sha256).to_string();
        Fingerprint::new(&fp).expect("ssh-key renders SHA256 fingerprints in OpenSSH form")
    }
}

impl PartialEq for PublicKeyLine {
    fn eq(&self, other: &Self) -> bool {
        self.key.key_data() == other.key.key_data()
    }
}
impl Eq for PublicKeyLine {}
string_newtype!(PublicKeyLine, "PublicKeyLine");

/// An armored SSHSIG (`-----BEGIN SSH SIGNATURE-----` ... `-----END SSH SIGNATURE-----`). Only the
/// envelope is checked here; `crypto` decodes and verifies it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct ArmoredSig(String);

pub const SIG_BEGIN: &str = "-----BEGIN SSH SIGNATURE-----";
pub const SIG_END: &str = "-----END SSH SIGNATURE-----";

impl ArmoredSig {
    pub fn new(s: &str) -> Result<Self, Error> {
        let t = s.trim();
        let ok = t.starts_with(SIG_BEGIN)
            && t.ends_with(SIG_END)
            && t.len() < 4096
            && t.lines().skip(1).take_while(|l| *l != SIG_END).all(|l| {
                l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
            });
        if !ok {
            let head: String = t.chars().take(40).collect();
            return Err(Error::invalid(
                "signature",
                head,
                "expected an armored SSH signature",
            ));
        }
        // One form: the armor lines and a final newline, which keeps YAML `|` blocks tidy.
        Ok(ArmoredSig(format!("{t}\n")))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_newtype!(ArmoredSig, "ArmoredSig");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signer_names() {
        for ok in ["alice", "deploy-bot", "a.b_c@example.org", "x1"] {
            SignerName::new(ok).unwrap();
        }
        for bad in [
            "",
            "-x",
            "a b",
            "a,b",
            "a*",
            "\"a\"",
            "ali\u{e7}e",
            &"a".repeat(65),
        ] {
            assert!(SignerName::new(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn fingerprints() {
        Fingerprint::new("SHA256:Xq3c7Xq3c7Xq3c7Xq3c7Xq3c7Xq3c7Xq3c7Xq3c7Xq3").unwrap();
        assert!(Fingerprint::new("MD5:aa").is_err());
        assert!(Fingerprint::new("SHA256:short").is_err());
    }

    #[test]
    fn public_keys_must_be_ed25519() {
        let line = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq8f3oHC0Yx6lL4cS/Jt4Ly6tXUzG9OjK1N7a+S0QUm alice@example.org";
        let k = PublicKeyLine::new(line).unwrap();
        assert!(k.fingerprint().as_str().starts_with("SHA256:"));
        assert_eq!(k.without_comment(), line.rsplit_once(' ').unwrap().0);
        assert!(PublicKeyLine::new("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7").is_err());
        assert!(PublicKeyLine::new("not a key").is_err());
    }

    mod props {
        use proptest::prelude::*;

        use super::super::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Whatever is accepted keeps its exact text, and reads back as itself.
            #[test]
            fn names_and_fingerprints_keep_their_text(
                s in prop_oneof![any::<String>(), "[a-zA-Z0-9._@, *-]{0,70}", "SHA256:[A-Za-z0-9+/=]{41,45}"]
            ) {
                if let Ok(n) = SignerName::new(&s) {
                    prop_assert_eq!(n.as_str(), s.as_str());
                    prop_assert_eq!(SignerName::new(n.as_str()).expect("itself"), n);
                }
                if let Ok(f) = Fingerprint::new(&s) {
                    prop_assert_eq!(f.as_str(), s.as_str());
                }
            }

            /// A signature's one form (trimmed, one final newline) is a fixed point.
            #[test]
            fn armored_signatures_have_one_form(
                lines in prop::collection::vec("[A-Za-z0-9+/=]{0,76}", 0..6),
                before in "[ \n\t]{0,3}",
                after in "[ \n\t]{0,3}",
            ) {
                let text = format!("{before}{SIG_BEGIN}\n{}\n{SIG_END}{after}", lines.join("\n"));
                let sig = ArmoredSig::new(&text).expect("well formed");
                let end = format!("{SIG_END}\n");
                prop_assert!(sig.as_str().ends_with(&end));
                prop_assert_eq!(ArmoredSig::new(sig.as_str()).expect("itself"), sig);
            }
        }
    }
}
