//! The sample ledgers and policies of `ledger/samples/` as tests (one per file), and the JSON
//! Schemas of `ledger/schema/` held to the Rust types. See `ledger/samples/README.md`.
//!
//! Valid samples must parse and verify with no errors, each record in the state its
//! `# states:` line gives. Invalid samples must fail to parse, or verify with an error, with the
//! fragment of their `# expect:` line in the parse error or in an `error[code]: message` finding.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use git_ops::model::policy::{self, Policy};
use git_ops::model::record;
use git_ops::model::yaml;
use git_ops::store::ledger::LedgerFile;
use git_ops::verify::Severity;
use git_ops::verify::ledger::verify_ledger;

fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("ledger/samples")
}

fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("ledger/schema")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn sample_policy() -> Policy {
    let path = samples_dir().join("policy.yaml");
    yaml::parse_policy(&read(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The value of the `# <key>: ...` header line of a sample.
fn header<'a>(text: &'a str, key: &str, file: &str) -> &'a str {
    let prefix = format!("# {key}: ");
    text.lines()
        .next()
        .and_then(|l| l.strip_prefix(&prefix))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| panic!("{file}: the first line must be `{prefix}...`"))
}

/// A ledger sample as the month file its name gives: `2026-01--what.yaml` is read as
/// `ops/ledger/2026-01.yaml`.
fn parse_ledger_sample(name: &str, text: &str) -> Result<LedgerFile, git_ops::store::Error> {
    let (month, _) = name
        .split_once("--")
        .unwrap_or_else(|| panic!("{name}: sample ledgers are named YYYY-MM--<what>.yaml"));
    LedgerFile::parse(&format!("ops/ledger/{month}.yaml"), text.to_string())
}

fn check_valid(name: &str) {
    let file = format!("valid/{name}.yaml");
    let text = read(&samples_dir().join(&file));
    if name.starts_with("policy--") {
        if let Err(e) = yaml::parse_policy(&text) {
            panic!("{file}: {e}");
        }
        return;
    }
    let states: Vec<&str> = header(&text, "states", &file).split_whitespace().collect();
    let ledger = parse_ledger_sample(name, &text).unwrap_or_else(|e| panic!("{file}: {e}"));
    let report = verify_ledger(&sample_policy(), &[Ok(ledger)], &[]);
    let errors: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| format!("error[{}]: {}", f.code, f.message))
        .collect();
    assert!(errors.is_empty(), "{file} does not verify:\n{errors:#?}");
    let found: Vec<String> = report
        .records
        .iter()
        .map(|r| format!("{:?}", r.state).to_lowercase())
        .collect();
    assert_eq!(found, states, "{file}: record states");
}

fn check_invalid(name: &str) {
    let file = format!("invalid/{name}.yaml");
    let text = read(&samples_dir().join(&file));
    let expect = header(&text, "expect", &file);
    if name.starts_with("policy--") {
        match yaml::parse_policy(&text) {
            Ok(_) => panic!("{file}: the policy was accepted; expected an error with {expect:?}"),
            Err(e) => assert!(
                e.to_string().contains(expect),
                "{file}: expected an error with {expect:?}, got: {e}"
            ),
        }
        return;
    }
    let ledger = match parse_ledger_sample(name, &text) {
        Err(e) => {
            let e = e.to_string();
            assert!(
                e.contains(expect),
                "{file}: expected an error with {expect:?}, got: {e}"
            );
            return;
        }
        Ok(l) => l,
    };
    let report = verify_ledger(&sample_policy(), &[Ok(ledger)], &[]);
    let errors: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| format!("error[{}]: {}", f.code, f.message))
        .collect();
    assert!(
        !report.ok(),
        "{file} parsed and verified; expected {expect:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains(expect)),
        "{file}: no error contains {expect:?}; the errors are:\n{errors:#?}"
    );
}

