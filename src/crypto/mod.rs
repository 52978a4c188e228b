//! Keys, fingerprints and SSHSIG signatures (OpenSSH `PROTOCOL.sshsig`), verified with strict
//! ed25519. Only bytes come in and out: reading key files is `store`'s job. A key may also be
//! held by ssh-agent ([`agent`]) or, for FIDO keys, signed with by stock `ssh-keygen -Y sign`.

pub mod agent;

use std::fmt;
use std::path::PathBuf;

use ed25519_dalek::{Signature, VerifyingKey};
use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey, SshSig};
use zeroize::Zeroizing;

use crate::model::{ArmoredSig, Fingerprint, PublicKeyLine};

/// Namespace of ledger signoffs; never `git`, so a commit signature cannot be replayed as one.
pub const NAMESPACE_LEDGER: &str = "git-ops";
/// Namespace git uses for commit and tag signatures.
pub const NAMESPACE_GIT: &str = "git";

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("not an OpenSSH ed25519 private key ({0}); git-ops signs with ssh-ed25519 keys only")]
    BadPrivateKey(String),
    #[error("{0} keys are not supported; git-ops signs with ssh-ed25519 keys only")]
    WrongAlgorithm(String),
    #[error("the key is protected by a passphrase, and the passphrase is wrong")]
    WrongPassphrase,
    /// An encrypted key and no way to ask for its passphrase.
    #[error("{0}")]
    NoPassphrase(String),
    #[error("cannot sign: {0}")]
    Sign(String),
    #[error("malformed signature: {0}")]
    Malformed(String),
    #[error("signature was made by key {found}, not by the signer's key {expected}")]
    WrongKey { expected: String, found: String },
    #[error("signature namespace is {found:?}, expected {expected:?}")]
    WrongNamespace { expected: String, found: String },
    #[error("signature does not verify")]
    BadSignature,
    #[error("ssh-agent: {0}")]
    Agent(String),
    #[error("{0}")]
    External(String),
}

impl Error {
    /// The exit code of a command that fails with this error: a key or signature that cannot be
    /// used is a usage or configuration problem (2).
    pub fn exit_code(&self) -> u8 {
        2
    }
}

/// A key ready to sign: a private ed25519 key in memory (decrypted), a key held by ssh-agent, or
/// a FIDO key that stock `ssh-keygen -Y sign` signs with. Its Debug form never shows a secret.
pub struct Keypair {
    backend: Backend,
    public: PublicKeyLine,
    /// The file the key was read from, if any.
    origin: Option<PathBuf>,
}

enum Backend {
    Local(Box<PrivateKey>),
    /// The agent holds the private half; `blob` is the public key in wire form.
    Agent(agent::Agent, Vec<u8>),
    /// A security-key (`sk-ssh-ed25519@openssh.com`) handle file: ssh-keygen talks to the token.
    SshKeygen(PathBuf),
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keypair")
            .field("public", &self.public.fingerprint())
            .field("held_by", &self.held_by())
            .finish_non_exhaustive()
    }
}

impl Keypair {
    /// A new random key (from the operating system's generator).
    pub fn generate(comment: &str) -> Result<Self, Error> {
        let mut key = PrivateKey::random(&mut ssh_key::rand_core::OsRng, Algorithm::Ed25519)
            .map_err(|e| Error::Sign(e.to_string()))?;
        key.set_comment(comment);
        Self::from_private(key)
    }

    /// Reads an OpenSSH private key. `passphrase` is asked only when the key is encrypted.
    pub fn from_openssh(
        text: &[u8],
        passphrase: impl FnOnce() -> Result<Zeroizing<String>, String>,
    ) -> Result<Self, Error> {
        let key =
            PrivateKey::from_openssh(text).map_err(|e| Error::BadPrivateKey(e.to_string()))?;
        if key.algorithm() != Algorithm::Ed25519 {
            return Err(Error::WrongAlgorithm(key.algorithm().to_string()));
        }
        let key = if key.is_encrypted() {
            let pass = passphrase().map_err(Error::NoPassphrase)?;
            key.decrypt(pass.as_bytes())
                .map_err(|_| Error::WrongPassphrase)?
        } else {
            key
        };
        Self::from_private(key)
    }

    fn from_private(private: PrivateKey) -> Result<Self, Error> {
        let public = PublicKeyLine::from_key(private.public_key())
            .map_err(|e| Error::BadPrivateKey(e.to_string()))?;
        Ok(Keypair {
            backend: Backend::Local(Box::new(private)),
            public,
            origin: None,
        })
    }

