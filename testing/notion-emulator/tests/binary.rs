//! The standalone `notion-emulator` binary serves a seeded workspace on 127.0.0.1.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crm_testkit::Running;

#[tokio::test]
async fn the_binary_prints_its_address_and_serves_the_seeded_workspace() {
    let mut child = Running(
        Command::new(env!("CARGO_BIN_EXE_notion-emulator"))
            .args([
                "--port",
                "0",
                "--token",
                "ntn_binary_test",
                "--seed",
                "select",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the emulator"),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let started: serde_json::Value = serde_json::from_str(&line).expect("one JSON line");
    let base = started["base_url"].as_str().unwrap().to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let deals = started["workspace"]["deals_data_source_id"]
        .as_str()
        .unwrap();
    let schema: serde_json::Value = crm_http::client()
        .get(format!("{base}/v1/data_sources/{deals}"))
        .bearer_auth("ntn_binary_test")
        .header("Notion-Version", "2026-03-11")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    drop(child);
    assert_eq!(schema["properties"]["Stage"]["type"], "select");
}