/// One test per sample file, and the lists the completeness test compares the directories with.
macro_rules! samples {
    (
        valid { $($v:ident => $vf:literal,)* }
        invalid { $($i:ident => $if:literal,)* }
    ) => {
        const VALID: &[&str] = &[$($vf),*];
        const INVALID: &[&str] = &[$($if),*];
        mod valid {
            $(#[test] fn $v() { super::check_valid($vf) })*
        }
        mod invalid {
            $(#[test] fn $i() { super::check_invalid($if) })*
        }
    };
}

samples! {
    valid {
        automation_approval_does_not_count => "2026-01--automation-approval-does-not-count",
        flat_seed_entry => "2026-01--flat-seed-entry",
        grant => "2026-01--grant",
        grant_live_again_after_resume => "2026-01--grant-live-again-after-resume",
        grant_signoff_after_expiry_does_not_count => "2026-01--grant-signoff-after-expiry-does-not-count",
        grant_signoff_after_revocation_does_not_count => "2026-01--grant-signoff-after-revocation-does-not-count",
        grant_signoff_outside_scope_does_not_count => "2026-01--grant-signoff-outside-scope-does-not-count",
        grant_suspended_by_halt => "2026-01--grant-suspended-by-halt",
        halt_resume => "2026-01--halt-resume",
        hand_formatted => "2026-01--hand-formatted",
        human_only_path_needs_two => "2026-01--human-only-path-needs-two",
        operation_approved => "2026-01--operation-approved",
        operation_pending => "2026-01--operation-pending",
        operation_under_grant => "2026-01--operation-under-grant",
        outcome => "2026-01--outcome",
        recorded_with_evidence => "2026-01--recorded-with-evidence",
        repeated_approval_counts_once => "2026-01--repeated-approval-counts-once",
        revocation => "2026-01--revocation",
        rollback => "2026-01--rollback",
        self_approval_does_not_count => "2026-01--self-approval-does-not-count",
        self_approved_low_risk_config => "2026-01--self-approved-low-risk-config",
        unicode_and_yaml_specials => "2026-01--unicode-and-yaml-specials",
        policy_minimal => "policy--minimal",
    }
    invalid {
        alias_bomb => "2026-01--alias-bomb",
        backdated_signoff => "2026-01--backdated-signoff",
        bad_fingerprint => "2026-01--bad-fingerprint",
        bad_id_format => "2026-01--bad-id-format",
        bad_signer_name => "2026-01--bad-signer-name",
        break_glass_grant_too_long => "2026-01--break-glass-grant-too-long",
        corrupted_signature => "2026-01--corrupted-signature",
        deep_nesting => "2026-01--deep-nesting",
        duplicate_id => "2026-01--duplicate-id",
        duplicate_key => "2026-01--duplicate-key",
        empty_mandatory_field => "2026-01--empty-mandatory-field",
        evidence_float => "2026-01--evidence-float",
        expires_before_created => "2026-01--expires-before-created",
        fractional_seconds => "2026-01--fractional-seconds",
        grant_added_after_signing => "2026-01--grant-added-after-signing",
        grant_empty_risk_classes => "2026-01--grant-empty-risk-classes",
        grant_requested_by_automation => "2026-01--grant-requested-by-automation",
        grant_to_unknown_signer => "2026-01--grant-to-unknown-signer",
        grant_too_long => "2026-01--grant-too-long",
        grant_unknown_scope_field => "2026-01--grant-unknown-scope-field",
        grant_yaml11_boolean => "2026-01--grant-yaml11-boolean",
        halt_by_automation => "2026-01--halt-by-automation",
        id_in_wrong_month => "2026-01--id-in-wrong-month",
        id_kind_mismatch => "2026-01--id-kind-mismatch",
        malformed_signature_armor => "2026-01--malformed-signature-armor",
        missing_mandatory_field => "2026-01--missing-mandatory-field",
        no_requester => "2026-01--no-requester",
        non_utc_timestamp => "2026-01--non-utc-timestamp",
        null_mandatory_field => "2026-01--null-mandatory-field",
        outcome_of_a_grant => "2026-01--outcome-of-a-grant",
        requester_mismatch => "2026-01--requester-mismatch",
        resume_by_automation => "2026-01--resume-by-automation",
        revocation_by_automation => "2026-01--revocation-by-automation",
        revokes_nothing => "2026-01--revokes-nothing",
        rollback_without_rollback_of => "2026-01--rollback-without-rollback-of",
        signature_moved_to_another_record => "2026-01--signature-moved-to-another-record",
        signed_by_key_not_in_policy => "2026-01--signed-by-key-not-in-policy",
        signoff_grant_not_a_grant_id => "2026-01--signoff-grant-not-a-grant-id",
        signoff_key_not_signers_key => "2026-01--signoff-key-not-signers-key",
        signoff_unknown_field => "2026-01--signoff-unknown-field",
        stream_with_one_bad_record => "2026-01--stream-with-one-bad-record",
        tampered_payload => "2026-01--tampered-payload",
        two_requesters => "2026-01--two-requesters",
        unknown_field => "2026-01--unknown-field",
        unknown_record_kind => "2026-01--unknown-record-kind",
        unknown_risk_class => "2026-01--unknown-risk-class",
        unknown_signer => "2026-01--unknown-signer",
        unsigned => "2026-01--unsigned",
        wrong_namespace => "2026-01--wrong-namespace",
        yaml_syntax_error => "2026-01--yaml-syntax-error",
        policy_automation_approver => "policy--automation-approver",
        policy_bad_signer_name => "policy--bad-signer-name",
        policy_duplicate_signer => "policy--duplicate-signer",
        policy_empty_rule_paths => "policy--empty-rule-paths",
        policy_human_and_automation => "policy--human-and-automation",
        policy_missing_risk_class => "policy--missing-risk-class",
        policy_negated_glob => "policy--negated-glob",
        policy_rsa_key => "policy--rsa-key",
        policy_shared_key => "policy--shared-key",
        policy_unknown_field => "policy--unknown-field",
        policy_unknown_format => "policy--unknown-format",
        policy_zero_window => "policy--zero-window",
    }
}

fn yaml_names(dir: &str) -> BTreeSet<String> {
    let path = samples_dir().join(dir);
    std::fs::read_dir(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .map(|e| {
            let name = e.expect("directory entry").file_name();
            let name = name.to_string_lossy();
            name.strip_suffix(".yaml")
                .unwrap_or_else(|| panic!("{dir}/{name}: samples are .yaml files"))
                .to_string()
        })
        .collect()
}

/// A new sample file cannot be forgotten: every file in the two directories has its test.
#[test]
fn every_sample_file_has_a_test() {
    for (dir, listed) in [("valid", VALID), ("invalid", INVALID)] {
        let listed: BTreeSet<String> = listed.iter().map(|s| s.to_string()).collect();
        let on_disk = yaml_names(dir);
        let untested: Vec<_> = on_disk.difference(&listed).collect();
        let missing: Vec<_> = listed.difference(&on_disk).collect();
        assert!(
            untested.is_empty() && missing.is_empty(),
            "ledger/samples/{dir}: files without a test {untested:?}, tests without a file {missing:?}; \
             update the samples! list in tests/cli/samples.rs"
        );
    }
}

#[test]
fn sample_policy_is_valid_and_names_the_test_keys() {
    let policy = sample_policy();
    let keys = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keys");
    for name in ["alice", "bob", "deploy-bot"] {
        let line = read(&keys.join(format!("{name}.pub")));
        let key = git_ops::model::PublicKeyLine::new(&line).expect("test keys are ed25519");
        let signer = policy
            .signer(&name.parse().expect("a signer name"))
            .unwrap_or_else(|| panic!("{name} is not in ledger/samples/policy.yaml"));
        assert_eq!(signer.key, key, "{name}'s key in the sample policy");
    }
}

// ---- JSON Schemas -------------------------------------------------------------------------------

fn schema(name: &str) -> Value {
    let path = schema_dir().join(name);
    serde_json::from_str(&read(&path))
        .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

/// A small validator for the part of JSON Schema the two schemas use: `$ref` (local), `type`,
/// `const`, `enum`, `pattern`, `properties`, `required`, `additionalProperties`,
/// `propertyNames`, `items`, `minItems`, `minimum`, `maximum`, `oneOf` and `anyOf`. Any other
/// keyword fails the test, so a schema edit cannot quietly rely on something unchecked.
struct Validator<'a> {
    root: &'a Value,
}

const ANNOTATIONS: &[&str] = &[
    "$schema",
    "$id",
    "$defs",
    "$comment",
    "title",
    "description",
    "default",
];

impl Validator<'_> {
    fn resolve<'s>(&'s self, r: &str) -> &'s Value {
        let path = r
            .strip_prefix("#/")
            .unwrap_or_else(|| panic!("only local $refs are supported, not {r}"));
        path.split('/').fold(self.root, |v, p| {
            v.get(p).unwrap_or_else(|| panic!("dangling $ref {r}"))
        })
    }

    fn errors(&self, s: &Value, v: &Value, at: &str) -> Vec<String> {
        let mut out = Vec::new();
        let obj = s
            .as_object()
            .unwrap_or_else(|| panic!("schema at {at} is not an object"));
        for (k, sv) in obj {
            match k.as_str() {
                "$ref" => out.extend(self.errors(self.resolve(sv.as_str().expect("$ref")), v, at)),
                "type" => {
                    let ok = |t: &str| match t {
                        "object" => v.is_object(),
                        "array" => v.is_array(),
                        "string" => v.is_string(),
                        "boolean" => v.is_boolean(),
                        "null" => v.is_null(),
                        "integer" => v.is_i64() || v.is_u64(),
                        "number" => v.is_number(),
                        other => panic!("unknown type {other}"),
                    };
                    let fits = match sv {
                        Value::String(t) => ok(t),
                        Value::Array(ts) => ts.iter().any(|t| ok(t.as_str().expect("type"))),
                        _ => panic!("bad type at {at}"),
                    };
                    if !fits {
                        out.push(format!("{at}: {v} is not of type {sv}"));
                    }
                }
                "pattern" => {
                    let p = sv.as_str().expect("pattern");
                    let re = regex::Regex::new(p)
                        .unwrap_or_else(|e| panic!("pattern {p:?} at {at}: {e}"));
                    if let Some(text) = v.as_str()
                        && !re.is_match(text)
                    {
                        out.push(format!("{at}: {v} does not match {p:?}"));
                    }
                }
                "const" if v != sv => out.push(format!("{at}: {v} is not {sv}")),
                "enum" if !sv.as_array().expect("enum").contains(v) => {
                    out.push(format!("{at}: {v} is not one of {sv}"))
                }
                "properties" | "additionalProperties" | "required" | "propertyNames" => {
                    let Some(o) = v.as_object() else { continue };
                    match k.as_str() {
                        "properties" => {
                            for (p, ps) in sv.as_object().expect("properties") {
                                if let Some(pv) = o.get(p) {
                                    out.extend(self.errors(ps, pv, &format!("{at}.{p}")));
                                }
                            }
                        }
                        "additionalProperties" => {
                            let known = s.get("properties").and_then(Value::as_object);
                            for (p, pv) in o {
                                if known.is_some_and(|k| k.contains_key(p)) {
                                    continue;
                                }
                                match sv {
                                    Value::Bool(false) => {
                                        out.push(format!("{at}: unknown property {p:?}"))
                                    }
                                    Value::Bool(true) => {}
                                    _ => out.extend(self.errors(sv, pv, &format!("{at}.{p}"))),
                                }
                            }
                        }
                        "required" => {
                            for r in sv.as_array().expect("required") {
                                let r = r.as_str().expect("required names");
                                if !o.contains_key(r) {
                                    out.push(format!("{at}: missing {r:?}"));
                                }
                            }
                        }
                        _ => {
                            for p in o.keys() {
                                let name = Value::String(p.clone());
                                out.extend(self.errors(sv, &name, &format!("{at} (name {p:?})")));
                            }
                        }
                    }
                }
                "items" => {
                    for (i, item) in v.as_array().into_iter().flatten().enumerate() {
                        out.extend(self.errors(sv, item, &format!("{at}[{i}]")));
                    }
                }
                "minItems" => {
                    if let Some(a) = v.as_array()
                        && (a.len() as u64) < sv.as_u64().expect("minItems")
                    {
                        out.push(format!("{at}: fewer than {sv} items"));
                    }
                }
                "minimum" | "maximum" => {
                    if let (Some(n), Some(limit)) = (v.as_f64(), sv.as_f64()) {
                        let bad = if k == "minimum" { n < limit } else { n > limit };
                        if bad {
                            out.push(format!("{at}: {v} is out of range ({k} {sv})"));
                        }
                    }
                }
                "oneOf" | "anyOf" => {
                    let fits = sv
                        .as_array()
                        .expect("oneOf/anyOf")
                        .iter()
                        .filter(|alt| self.errors(alt, v, at).is_empty())
                        .count();
                    if (k == "oneOf" && fits != 1) || (k == "anyOf" && fits == 0) {
                        out.push(format!("{at}: {fits} alternatives of {k} fit"));
                    }
                }
                "const" | "enum" => {}
                other if ANNOTATIONS.contains(&other) => {}
                other => panic!("the test validator does not know the keyword {other:?} (at {at})"),
            }
        }
        out
    }

    fn validate(&self, v: &Value) -> Vec<String> {
        self.errors(self.root, v, "$")
    }
}

