//! Responses and webhook payloads shaped as in Notion's API reference deserialize with
//! the client's types, including the parts we do not use (mentions, formulas, several
//! data sources) which must not break a call.

use crm_notion::Page;
use crm_notion::{
    DataSource, Database, NotionError, PropertyValue, QueryResponse, WebhookEvent, plain_text,
};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn a_page_with_every_property_kind_reads() {
    let page: Page = serde_json::from_str(&fixture("page.json")).unwrap();
    assert_eq!(page.id, "59833787-2cf9-4fdf-8782-e53db20768a5");
    assert_eq!(
        page.parent.data_source_id.as_deref(),
        Some("1f2a4d0e-8c5b-4e4a-9d64-7a3f2b1c0d9e")
    );
    assert!(!page.in_trash);
    let Some(PropertyValue::Title { title }) = page.property("Deal Name") else {
        panic!("title");
    };
    assert_eq!(plain_text(title), "Acme renewal 2026-12-01");
    assert_eq!(
        page.property("Stage")
            .and_then(PropertyValue::as_text)
            .as_deref(),
        Some("negotiation")
    );
    assert_eq!(
        page.property_by_id("%3AUPp").map(|(name, _)| name),
        Some("Stage")
    );
    assert_eq!(
        page.property("Value"),
        Some(&PropertyValue::Number {
            number: Some(12000.0)
        })
    );
    let Some(PropertyValue::People { people }) = page.property("Owner") else {
        panic!("people");
    };
    assert_eq!(people[0].name.as_deref(), Some("Dana Lee"));
    let Some(PropertyValue::Relation { relation, .. }) = page.property("Contact") else {
        panic!("relation");
    };
    assert_eq!(relation[0].id, "0b3d6a6b-0ad2-4f3a-9f0a-7b5c1e2d3f40");
    assert_eq!(
        page.property("Email")
            .and_then(PropertyValue::as_text)
            .as_deref(),
        Some("buyer@acme.example")
    );
    assert!(page.property("Phone").unwrap().is_empty());
    assert!(page.property("Notes").unwrap().is_empty());
    assert!(page.property("Source").unwrap().is_empty());
    assert_eq!(
        page.property("Priority"),
        Some(&PropertyValue::Checkbox { checkbox: true })
    );
    assert!(
        matches!(page.property("Tags"), Some(PropertyValue::MultiSelect { multi_select }) if multi_select.len() == 1)
    );
    assert!(
        matches!(page.property("Close Date"), Some(PropertyValue::Date { date: Some(d) }) if d.start == "2026-12-15")
    );
    assert!(matches!(
        page.property("Website"),
        Some(PropertyValue::Url { url: Some(_) })
    ));
    assert_eq!(page.property("Weighted"), Some(&PropertyValue::Unsupported));
    assert_eq!(page.property("Created"), Some(&PropertyValue::Unsupported));
}

#[test]
fn query_responses_read_with_cursor_and_cap_status() {
    let q: QueryResponse = serde_json::from_str(&fixture("query_response.json")).unwrap();
    assert_eq!(q.results.len(), 2);
    assert!(q.results[1].in_trash);
    assert!(q.has_more);
    assert_eq!(
        q.next_cursor.as_deref(),
        Some("1b9e6a3c-2f4d-4e8b-a7c5-3d2e1f0a9b8c")
    );
    assert!(q.is_complete(), "no request_status means complete");

    let capped: QueryResponse = serde_json::from_str(&fixture("query_incomplete.json")).unwrap();
    assert!(!capped.is_complete());
    assert!(!capped.has_more);
}

#[test]
fn data_source_and_database_schemas_read() {
    let ds: DataSource = serde_json::from_str(&fixture("data_source.json")).unwrap();
    assert_eq!(ds.name(), "Deals");
    let stage = &ds.properties["Stage"];
    assert_eq!(
        (stage.id.as_str(), stage.kind.as_str()),
        ("%3AUPp", "status")
    );
    let names: Vec<String> = stage.options().into_iter().map(|o| o.name).collect();
    assert_eq!(names, ["lead", "negotiation", "won"]);
    assert_eq!(
        ds.properties["Contact"].config["relation"]["data_source_id"],
        "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9"
    );

    let db: Database = serde_json::from_str(&fixture("database.json")).unwrap();
    assert_eq!(db.data_sources.len(), 2);
    assert_eq!(
        db.data_sources[0].id,
        "1f2a4d0e-8c5b-4e4a-9d64-7a3f2b1c0d9e"
    );
}

#[test]
fn webhook_events_read_with_encoded_property_ids() {
    let e: WebhookEvent =
        serde_json::from_str(&fixture("webhook_page_properties_updated.json")).unwrap();
    assert_eq!(e.kind, "page.properties_updated");
    assert_eq!(e.entity.id, "59833787-2cf9-4fdf-8782-e53db20768a5");
    assert_eq!(e.data.updated_properties, ["%3AUPp", "BJXS"]);
    assert_eq!(
        e.data
            .parent
            .as_ref()
            .and_then(|p| p.data_source_id.as_deref()),
        Some("1f2a4d0e-8c5b-4e4a-9d64-7a3f2b1c0d9e")
    );
    assert!(!e.is_only_by("0ef2e755-4912-8096-91c1-00376a88a5ca"));

    let created: WebhookEvent =
        serde_json::from_str(&fixture("webhook_page_created.json")).unwrap();
    assert_eq!(created.kind, "page.created");
    assert!(created.data.updated_properties.is_empty());
    assert_eq!(created.attempt_number, Some(3));
    assert!(created.is_only_by("0ef2e755-4912-8096-91c1-00376a88a5ca"));
}

#[test]
fn the_error_body_is_what_the_error_type_keeps() {
    // Parsed by the client from a live response in the client tests; here only the
    // body shape is checked against the reference.
    let v: serde_json::Value = serde_json::from_str(&fixture("error_rate_limited.json")).unwrap();
    assert_eq!(v["code"], "rate_limited");
    assert_eq!(v["additional_data"]["retry_after"], 12);
    let e = NotionError::Api(Box::new(crm_notion::ApiFailure {
        status: 429,
        code: "rate_limited".into(),
        message: "slow down".into(),
        request_id: Some("req-1".into()),
        retry_after: None,
        rate_limit_reason: Some("public_api_request_blocked".into()),
        block_limit: false,
        committed_resource_id: None,
    }));
    assert!(!e.is_retryable(), "blocked access is not retried");
    assert!(e.to_string().contains("req-1"));
}
