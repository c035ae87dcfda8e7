//! `crm import` at Notion's limit: 10,000 rows — 500 of them the same people again in
//! another case or with spaces, 50 without a valid address, 1,000 people already in
//! Notion (half without a company) — into an emulator counting a strict window of 30
//! requests a second, through the import engine the command runs, paced at 30/s.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crm_app::import::{ImportSettings, Importer};
use crm_domain::SystemClock;
use crm_domain::import::{Row as CsvRow, detect, plan};
use crm_notion::{NotionClient, NotionConfig};
use crm_notion_emulator::{DEFAULT_TOKEN, Emulator, RateLimit, StageKind};
use crm_store::SqliteStore;
use secrecy::SecretString;
use serde_json::json;

use crate::Row;

type Error = Box<dyn std::error::Error>;

const ROWS: usize = 10_000;
const AGAIN: usize = 500;
const INVALID: usize = 50;
const EXISTING: usize = 1_000;
const LIMIT: u32 = 30;

pub async fn measure(rows: &mut Vec<Row>) -> Result<(), Error> {
    let emulator = Emulator::start(0, DEFAULT_TOKEN).await?;
    let ws = emulator.seed_crm(StageKind::Status);
    let people = ROWS - AGAIN - INVALID;
    for i in 0..EXISTING {
        let mut properties = json!({
            "Name": {"title": [{"text": {"content": format!("Typed {i}")}}]},
            "Email": {"email": format!("person{i}@example.com")},
        });
        if i % 2 == 0 {
            properties["Company"] = json!({"rich_text": [{"text": {"content": "Typed Co"}}]});
        }
        emulator.create_page_as_person(properties, &ws.contacts_data_source_id)?;
    }
    emulator.set_rate_limit(Some(RateLimit::Window {
        requests: LIMIT,
        seconds: 1.0,
    }));
    emulator.clear_requests();

    let headers: Vec<String> = ["Email", "First Name", "Last Name", "Company"]
        .iter()
        .map(|h| (*h).to_owned())
        .collect();
    let mut csv = Vec::with_capacity(ROWS);
    for i in 0..people {
        csv.push(vec![
            format!("person{i}@example.com"),
            format!("F{i}"),
            format!("L{i}"),
            format!("Co {i}"),
        ]);
    }
    for i in 0..AGAIN {
        csv.push(vec![
            format!("  Person{}@EXAMPLE.com ", i * 17 % people),
            String::new(),
            String::new(),
            String::new(),
        ]);
    }
    for i in 0..INVALID {
        csv.push(vec![
            format!("broken{i}@"),
            "X".into(),
            String::new(),
            String::new(),
        ]);
    }
    let mapping = detect(&headers, &[])?;
    let planned = plan(
        &mapping,
        csv.into_iter().enumerate().map(|(i, cells)| CsvRow {
            line: i as u64 + 2,
            cells,
        }),
        None,
    );

    let mut config = NotionConfig::new(emulator.base_url(), SecretString::from(DEFAULT_TOKEN));
    config.pacing = crm_notion::Pacing::Fixed {
        rate: f64::from(LIMIT),
    };
    let notion = NotionClient::new(config)?;
    let store = SqliteStore::in_memory(Arc::new(SystemClock))?;
    let importer = Importer {
        store,
        notion: notion.clone(),
        settings: ImportSettings {
            contacts: ws.contacts_data_source_id.clone(),
            properties: crm_settings::PropertyNames::defaults().contacts,
            status: "new lead".into(),
            source: "import".into(),
            concurrency: 8,
            lease: Duration::from_secs(300),
            retention: Duration::from_secs(86_400),
            activity: None,
        },
    };
    let started = Instant::now();
    let existing = importer.existing().await?;
    let stop = AtomicBool::new(false);
    let report = importer
        .run("bench", &planned.contacts, &existing, &stop, |_, _| {})
        .await;
    let took = started.elapsed();

    let seen = crate::drain::seen_against(&emulator, f64::from(LIMIT));
    let mut count: HashMap<String, usize> = HashMap::new();
    for page in emulator.pages(&ws.contacts_data_source_id) {
        if let Some(email) = page["properties"]["Email"]["email"].as_str() {
            *count.entry(email.to_owned()).or_default() += 1;
        }
    }
    let missing = (0..people)
        .filter(|i| !count.contains_key(&format!("person{i}@example.com")))
        .count();
    let doubled: usize = count.values().map(|n| n - 1).sum();
    rows.push((
        format!("`crm import`: {ROWS} rows ({AGAIN} repeats, {INVALID} invalid, {EXISTING} already in Notion) at a {LIMIT} req/s strict window"),
        format!(
            "{:.0} s; {:.1} % of the limit, {} × 429 ({} final); created {}, updated {}, unchanged {}, merged {}, rejected {}; {} missing, {} doubled",
            took.as_secs_f64(),
            seen.share * 100.0,
            seen.refused,
            report.failed.len(),
            report.created,
            report.updated,
            report.unchanged,
            planned.merged,
            planned.rejects.len() + report.rejected.len(),
            missing,
            doubled,
        ),
    ));
    Ok(())
}