#[test]
fn schemas_are_json_schema_2020_12() {
    for name in ["record.schema.json", "policy.schema.json"] {
        let s = schema(name);
        assert_eq!(
            s["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{name}: $schema"
        );
        assert!(
            s["$id"].as_str().is_some_and(|id| id.ends_with(name)),
            "{name}: $id"
        );
        // Every object schema is closed, as every model type denies unknown fields.
        fn closed(v: &Value, at: &str, name: &str) {
            if let Some(o) = v.as_object() {
                if o.contains_key("properties") {
                    assert_eq!(
                        o.get("additionalProperties"),
                        Some(&Value::Bool(false)),
                        "{name}: {at} has properties but is not closed"
                    );
                }
                for (k, c) in o {
                    closed(c, &format!("{at}/{k}"), name);
                }
            }
        }
        closed(&s, "#", name);
    }
}

#[test]
fn valid_samples_fit_the_schemas() {
    let records = schema("record.schema.json");
    let rv = Validator { root: &records };
    for name in VALID.iter().filter(|n| !n.starts_with("policy--")) {
        let text = read(&samples_dir().join(format!("valid/{name}.yaml")));
        let ledger = parse_ledger_sample(name, &text).expect("valid samples parse");
        for (_, r) in &ledger.records {
            let errors = rv.validate(&r.to_json());
            assert!(errors.is_empty(), "{name}: {}: {errors:#?}", r.id());
        }
    }
    let policies = schema("policy.schema.json");
    let pv = Validator { root: &policies };
    let mut texts = vec![(
        "policy.yaml".to_string(),
        read(&samples_dir().join("policy.yaml")),
    )];
    for name in VALID.iter().filter(|n| n.starts_with("policy--")) {
        texts.push((
            name.to_string(),
            read(&samples_dir().join(format!("valid/{name}.yaml"))),
        ));
    }
    for (name, text) in texts {
        let p = yaml::parse_policy(&text).expect("valid policies parse");
        let errors = pv.validate(&serde_json::to_value(&p).expect("a policy is JSON"));
        assert!(errors.is_empty(), "{name}: {errors:#?}");
    }
}

/// Invalid samples whose defect is one of shape, which the schema must refuse as well.
#[test]
fn schemas_refuse_the_invalid_shapes() {
    let records = schema("record.schema.json");
    let policies = schema("policy.schema.json");
    let cases = [
        (&records, "2026-01--unknown-field"),
        (&records, "2026-01--missing-mandatory-field"),
        (&records, "2026-01--unknown-record-kind"),
        (&records, "2026-01--unknown-risk-class"),
        (&records, "2026-01--signoff-unknown-field"),
        (&records, "2026-01--grant-unknown-scope-field"),
        (&records, "2026-01--grant-empty-risk-classes"),
        (&records, "2026-01--null-mandatory-field"),
        (&records, "2026-01--evidence-float"),
        (&records, "2026-01--bad-id-format"),
        (&records, "2026-01--id-kind-mismatch"),
        (&records, "2026-01--outcome-of-a-grant"),
        (&records, "2026-01--non-utc-timestamp"),
        (&records, "2026-01--fractional-seconds"),
        (&records, "2026-01--bad-fingerprint"),
        (&records, "2026-01--bad-signer-name"),
        (&records, "2026-01--malformed-signature-armor"),
        (&records, "2026-01--revokes-nothing"),
        (&records, "2026-01--signoff-grant-not-a-grant-id"),
        (&policies, "policy--unknown-field"),
        (&policies, "policy--unknown-format"),
        (&policies, "policy--missing-risk-class"),
        (&policies, "policy--empty-rule-paths"),
        (&policies, "policy--zero-window"),
        (&policies, "policy--rsa-key"),
        (&policies, "policy--negated-glob"),
        (&policies, "policy--bad-signer-name"),
    ];
    for (s, name) in cases {
        assert!(INVALID.contains(&name), "{name} is not a sample");
        let text = read(&samples_dir().join(format!("invalid/{name}.yaml")));
        let docs: Vec<Value> = yaml::split_documents(&text)
            .into_iter()
            .map(|span| {
                serde_saphyr::from_str(&text[span.bytes]).expect("the sample is well-formed YAML")
            })
            .collect();
        assert!(!docs.is_empty(), "{name}: no document");
        let v = Validator { root: s };
        assert!(
            docs.iter().any(|d| !v.validate(d).is_empty()),
            "{name}: the schema accepts what git-ops refuses"
        );
    }
}

/// The fields serde knows for `T` (from its unknown-field error, which lists them all), and
/// those it requires (removing each field of `full` in turn).
fn probe<T: DeserializeOwned>(full: &Value) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut o = full.as_object().expect("an object").clone();
    o.insert("zz-not-a-field".into(), Value::Null);
    let msg = match serde_json::from_value::<T>(Value::Object(o)) {
        Ok(_) => panic!("{}: accepts unknown fields", std::any::type_name::<T>()),
        Err(e) => e.to_string(),
    };
    let expected = msg
        .split_once(", expected")
        .unwrap_or_else(|| panic!("unexpected serde message: {msg}"))
        .1;
    let fields: BTreeSet<String> = expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    let given: BTreeSet<String> = full
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        given,
        fields,
        "{}: the full example in tests/cli/samples.rs must set every field",
        std::any::type_name::<T>()
    );
    if let Err(e) = serde_json::from_value::<T>(full.clone()) {
        panic!(
            "{}: the full example does not deserialise: {e}",
            std::any::type_name::<T>()
        );
    }
    let required = fields
        .iter()
        .filter(|f| {
            let mut o = full.as_object().expect("an object").clone();
            o.remove(*f);
            serde_json::from_value::<T>(Value::Object(o))
                .is_err_and(|e| e.to_string().contains(&format!("missing field `{f}`")))
        })
        .cloned()
        .collect();
    (fields, required)
}

