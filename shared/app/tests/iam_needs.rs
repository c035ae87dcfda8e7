//! What each function's code may do in AWS, from its handler's ports, is what
//! `infra/iam-needs.json` says; `infra/check-template.py` then holds each function's
//! role in `template.yaml` to that file (plus what Lambda does on the function's behalf:
//! its logs, its stream, its failure queue). Together: a role grants exactly what the
//! code calls.
//!
//! After changing a port: `UPDATE_IAM_NEEDS=1 cargo test -p crm-app --test iam_needs`.

use std::collections::BTreeMap;

use crm_app::digest::DigestStore;
use crm_app::intake::IntakeStore;
use crm_app::redrive::RedriveStore;
use crm_app::report::ReportStore;
use crm_app::webhook::WebhookStore;
use crm_app::worker::WorkerStore;
use crm_settings::secret_actions;
use crm_store::{DynamoStore, Grant, OPEN_INBOX_INDEX, On};

const NEEDS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/iam-needs.json");

/// A function: its logical id in `template.yaml`, its crate, the handler its `main.rs`
/// builds, the store port that handler is generic over, and whether it writes the
/// secret (only the webhook's handshake does).
struct Function {
    logical_id: &'static str,
    krate: &'static str,
    builds: &'static [&'static str],
    store: Vec<Grant>,
    writes_secret: bool,
}

fn functions() -> Vec<Function> {
    vec![
        Function {
            logical_id: "LeadIntakeFunction",
            krate: "lead-intake",
            builds: &["ctx.intake()"],
            store: <DynamoStore as IntakeStore>::grants(),
            writes_secret: false,
        },
        Function {
            logical_id: "NotionWebhookFunction",
            krate: "notion-webhook",
            builds: &["ctx.webhook()"],
            store: <DynamoStore as WebhookStore>::grants(),
            writes_secret: true,
        },
        Function {
            logical_id: "WorkerFunction",
            krate: "worker",
            builds: &["ctx.worker()"],
            store: <DynamoStore as WorkerStore>::grants(),
            writes_secret: false,
        },
        Function {
            logical_id: "StaleLeadsFunction",
            krate: "stale-leads",
            builds: &["ctx.digest()", "ctx.report("],
            store: [
                <DynamoStore as DigestStore>::grants(),
                <DynamoStore as ReportStore>::grants(),
            ]
            .concat(),
            writes_secret: false,
        },
        Function {
            logical_id: "RedriveFunction",
            krate: "redrive",
            builds: &["ctx.redrive()"],
            store: <DynamoStore as RedriveStore>::grants(),
            writes_secret: false,
        },
    ]
}

/// The template's name for what a grant is on.
fn resource(on: On) -> String {
    match on {
        On::Table => "Table.Arn".to_owned(),
        On::OpenInboxIndex => format!("${{Table.Arn}}/index/{OPEN_INBOX_INDEX}"),
    }
}

fn needs() -> BTreeMap<&'static str, Vec<(String, String)>> {
    functions()
        .into_iter()
        .map(|f| {
            let mut needs: Vec<(String, String)> = f
                .store
                .iter()
                .map(|g| (g.action.to_owned(), resource(g.on)))
                .collect();
            let secret = if f.writes_secret {
                secret_actions::WRITE
            } else {
                secret_actions::READ
            };
            needs.extend(
                secret
                    .iter()
                    .map(|a| ((*a).to_owned(), "Secrets".to_owned())),
            );
            needs.sort();
            needs.dedup();
            (f.logical_id, needs)
        })
        .collect()
}

fn render(needs: &BTreeMap<&'static str, Vec<(String, String)>>) -> String {
    let mut out = String::from("{\n");
    let last = needs.len() - 1;
    for (i, (function, grants)) in needs.iter().enumerate() {
        out += &format!("  \"{function}\": [\n");
        for (j, (action, resource)) in grants.iter().enumerate() {
            let comma = if j + 1 < grants.len() { "," } else { "" };
            out += &format!("    [\"{action}\", \"{resource}\"]{comma}\n");
        }
        out += if i < last { "  ],\n" } else { "  ]\n" };
    }
    out + "}\n"
}

#[test]
fn the_needs_file_is_what_the_ports_call() {
    let expected = render(&needs());
    if std::env::var_os("UPDATE_IAM_NEEDS").is_some() {
        std::fs::write(NEEDS, &expected).unwrap();
    }
    let found = std::fs::read_to_string(NEEDS).unwrap_or_default();
    assert!(
        found == expected,
        "infra/iam-needs.json differs from the handlers' ports; it should read:\n{expected}\n\
         (UPDATE_IAM_NEEDS=1 cargo test -p crm-app --test iam_needs writes it)"
    );
}

/// The port a function is checked against is the one its `main.rs` builds, and only
/// that one: a main that built the redrive inside the worker would need more.
#[test]
fn each_function_builds_the_handler_its_needs_are_taken_from() {
    let builders: Vec<&str> = functions().iter().flat_map(|f| f.builds.to_vec()).collect();
    for f in functions() {
        let path = format!(
            "{}/../../functions/{}/src/main.rs",
            env!("CARGO_MANIFEST_DIR"),
            f.krate
        );
        let main = std::fs::read_to_string(&path).unwrap();
        for builds in f.builds {
            assert!(main.contains(builds), "{path} does not call {builds}");
        }
        for other in builders.iter().filter(|b| !f.builds.contains(b)) {
            assert!(!main.contains(other), "{path} also calls {other}");
        }
    }
}
