//! `crm setup` against the emulator: what it creates fits, and a misbuilt workspace is
//! described property by property.

use std::collections::BTreeMap;

use crm_cli::limits::limits;
use crm_cli::workspace::{Created, check, create};
use crm_notion::{CreateDatabase, NotionClient, NotionConfig};
use crm_notion_emulator::{BlockLimit, BlockRefusal, DEFAULT_TOKEN, Emulator, StageKind};
use secrecy::SecretString;
use serde_json::json;

/// A client for the emulator, paced for a test rather than for Notion's 3 a second.
fn client(emulator: &Emulator) -> NotionClient {
    let mut config = NotionConfig::new(emulator.base_url(), SecretString::from(DEFAULT_TOKEN));
    config.pacing = crm_notion::Pacing::Fixed { rate: 100.0 };
    config.burst = 20;
    NotionClient::new(config).unwrap()
}

#[tokio::test]
async fn created_data_sources_fit_and_mismatches_are_named_with_fixes() {
    let emulator = Emulator::start(0, DEFAULT_TOKEN).await.unwrap();
    let ws = emulator.seed_crm(StageKind::Status);
    let notion = client(&emulator);
    let names = crm_settings::PropertyNames::defaults();
    let open = ["new lead".to_owned()];

    let created = create(&notion, &ws.root_page_id, &names).await.unwrap();
    assert!(
        check(&notion, &created, &names, &open)
            .await
            .unwrap()
            .is_empty()
    );
    // The seeded workspace (Stage as a status) fits too.
    let seeded = Created {
        contacts: ws.contacts_data_source_id.clone(),
        deals: ws.deals_data_source_id.clone(),
        activities: ws.activities_data_source_id.clone(),
    };
    assert!(
        check(&notion, &seeded, &names, &open)
            .await
            .unwrap()
            .is_empty()
    );

    // A hand-made Contacts with mistakes.
    let wrong = notion
        .create_database(&CreateDatabase {
            parent_page_id: ws.root_page_id.clone(),
            title: "Contacts (hand-made)".into(),
            properties: BTreeMap::from([
                ("Name".to_owned(), json!({"title": {}})),
                ("Email".to_owned(), json!({"rich_text": {}})),
                ("company".to_owned(), json!({"rich_text": {}})),
                (
                    "Status".to_owned(),
                    json!({"select": {"options": [{"name": "open"}]}}),
                ),
                ("Source".to_owned(), json!({"select": {}})),
                ("Last Contacted".to_owned(), json!({"date": {}})),
                ("Notes".to_owned(), json!({"rich_text": {}})),
            ]),
        })
        .await
        .unwrap();
    let ids = Created {
        contacts: wrong.data_sources[0].id.clone(),
        ..seeded
    };
    let found: Vec<String> = check(&notion, &ids, &names, &open)
        .await
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    let has = |needle: &str| found.iter().any(|m| m.contains(needle));
    assert!(
        has("Contacts › Email: is of type rich_text. Fix: change its type to email"),
        "{found:#?}"
    );
    assert!(
        has("Contacts › Company: missing. Fix: rename \"company\" to \"Company\""),
        "{found:#?}"
    );
    assert!(
        has("Contacts › Phone: missing. Fix: add a phone_number property named \"Phone\""),
        "{found:#?}"
    );
    assert!(has("has no option \"new lead\""), "{found:#?}");
    assert!(has("Deals › Contact: relates to data source"), "{found:#?}");
    assert!(
        has("Activities › Contact: relates to data source"),
        "{found:#?}"
    );
    assert_eq!(found.len(), 6, "{found:#?}");
}