fn check_def<T: DeserializeOwned>(schema: &Value, pointer: &str, full: &Value) {
    let def = schema
        .pointer(pointer)
        .unwrap_or_else(|| panic!("the schema has no {pointer}"));
    let props: BTreeSet<String> = def["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("{pointer} has no properties"))
        .keys()
        .cloned()
        .collect();
    let required: BTreeSet<String> = def["required"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| r.as_str().expect("names").to_string())
                .collect()
        })
        .unwrap_or_default();
    let (fields, needed) = probe::<T>(full);
    let ty = std::any::type_name::<T>();
    assert_eq!(
        props, fields,
        "{pointer}: properties against the fields of {ty}"
    );
    assert_eq!(
        required, needed,
        "{pointer}: required against the fields {ty} requires"
    );
    let errors = Validator { root: schema }.errors(def, full, pointer);
    assert!(
        errors.is_empty(),
        "{pointer}: the full example of {ty}: {errors:#?}"
    );
}

const T: &str = "2026-01-27T06:15:30Z";
const T2: &str = "2026-01-28T06:15:30Z";

fn full_signoff() -> Value {
    json!({
        "by": "alice", "role": "approver", "at": T,
        "key": "SHA256:Trz7UXSNzIykZo8/lxywMPILIWu+RaUAgjmcZ4bBNrI",
        "grant": "GRANT-2026-01-27-001",
        "pin": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "sig": "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n"
    })
}

