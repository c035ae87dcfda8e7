//! The deployed binary refuses to start on bad configuration and says which setting.

use std::process::Command;

/// What `template.yaml` sets, but for the table name.
fn deployed_without_a_table() -> Vec<(String, String)> {
    let mut env = crm_testkit::function_env(
        "unused",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:x",
        [
            "1c2b3a4d5e6f4a7b8c9d0e1f2a3b4c5d",
            "2c2b3a4d5e6f4a7b8c9d0e1f2a3b4c5d",
            "3c2b3a4d5e6f4a7b8c9d0e1f2a3b4c5d",
        ],
    );
    env.retain(|(k, _)| k != "CRM_TABLE_NAME");
    env
}

#[test]
fn a_missing_setting_stops_the_function_at_start_naming_it() {
    let out = Command::new(env!("CARGO_BIN_EXE_lead-intake"))
        .env_clear()
        .envs(deployed_without_a_table())
        .env("CRM_STALE_DAYS", "many")
        .output()
        .expect("run the bootstrap");
    assert!(!out.status.success());
    let log = String::from_utf8_lossy(&out.stdout);
    let line = log
        .lines()
        .find(|l| l.contains("cannot start"))
        .unwrap_or_else(|| panic!("no start error logged: {log}"));
    let entry: serde_json::Value = serde_json::from_str(line).expect("JSON log line");
    let error = entry["fields"]["error"].as_str().unwrap();
    assert!(error.contains("CRM_TABLE_NAME: missing"), "{error}");
    assert!(
        error.contains("CRM_STALE_DAYS: expected a whole number"),
        "{error}"
    );
}
