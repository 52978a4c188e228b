//! Keys, fingerprints and SSHSIG signatures (OpenSSH `PROTOCOL.sshsig`), verified with strict
//! ed25519. Only bytes come in and out: reading key files is `store`'s job.

use std::fmt;

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
}

impl Error {
    /// The exit code of a command that fails with this error: a key or signature that cannot be
    /// used is a usage or configuration problem (2).
    pub fn exit_code(&self) -> u8 {
        2
    }
}

/// A private ed25519 key, decrypted and ready to sign. Its Debug form never shows the secret.
pub struct Keypair {
    private: PrivateKey,
    public: PublicKeyLine,
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keypair")
            .field("public", &self.public.fingerprint())
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
            let pass = passphrase().map_err(Error::BadPrivateKey)?;
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
        Ok(Keypair { private, public })
    }

    pub fn public(&self) -> &PublicKeyLine {
        &self.public
    }

    pub fn fingerprint(&self) -> Fingerprint {
        self.public.fingerprint()
    }

    pub fn comment(&self) -> &str {
        self.private.comment()
    }

    /// The private key in OpenSSH form, optionally encrypted with `passphrase`.
    pub fn to_openssh(&self, passphrase: Option<&str>) -> Result<Zeroizing<String>, Error> {
        let key = match passphrase {
            Some(p) => self
                .private
                .encrypt(&mut ssh_key::rand_core::OsRng, p)
                .map_err(|e| Error::Sign(e.to_string()))?,
            None => self.private.clone(),
        };
        key.to_openssh(LineEnding::LF)
            .map_err(|e| Error::Sign(e.to_string()))
    }

    /// An armored SSHSIG over `msg` in `namespace` (SHA-512, as ssh-keygen makes them).
    pub fn sign(&self, namespace: &str, msg: &[u8]) -> Result<ArmoredSig, Error> {
        let sig = self
            .private
            .sign(namespace, HashAlg::Sha512, msg)
            .map_err(|e| Error::Sign(e.to_string()))?;
        let pem = sig
            .to_pem(LineEnding::LF)
            .map_err(|e| Error::Sign(e.to_string()))?;
        ArmoredSig::new(&pem).map_err(|e| Error::Sign(e.to_string()))
    }
}

/// Verifies an armored SSHSIG over `msg` by `key` in `namespace`, with strict ed25519
/// (`verify_strict`: no small-order keys, no malleable signatures).
pub fn verify(
    key: &PublicKeyLine,
    namespace: &str,
    msg: &[u8],
    armored: &str,
) -> Result<(), Error> {
    let sig = SshSig::from_pem(armored.trim()).map_err(|e| Error::Malformed(e.to_string()))?;
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
    if sig.algorithm() != Algorithm::Ed25519 || !sig.reserved().is_empty() {
        return Err(Error::Malformed("not a plain ssh-ed25519 signature".into()));
    }
    let signed = SshSig::signed_data(namespace, sig.hash_alg(), msg)
        .map_err(|e| Error::Malformed(e.to_string()))?;
    let vk = VerifyingKey::from_bytes(&key.ed25519_bytes()).map_err(|_| Error::BadSignature)?;
    let raw: [u8; 64] = sig
        .signature_bytes()
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
}