fn full_evidence() -> Value {
    json!({
        "collected_at": T,
        "git": {"commit": "3f1c2e9a", "commit_short": "3f1c2e9", "branch": "main", "dirty": false},
        "hostname": "ops-runner-01",
        "services_status": {"web": {"active": "active", "journal": "Started web.service."}},
        "proof_file": {
            "path": "audit_artifacts/x.txt",
            "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "size_bytes": 1532, "mtime_utc": T, "error": "none"
        },
        "metrics_snapshot": "up 1",
        "redis_snapshot": "PONG",
        "errors": ["systemctl not available"]
    })
}

fn full_operation() -> Value {
    json!({
        "record": "operation", "operation_id": "OPS-2026-01-27-002",
        "operation_name": "Roll back web", "objective": "o", "risk_class": "SERVICE_RESTART",
        "blast_radius": "b", "rollback_strategy": "r",
        "allowed_paths": ["deploy/web.yaml"], "allowed_services": ["web"],
        "changes_summary": "c", "environment": "prod", "requested_by": "alice",
        "created_at": T, "expires_at": T2, "git_commit": "3f1c2e9a", "git_branch": "main",
        "hostname": "ops-runner-01", "rollback_of": "OPS-2026-01-27-001", "notes": "n",
        "outcome": "ROLLBACK", "execution_timestamp": T, "evidence": full_evidence(),
        "signoffs": [full_signoff()]
    })
}