    /// The key `public`, whose private half `agent` holds. Refused when the agent does not hold it.
    pub fn from_agent(agent: agent::Agent, public: PublicKeyLine) -> Result<Self, Error> {
        let blob = public_blob(&public)?;
        let held = agent.identities().map_err(Error::Agent)?;
        if !held.iter().any(|i| i.blob == blob) {
            return Err(Error::Agent(format!(
                "the agent at {} does not hold the key {} ({} keys loaded); run `ssh-add` with its private key",
                agent.socket.display(),
                public.fingerprint(),
                held.len()
            )));
        }
        Ok(Keypair {
            backend: Backend::Agent(agent, blob),
            public,
            origin: None,
        })
    }

    /// A FIDO key whose handle file is `path`: signing is handed to `ssh-keygen -Y sign`, which
    /// asks the token (and its touch).
    pub fn with_ssh_keygen(path: PathBuf, public: PublicKeyLine) -> Keypair {
        Keypair {
            origin: Some(path.clone()),
            backend: Backend::SshKeygen(path),
            public,
        }
    }

    /// The key file this key was read from, when it was read from one.
    pub fn origin(&self) -> Option<&std::path::Path> {
        self.origin.as_deref()
    }

    /// Records the file the key was read from.
    pub fn with_origin(mut self, path: PathBuf) -> Keypair {
        self.origin = Some(path);
        self
    }

    /// Where the private half is: "file", "ssh-agent" or "ssh-keygen (security key)".
    pub fn held_by(&self) -> &'static str {
        match self.backend {
            Backend::Local(_) => "file",
            Backend::Agent(..) => "ssh-agent",
            Backend::SshKeygen(_) => "ssh-keygen (security key)",
        }
    }

    pub fn public(&self) -> &PublicKeyLine {
        &self.public
    }

    pub fn fingerprint(&self) -> Fingerprint {
        self.public.fingerprint()
    }

    pub fn comment(&self) -> &str {
        match &self.backend {
            Backend::Local(k) => k.comment(),
            _ => self.public.key().comment(),
        }
    }

    /// The private key in OpenSSH form, optionally encrypted with `passphrase`.
    pub fn to_openssh(&self, passphrase: Option<&str>) -> Result<Zeroizing<String>, Error> {
        let Backend::Local(private) = &self.backend else {
            return Err(Error::Sign(format!(
                "the private key is held by {}, not in a file git-ops can write",
                self.held_by()
            )));
        };
        let key = match passphrase {
            Some(p) => private
                .encrypt(&mut ssh_key::rand_core::OsRng, p)
                .map_err(|e| Error::Sign(e.to_string()))?,
            None => (**private).clone(),
        };
        key.to_openssh(LineEnding::LF)
            .map_err(|e| Error::Sign(e.to_string()))
    }

    /// An armored SSHSIG over `msg` in `namespace` (SHA-512, as ssh-keygen makes them).
    pub fn sign(&self, namespace: &str, msg: &[u8]) -> Result<ArmoredSig, Error> {
        let sig = match &self.backend {
            Backend::Local(private) => private
                .sign(namespace, HashAlg::Sha512, msg)
                .map_err(|e| Error::Sign(e.to_string()))?,
            Backend::Agent(agent, blob) => {
                let data = SshSig::signed_data(namespace, HashAlg::Sha512, msg)
                    .map_err(|e| Error::Sign(e.to_string()))?;
                let raw = agent.sign(blob, &data).map_err(Error::Agent)?;
                let sig = ssh_key::Signature::try_from(raw.as_slice())
                    .map_err(|e| Error::Agent(format!("unreadable signature ({e})")))?;
                SshSig::new(
                    self.public.key().key_data().clone(),
                    namespace,
                    HashAlg::Sha512,
                    sig,
                )
                .map_err(|e| Error::Sign(e.to_string()))?
            }
            Backend::SshKeygen(path) => {
                let pem = ssh_keygen_sign(path, namespace, msg)?;
                SshSig::from_pem(pem.trim()).map_err(|e| {
                    Error::External(format!("ssh-keygen -Y sign gave no signature ({e})"))
                })?
            }
        };
        // Whatever signed it, the signature must be by this key and verify.
        verify_sig(&self.public, namespace, msg, &sig)?;
        let pem = sig
            .to_pem(LineEnding::LF)
            .map_err(|e| Error::Sign(e.to_string()))?;
        ArmoredSig::new(&pem).map_err(|e| Error::Sign(e.to_string()))
    }
}

