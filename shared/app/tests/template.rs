//! The deployed worker has the time its code assumes.

use crm_notion::{NotionClient, NotionConfig};
use crm_slack::{SlackClient, SlackConfig};

fn setting_of(binary: &str, key: &str) -> u64 {
    crm_testkit::template_number(binary, key).unwrap()
}

fn timeout_of(binary: &str) -> u64 {
    setting_of(binary, "Timeout")
}

fn batch_size_of(binary: &str) -> u64 {
    setting_of(binary, "BatchSize")
}

#[test]
fn the_worker_timeout_holds_a_batch_at_notions_pace_and_one_item_at_its_worst() {
    let notion = NotionClient::new(NotionConfig::new(
        "https://api.notion.com",
        "".to_owned().into(),
    ))
    .unwrap();
    let slack = SlackClient::new(SlackConfig::default()).unwrap();
    let item = crm_app::worker::item_worst_case(notion.worst_call().max(slack.worst_call()));
    let timeout = std::time::Duration::from_secs(timeout_of("worker"));
    assert!(
        item + crm_app::worker::DEADLINE_MARGIN <= timeout,
        "one item may take {item:?}; the worker's timeout is {timeout:?}"
    );
    assert!(crm_app::worker::lease_for(item) > item);
    // A whole batch of new leads at Notion's pace (three calls each at 3 a second),
    // then the worst case of the last: the batch is not handed back for want of time.
    let batch = batch_size_of("worker");
    let paced = std::time::Duration::from_secs(batch);
    assert!(
        paced + item + crm_app::worker::DEADLINE_MARGIN <= timeout,
        "a batch of {batch} takes about {paced:?} at Notion's pace; the timeout is {timeout:?}"
    );
}

#[test]
fn a_killed_digest_run_lets_the_day_go_before_lambda_retries_it() {
    let timeout = std::time::Duration::from_secs(timeout_of("stale-leads"));
    assert_eq!(timeout, crm_app::digest::RUN_BUDGET);
    // Lambda retries a failed asynchronous invocation about one minute after it ends.
    let lease = crm_app::digest::CLAIM_LEASE;
    assert!(lease >= timeout && lease <= timeout + std::time::Duration::from_secs(60));
}

#[test]
fn a_killed_redrive_run_lets_the_next_one_in() {
    let timeout = std::time::Duration::from_secs(timeout_of("redrive"));
    assert!(crm_app::redrive::RUN_LEASE > timeout);
    // The schedule fires every five minutes; the next run after a killed one finds the
    // lease free within one more period.
    assert!(crm_app::redrive::RUN_LEASE <= timeout + std::time::Duration::from_secs(300));
}

/// What a Lambda bootstrap does not run, it does not carry: SQLite is for `crm serve`.
#[test]
fn no_lambda_function_links_sqlite() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for function in [
        "lead-intake",
        "notion-webhook",
        "worker",
        "stale-leads",
        "redrive",
    ] {
        let out = std::process::Command::new(&cargo)
            .args([
                "tree",
                "--offline",
                "--locked",
                "-e",
                "normal",
                "-p",
                function,
            ])
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tree = String::from_utf8_lossy(&out.stdout);
        assert!(tree.contains("crm-store"), "{function}: {tree}");
        assert!(!tree.contains("rusqlite"), "{function} links SQLite");
    }
}

/// The browser forms' CORS is the function's, per form: API Gateway must route the
/// preflight to it rather than answer it itself, and must reach it within its timeout
/// even when the captcha provider takes all the time it is given.
#[test]
fn browser_forms_reach_the_intake_with_their_preflight_and_in_time() {
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml"))
            .unwrap();
    let (_, api) = template.split_once("  IntakeApi:\n").unwrap();
    let api = &api[..api.find("\n  DigestFailedAlarm:").unwrap()];
    assert!(
        !api.contains("CorsConfiguration"),
        "an HTTP API with CorsConfiguration answers every preflight itself, with one list of origins for all forms"
    );
    let (_, intake) = template.split_once("Binary: lead-intake\n").unwrap();
    let intake = &intake[..intake.find("\n  NotionWebhookFunction:").unwrap()];
    for method in ["POST", "OPTIONS"] {
        assert!(
            intake.contains(&format!(
                "Path: /lead/form/{{form}}\n            Method: {method}"
            )),
            "no {method} route for /lead/form/{{form}}"
        );
    }
    assert!(template.contains("CRM_BROWSER_FORMS: !Ref BrowserForms"));
    let timeout = std::time::Duration::from_secs(timeout_of("lead-intake"));
    let captcha = std::time::Duration::from_millis(crm_settings::MAX_CAPTCHA_TIMEOUT_MS);
    assert!(
        captcha * 2 <= timeout,
        "a captcha may take {captcha:?}; the intake has {timeout:?}"
    );
}

/// Every custom metric the template's alarms and dashboard watch is one the code
/// writes: an alarm on a metric nothing emits would never fire.
#[test]
fn every_metric_the_template_watches_is_written_by_the_code() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let template = std::fs::read_to_string(format!("{root}/template.yaml")).unwrap();
    let mut watched = std::collections::BTreeSet::new();
    let lines: Vec<&str> = template.lines().map(str::trim).collect();
    for (i, line) in lines.iter().enumerate() {
        // An alarm: `Namespace: NotionCrm` then `MetricName: X`; the dashboard's JSON:
        // `"NotionCrm",` then `"X",`.
        let next = lines.get(i + 1).copied().unwrap_or_default();
        if *line == "Namespace: NotionCrm" {
            watched.insert(next.trim_start_matches("MetricName: ").to_owned());
        } else if *line == "\"NotionCrm\"," {
            watched.insert(next.trim_matches(|c| c == '"' || c == ',').to_owned());
        }
    }
    assert!(watched.len() >= 10, "found {watched:?}");
    let mut code = String::new();
    for dir in [
        "shared/app/src",
        "shared/app/src/intake",
        "shared/app/src/worker",
        "shared/app/src/redrive",
        "shared/app/src/webhook",
    ] {
        for entry in std::fs::read_dir(format!("{root}/{dir}")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "rs") {
                code.push_str(&std::fs::read_to_string(path).unwrap());
            }
        }
    }
    let silent: Vec<&String> = watched
        .iter()
        .filter(|m| !code.contains(&format!("\"{m}\"")))
        .collect();
    assert!(silent.is_empty(), "watched but never written: {silent:?}");
}

/// `docs/runbook.md` says, for every alarm the template makes, what it means and what
/// fixes it: an alarm that mails a person should come with its page.
#[test]
fn the_runbook_covers_every_alarm() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let template = std::fs::read_to_string(format!("{root}/template.yaml")).unwrap();
    let runbook = std::fs::read_to_string(format!("{root}/docs/runbook.md")).unwrap();
    let alarms: Vec<&str> = template
        .lines()
        .filter_map(|l| l.strip_prefix("  ")?.strip_suffix(":"))
        .filter(|name| name.ends_with("Alarm") && !name.starts_with(' '))
        .collect();
    assert!(alarms.len() >= 20, "found {alarms:?}");
    let missing: Vec<&&str> = alarms
        .iter()
        .filter(|a| !runbook.contains(&format!("`{a}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/runbook.md does not cover {missing:?}"
    );
}