fn full_grant() -> Value {
    json!({
        "record": "grant", "grant_id": "GRANT-2026-01-27-001", "grantee": "deploy-bot",
        "created_at": T, "not_before": T, "expires_at": T2,
        "scope": {
            "risk_classes": ["LOW_RISK_CONFIG"], "paths": ["deploy/**"], "services": ["web"],
            "environments": ["prod"], "auto_rollback": true
        },
        "break_glass": false, "reason": "r", "signoffs": [full_signoff()]
    })
}

/// Every property of every record type is in the schema, and the schema has no property the
/// types do not have; `required` agrees with what serde requires.
#[test]
fn record_schema_matches_the_types() {
    let s = schema("record.schema.json");
    check_def::<record::Operation>(&s, "/$defs/operation", &full_operation());
    check_def::<record::Outcome>(
        &s,
        "/$defs/outcome",
        &json!({
            "record": "outcome", "outcome_id": "OUT-2026-01-27-001",
            "operation_id": "OPS-2026-01-27-001", "outcome": "ROLLBACK", "created_at": T,
            "execution_timestamp": T, "rollback_of": "OPS-2026-01-27-001",
            "evidence": full_evidence(), "notes": "n", "signoffs": [full_signoff()]
        }),
    );
    check_def::<record::Grant>(&s, "/$defs/grant", &full_grant());
    check_def::<record::GrantScope>(&s, "/$defs/grantScope", &full_grant()["scope"]);
    check_def::<record::Revocation>(
        &s,
        "/$defs/revocation",
        &json!({
            "record": "revocation", "revocation_id": "REV-2026-01-27-001",
            "revokes": "GRANT-2026-01-27-001", "created_at": T, "reason": "r",
            "signoffs": [full_signoff()]
        }),
    );
    check_def::<record::Halt>(
        &s,
        "/$defs/halt",
        &json!({"record": "halt", "halt_id": "HALT-2026-01-27-001", "created_at": T,
                "reason": "r", "signoffs": [full_signoff()]}),
    );
    check_def::<record::Resume>(
        &s,
        "/$defs/resume",
        &json!({"record": "resume", "resume_id": "RESUME-2026-01-27-001", "resumes": "HALT-2026-01-27-001", "created_at": T,
                "reason": "r", "signoffs": [full_signoff()]}),
    );
    check_def::<record::Imported>(
        &s,
        "/$defs/import",
        &json!({"record": "import", "operation_id": "OPS-2026-01-27-011", "imported_by": "alice",
                "imported_at": T2,
                "source": {"file": "docs/OPS_CHANGELOG.md", "line": 7, "commit": "3f1c2e9a",
                           "sha256": "0".repeat(64)},
                "entry": {"operation_id": "OPS-2026-01-27-011", "approved_by": "SELF"},
                "signoffs": [full_signoff()]}),
    );
    check_def::<record::Signoff>(&s, "/$defs/signoff", &full_signoff());
    let ev = full_evidence();
    check_def::<record::Evidence>(&s, "/$defs/evidence", &ev);
    check_def::<record::GitEvidence>(&s, "/$defs/gitEvidence", &ev["git"]);
    check_def::<record::ServiceStatus>(&s, "/$defs/serviceStatus", &ev["services_status"]["web"]);
    check_def::<record::ProofFile>(&s, "/$defs/proofFile", &ev["proof_file"]);

    // The record kinds and risk classes the schema names are the model's.
    let kinds: BTreeSet<String> = s["oneOf"]
        .as_array()
        .expect("oneOf")
        .iter()
        .map(|r| {
            r["$ref"]
                .as_str()
                .expect("$ref")
                .trim_start_matches("#/$defs/")
                .to_string()
        })
        .collect();
    let model: BTreeSet<String> = record::Kind::ALL
        .iter()
        .map(|k| k.as_str().to_string())
        .collect();
    assert_eq!(kinds, model, "record kinds");
    let classes: Vec<String> = policy::RiskClass::ALL
        .iter()
        .map(|r| r.as_str().to_string())
        .collect();
    assert_eq!(
        s["$defs"]["riskClass"]["enum"],
        json!(classes),
        "risk classes"
    );
}

