//! Webhook deliveries: handshake, signatures, Notion's event shape, and the duplicate,
//! reorder, delay and retry behaviours.

mod common;

use std::time::{Duration, Instant};

use common::{Api, ok_status, receiver, title};
use crm_notion_emulator::{DEFAULT_TOKEN, DeliveryMode, Emulator, StageKind};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::Sha256;

fn expected_signature(token: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(token.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn handshake_then_signed_events_shaped_like_notions() {
    let emulator = Emulator::start(0, DEFAULT_TOKEN).await.unwrap();
    let ws = emulator.seed_crm(StageKind::Status);
    let (url, received) = receiver(ok_status()).await;
    let token = emulator.subscribe(&url).await;

    let all = received.all();
    assert_eq!(all.len(), 1);
    let (headers, body) = &all[0];
    let handshake: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert_eq!(handshake, json!({"verification_token": token}));
    assert!(
        headers.get("x-notion-signature").is_none(),
        "the handshake is not signed"
    );

    let api = Api::new(&emulator);
    let deal = api
        .ok("POST", "/v1/pages", Some(json!({"parent": {"data_source_id": ws.deals_data_source_id}, "properties": {"Deal Name": title("Acme")}})))
        .await;
    let deal_id = deal["id"].as_str().unwrap();
    let stage_id = deal["properties"]["Stage"]["id"].as_str().unwrap();
    let value_id = deal["properties"]["Value"]["id"].as_str().unwrap();
    emulator
        .update_page_as_person(
            deal_id,
            json!({"Stage": {"status": {"name": "won"}}, "Value": {"number": 5}}),
        )
        .unwrap();

    let events = received.wait_for(2).await;
    let created = &events[0];
    assert_eq!(created["type"], "page.created");
    assert_eq!(created["entity"], json!({"id": deal_id, "type": "page"}));
    assert_eq!(
        created["authors"],
        json!([{"id": ws.bot_user_id, "type": "bot"}])
    );
    assert_eq!(
        created["data"]["parent"]["data_source_id"],
        ws.deals_data_source_id
    );
    assert_eq!(created["data"]["parent"]["id"], ws.deals_database_id);
    assert_eq!(created["data"]["parent"]["type"], "database");
    assert_eq!(created["attempt_number"], 1);
    assert_eq!(created["api_version"], "2026-03-11");
    let updated = &events[1];
    assert_eq!(updated["type"], "page.properties_updated");
    assert_eq!(updated["authors"][0]["type"], "person");
    assert_eq!(updated["authors"][0]["id"], ws.people[0].0);
    let mut props: Vec<&str> = updated["data"]["updated_properties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    props.sort_unstable();
    let mut want = vec![stage_id, value_id];
    want.sort_unstable();
    assert_eq!(
        props, want,
        "updated_properties are the pages' (URL-encoded) property ids"
    );
    assert_ne!(created["id"], updated["id"]);
    assert!(created["timestamp"].as_str().unwrap() <= updated["timestamp"].as_str().unwrap());

    for (headers, body) in &received.all()[1..] {
        let signature = headers["x-notion-signature"].to_str().unwrap();
        assert_eq!(signature, expected_signature(&token, body));
    }
    // An edit that changes nothing sends nothing.
    emulator
        .update_page_as_person(deal_id, json!({"Value": {"number": 5}}))
        .unwrap();
    assert!(emulator.deliveries_idle(Duration::from_secs(10)).await);
    assert_eq!(received.events().len(), 2);
}

#[tokio::test]
async fn duplicate_mode_delivers_each_event_twice_with_one_id() {
    let emulator = Emulator::start(0, DEFAULT_TOKEN).await.unwrap();
    let ws = emulator.seed_crm(StageKind::Status);
    let (url, received) = receiver(ok_status()).await;
    emulator.subscribe(&url).await;
    emulator.set_delivery_mode(DeliveryMode {
        duplicate: true,
        ..DeliveryMode::default()
    });
    emulator
        .create_page_as_person(
            json!({"Deal Name": title("Acme")}),
            &ws.deals_data_source_id,
        )
        .unwrap();
    let events = received.wait_for(2).await;
    assert_eq!(events[0]["id"], events[1]["id"]);
    assert_eq!(
        (
            events[0]["attempt_number"].as_u64(),
            events[1]["attempt_number"].as_u64()
        ),
        (Some(1), Some(2))
    );

    assert!(emulator.redeliver(events[0]["id"].as_str().unwrap()));
    let again = received.wait_for(3).await;
    assert_eq!(again[2]["id"], events[0]["id"]);
}

#[tokio::test]
async fn reorder_mode_delivers_newest_first_and_delay_mode_waits() {
    let emulator = Emulator::start(0, DEFAULT_TOKEN).await.unwrap();
    let ws = emulator.seed_crm(StageKind::Status);
    let (url, received) = receiver(ok_status()).await;
    emulator.subscribe(&url).await;
    let page = emulator
        .create_page_as_person(
            json!({"Deal Name": title("Acme")}),
            &ws.deals_data_source_id,
        )
        .unwrap();
    received.wait_for(1).await;
    let id = page["id"].as_str().unwrap();

    emulator.set_delivery_mode(DeliveryMode {
        reorder: true,
        ..DeliveryMode::default()
    });
    for stage in ["qualified", "proposal", "won"] {
        emulator
            .update_page_as_person(id, json!({"Stage": {"status": {"name": stage}}}))
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(emulator.deliveries_idle(Duration::from_secs(10)).await);
    assert_eq!(received.events().len(), 1, "held until flushed");
    emulator.flush_deliveries();
    let events = received.wait_for(4).await;
    let stamps: Vec<&str> = events[1..]
        .iter()
        .map(|e| e["timestamp"].as_str().unwrap())
        .collect();
    let mut sorted = stamps.clone();
    sorted.sort_unstable();
    sorted.reverse();
    assert_eq!(stamps, sorted, "newest first");

    emulator.set_delivery_mode(DeliveryMode {
        delay_ms: 400,
        ..DeliveryMode::default()
    });
    let started = Instant::now();
    emulator
        .update_page_as_person(id, json!({"Stage": {"status": {"name": "lost"}}}))
        .unwrap();
    received.wait_for(5).await;
    assert!(started.elapsed() >= Duration::from_millis(400));
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_rising_attempt_numbers() {
    let emulator = Emulator::start(0, DEFAULT_TOKEN).await.unwrap();
    let ws = emulator.seed_crm(StageKind::Status);
    let status = ok_status();
    let (url, received) = receiver(status.clone()).await;
    emulator.subscribe(&url).await;
    *status.lock().unwrap() = 500;
    emulator
        .create_page_as_person(
            json!({"Deal Name": title("Acme")}),
            &ws.deals_data_source_id,
        )
        .unwrap();
    let events = received.wait_for(2).await;
    *status.lock().unwrap() = 200;
    let events = received.wait_for(events.len() + 1).await;
    let attempts: Vec<u64> = events
        .iter()
        .map(|e| e["attempt_number"].as_u64().unwrap())
        .collect();
    assert_eq!(attempts[..3], [1, 2, 3]);
    assert!(emulator.deliveries_idle(Duration::from_secs(10)).await);

    let log = emulator.deliveries();
    assert!(log.iter().any(|d| d.status == Some(500)));
    assert_eq!(log.last().unwrap().status, Some(200));
    assert_eq!(
        received.events().len(),
        log.len(),
        "no delivery after the first 200"
    );
}

/// A subscription on 2022-06-28 names a page's database only; merging folds a page's
/// changes within the window into one event with every property and author.
#[tokio::test]
async fn older_versions_and_merged_events_are_shaped_like_notions() {
    let emulator = Emulator::start(0, DEFAULT_TOKEN).await.unwrap();
    let ws = emulator.seed_crm(StageKind::Status);
    let (url, received) = receiver(ok_status()).await;
    emulator.subscribe_with_version(&url, "2022-06-28").await;
    emulator.set_delivery_mode(DeliveryMode {
        aggregate_ms: 300,
        ..DeliveryMode::default()
    });
    let deal = emulator
        .create_page_as_person(
            json!({"Deal Name": title("Acme")}),
            &ws.deals_data_source_id,
        )
        .unwrap();
    let deal_id = deal["id"].as_str().unwrap();
    for stage in ["negotiation", "won", "lost"] {
        emulator
            .update_page_as_person(deal_id, json!({"Stage": {"status": {"name": stage}}}))
            .unwrap();
    }
    let api = Api::new(&emulator);
    api.ok(
        "PATCH",
        &format!("/v1/pages/{deal_id}"),
        Some(json!({"properties": {"Value": {"number": 7}}})),
    )
    .await;
    received.wait_for(2).await;
    assert!(emulator.deliveries_idle(Duration::from_secs(10)).await);

    let events = received.events();
    assert_eq!(
        events.len(),
        2,
        "created, then one merged update: {events:?}"
    );
    let created = &events[0];
    assert_eq!(created["api_version"], "2022-06-28");
    assert_eq!(
        created["data"]["parent"],
        json!({"id": ws.deals_database_id, "type": "database"})
    );
    let merged = &events[1];
    assert_eq!(merged["type"], "page.properties_updated");
    assert_eq!(
        merged["data"]["updated_properties"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let authors: Vec<&str> = merged["authors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["type"].as_str().unwrap())
        .collect();
    assert_eq!(authors, ["person", "bot"]);
}