/// The public key in SSH wire form, as agents name keys.
fn public_blob(public: &PublicKeyLine) -> Result<Vec<u8>, Error> {
    public
        .key()
        .to_bytes()
        .map_err(|e| Error::Sign(e.to_string()))
}

/// Signs `msg` with the security key whose handle file is `path`, through stock
/// `ssh-keygen -Y sign` (which asks the token, and shows its own "touch" prompt on stderr).
fn ssh_keygen_sign(path: &std::path::Path, namespace: &str, msg: &[u8]) -> Result<String, Error> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("ssh-keygen")
        .args(["-q", "-Y", "sign", "-n", namespace, "-f"])
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| {
            Error::External(format!(
                "cannot run ssh-keygen to sign with the security key {} ({e}); install OpenSSH 8.2 or later",
                path.display()
            ))
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(msg)
            .map_err(|e| Error::External(format!("writing to ssh-keygen: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::External(format!("waiting for ssh-keygen: {e}")))?;
    if !out.status.success() {
        return Err(Error::External(format!(
            "ssh-keygen -Y sign with the security key {} failed ({}); is the token plugged in, and was it touched?",
            path.display(),
            out.status
        )));
    }
    String::from_utf8(out.stdout)
        .map_err(|_| Error::External("ssh-keygen -Y sign wrote something that is not text".into()))
}

/// The security-key flag "user present" (the token was touched). OpenSSH requires it unless a key
/// is marked `no-touch-required`; git-ops always does.
const SK_USER_PRESENT: u8 = 0x01;

/// Verifies an armored SSHSIG over `msg` by `key` in `namespace`, with strict ed25519
/// (`verify_strict`: no small-order keys, no malleable signatures). Keys of type
/// `sk-ssh-ed25519@openssh.com` (FIDO) are verified as OpenSSH does: over the application's hash,
/// the flags, the counter and the message's hash, with the user-presence flag required.
pub fn verify(
    key: &PublicKeyLine,
    namespace: &str,
    msg: &[u8],
    armored: &str,
) -> Result<(), Error> {
    let sig = SshSig::from_pem(armored.trim()).map_err(|e| Error::Malformed(e.to_string()))?;
    verify_sig(key, namespace, msg, &sig)
}

fn verify_sig(key: &PublicKeyLine, namespace: &str, msg: &[u8], sig: &SshSig) -> Result<(), Error> {
    if sig.public_key() != key.key().key_data() {
        let found = ssh_key::PublicKey::from(sig.public_key().clone())
            .fingerprint(HashAlg::Sha256)
            .to_string();
        return Err(Error::WrongKey {
            expected: key.fingerprint().to_string(),
            found,
        });
    }
    if sig.namespace() != namespace {
        return Err(Error::WrongNamespace {
            expected: namespace.into(),
            found: sig.namespace().into(),
        });
    }
    if !sig.reserved().is_empty() {
        return Err(Error::Malformed(
            "the signature's reserved field is not empty".into(),
        ));
    }
    let signed = SshSig::signed_data(namespace, sig.hash_alg(), msg)
        .map_err(|e| Error::Malformed(e.to_string()))?;
    let vk = VerifyingKey::from_bytes(&key.ed25519_bytes()).map_err(|_| Error::BadSignature)?;
    let bytes = sig.signature_bytes();
    let (raw, signed) = match (sig.algorithm(), key.key().key_data()) {
        (Algorithm::Ed25519, ssh_key::public::KeyData::Ed25519(_)) => (bytes, signed),
        (Algorithm::SkEd25519, ssh_key::public::KeyData::SkEd25519(sk)) => {
            // 64 signature bytes, then flags (1) and counter (4), as ssh-key decodes them.
            if bytes.len() != 69 {
                return Err(Error::Malformed(
                    "sk-ssh-ed25519 signature is not 69 bytes".into(),
                ));
            }
            let (raw, trailer) = bytes.split_at(64);
            if trailer[0] & SK_USER_PRESENT == 0 {
                return Err(Error::Malformed(
                    "the security key was not touched (user-presence flag unset)".into(),
                ));
            }
            let mut data = Vec::with_capacity(69);
            data.extend(<sha2::Sha256 as sha2::Digest>::digest(sk.application()));
            data.extend(trailer);
            data.extend(<sha2::Sha256 as sha2::Digest>::digest(&signed));
            (raw, data)
        }
        _ => {
            return Err(Error::Malformed(
                "not an ssh-ed25519 or sk-ssh-ed25519 signature".into(),
            ));
        }
    };
    let raw: [u8; 64] = raw
        .try_into()
        .map_err(|_| Error::Malformed("ed25519 signature is not 64 bytes".into()))?;
    vk.verify_strict(&signed, &Signature::from_bytes(&raw))
        .map_err(|_| Error::BadSignature)
}

/// git's `gpg.ssh.allowedSignersFile` format: one line per signer, limited to the namespaces git
/// and git-ops use.
pub fn allowed_signers_line(name: &str, key: &PublicKeyLine) -> String {
    format!(
        "{name} namespaces=\"{NAMESPACE_GIT},{NAMESPACE_LEDGER}\" {}",
        key.without_comment()
    )
}

/// [`allowed_signers_line`] limited to a time window, as OpenSSH's `valid-after` and
/// `valid-before` options (UTC, `YYYYMMDDHHMMSSZ`).
pub fn allowed_signers_line_valid(
    name: &str,
    key: &PublicKeyLine,
    after: Option<crate::model::Timestamp>,
    before: Option<crate::model::Timestamp>,
) -> String {
    let mut opts = format!("namespaces=\"{NAMESPACE_GIT},{NAMESPACE_LEDGER}\"");
    let stamp = |t: crate::model::Timestamp| t.datetime().format("%Y%m%d%H%M%SZ").to_string();
    if let Some(t) = after {
        opts.push_str(&format!(",valid-after=\"{}\"", stamp(t)));
    }
    if let Some(t) = before {
        opts.push_str(&format!(",valid-before=\"{}\"", stamp(t)));
    }
    format!("{name} {opts} {}", key.without_comment())
}

/// A new random repository id: 128 bits, as 32 lower-case hex digits. Drawn from the operating
/// system's generator (through a fresh ed25519 key, whose secret is uniformly random).
pub fn random_repository_id() -> Result<String, Error> {
    let key = Keypair::generate("repository-id")?;
    let digest = <sha2::Sha256 as sha2::Digest>::digest(key.public().ed25519_bytes());
    Ok(digest[..16].iter().map(|b| format!("{b:02x}")).collect())
}

/// Signs `record` as `by` in `role` at `at` (optionally under `grant`): the signoff to append.
pub fn signoff(
    record: &crate::model::Record,
    key: &Keypair,
    by: &crate::model::SignerName,
    role: crate::model::Role,
    at: crate::model::Timestamp,
    grant: Option<crate::model::RecordId>,
) -> Result<crate::model::Signoff, Error> {
    signoff_in(None, record, key, by, role, at, grant)
}

/// [`signoff`] in the repository whose policy's `repository_id` is `repo`: the statement names
/// it, so the signoff verifies only there.
pub fn signoff_in(
    repo: Option<&str>,
    record: &crate::model::Record,
    key: &Keypair,
    by: &crate::model::SignerName,
    role: crate::model::Role,
    at: crate::model::Timestamp,
    grant: Option<crate::model::RecordId>,
) -> Result<crate::model::Signoff, Error> {
    let digest = record.payload_sha256();
    let statement = crate::model::record::Statement {
        repo,
        ty: crate::model::record::STATEMENT_TYPE,
        record: record.id(),
        payload_sha256: &digest,
        by,
        role,
        at,
        grant: grant.as_ref(),
        pin: None,
    };
    let sig = key.sign(NAMESPACE_LEDGER, &statement.to_bytes())?;
    Ok(crate::model::Signoff {
        by: by.clone(),
        role,
        at,
        key: key.fingerprint(),
        grant,
        pin: None,
        sig,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_then_verify_and_refuse_tampering() {
        let k = Keypair::generate("t@example").unwrap();
        let sig = k.sign(NAMESPACE_LEDGER, b"hello").unwrap();
        verify(k.public(), NAMESPACE_LEDGER, b"hello", sig.as_str()).unwrap();
        assert!(matches!(
            verify(k.public(), NAMESPACE_LEDGER, b"hellO", sig.as_str()),
            Err(Error::BadSignature)
        ));
        assert!(matches!(
            verify(k.public(), NAMESPACE_GIT, b"hello", sig.as_str()),
            Err(Error::WrongNamespace { .. })
        ));
        let other = Keypair::generate("o").unwrap();
        assert!(matches!(
            verify(other.public(), NAMESPACE_LEDGER, b"hello", sig.as_str()),
            Err(Error::WrongKey { .. })
        ));
    }

    #[test]
    fn encrypted_keys_need_the_passphrase() {
        let k = Keypair::generate("t").unwrap();
        let text = k.to_openssh(Some("correct horse")).unwrap();
        let back = Keypair::from_openssh(text.as_bytes(), || {
            Ok(Zeroizing::new("correct horse".into()))
        })
        .unwrap();
        assert_eq!(back.public(), k.public());
        assert!(matches!(
            Keypair::from_openssh(text.as_bytes(), || Ok(Zeroizing::new("wrong".into()))),
            Err(Error::WrongPassphrase)
        ));
        let dbg = format!("{back:?}");
        assert!(!dbg.contains("PRIVATE"), "{dbg}");
    }

    /// A signature made by a real FIDO token (`sk-ssh-ed25519@openssh.com`) with stock OpenSSH:
    /// the known-good vector of the ssh-key crate's tests (`tests/examples/sshsig_sk_ed25519`,
    /// message `testing`, namespace `example`, flags 0x01 = user present, counter 9).
    pub const SK_PUBLIC: &str = "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAINSoElFleH+nN83FoLqqepJjN+y7Gs5lrn7qXjBqQZyuAAAABHNzaDo= user@example.com";
    pub const SK_SIGNATURE: &str = "-----BEGIN SSH SIGNATURE-----
U1NIU0lHAAAAAQAAAEoAAAAac2stc3NoLWVkMjU1MTlAb3BlbnNzaC5jb20AAAAg1KgSUW
V4f6c3zcWguqp6kmM37LsazmWufupeMGpBnK4AAAAEc3NoOgAAAAdleGFtcGxlAAAAAAAA
AAZzaGE1MTIAAABnAAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAQC9WcLb5NG
XRdCOHinQIS/MxdnAx7SQMYnyOt5q4+huTWh/Zk/UvWhP+wXl/ikNPlDpgliRq6o3VyKqS
LLo9lQYBAAAACQ==
-----END SSH SIGNATURE-----
";

    #[test]
    fn a_fido_signature_verifies_and_tampering_is_refused() {
        let key = PublicKeyLine::new(SK_PUBLIC).expect("sk keys are accepted");
        assert!(key.is_security_key());
        verify(&key, "example", b"testing", SK_SIGNATURE).expect("the known-good vector");
        assert!(matches!(
            verify(&key, "example", b"testinG", SK_SIGNATURE),
            Err(Error::BadSignature)
        ));
        assert!(matches!(
            verify(&key, NAMESPACE_LEDGER, b"testing", SK_SIGNATURE),
            Err(Error::WrongNamespace { .. })
        ));
        // Flags and counter are signed: a changed counter fails, an unset user-presence flag is
        // refused by name.
        let sig = SshSig::from_pem(SK_SIGNATURE.trim()).unwrap();
        let mut bytes = sig.signature_bytes().to_vec();
        let resign = |bytes: &[u8]| {
            let s = ssh_key::Signature::new(Algorithm::SkEd25519, bytes.to_vec()).unwrap();
            SshSig::new(sig.public_key().clone(), "example", sig.hash_alg(), s)
                .unwrap()
                .to_pem(LineEnding::LF)
                .unwrap()
        };
        bytes[68] ^= 1;
        assert!(matches!(
            verify(&key, "example", b"testing", &resign(&bytes)),
            Err(Error::BadSignature)
        ));
        bytes[68] ^= 1;
        bytes[64] = 0;
        match verify(&key, "example", b"testing", &resign(&bytes)) {
            Err(Error::Malformed(m)) => assert!(m.contains("not touched"), "{m}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
        // A plain ed25519 key with the same public point is another key.
        let plain = Keypair::generate("p").unwrap();
        assert!(matches!(
            verify(plain.public(), "example", b"testing", SK_SIGNATURE),
            Err(Error::WrongKey { .. })
        ));
    }

    #[test]
    fn keys_held_elsewhere_do_not_write_private_files() {
        let key = PublicKeyLine::new(SK_PUBLIC).unwrap();
        let k = Keypair::with_ssh_keygen("/nonexistent/id_ed25519_sk".into(), key);
        assert_eq!(k.held_by(), "ssh-keygen (security key)");
        assert!(k.to_openssh(None).is_err());
        // Signing asks ssh-keygen, which fails on a missing handle file: an error, not a panic.
        assert!(k.sign(NAMESPACE_LEDGER, b"x").is_err());
    }
}