#[test]
fn policy_schema_matches_the_types() {
    let s = schema("policy.schema.json");
    let alice = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keys/alice.pub"));
    let rule = json!({"paths": ["ops/**"], "min_risk": "LOW_RISK_CONFIG", "approvals": 2,
                      "human_only": true, "pin": "tree"});
    let old = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keys/bob.pub"));
    let retired = json!({"key": old.trim(), "retired_at": "2026-01-27T06:15:30Z"});
    let signer = json!({"key": alice.trim(), "roles": ["human", "approver"],
                        "retired_keys": [retired]});
    let risk = json!({"approvals": 0, "self_approval": true});
    let full = json!({
        "format": 1, "version": 3, "repository_id": "0123456789abcdef0123456789abcdef",
        "signers": {"alice": signer},
        "risk_classes": {"READ_ONLY": risk, "LOW_RISK_CONFIG": risk,
                         "SERVICE_RESTART": risk, "FILESYSTEM_WRITE": risk},
        "rules": [rule], "immutable": ["ops/lkg/**"],
        "grants": {"max_hours": 72, "break_glass_max_hours": 2},
        "operations": {"default_window_hours": 24, "require_tags": true, "human_only_tags": true},
        "forbidden": ["No secrets"],
        "refs": {"allow_namespaces": ["refs/notes/"], "movable_tags": true},
        "commits": {"require_signature": "governed"},
        "automation": {"signers": ["alice"], "may_change": ["docs/**"],
                       "may_add": ["audit_artifacts/**"]},
        "pushers": {"ci-runner": "alice"}
    });
    check_def::<Policy>(&s, "", &full);
    check_def::<policy::RefsCfg>(&s, "/properties/refs", &full["refs"]);
    check_def::<policy::CommitsCfg>(&s, "/properties/commits", &full["commits"]);
    check_def::<policy::AutomationCfg>(&s, "/properties/automation", &full["automation"]);
    check_def::<policy::SignerEntry>(&s, "/$defs/signer", &signer);
    check_def::<policy::RetiredKey>(&s, "/$defs/signer/properties/retired_keys/items", &retired);
    check_def::<policy::RiskRule>(&s, "/$defs/riskRule", &risk);
    check_def::<policy::Rule>(&s, "/$defs/rule", &rule);
    check_def::<policy::GrantLimits>(&s, "/properties/grants", &full["grants"]);
    check_def::<policy::OperationsCfg>(&s, "/properties/operations", &full["operations"]);
    let classes: BTreeSet<String> = s["properties"]["risk_classes"]["required"]
        .as_array()
        .expect("required")
        .iter()
        .map(|c| c.as_str().expect("names").to_string())
        .collect();
    let model: BTreeSet<String> = policy::RiskClass::ALL
        .iter()
        .map(|r| r.as_str().to_string())
        .collect();
    assert_eq!(classes, model, "risk_classes must name every risk class");
}

