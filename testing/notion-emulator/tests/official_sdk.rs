//! The official Notion JavaScript SDK, unmodified, works against the emulator (the
//! script is `tests/sdk/check.mjs`; `make test` installs the SDK with `npm ci`).

use std::process::Command;

use crm_notion_emulator::{DEFAULT_TOKEN, Emulator, StageKind};

#[tokio::test(flavor = "multi_thread")]
async fn the_official_sdk_runs_unmodified_against_the_emulator() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk");
    assert!(
        std::path::Path::new(dir)
            .join("node_modules/@notionhq/client")
            .exists(),
        "the Notion SDK is not installed: run `make test` (it runs npm ci in {dir})"
    );
    let emulator = Emulator::start(0, DEFAULT_TOKEN).await.unwrap();
    let ws = emulator.seed_crm(StageKind::Status);
    let base = emulator.base_url();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("check.mjs")
            .current_dir(dir)
            .env("BASE_URL", base)
            .env("TOKEN", DEFAULT_TOKEN)
            .env("CONTACTS", &ws.contacts_data_source_id)
            .env("ROOT_PAGE", &ws.root_page_id)
            .output()
            .expect("run node")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "SDK check failed:\n{stdout}\n{stderr}"
    );
    let result: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(result["ok"], true);
    assert_eq!(result["pages"].as_array().unwrap().len(), 3);
    let log = emulator.requests();
    assert!(
        log.iter().any(|r| r.status == 429),
        "the SDK met the injected 429"
    );
    assert!(log.iter().any(|r| r.status == 404));
}
