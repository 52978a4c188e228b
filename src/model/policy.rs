//! `ops/policy.yaml`: who may sign what, which paths are governed, thresholds and limits.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::glob::Glob;
use super::{Error, PublicKeyLine, SignerName};

/// Risk classes of the Ops Governor, ordered from least to most dangerous.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub enum RiskClass {
    #[serde(rename = "READ_ONLY")]
    ReadOnly,
    #[serde(rename = "LOW_RISK_CONFIG")]
    LowRiskConfig,
    #[serde(rename = "SERVICE_RESTART")]
    ServiceRestart,
    #[serde(rename = "FILESYSTEM_WRITE")]
    FilesystemWrite,
}

impl RiskClass {
    pub const ALL: [RiskClass; 4] = [
        RiskClass::ReadOnly,
        RiskClass::LowRiskConfig,
        RiskClass::ServiceRestart,
        RiskClass::FilesystemWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RiskClass::ReadOnly => "READ_ONLY",
            RiskClass::LowRiskConfig => "LOW_RISK_CONFIG",
            RiskClass::ServiceRestart => "SERVICE_RESTART",
            RiskClass::FilesystemWrite => "FILESYSTEM_WRITE",
        }
    }
}

impl fmt::Display for RiskClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RiskClass {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        RiskClass::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(
                    "risk class",
                    s,
                    "expected READ_ONLY, LOW_RISK_CONFIG, SERVICE_RESTART or FILESYSTEM_WRITE",
                )
            })
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignerRole {
    /// A person. Only humans may approve directly, grant, revoke, halt and resume.
    Human,
    /// May approve operations (humans only).
    Approver,
    /// A CI bot or agent: signs only as requester, or inside a grant.
    Automation,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignerEntry {
    pub key: PublicKeyLine,
    pub roles: Vec<SignerRole>,
    /// Earlier keys of this signer (`git ops keys rotate`), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired_keys: Vec<RetiredKey>,
}

/// A key a signer no longer uses, and when it stopped being theirs: signatures made with it
/// before `retired_at` still verify, none after.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetiredKey {
    pub key: PublicKeyLine,
    pub retired_at: super::Timestamp,
}

impl SignerEntry {
    /// When the current key took over from a retired one (the latest retirement), if ever.
    pub fn key_since(&self) -> Option<super::Timestamp> {
        self.retired_keys.iter().map(|r| r.retired_at).max()
    }

    /// When the key with fingerprint `fp` was retired, if it is one of this signer's retired keys.
    pub fn retired_at(&self, fp: &super::Fingerprint) -> Option<super::Timestamp> {
        self.retired_keys
            .iter()
            .find(|r| &r.key.fingerprint() == fp)
            .map(|r| r.retired_at)
    }