fn pattern(schema: &Value, def: &str) -> regex::Regex {
    let p = schema["$defs"][def]["pattern"]
        .as_str()
        .unwrap_or_else(|| panic!("$defs/{def} has no pattern"));
    regex::Regex::new(p).expect("a valid pattern")
}

mod pattern_props {
    use proptest::prelude::*;

    use git_ops::model::{Fingerprint, IdKind, RecordId, SignerName, Timestamp};

    use super::{pattern, schema};

    /// `YYYY-MM-DD` is a calendar date: what a pattern cannot say (no 30 February).
    fn calendar_ok(s: &str) -> bool {
        s.split(['T', '-']).collect::<Vec<_>>().windows(3).any(|w| {
            chrono::NaiveDate::parse_from_str(&format!("{}-{}-{}", w[0], w[1], w[2]), "%Y-%m-%d")
                .is_ok()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The schema's id patterns accept what RecordId accepts, and, on calendar dates,
        /// nothing else.
        #[test]
        fn id_patterns_agree_with_record_ids(
            s in "(OPS|OUT|GRANT|REV|HALT|RESUME|ops|X)-[0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9]{1,6}"
        ) {
            let schema = schema("record.schema.json");
            for (kind, def) in [
                (IdKind::Operation, "operationId"),
                (IdKind::Outcome, "outcomeId"),
                (IdKind::Grant, "grantId"),
                (IdKind::Revocation, "revocationId"),
                (IdKind::Halt, "haltId"),
                (IdKind::Resume, "resumeId"),
            ] {
                let parsed = s.parse::<RecordId>().is_ok_and(|id| id.kind() == kind);
                let matched = pattern(&schema, def).is_match(&s);
                prop_assert!(!parsed || matched, "{def} refuses {s}, which git-ops reads");
                prop_assert!(
                    !matched || parsed || !calendar_ok(&s),
                    "{def} accepts {s}, which git-ops refuses"
                );
            }
        }

        /// Seconds stop at 59 here: the parser also takes a leap second `:60` at any minute,
        /// which the schema refuses (see `model::time::tests::refuses_second_60`).
        #[test]
        fn the_timestamp_pattern_agrees_with_timestamps(
            s in "[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-5][0-9](\\.[0-9])?(Z|z|\\+00:00)"
        ) {
            let parsed = s.parse::<Timestamp>().is_ok();
            let matched = pattern(&schema("record.schema.json"), "timestamp").is_match(&s);
            prop_assert!(!parsed || matched, "the pattern refuses {s}, which git-ops reads");
            prop_assert!(!matched || parsed || !calendar_ok(&s), "the pattern accepts {s}");
        }

        #[test]
        fn name_and_fingerprint_patterns_agree_with_the_types(
            s in prop_oneof!["[a-zA-Z0-9._@, *-]{0,70}", "SHA256:[A-Za-z0-9+/=]{41,45}", any::<String>()]
        ) {
            for file in ["record.schema.json", "policy.schema.json"] {
                let names = pattern(&schema(file), "signerName");
                prop_assert_eq!(names.is_match(&s), SignerName::new(&s).is_ok(), "{} {:?}", file, s);
            }
            let fps = pattern(&schema("record.schema.json"), "fingerprint");
            prop_assert_eq!(fps.is_match(&s), Fingerprint::new(&s).is_ok(), "{:?}", s);
        }
    }
}
