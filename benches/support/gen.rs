//! The realistic ledger the benches and `examples/gen_ledger.rs` use: records signed in-process
//! with the test keys of `tests/fixtures/keys/` (never trust them anywhere), spread over twelve
//! month files of 2025. Included with `#[path]` (it is not a bench target of its own).

// Each includer uses part of it.
#![allow(dead_code)]

use std::path::Path;

use git_ops::crypto::{self, Keypair};
use git_ops::model::record::Role;
use git_ops::model::{Record, SignerName, yaml};

pub struct Signer {
    name: SignerName,
    key: Keypair,
}

pub fn signer(name: &str) -> Signer {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/keys")
        .join(name);
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Signer {
        name: name.parse().expect("a signer name"),
        key: Keypair::from_openssh(&text, || Err("test keys have no passphrase".into()))
            .expect("a test key"),
    }
}

pub fn sign(r: &mut Record, s: &Signer, role: Role, at: &str) {
    let at = at.parse().expect("a timestamp");
    let so = crypto::signoff(r, &s.key, &s.name, role, at, None).expect("signing works");
    r.signoffs_mut().push(so);
}

/// Month files `2025-MM.yaml` (in the past, so that no signoff is in the future) holding `n`
/// records: operations (nine in ten approved by a second person, one in ten LOW_RISK_CONFIG and
/// self-approved) and, every tenth record, an outcome.
pub fn ledger(n: usize) -> Vec<(String, String)> {
    let alice = signer("alice");
    let bob = signer("bob");
    let mut files: Vec<(String, String)> = (1..=12)
        .map(|m| (format!("2025-{m:02}"), String::new()))
        .collect();
    let mut last_op = String::new();
    for i in 0..n {
        let month = i * 12 / n; // 0..12
        let j = i - (month * n).div_ceil(12); // index within the month
        let day = 1 + j % 28;
        let seq = 1 + j / 28;
        let date = format!("2025-{:02}-{day:02}", month + 1);
        let hh = (seq / 60) % 24;
        let mm = seq % 60;
        let at = format!("{date}T{hh:02}:{mm:02}:00Z");
        let text = if i % 10 == 9 && !last_op.is_empty() {
            let mut r = yaml::parse_record(
                &format!(
                    "record: outcome\noutcome_id: OUT-{date}-{seq:03}\noperation_id: {last_op}\n\
                     outcome: SUCCESS\nexecution_timestamp: {at}\n\
                     notes: Rolled out to every pod; error rate unchanged.\n"
                ),
                1,
            )
            .expect("a valid outcome");
            sign(&mut r, &alice, Role::Requester, &at);
            yaml::render_record(&r)
        } else {
            let low = i % 10 == 4;
            let id = format!("OPS-{date}-{seq:03}");
            let mut r = yaml::parse_record(
                &format!(
                    "operation_id: {id}\noperation_name: Scale web to {replicas} replicas\n\
                     objective: Absorb the traffic peak of {date}\n\
                     risk_class: {risk}\n\
                     blast_radius: web pods in prod only; no schema or data change\n\
                     rollback_strategy: git revert the commit and redeploy the previous manifest\n\
                     allowed_paths: [deploy/web.yaml]\nallowed_services: [web]\n\
                     environment: prod\nrequested_by: alice\ncreated_at: {at}\n",
                    replicas = 2 + i % 7,
                    risk = if low {
                        "LOW_RISK_CONFIG"
                    } else {
                        "SERVICE_RESTART"
                    },
                ),
                1,
            )
            .expect("a valid operation");
            sign(&mut r, &alice, Role::Requester, &at);
            if !low {
                sign(&mut r, &bob, Role::Approver, &at);
            }
            last_op = id;
            yaml::render_record(&r)
        };
        files[month].1.push_str(&text);
    }
    files
}

/// One more approved operation, on the last day of December 2025 with a sequence number no
/// generated ledger of up to 100,000 records reaches there: the "one new record" of the benches.
pub fn extra_record() -> String {
    let alice = signer("alice");
    let bob = signer("bob");
    let at = "2025-12-31T23:59:00Z";
    let mut r = yaml::parse_record(
        &format!(
            "operation_id: OPS-2025-12-31-999\noperation_name: Scale web for the new year\n\
             objective: Absorb the traffic peak of the new year\n\
             risk_class: SERVICE_RESTART\n\
             blast_radius: web pods in prod only; no schema or data change\n\
             rollback_strategy: git revert the commit and redeploy the previous manifest\n\
             allowed_paths: [deploy/web.yaml]\nallowed_services: [web]\n\
             environment: prod\nrequested_by: alice\ncreated_at: {at}\n"
        ),
        1,
    )
    .expect("a valid operation");
    sign(&mut r, &alice, Role::Requester, at);
    sign(&mut r, &bob, Role::Approver, at);
    yaml::render_record(&r)
}