    pub fn has(&self, role: SignerRole) -> bool {
        self.roles.contains(&role)
    }
    pub fn is_human(&self) -> bool {
        self.has(SignerRole::Human)
    }
    pub fn is_approver(&self) -> bool {
        self.has(SignerRole::Human) && self.has(SignerRole::Approver)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskRule {
    /// Distinct approvers required, not counting the requester.
    pub approvals: u32,
    /// The requester's own signoff counts as one approval.
    #[serde(default, skip_serializing_if = "is_false")]
    pub self_approval: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub paths: Vec<Glob>,
    pub min_risk: RiskClass,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approvals: Option<u32>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub human_only: bool,
    /// Approvers must pin the content they reviewed (docs/SIGNED-COMMITS.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<PinKind>,
}

/// What a pinned approval names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PinKind {
    /// The content (mode, blob, path) of the operation's allowed paths after the change.
    Tree,
}

impl Rule {
    /// Whether the rule governs `path` in any spelling (folded, see [`super::paths`]).
    pub fn matches(&self, path: &str) -> bool {
        self.paths.iter().any(|g| g.matches_folded(path))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantLimits {
    #[serde(default = "default_max_hours")]
    pub max_hours: u32,
    #[serde(default = "default_break_glass_hours")]
    pub break_glass_max_hours: u32,
}

impl Default for GrantLimits {
    fn default() -> Self {
        GrantLimits {
            max_hours: default_max_hours(),
            break_glass_max_hours: default_break_glass_hours(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationsCfg {
    #[serde(default = "default_window_hours")]
    pub default_window_hours: u32,
    #[serde(default)]
    pub require_tags: bool,
    /// Reserve tagging to human signers (the playbook's "tagging is human-only change control").
    #[serde(default)]
    pub human_only_tags: bool,
}

impl Default for OperationsCfg {
    fn default() -> Self {
        OperationsCfg {
            default_window_hours: default_window_hours(),
            require_tags: false,
            human_only_tags: false,
        }
    }
}

fn default_max_hours() -> u32 {
    72
}
fn default_break_glass_hours() -> u32 {
    2
}
fn default_window_hours() -> u32 {
    24
}
fn is_false(b: &bool) -> bool {
    !*b
}
fn is_format_one(v: &u32) -> bool {
    *v == 1
}
fn format_one() -> u32 {
    1
}

pub const POLICY_FORMAT: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Version of the file format (not of the policy's content); only 1 exists.
    #[serde(default = "format_one", skip_serializing_if = "is_format_one")]
    pub format: u32,
    /// Revision of this policy: increases with every change.
    pub version: u64,
    /// A random id of this repository (hex), written by `git ops init`. Every signoff statement
    /// names it, so a record signed for one repository (staging) does not verify in another
    /// (prod). Without it, statements name no repository (policies written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository_id: Option<String>,
    pub signers: BTreeMap<SignerName, SignerEntry>,
    pub risk_classes: BTreeMap<RiskClass, RiskRule>,
    #[serde(default)]
    pub rules: Vec<Rule>,
    #[serde(default)]
    pub immutable: Vec<Glob>,
    #[serde(default)]
    pub grants: GrantLimits,
    #[serde(default)]
    pub operations: OperationsCfg,
    #[serde(default)]
    pub forbidden: Vec<String>,
    #[serde(default, skip_serializing_if = "RefsCfg::is_default")]
    pub refs: RefsCfg,
    /// Which commits must carry git's SSH commit signature (docs/SIGNED-COMMITS.md).
    #[serde(default, skip_serializing_if = "CommitsCfg::is_default")]
    pub commits: CommitsCfg,
    /// The agent autonomy contract: what automation may change anywhere in the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automation: Option<AutomationCfg>,
    /// Users the server authenticated (`GL_USER` or `ops.pusherVar`) mapped to signer names.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pushers: BTreeMap<String, SignerName>,
}

/// Which commits must be signed with git's own SSH commit signature.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequireSignature {
    /// No commit needs a signature (policies written before signed commits existed).
    #[default]
    None,
    /// A commit that changes governed paths is signed by a signer of the operation covering it.
    Governed,
    /// As `governed`, and every other commit is signed by some signer of the policy.
    All,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitsCfg {
    #[serde(default)]
    pub require_signature: RequireSignature,
}

impl CommitsCfg {
    fn is_default(&self) -> bool {
        *self == CommitsCfg::default()
    }
}

/// The agent autonomy contract (playbook seed): a commit made by automation (signed by an
/// automation key, or pushed by a pusher mapped to one) may only change paths under `may_change`
/// and only add paths under `may_add`, governed or not.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutomationCfg {
    /// The signers held to these bounds; empty means every signer with the `automation` role.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signers: Vec<SignerName>,
    /// Paths automation may add, change or delete.
    #[serde(default)]
    pub may_change: Vec<Glob>,
    /// Paths automation may only add (never change or delete).
    #[serde(default)]
    pub may_add: Vec<Glob>,
}

/// What the server lets a push do to refs other than branches moving forward (DESIGN §3.1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefsCfg {
    /// Ref namespaces besides `refs/heads/` and `refs/tags/` that may be pushed, such as
    /// `refs/notes/`. `refs/replace/` is never allowed: it changes what every reader sees.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_namespaces: Vec<String>,
    /// Tags other than `ops-*` may be moved or deleted (ledger tags never are).
    #[serde(default, skip_serializing_if = "is_false")]
    pub movable_tags: bool,
}

impl RefsCfg {
    fn is_default(&self) -> bool {
        *self == RefsCfg::default()
    }

    /// Whether a push may create, move or delete `refname` at all.
    pub fn allows_namespace(&self, refname: &str) -> bool {
        if refname.starts_with("refs/heads/") || refname.starts_with("refs/tags/") {
            return true;
        }
        if refname.starts_with("refs/replace/") {
            return false;
        }
        self.allow_namespaces.iter().any(|ns| {
            let ns = ns.trim_end_matches('/');
            ns.starts_with("refs/") && refname.starts_with(&format!("{ns}/"))
        })
    }
}

impl Policy {
    /// Checks that the YAML types cannot express.
    pub fn validate(&self) -> Result<(), Error> {
        if self.format != POLICY_FORMAT {
            return Err(Error::Schema(format!(
                "unknown policy format {} (this git-ops understands format {POLICY_FORMAT}); upgrade git-ops",
                self.format
            )));
        }
        for rc in RiskClass::ALL {
            if !self.risk_classes.contains_key(&rc) {
                return Err(Error::Schema(format!(
                    "risk_classes has no entry for {rc}; every risk class needs `{{ approvals: N }}`"
                )));
            }
        }
        let mut keys = BTreeMap::new();
        for (name, s) in &self.signers {
            let human = s.has(SignerRole::Human);
            let bot = s.has(SignerRole::Automation);
            if human == bot {
                return Err(Error::Schema(format!(
                    "signer {name}: roles must include exactly one of `human` and `automation`"
                )));
            }
            if bot && s.has(SignerRole::Approver) {
                return Err(Error::Schema(format!(
                    "signer {name}: automation cannot have the approver role; automation approves only inside a grant"
                )));
            }
            if let Some(other) = keys.insert(s.key.ed25519_bytes(), name) {
                return Err(Error::Schema(format!(
                    "signers {other} and {name} have the same key; each signer needs its own key"
                )));
            }
            for r in &s.retired_keys {
                if let Some(other) = keys.insert(r.key.ed25519_bytes(), name) {
                    return Err(Error::Schema(format!(
                        "signer {name}: retired key {} is also a key of {other}; a retired key is never used again",
                        r.key.fingerprint()
                    )));
                }
            }
        }
        if let Some(id) = &self.repository_id
            && (!(16..=64).contains(&id.len())
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        {
            return Err(Error::Schema(format!(
                "repository_id {id:?}: expected 16 to 64 lower-case hex digits"
            )));
        }
        if self.rules.iter().any(|r| r.paths.is_empty()) {
            return Err(Error::Schema("a rule has an empty `paths` list".into()));
        }
        if let Some(a) = &self.automation {
            for n in &a.signers {
                if self.signer(n).is_none() {
                    return Err(Error::Schema(format!(
                        "automation.signers names {n}, who is not in `signers`"
                    )));
                }
            }
        }
        for (user, n) in &self.pushers {
            if self.signer(n).is_none() {
                return Err(Error::Schema(format!(
                    "pushers maps {user:?} to {n}, who is not in `signers`"
                )));
            }
        }
        if self.operations.default_window_hours == 0 {
            return Err(Error::Schema(
                "operations.default_window_hours must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// Whether `name` is held to the automation bounds: named in `automation.signers`, or, when
    /// that list is empty, a signer with the `automation` role. False without an `automation`
    /// section.
    pub fn is_bounded_automation(&self, name: &SignerName) -> bool {
        let Some(a) = &self.automation else {
            return false;
        };
        if a.signers.is_empty() {
            self.signer(name)
                .is_some_and(|s| s.has(SignerRole::Automation))
        } else {
            a.signers.contains(name)
        }
    }

    pub fn signer(&self, name: &SignerName) -> Option<&SignerEntry> {
        self.signers.get(name)
    }

    /// The signer whose key is `key`, if any.
    pub fn signer_by_key(&self, key: &PublicKeyLine) -> Option<(&SignerName, &SignerEntry)> {
        self.signers.iter().find(|(_, s)| &s.key == key)
    }

    pub fn risk_rule(&self, rc: RiskClass) -> RiskRule {
        // validate() guarantees every class is present; fail closed if a caller skipped it.
        self.risk_classes.get(&rc).copied().unwrap_or(RiskRule {
            approvals: u32::MAX,
            self_approval: false,
        })
    }

    /// Rules that govern `path`, in any spelling: the strictest rule of any variant applies.
    pub fn rules_for<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a Rule> + 'a {
        self.rules.iter().filter(move |r| r.matches(path))
    }

    /// Whether `path` is governed: matched by a rule, or the policy file itself, in any
    /// spelling (folded, see [`super::paths`]).
    pub fn governs(&self, path: &str) -> bool {
        is_policy_path(path) || self.rules.iter().any(|r| r.matches(path))
    }

    /// Whether `path`, in any spelling, is under an immutable pattern.
    pub fn is_immutable(&self, path: &str) -> bool {
        self.immutable.iter().any(|g| g.matches_folded(path))
    }

    /// The directories that must not be a symlink or submodule: every prefix of every rule's
    /// literal part (see [`super::paths::literal_prefixes`]), with the pattern it comes from.
    pub fn governed_prefixes(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let patterns = self
            .rules
            .iter()
            .flat_map(|r| r.paths.iter().map(Glob::as_str));
        for g in patterns.chain([POLICY_PATH]) {
            for p in super::paths::literal_prefixes(g) {
                out.push((p, g.to_string()));
            }
        }
        out
    }

    /// The rule patterns under which `path` (a symlink or submodule) would carry governed paths:
    /// those with a literal prefix equal to `path` under folding.
    pub fn prefix_rules_at(&self, path: &str) -> Vec<String> {
        self.governed_prefixes()
            .into_iter()
            .filter(|(p, _)| super::paths::same_folded(p, path))
            .map(|(_, g)| g)
            .collect()
    }
}

pub const POLICY_PATH: &str = "ops/policy.yaml";

/// Whether `path` is the policy file in some spelling (folded).
pub fn is_policy_path(path: &str) -> bool {
    super::paths::same_folded(path, POLICY_PATH)
}
pub const LEDGER_DIR: &str = "ops/ledger";
