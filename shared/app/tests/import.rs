//! The import engine where the command's own tests (the `crm` binary,
//! `cli/tests/import.rs`) cannot place it exactly: a deal claim left open by a killed
//! run, for a deal whose name another contact's deal shares; and deals imported past
//! Notion's 10,000-row listing cap (the emulator's cap set low).

mod common;

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use common::Harness;
use crm_app::import::{DealTarget, ImportSettings, Importer};
use crm_domain::import::deals::Deal;
use crm_store::prelude::*;
use serde_json::{Value, json};

fn importer(h: &Harness) -> (Importer<crm_store::SqliteStore>, DealTarget) {
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
        stage_map: Vec::new(),
    };
    (importer, target)
}

/// A contact made by a person in Notion; its page id.
fn person(h: &Harness, email: &str) -> String {
    h.emulator
        .create_page_as_person(
            json!({"Name": {"title": [{"text": {"content": email}}]}, "Email": {"email": email}}),
            &h.ws.contacts_data_source_id,
        )
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A deal made by a person in Notion, with only its name and contact.
fn persons_deal(h: &Harness, name: &str, contact: &str) {
    h.emulator
        .create_page_as_person(
            json!({"Deal Name": {"title": [{"text": {"content": name}}]},
                   "Contact": {"relation": [{"id": contact}]}}),
            &h.ws.deals_data_source_id,
        )
        .unwrap();
}

static NOT_STOPPED: AtomicBool = AtomicBool::new(false);

/// A deal of the file, worth 500.
fn deal(name: &str, contact: &str, line: u64) -> Deal {
    Deal {
        name: name.into(),
        stage: None,
        value: Some(500.0),
        owner: None,
        contact: Some(crm_domain::ContactEmail::parse(contact).unwrap()),
        close_date: None,
        currency: None,
        lines: vec![line],
    }
}

#[tokio::test]
async fn a_taken_over_deal_is_looked_for_with_its_contact_not_by_name_alone() {
    let h = Harness::new().await;
    let (ann, bo) = (person(&h, "ann@example.com"), person(&h, "bo@example.com"));
    // Bo already has a deal called "Renewal".
    persons_deal(&h, "Renewal", &bo);
    let (importer, target) = importer(&h);
    let (world, _) = importer.deal_world(&target).await.unwrap();
    let deal = deal("Renewal", "ann@example.com", 2);
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

/// More deals and contacts than Notion lists at once: those the listing missed are
/// looked up one by one. A deal already there is filled, not made a second time; a
/// contact that is there is found, not refused with "import the contacts first".
#[tokio::test]
async fn past_notions_listing_cap_deals_and_contacts_are_looked_up_not_remade_or_refused() {
    let h = Harness::new().await;
    let emails: Vec<String> = (0..5).map(|i| format!("p{i}@example.com")).collect();
    for (i, email) in emails.iter().enumerate() {
        let id = person(&h, email);
        persons_deal(&h, &format!("Deal {i}"), &id);
    }
    h.emulator.set_result_cap(2);
    let (importer, target) = importer(&h);
    let (world, _) = importer.deal_world(&target).await.unwrap();
    assert!(!world.complete, "the listing stopped at the cap");
    assert!(world.deals.len() <= 2 && world.contacts.len() <= 2);

    let mut file: Vec<Deal> = emails
        .iter()
        .enumerate()
        .map(|(i, email)| deal(&format!("Deal {i}"), email, i as u64 + 2))
        .collect();
    file.push(deal("New deal", &emails[4], 7));
    let report = importer
        .run_deals("run-1", &target, &file, &world, &NOT_STOPPED, |_, _| {})
        .await;
    assert_eq!(
        (report.created, report.updated, report.unchanged),
        (1, 5, 0),
        "{report:?}"
    );
    assert!(
        report.rejected.is_empty() && report.failed.is_empty(),
        "{report:?}"
    );
    let deals = h.emulator.pages(&h.ws.deals_data_source_id);
    assert_eq!(deals.len(), 6, "each deal once");
    assert!(
        deals
            .iter()
            .all(|d| d["properties"]["Value"]["number"] == 500.0),
        "every deal filled from the file"
    );
}

/// Every contact listed, but not every deal: a deal the listing missed is found by its
/// name and contact and filled, never made a second time.
#[tokio::test]
async fn past_the_cap_of_deals_alone_no_deal_is_made_twice() {
    let h = Harness::new().await;
    let (ann, bo) = (person(&h, "ann@example.com"), person(&h, "bo@example.com"));
    for i in 0..5 {
        persons_deal(
            &h,
            &format!("Deal {i}"),
            if i % 2 == 0 { &ann } else { &bo },
        );
    }
    h.emulator.set_result_cap(3);
    let (importer, target) = importer(&h);
    let (world, _) = importer.deal_world(&target).await.unwrap();
    assert_eq!((world.contacts.len(), world.deals.len()), (2, 3));
    let file: Vec<Deal> = (0..5)
        .map(|i| {
            let email = if i % 2 == 0 {
                "ann@example.com"
            } else {
                "bo@example.com"
            };
            deal(&format!("Deal {i}"), email, i + 2)
        })
        .collect();
    let report = importer
        .run_deals("run-1", &target, &file, &world, &NOT_STOPPED, |_, _| {})
        .await;
    assert_eq!(
        (report.created, report.updated, report.unchanged),
        (0, 5, 0),
        "{report:?}"
    );
    assert_eq!(h.emulator.pages(&h.ws.deals_data_source_id).len(), 5);
}

/// Notion refusing creates mid-import (the Free block limit, in either shape) is not the
/// rows' fault: they are not written, not rejected, the reason says why, and the same
/// import run again once the workspace is upgraded writes each person once.
#[tokio::test]
async fn rows_notion_refuses_to_create_are_run_again_not_rejected() {
    use crm_notion_emulator::{BlockLimit, BlockRefusal};
    for (refusal, said) in [
        (BlockRefusal::Documented, "personal access token"),
        (BlockRefusal::Bare, "\"Insert content\" capability"),
    ] {
        let h = Harness::new().await;
        let (importer, _) = importer(&h);
        let people: Vec<crm_domain::import::Contact> = (0..3)
            .map(|i| crm_domain::import::Contact {
                email: crm_domain::ContactEmail::parse(&format!("r{i}@example.com")).unwrap(),
                fields: Default::default(),
                lines: vec![i + 2],
            })
            .collect();
        let used = h.emulator.blocks_used();
        h.emulator
            .set_block_limit(Some(BlockLimit::free(used, refusal)));
        let existing = importer.existing().await.unwrap();
        let report = importer
            .run("run-1", &people, &existing, &NOT_STOPPED, |_, _| {})
            .await;
        assert!(report.rejected.is_empty(), "{refusal:?}: {report:?}");
        assert_eq!(report.failed.len(), 3, "{refusal:?}: {report:?}");
        assert!(
            report.failed.iter().all(|(_, why)| why.contains(said)),
            "{refusal:?}: {report:?}"
        );
        assert!(h.contacts().is_empty());

        h.emulator.set_block_limit(None);
        let existing = importer.existing().await.unwrap();
        let again = importer
            .run("run-1", &people, &existing, &NOT_STOPPED, |_, _| {})
            .await;
        assert_eq!(again.created, 3, "{refusal:?}: {again:?}");
        assert_eq!(h.contacts().len(), 3);
    }
}