#[tokio::test]
async fn a_workspace_with_its_own_column_names_is_created_and_checked_by_them() {
    let emulator = Emulator::start(0, DEFAULT_TOKEN).await.unwrap();
    let ws = emulator.seed_crm(StageKind::Select);
    let notion = client(&emulator);
    let mut names = crm_settings::PropertyNames::defaults();
    names.contacts.email = "E-mail".into();
    names.deals.stage = "Pipeline".into();
    let open = ["new lead".to_owned()];

    let created = create(&notion, &ws.root_page_id, &names).await.unwrap();
    let mismatches = check(&notion, &created, &names, &open).await.unwrap();
    assert!(mismatches.is_empty(), "{mismatches:#?}");

    let defaults = crm_settings::PropertyNames::defaults();
    let found: Vec<String> = check(&notion, &created, &defaults, &open)
        .await
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        found,
        [
            "Contacts › Email: missing. Fix: add a email property named \"Email\"",
            "Deals › Stage: missing. Fix: add a select or status property named \"Stage\"",
        ],
    );
}

/// The check tells a Free workspace by its upload limit, warns about the block limit
/// with the pages the CRM holds and the ways out, and tells a paid one it has none.
#[tokio::test]
async fn the_check_warns_a_free_workspace_of_its_block_limit_and_not_a_paid_one() {
    let emulator = Emulator::start(0, DEFAULT_TOKEN).await.unwrap();
    let ws = emulator.seed_crm(StageKind::Status);
    let notion = client(&emulator);
    let ids = Created {
        contacts: ws.contacts_data_source_id.clone(),
        deals: ws.deals_data_source_id.clone(),
        activities: ws.activities_data_source_id.clone(),
    };
    for i in 0..3 {
        emulator
            .create_page_as_person(
                json!({"Name": {"title": [{"text": {"content": format!("P{i}")}}]},
                       "Email": {"email": format!("p{i}@example.com")}}),
                &ws.contacts_data_source_id,
            )
            .unwrap();
    }
    let crm_pages: usize = [&ids.contacts, &ids.deals, &ids.activities]
        .iter()
        .map(|id| emulator.pages(id).len())
        .sum();

    let paid = limits(&notion, &ids).await.unwrap();
    assert_eq!((paid.free, paid.pages), (Some(false), crm_pages));
    let said = paid.lines().join("\n");
    assert!(said.contains("no block limit"), "{said}");
    assert!(!said.contains("WARNING"), "{said}");

    emulator.set_block_limit(Some(BlockLimit::free(1_000, BlockRefusal::Documented)));
    let free = limits(&notion, &ids).await.unwrap();
    assert_eq!(free.free, Some(true));
    let said = free.lines().join("\n");
    for words in [
        "WARNING",
        "1000 blocks",
        &format!("hold {crm_pages} pages"),
        "personal access token",
        "ActivityLog = notes",
        "per 60-second window",
    ] {
        assert!(said.contains(words), "{words:?} in {said}");
    }
}

/// A Deals data source from before `Stage Since` fits, and the check says what the
/// property adds and how to add it.
#[tokio::test]
async fn a_missing_optional_property_is_noted_with_what_it_adds() {
    let emulator = Emulator::start(0, DEFAULT_TOKEN).await.unwrap();
    let ws = emulator.seed_crm(StageKind::Status);
    assert!(emulator.remove_property(&ws.deals_data_source_id, "Stage Since"));
    let notion = client(&emulator);
    let names = crm_settings::PropertyNames::defaults();
    let ids = Created {
        contacts: ws.contacts_data_source_id.clone(),
        deals: ws.deals_data_source_id.clone(),
        activities: ws.activities_data_source_id.clone(),
    };
    let (mismatches, notes) =
        crm_cli::workspace::examine(&notion, &ids, &names, &["new lead".to_owned()])
            .await
            .unwrap();
    assert!(mismatches.is_empty(), "{mismatches:?}");
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].starts_with("Deals › Stage Since is missing (optional)"),
        "{}",
        notes[0]
    );
    assert!(
        notes[0].contains("a date property named \"Stage Since\""),
        "{}",
        notes[0]
    );
}
