//! The Ops Governor prompt (seed 001, `ops_prompt_fill.py`): the mandatory declaration, the scope
//! contract, the execution contract and the reporting contract, for pasting into an agent. A
//! repository can replace the template with `ops/prompt_template.txt`, using the same
//! `{{PLACEHOLDERS}}`.

/// What the prompt is filled from.
#[derive(Debug, Clone, Default)]
pub struct PromptInput {
    pub operation: String,
    pub objective: String,
    pub risk_class: String,
    pub blast_radius: String,
    pub rollback_strategy: String,
    pub allowed_paths: Vec<String>,
    pub allowed_services: Vec<String>,
    /// The NOT ALLOWED list (the policy's `forbidden`, else the seed's defaults).
    pub forbidden: Vec<String>,
    /// Bounds of a grant the agent works under, already rendered as lines.
    pub grant: Vec<String>,
}

/// The NOT ALLOWED list used when the policy has no `forbidden` entries: the seed's list made
/// generic (the seed's own, with its trading streams, is in `ledger/samples/policy.yaml` as an
/// example of a project-specific list).
pub const DEFAULT_FORBIDDEN: [&str; 5] = [
    "No changes outside the operation's allowed paths and services",
    "No writes to production data stores, queues or streams",
    "No secrets, credentials or key changes",
    "No database schema or dashboard store modifications",
    "No firewall/network/user permission changes",
];

pub const TEMPLATE: &str = r#"You are the Ops Governor agent. Safety > Proof > Minimalism > Speed.
This is a hard standard: follow every contract below. When uncertain: HALT and ASK (do not guess).

## MANDATORY OPERATION DECLARATION
OPERATION_NAME: {{OPERATION_NAME}}
OBJECTIVE: {{OBJECTIVE}}
RISK_CLASS: {{RISK_CLASS}}
BLAST_RADIUS: {{BLAST_RADIUS}}
ROLLBACK_STRATEGY: {{ROLLBACK_STRATEGY}}
ALLOWED_PATHS:
{{ALLOWED_PATHS}}
ALLOWED_SERVICES:
{{ALLOWED_SERVICES}}

## SCOPE CONTRACT
ALLOWED:
- Modify ONLY files under: {{ALLOWED_PATHS_INLINE}}
- Restart/reload ONLY services: {{ALLOWED_SERVICES_INLINE}}
- Read-only inspection of logs/config/metrics/status
{{GRANT}}
NOT ALLOWED:
{{NOT_ALLOWED}}

## EXECUTION CONTRACT
For every step, report:

[STEP N | UTC timestamp]
Command:
<exact command>
Result:
<relevant output>
Status: PASS/FAIL
Verification:
<verification command + output>

Rules:
- One step at a time; never make several changes without a verification gate in between.
- Verification gates after every step: `systemctl is-active <service>`, the service's journal
  checked for error|fail|panic|fatal, and a functional check (health endpoint, config check).
- If a verification FAILS: STOP and execute the rollback strategy. Never "fix forward" blindly.
- If anything is uncertain, out of scope, or a tool is missing: HALT and ASK. Record UNKNOWN/FAIL.

## REPORTING CONTRACT
End with:
- EXEC SUMMARY (1 paragraph)
- CHANGES MADE (files, services)
- VERIFICATION EVIDENCE (key outputs)
- RISK ASSESSMENT (residual risk)
- NEXT SAFE ACTIONS (what to do next, bounded)
"#;

fn bullets(items: &[String], empty: &str) -> String {
    if items.is_empty() {
        return format!("- {empty}");
    }
    items
        .iter()
        .map(|i| format!("- {i}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Fills `template` (the built-in one, or a repository's) from `input`.
pub fn fill(template: &str, input: &PromptInput) -> String {
    let forbidden: Vec<String> = if input.forbidden.is_empty() {
        DEFAULT_FORBIDDEN.iter().map(|s| s.to_string()).collect()
    } else {
        input.forbidden.clone()
    };
    let grant = if input.grant.is_empty() {
        String::new()
    } else {
        format!("Under preauth grant:\n{}\n", bullets(&input.grant, ""))
    };
    let inline = |v: &[String]| {
        if v.is_empty() {
            "(none)".to_string()
        } else {
            v.join(", ")
        }
    };
    let pairs = [
        ("{{OPERATION_NAME}}", input.operation.clone()),
        ("{{OBJECTIVE}}", input.objective.clone()),
        ("{{RISK_CLASS}}", input.risk_class.clone()),
        ("{{BLAST_RADIUS}}", input.blast_radius.clone()),
        ("{{ROLLBACK_STRATEGY}}", input.rollback_strategy.clone()),
        ("{{ALLOWED_PATHS}}", bullets(&input.allowed_paths, "(none)")),
        (
            "{{ALLOWED_SERVICES}}",
            bullets(&input.allowed_services, "(none)"),
        ),
        ("{{ALLOWED_PATHS_INLINE}}", inline(&input.allowed_paths)),
        (
            "{{ALLOWED_SERVICES_INLINE}}",
            inline(&input.allowed_services),
        ),
        ("{{NOT_ALLOWED}}", bullets(&forbidden, "(none)")),
        ("{{GRANT}}", grant),
    ];
    // One pass over the template, so a value that contains a placeholder is not filled again.
    let mut out = String::with_capacity(template.len() + 512);
    let mut rest = template;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        match pairs.iter().find(|(k, _)| tail.starts_with(k)) {
            Some((k, v)) => {
                out.push_str(v);
                rest = &tail[k.len()..];
            }
            None => {
                out.push_str("{{");
                rest = &tail[2..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> PromptInput {
        PromptInput {
            operation: "Fix Grafana provisioning wrappers".into(),
            objective: "Unwrap dashboard JSON".into(),
            risk_class: "LOW_RISK_CONFIG".into(),
            blast_radius: "Grafana dashboards only".into(),
            rollback_strategy: "Restore JSON files from git + restart grafana-server".into(),
            allowed_paths: vec![
                "/etc/grafana/provisioning".into(),
                "/var/lib/grafana/dashboards/quantum".into(),
            ],
            allowed_services: vec!["grafana-server".into()],
            ..Default::default()
        }
    }

    #[test]
    fn carries_every_contract() {
        let p = fill(TEMPLATE, &input());
        for needle in [
            "OPERATION_NAME: Fix Grafana provisioning wrappers",
            "RISK_CLASS: LOW_RISK_CONFIG",
            "- /etc/grafana/provisioning",
            "Modify ONLY files under: /etc/grafana/provisioning, /var/lib/grafana/dashboards/quantum",
            "Restart/reload ONLY services: grafana-server",
            "No writes to production data stores, queues or streams",
            "[STEP N | UTC timestamp]",
            "STOP and execute the rollback strategy",
            "HALT and ASK",
            "NEXT SAFE ACTIONS",
        ] {
            assert!(p.contains(needle), "missing {needle:?} in\n{p}");
        }
        assert!(!p.contains("{{"), "unfilled placeholder in\n{p}");
    }

    #[test]
    fn values_are_not_filled_twice() {
        let mut i = input();
        i.objective = "{{RISK_CLASS}}".into();
        assert!(fill(TEMPLATE, &i).contains("OBJECTIVE: {{RISK_CLASS}}"));
    }
}
