//! The import engine's takeover of a stopped attempt, where the command's own tests
//! (the `crm` binary, `cli/tests/import.rs`) cannot place it exactly: a deal claim left
//! open by a killed run, for a deal whose name another contact's deal shares.

mod common;

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use common::Harness;
use crm_app::import::{DealTarget, ImportSettings, Importer};
use crm_domain::import::deals::Deal;
use crm_store::prelude::*;
use serde_json::{Value, json};

#[tokio::test]
async fn a_taken_over_deal_is_looked_for_with_its_contact_not_by_name_alone() {
    let h = Harness::new().await;
    let person = |email: &str| {
        h.emulator
            .create_page_as_person(
                json!({"Name": {"title": [{"text": {"content": email}}]}, "Email": {"email": email}}),
                &h.ws.contacts_data_source_id,
            )
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (ann, bo) = (person("ann@example.com"), person("bo@example.com"));
    // Bo already has a deal called "Renewal".
    h.emulator
        .create_page_as_person(
            json!({"Deal Name": {"title": [{"text": {"content": "Renewal"}}]},
                   "Contact": {"relation": [{"id": bo}]}}),
            &h.ws.deals_data_source_id,
        )
        .unwrap();
    let importer = Importer {
        store: h.store.clone(),
        notion: h
            .ports
            .notion
            .with_token(crm_notion_emulator::DEFAULT_TOKEN.to_owned().into()),
        settings: ImportSettings {
            contacts: h.ws.contacts_data_source_id.clone(),
            properties: h.ports.settings.properties.contacts.clone(),
            status: "new lead".into(),
            source: "import".into(),
            concurrency: 1,
            lease: Duration::from_secs(60),
            retention: Duration::from_secs(86_400),
            activity: None,
        },
    };
    let target = DealTarget {
        deals: h.ws.deals_data_source_id.clone(),
        properties: h.ports.settings.properties.deals.clone(),
    };
    let (world, _) = importer.deal_world(&target).await.unwrap();
    let deal = Deal {
        name: "Renewal".into(),
        stage: None,
        value: Some(500.0),
        owner: None,
        contact: Some(crm_domain::ContactEmail::parse("ann@example.com").unwrap()),
        close_date: None,
        lines: vec![2],
    };
    // A run claimed Ann's "Renewal" and was killed before creating it; its lease runs out.
    let key = format!("import-deal:run-1:{}", deal.key());
    h.store
        .begin(
            &key,
            "killed-run",
            Duration::from_secs(60),
            Duration::from_secs(86_400),
        )
        .await
        .unwrap();
    h.clock.advance(Duration::from_secs(61));

    let report = importer
        .run_deals(
            "run-1",
            &target,
            &[deal],
            &world,
            &AtomicBool::new(false),
            |_, _| {},
        )
        .await;
    assert_eq!(
        (report.created, report.updated, report.unchanged),
        (1, 0, 0),
        "{report:?}"
    );
    let deals = h.emulator.pages(&h.ws.deals_data_source_id);
    let contact_of = |d: &Value| {
        d["properties"]["Contact"]["relation"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let mut contacts: Vec<String> = deals.iter().map(contact_of).collect();
    contacts.sort();
    let mut expected = vec![ann, bo.clone()];
    expected.sort();
    assert_eq!(contacts, expected, "Ann's deal made; Bo's left as it was");
    let bos = deals.iter().find(|d| contact_of(d) == bo).unwrap();
    assert!(
        bos["properties"]["Value"]["number"].is_null(),
        "Bo's deal not filled with Ann's value"
    );
}
