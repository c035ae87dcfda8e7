//! Notion webhook → worker → Slack: one message per stage transition, whatever Notion,
//! the stream or the worker repeat, reorder or run at once.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::deals::Deals;
use crm_app::webhook::inbox_id;
use crm_domain::Clock;
use crm_domain::notion_signature;
use crm_notion_emulator::{DEFAULT_TOKEN, DeliveryMode};
use crm_settings::SecretsSource;
use crm_store::InboxStatus;
use crm_store::prelude::*;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

/// The handshake offers its token where the functions read it; Notion's first signed
/// event pins it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_handshake_offers_the_token_and_the_first_signed_event_pins_it() {
    let d = Deals::new().await;
    let token = d.subscribe().await;
    let offered = d.h.worker.secrets.source().fetch().await.unwrap();
    assert!(offered.notion_webhook_token.is_none());
    let offers: Vec<&str> = offered
        .notion_webhook_candidates
        .iter()
        .map(|t| t.expose_secret())
        .collect();
    assert_eq!(offers, [token.as_str()]);
    d.new_deal("First");
    d.delivered(1).await;
    let pinned = d.h.worker.secrets.source().fetch().await.unwrap();
    assert_eq!(pinned.notion_webhook_token.unwrap().expose_secret(), token);
    assert!(pinned.notion_webhook_candidates.is_empty());
    // A second handshake (a new subscription) never displaces the pinned token.
    d.h.emulator.subscribe(&d.url).await;
    let again = d.h.worker.secrets.source().fetch().await.unwrap();
    assert_eq!(again.notion_webhook_token.unwrap().expose_secret(), token);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_routed_transition_is_posted_once_with_the_deal_details() {
    let d = Deals::new().await;
    d.subscribe().await;
    let deal = d.new_deal("Acme renewal");
    d.delivered(1).await;
    assert!(d.drain().await.is_empty());
    assert!(d.slack.received().is_empty(), "lead is not routed");

    d.move_to(&deal, "negotiation");
    d.delivered(2).await;
    assert!(d.drain().await.is_empty());
    assert_eq!(d.texts("negotiation").len(), 1);
    assert!(
        d.texts("negotiation")[0]
            .starts_with("Lead → Negotiation: Acme renewal — $12,000 (Dana Lee)")
    );

    d.move_to(&deal, "won");
    d.delivered(3).await;
    assert!(d.drain().await.is_empty());
    let won = d.slack.to("won");
    assert_eq!(won.len(), 1);
    let text = won[0]["text"].as_str().unwrap();
    assert!(
        text.starts_with(
            "🎉 Negotiation → Won: Acme renewal — $12,000 (Dana Lee) https://www.notion.so/"
        ),
        "{text}"
    );
    let block = won[0]["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(
        block.contains("|Acme renewal>"),
        "the name links to the page: {block}"
    );

    // The stream delivering the same records again posts nothing more.
    let all: Vec<String> =
        d.h.emulator
            .deliveries()
            .iter()
            .filter(|x| !x.by_bot)
            .map(|x| inbox_id(&x.event_id))
            .collect();
    assert!(d.h.run_worker(&all).await.is_empty());
    assert_eq!(d.slack.received().len(), 2);
}

/// Notion sends property ids URL-encoded (`%3AUPp` for `:UPp`); read back with
/// `filter_properties`, each must be encoded once on the wire, or Notion answers 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn property_ids_with_escapes_are_encoded_once_on_the_wire() {
    let d = Deals::new().await;
    let ds = &d.h.ws.deals_data_source_id;
    // As JSON names them: Stage `:UPp`, Value `M;Bw`, Owner `%@Ge`.
    let ids = [
        ("Stage", "%3AUPp"),
        ("Value", "M%3BBw"),
        ("Owner", "%25%40Ge"),
    ];
    for (name, id) in ids {
        assert!(d.h.emulator.set_property_id(ds, name, id), "{name}");
    }
    d.subscribe().await;
    let deal = d.new_deal("Escaped ids");
    d.delivered(1).await;
    assert!(d.drain().await.is_empty());
    d.move_to(&deal, "won");
    d.delivered(2).await;
    assert!(
        d.drain().await.is_empty(),
        "{:?}",
        d.h.store.inbox_list_open(10).await
    );
    let won = d.texts("won");
    assert_eq!(won.len(), 1, "{won:?}");
    assert!(
        won[0].contains("Lead → Won: Escaped ids — $12,000 (Dana Lee)"),
        "{}",
        won[0]
    );
    let reads: Vec<_> =
        d.h.emulator
            .requests()
            .into_iter()
            .filter(|r| r.method == "GET" && r.path == format!("/v1/pages/{deal}"))
            .collect();
    assert!(!reads.is_empty());
    for read in &reads {
        assert_eq!(read.status, 200, "{read:?}");
        // One encoding: the JSON form is decoded, then encoded by the query encoder.
        for (_, id) in ids {
            assert!(
                read.query.contains(&format!("filter_properties={id}")),
                "{id} not single-encoded in {:?}",
                read.query
            );
        }
        for twice in ["%253A", "%253B", "%2525"] {
            assert!(!read.query.contains(twice), "{:?}", read.query);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn duplicates_redeliveries_and_reordering_never_double_post() {
    let d = Deals::new().await;
    d.subscribe().await;
    let deal = d.new_deal("Globex");
    d.delivered(1).await;
    d.drain().await;
    d.move_to(&deal, "negotiation");
    d.delivered(2).await;
    d.drain().await;

    d.h.emulator.set_delivery_mode(DeliveryMode {
        duplicate: true,
        ..DeliveryMode::default()
    });
    d.move_to(&deal, "won");
    d.delivered(4).await;
    let last = d.last_event();
    assert!(d.h.emulator.redeliver(&last));
    d.delivered(5).await;
    assert!(d.drain().await.is_empty());
    assert_eq!(d.texts("won").len(), 1, "one message for one transition");

    // Won → lost → won again quickly, delivered newest first: what is true now is
    // announced, older events are ignored.
    d.h.emulator.set_delivery_mode(DeliveryMode {
        reorder: true,
        ..DeliveryMode::default()
    });
    d.move_to(&deal, "lost");
    tokio::time::sleep(Duration::from_millis(5)).await;
    d.move_to(&deal, "negotiation");
    d.h.emulator.flush_deliveries();
    d.delivered(7).await;
    assert!(d.drain().await.is_empty());
    assert_eq!(
        d.texts("lost").len(),
        0,
        "a stage no longer true is not announced late"
    );
    assert_eq!(d.texts("negotiation").len(), 2);
    assert!(d.texts("negotiation")[1].starts_with("Won → Negotiation"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_events_for_one_transition_post_one_message() {
    let d = Deals::dynamo().await;
    let token = d.subscribe().await;
    let deal = d.new_deal("Initech");
    d.delivered(1).await;
    d.drain().await;
    d.move_to(&deal, "won");
    d.delivered(2).await;
    // Notion may send several events for one change (aggregation windows).
    d.copies_run_at_once(&token, 4).await;
    assert_eq!(d.texts("won").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_verified_and_unhandled_ones_acknowledged() {
    let d = Deals::new().await;
    let token = d.subscribe().await;
    let sign = |b: &str| notion_signature::sign(&token, b.as_bytes());
    let event = json!({
        "id": "0f9e8d7c-6b5a-4493-8271-605f4e3d2c1b", "timestamp": "2026-11-24T09:00:00.000Z",
        "type": "page.properties_updated", "authors": [{"id": "u1", "type": "person"}],
        "entity": {"id": "59833787-2cf9-4fdf-8782-e53db20768a5", "type": "page"},
        "data": {"parent": {"id": "x", "type": "database", "data_source_id": d.h.ws.deals_data_source_id}, "updated_properties": ["abc"]},
    })
    .to_string();
    assert_eq!(
        d.post(&event, "sha256=00").await,
        (401, json!({"error": "unauthorized"}))
    );
    assert_eq!(d.post(&event, "").await.0, 401);
    assert_eq!(d.post("{nope", &sign("{nope")).await.0, 400);
    let comment =
        json!({"id": "c1", "type": "comment.created", "entity": {"id": "e", "type": "comment"}})
            .to_string();
    assert_eq!(
        d.post(&comment, &sign(&comment)).await,
        (200, json!({"status": "ignored"}))
    );
    let contact_event = event.replace(
        &d.h.ws.deals_data_source_id,
        &d.h.ws.contacts_data_source_id,
    );
    assert_eq!(
        d.post(&contact_event, &sign(&contact_event)).await,
        (200, json!({"status": "ignored"}))
    );
    assert!(
        d.h.store.inbox_list_open(10).await.unwrap().is_empty(),
        "nothing stored so far"
    );
    assert_eq!(
        d.post(&event, &sign(&event)).await,
        (200, json!({"status": "accepted"}))
    );
    assert_eq!(
        d.post(&event, &sign(&event)).await,
        (200, json!({"status": "duplicate"}))
    );
    assert_eq!(d.h.store.inbox_list_open(10).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_outages_are_retried_and_post_once_recovered() {
    let d = Deals::new().await;
    d.subscribe().await;
    let deal = d.new_deal("Umbrella");
    d.delivered(1).await;
    d.drain().await;
    d.move_to(&deal, "won");
    d.delivered(2).await;
    // Rate limited through every attempt: certainly not posted, so retried later.
    d.slack.fail_next(3, 429, Some(0));
    let failures = d.drain().await;
    assert_eq!(failures.len(), 1, "kept for the stream to retry");
    let id = inbox_id(&d.last_event());
    let item = d.h.store.inbox_get(&id).await.unwrap().unwrap();
    assert_eq!(item.status, InboxStatus::Failed);
    assert!(item.last_error.unwrap().contains("429"));
    assert!(d.slack.received().is_empty());

    // Slack is back but rate limits once: waited out, then one message.
    d.slack.fail_next(1, 429, Some(1));
    assert!(d.h.run_worker(std::slice::from_ref(&id)).await.is_empty());
    assert_eq!(d.texts("won").len(), 1);
    assert_eq!(
        d.h.store.inbox_get(&id).await.unwrap().unwrap().status,
        InboxStatus::Done
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_slack_webhook_parks_the_event_for_replay() {
    let d = Deals::with_webhooks(&["won", "negotiation"]).await;
    d.subscribe().await;
    let deal = d.new_deal("Hooli");
    d.delivered(1).await;
    d.drain().await;
    d.move_to(&deal, "lost");
    d.delivered(2).await;
    assert!(
        d.drain().await.is_empty(),
        "a configuration problem does not block the stream"
    );
    let id = inbox_id(&d.last_event());
    let item = d.h.store.inbox_get(&id).await.unwrap().unwrap();
    assert_eq!(item.status, InboxStatus::Parked);
    let reason = item.last_error.unwrap();
    assert!(
        reason.contains("\"lost\"") && reason.contains("slack_webhooks"),
        "{reason}"
    );
    assert!(
        d.h.store
            .inbox_list_open(10)
            .await
            .unwrap()
            .iter()
            .any(|i| i.id == id)
    );
    assert!(d.slack.received().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notion_outage_while_reading_the_deal_is_retried_then_posts_once() {
    let d = Deals::new().await;
    d.subscribe().await;
    let deal = d.new_deal("Stark");
    d.delivered(1).await;
    d.drain().await;
    d.move_to(&deal, "won");
    d.delivered(2).await;
    d.h.emulator.inject(crm_notion_emulator::FaultRule::status(
        Some("GET"),
        "/v1/pages/*",
        503,
    ));
    assert_eq!(d.drain().await.len(), 1, "reported for the stream to retry");
    let id = inbox_id(&d.last_event());
    let item = d.h.store.inbox_get(&id).await.unwrap().unwrap();
    assert_eq!(item.status, InboxStatus::Failed);
    assert!(item.last_error.unwrap().contains("503"));
    assert!(d.slack.received().is_empty());

    d.h.emulator.clear_faults();
    assert!(d.drain().await.is_empty());
    assert!(d.drain().await.is_empty(), "nothing left open");
    assert_eq!(d.texts("won").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_the_handshake_and_for_bad_requests_nothing_is_stored() {
    let d = Deals::new().await;
    let event = json!({"id": "e1", "type": "page.created", "entity": {"id": "p", "type": "page"},
                       "data": {"parent": {"data_source_id": d.h.ws.deals_data_source_id}}})
    .to_string();
    let sig = notion_signature::sign("any-token", event.as_bytes());
    assert_eq!(
        d.post(&event, &sig).await,
        (401, json!({"error": "unauthorized"})),
        "no token stored yet: fail closed"
    );
    let mut get = common::api_gateway_request("/", &[], b"", false);
    *get.method_mut() = lambda_http::http::Method::GET;
    assert_eq!(common::read(d.webhook.handle(get).await).0, 405);
    let huge = "x".repeat(300 * 1024);
    assert_eq!(d.post(&huge, &sig).await.0, 413);
    assert!(d.h.store.inbox_list_open(10).await.unwrap().is_empty());
}

/// Subscriptions created with API version 2022-06-28 send a page's parent as its
/// database only; both shapes, from Notion's reference, must give the same message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_both_api_versions_give_the_same_message() {
    let mut messages = Vec::new();
    for fixture in [
        "notion-event-2026-03-11.json",
        "notion-event-2022-06-28.json",
    ] {
        let d = Deals::new().await;
        let token = d.handshake().await;
        let deal = d.new_deal("Acme renewal");
        d.move_to(&deal, "won");
        let event = d.fixture_event(fixture, &deal, None).await;
        let (status, body) = d.post_event(&event, &token).await;
        assert_eq!(
            (status, &body["status"]),
            (200, &json!("accepted")),
            "{fixture}"
        );
        assert!(d.drain().await.is_empty(), "{fixture}");
        let won = d.texts("won");
        assert_eq!(won.len(), 1, "{fixture}: {won:?}");
        // The same words; only the page (and so its link) differs between runs.
        messages.push(won[0].split(" https://").next().unwrap().to_owned());
        let item = d.h.inbox(&inbox_id(event["id"].as_str().unwrap())).await;
        assert_eq!(item.status, InboxStatus::Done, "{fixture}");
    }
    assert!(messages[0].contains("Won: Acme renewal — $12,000 (Dana Lee)"));
    assert_eq!(messages[0], messages[1]);
}

/// The same through the emulator: a subscription on 2022-06-28, a person's stage change.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_subscription_on_an_older_api_version_still_announces() {
    let d = Deals::new().await;
    d.h.emulator
        .subscribe_with_version(&d.url, "2022-06-28")
        .await;
    let deal = d.new_deal("Hooli");
    d.delivered(1).await;
    assert!(d.drain().await.is_empty());
    d.move_to(&deal, "won");
    d.delivered(2).await;
    assert!(d.drain().await.is_empty());
    let won = d.texts("won");
    assert_eq!(won.len(), 1, "{won:?}");
    assert!(won[0].starts_with("🎉 Lead → Won: Hooli"), "{}", won[0]);
}

/// Events for another database are acknowledged (Notion pauses subscriptions that fail)
/// and dropped, with one warning per process naming the likely cause; the same for
/// an old API version.
#[tokio::test]
async fn events_for_another_database_are_acknowledged_and_named_once() {
    let (_guard, logs) = common::Logs::capture();
    let d = Deals::new().await;
    let token = d.handshake().await;
    let deal = d.new_deal("Acme renewal");
    d.move_to(&deal, "won");
    // Once the worker has read the Deals schema, the webhook knows Deals' database.
    let first = d
        .fixture_event("notion-event-2022-06-28.json", &deal, None)
        .await;
    d.post_event(&first, &token).await;
    assert!(d.drain().await.is_empty());
    let elsewhere = uuid::Uuid::new_v4().to_string();
    for _ in 0..3 {
        let event = d
            .fixture_event("notion-event-2022-06-28.json", &deal, Some(&elsewhere))
            .await;
        let (status, body) = d.post_event(&event, &token).await;
        assert_eq!((status, &body["status"]), (200, &json!("ignored")));
        let stored =
            d.h.store
                .inbox_get(&inbox_id(event["id"].as_str().unwrap()))
                .await
                .unwrap();
        assert!(stored.is_none(), "not stored");
    }
    assert_eq!(
        logs.lines_with("neither the Deals data source nor its database"),
        1,
        "{}",
        logs.text()
    );
    assert_eq!(
        logs.lines_with("sends events in an API version before 2025-09-03"),
        1,
        "{}",
        logs.text()
    );
    assert_eq!(d.texts("won").len(), 1);
}

/// A database id pasted where the data source id belongs is named, with the fix.
#[tokio::test]
async fn a_database_id_configured_as_the_data_source_is_named_with_its_fix() {
    let (_guard, logs) = common::Logs::capture();
    let d = Deals::new().await;
    let token = d.handshake().await;
    let mut settings = d.h.ports.settings.clone();
    settings.notion.deals = crm_domain::NotionId::parse(&d.h.ws.deals_database_id).unwrap();
    let misconfigured = crm_app::Ports::new(
        settings,
        d.h.store.clone(),
        Arc::clone(&d.h.ports.secrets),
        Arc::clone(&d.h.ports.clock),
    )
    .unwrap()
    .webhook();
    let deal = d.new_deal("Acme renewal");
    let event = d
        .fixture_event("notion-event-2026-03-11.json", &deal, None)
        .await;
    let body = event.to_string();
    let request = common::api_gateway_request(
        "/",
        &[
            ("content-type", "application/json".into()),
            (
                "x-notion-signature",
                notion_signature::sign(&token, body.as_bytes()),
            ),
        ],
        body.as_bytes(),
        false,
    );
    let (status, _) = common::read(misconfigured.handle(request).await);
    assert_eq!(status, 200);
    let line = format!("set it to {}", d.h.ws.deals_data_source_id);
    assert_eq!(logs.lines_with(&line), 1, "{}", logs.text());
}

/// Notion merges page events within a short window: a deal moved Negotiation → Won →
/// Lost inside it arrives as one event, and one message names where it ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn merged_events_announce_the_stage_the_deal_ends_in() {
    let d = Deals::new().await;
    d.subscribe().await;
    d.h.emulator.set_delivery_mode(DeliveryMode {
        aggregate_ms: 400,
        ..DeliveryMode::default()
    });
    let deal = d.new_deal("Globex");
    d.delivered(1).await;
    assert!(d.drain().await.is_empty());
    for stage in ["negotiation", "won", "lost"] {
        d.move_to(&deal, stage);
    }
    d.delivered(2).await;
    assert!(d.h.emulator.deliveries_idle(Duration::from_secs(10)).await);
    let people =
        d.h.emulator
            .deliveries()
            .iter()
            .filter(|x| !x.by_bot)
            .count();
    assert_eq!(people, 2, "one merged event");
    assert!(d.drain().await.is_empty());
    assert_eq!(d.texts("lost").len(), 1);
    assert!(
        d.texts("lost")[0].starts_with("Lead → Lost: Globex"),
        "{:?}",
        d.texts("lost")
    );
    assert!(d.texts("won").is_empty() && d.texts("negotiation").is_empty());
}

/// A merged event whose authors are a person and our own bot is a person's change too.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_merged_event_by_a_person_and_the_bot_is_processed() {
    let d = Deals::new().await;
    d.subscribe().await;
    d.h.emulator.set_delivery_mode(DeliveryMode {
        aggregate_ms: 400,
        ..DeliveryMode::default()
    });
    let deal = d.new_deal("Soylent");
    d.delivered(1).await;
    assert!(d.drain().await.is_empty());
    d.move_to(&deal, "negotiation");
    let bot =
        d.h.worker
            .notion
            .with_token(secrecy::SecretString::from(DEFAULT_TOKEN));
    bot.update_page(
        &deal,
        &crm_notion::UpdatePage {
            properties: [(
                "Value".to_owned(),
                crm_notion::PropertyValue::number(15000.0),
            )]
            .into(),
            in_trash: None,
        },
    )
    .await
    .unwrap();
    d.delivered(2).await;
    let item = d.h.store.inbox_list_open(10).await.unwrap().pop().unwrap();
    let event: Value = serde_json::from_str(&item.payload).unwrap();
    let mut kinds: Vec<&str> = event["authors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["type"].as_str().unwrap())
        .collect();
    // (The worker's own Stage Since edit after the first drain may be merged in too.)
    kinds.sort_unstable();
    kinds.dedup();
    assert_eq!(kinds, ["bot", "person"]);
    assert!(d.drain().await.is_empty());
    let posted = d.texts("negotiation");
    assert_eq!(posted.len(), 1);
    assert!(
        posted[0].starts_with("Lead → Negotiation: Soylent — $15,000"),
        "{posted:?}"
    );
}

/// Slack can post a message and still fail the answer (a 5xx, a timeout). Posting it
/// again could post it twice, so it is not posted again: the item is left failed with
/// a reason that says so, once; redeliveries and a replay never post it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slack_is_never_reposted_after_it_may_have_posted() {
    let d = Deals::new().await;
    d.subscribe().await;
    let deal = d.new_deal("Vandelay");
    d.delivered(1).await;
    d.drain().await;
    d.move_to(&deal, "won");
    d.delivered(2).await;
    d.slack.post_then_fail(500);
    assert!(d.drain().await.is_empty(), "not retried by the stream");
    assert_eq!(d.texts("won").len(), 1, "Slack has it once");
    let event = d.last_event();
    let item = d.h.inbox(&inbox_id(&event)).await;
    assert_eq!(item.status, InboxStatus::Parked);
    let reason = item.last_error.unwrap();
    assert!(reason.contains("may have been posted"), "{reason}");

    // Notion redelivers; a person replays: nothing is posted again.
    d.h.emulator.redeliver(&event);
    assert!(d.h.emulator.deliveries_idle(Duration::from_secs(10)).await);
    d.drain().await;
    let report = d.h.worker.replay(10).await.unwrap();
    assert!(report.failed.is_empty(), "{report:?}");
    assert_eq!(d.texts("won").len(), 1);

    // The same when the answer comes too late for the client.
    d.move_to(&deal, "lost");
    d.delivered(4).await;
    d.slack.post_then_delay(8_000);
    assert!(d.drain().await.is_empty());
    assert_eq!(d.texts("lost").len(), 1);
    assert!(d.h.worker.replay(10).await.unwrap().failed.is_empty());
    assert_eq!(d.texts("lost").len(), 1);
}

/// The handshake carries no proof that it comes from Notion, and the first token wins:
/// it is accepted only while the operator has the window open. And an event's time is
/// believed only up to a few minutes ahead, so a far-future one cannot make every real
/// change after it look older.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn anyone_cannot_plant_the_webhook_token() {
    let d = Deals::new().await;
    let start = d.h.clock.now();
    // The window the harness opened has closed.
    d.h.clock.advance(Duration::from_secs(11 * 60));
    let planted = json!({"verification_token": "secret_attacker"}).to_string();
    let request = common::api_gateway_request(
        "/",
        &[("content-type", "application/json".into())],
        planted.as_bytes(),
        false,
    );
    let (status, body) = common::read(d.webhook.handle(request).await);
    assert_eq!((status, &body["error"]), (403, &json!("handshake_closed")));
    let stored = d.h.worker.secrets.source().fetch().await.unwrap();
    assert!(stored.notion_webhook_token.is_none(), "nothing planted");

    // The operator opens the window; the next handshake is taken.
    d.h.clock.set(start);
    crm_app::webhook::open_handshake_window(&d.h.store, &d.h.clock, 10)
        .await
        .unwrap();
    let token = d.handshake().await;
    let stored = d.h.worker.secrets.source().fetch().await.unwrap();
    assert_eq!(
        stored.notion_webhook_candidates[0].expose_secret(),
        token,
        "offered"
    );

    // A signed event dated a year ahead...
    let deal = d.new_deal("Pendant");
    d.move_to(&deal, "negotiation");
    let iso = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let mut forged = d
        .fixture_event("notion-event-2026-03-11.json", &deal, None)
        .await;
    forged["timestamp"] = json!("2027-11-28T09:00:00.000Z");
    assert_eq!(d.post_event(&forged, &token).await.0, 200);
    assert!(d.drain().await.is_empty());
    // ...then a real change some minutes later: announced, not taken as older.
    d.h.clock.advance(Duration::from_secs(6 * 60));
    d.move_to(&deal, "won");
    let mut real = d
        .fixture_event("notion-event-2026-03-11.json", &deal, None)
        .await;
    real["timestamp"] = json!(iso(d.h.clock.now().as_millis()));
    assert_eq!(d.post_event(&real, &token).await.0, 200);
    assert!(d.drain().await.is_empty());
    assert_eq!(
        d.texts("won").len(),
        1,
        "the real change after it is announced"
    );
}

/// A stage change whose Notion read meets a pause longer than the item has left goes
/// back to the inbox until the pause ends — no stream retry spent, nothing posted yet —
/// and the redrive posts it then, once, whatever is delivered again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_change_notion_pauses_too_long_for_waits_in_the_inbox_and_is_posted_once() {
    let d = Deals::with_webhooks(&["won"]).await;
    d.subscribe().await;
    let acme = d.new_deal("Acme");
    d.delivered(1).await;
    assert!(d.drain().await.is_empty());
    d.move_to(&acme, "won");
    d.delivered(2).await;

    // A worker whose calls have half a second of their own, and half a second more of
    // the item's time to wait in; Notion asks for two seconds.
    let mut worker = d.h.ports.worker();
    let mut config = crm_app::runtime::notion_config(&d.h.ports.settings);
    config.pacing = crm_notion::Pacing::Fixed { rate: 500.0 };
    config.request_timeout = Duration::from_secs(2);
    config.retry = crm_testkit::fast_retry(4);
    config.retry.max_elapsed = Duration::from_millis(500);
    worker.notion = crm_notion::NotionClient::new(config).unwrap();
    worker.settings.item_budget = worker.notion.worst_call() + Duration::from_millis(500);
    d.h.emulator.inject(
        crm_notion_emulator::FaultRule::rate_limited(Some("GET"), "/v1/pages/*", 2).times(1),
    );
    let pending = d.h.pending_ids().await;
    assert_eq!(pending.len(), 1);
    let event = d.h.stream_event(&pending).await;
    let response = worker.handle_stream(event.clone(), None).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "no stream retry spent"
    );
    let item = d.h.inbox(&pending[0]).await;
    assert_eq!((item.status, item.attempts), (InboxStatus::Failed, 0));
    let until = item.not_before.expect("waits for the pause's end");
    assert!(d.texts("won").is_empty(), "nothing posted yet");

    // The pause ends (on the wall clock, as Notion's does); the redrive posts it once,
    // and a redelivery of the stream record posts nothing more.
    crm_testkit::eventually("Notion's pause over", Duration::from_secs(10), || async {
        worker.notion.paused_until().is_none().then_some(())
    })
    .await;
    d.h.clock.advance(until.since(d.h.clock.now()));
    d.h.redrive.run(None).await.unwrap();
    assert!(d.h.open_ids().await.is_empty());
    assert!(
        worker
            .handle_stream(event, None)
            .await
            .batch_item_failures
            .is_empty()
    );
    let won = d.texts("won");
    assert_eq!(won.len(), 1, "{won:?}");
    assert!(won[0].contains("Lead → Won: Acme"), "{}", won[0]);
}

/// Inside the window, someone who knows the URL posts a handshake first, and a page on
/// another site posts one as `text/plain` (no CORS preflight needed). Neither displaces
/// Notion's: every token offered is kept, events are checked against each, and the one
/// Notion's first signed event proves is pinned; the planted ones verify nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_token_planted_in_the_window_verifies_nothing() {
    let d = Deals::new().await;
    let handshake = |token: &str, content_type: &str| {
        let body = json!({"verification_token": token}).to_string();
        common::api_gateway_request(
            "/",
            &[("content-type", content_type.to_owned())],
            body.as_bytes(),
            false,
        )
    };
    let (status, _) = common::read(
        d.webhook
            .handle(handshake("secret_planted", "application/json"))
            .await,
    );
    assert_eq!(status, 200, "answered like any handshake");
    let (status, _) = common::read(
        d.webhook
            .handle(handshake("secret_cross_site", "text/plain"))
            .await,
    );
    assert!(
        status >= 400,
        "a handshake that is not JSON is refused: {status}"
    );

    // Notion's own handshake, then its signed deliveries: taken.
    let token = d.subscribe().await;
    let deal = d.new_deal("Planted");
    d.delivered(1).await;
    d.move_to(&deal, "negotiation");
    d.delivered(2).await;
    assert!(d.drain().await.is_empty());
    assert_eq!(d.texts("negotiation").len(), 1, "Notion's events are taken");

    // An event signed with the planted token is refused, and so is one with the other.
    let event = d
        .fixture_event("notion-event-2026-03-11.json", &deal, None)
        .await;
    assert_eq!(d.post_event(&event, "secret_planted").await.0, 401);
    assert_eq!(d.post_event(&event, "secret_cross_site").await.0, 401);
    assert_eq!(d.post_event(&event, &token).await.0, 200);
}

/// Each transition the worker applies is kept once with its time, and written to the
/// deal's `Stage Since`; the worker's own edit is not taken for a person's change.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_moved_deal_says_since_when_it_is_in_its_stage_and_each_move_is_kept_once() {
    use crm_app::deals::history;
    let d = Deals::new().await;
    d.subscribe().await;
    let deal = d.new_deal("Initech");
    d.delivered(1).await;
    assert!(d.drain().await.is_empty());
    let before = chrono::Utc::now();
    d.move_to(&deal, "proposal");
    d.delivered(2).await;
    assert!(d.drain().await.is_empty());
    let after = chrono::Utc::now();

    let kept = history::of(&d.h.store, &deal).await.unwrap();
    let moves: Vec<(Option<&str>, &str)> = kept
        .iter()
        .map(|t| (t.from.as_deref(), t.to.as_str()))
        .collect();
    assert_eq!(moves, [(None, "lead"), (Some("lead"), "proposal")]);
    let moved_at = kept[1].at();
    assert!(
        moved_at >= before - chrono::Duration::seconds(1) && moved_at <= after,
        "{moved_at}"
    );
    let since = |d: &Deals| {
        d.h.emulator
            .pages(&d.h.ws.deals_data_source_id)
            .into_iter()
            .find(|p| p["id"] == deal.as_str())
            .unwrap()["properties"]["Stage Since"]["date"]["start"]
            .as_str()
            .map(str::to_owned)
    };
    assert_eq!(since(&d).as_deref(), Some(kept[1].notion_date().as_str()));

    // The worker's edit reached the webhook as the bot's: nothing to do.
    assert!(d.h.emulator.deliveries_idle(Duration::from_secs(10)).await);
    assert!(d.h.emulator.deliveries().iter().any(|x| x.by_bot));
    assert!(
        d.h.open_ids().await.is_empty(),
        "the bot's edit was not kept"
    );

    // Redelivered, the move is kept once.
    assert!(d.h.emulator.redeliver(&d.last_event()));
    d.delivered(3).await;
    assert!(d.drain().await.is_empty());
    assert_eq!(history::of(&d.h.store, &deal).await.unwrap().len(), 2);
}

/// Without a `Stage Since` property (a schema from before it), deals still move and are
/// announced, and the moves are kept in the product's own records.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_a_stage_since_property_moves_are_announced_and_kept() {
    let d = Deals::new().await;
    assert!(
        d.h.emulator
            .remove_property(&d.h.ws.deals_data_source_id, "Stage Since")
    );
    d.subscribe().await;
    let deal = d.new_deal("Hooli");
    d.delivered(1).await;
    assert!(d.drain().await.is_empty());
    d.move_to(&deal, "negotiation");
    d.delivered(2).await;
    assert!(d.drain().await.is_empty());
    assert_eq!(d.texts("negotiation").len(), 1);
    let kept = crm_app::deals::history::of(&d.h.store, &deal)
        .await
        .unwrap();
    assert_eq!(kept.last().unwrap().to, "negotiation");
}

/// A Deals data source whose Value is in euros is announced in euros.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn amounts_are_announced_in_the_value_propertys_currency() {
    let d = Deals::new().await;
    assert!(d.h.emulator.set_property_config(
        &d.h.ws.deals_data_source_id,
        "Value",
        json!({"format": "euro"})
    ));
    d.subscribe().await;
    let deal = d.new_deal("Alpenglow");
    d.delivered(1).await;
    assert!(d.drain().await.is_empty());
    d.move_to(&deal, "negotiation");
    d.delivered(2).await;
    assert!(d.drain().await.is_empty());
    let posted = d.texts("negotiation");
    assert_eq!(posted.len(), 1);
    assert!(
        posted[0].starts_with("Lead → Negotiation: Alpenglow — €12,000 (Dana Lee)"),
        "{}",
        posted[0]
    );
}

/// `Stage Since` removed after the schema was read: Notion refuses the write (400), and
/// the move is still announced once and kept; the item is done, not failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stage_since_notion_refuses_does_not_hold_the_move_back() {
    let d = Deals::new().await;
    d.subscribe().await;
    let deal = d.new_deal("Pied Piper");
    d.delivered(1).await;
    assert!(d.drain().await.is_empty(), "the schema is read and cached");
    assert!(
        d.h.emulator
            .remove_property(&d.h.ws.deals_data_source_id, "Stage Since")
    );
    d.move_to(&deal, "won");
    d.delivered(2).await;
    assert!(d.drain().await.is_empty(), "done, not failed");
    assert_eq!(d.texts("won").len(), 1);
    let kept = crm_app::deals::history::of(&d.h.store, &deal)
        .await
        .unwrap();
    assert_eq!(kept.last().unwrap().to, "won");
    assert!(d.h.emulator.answered(400) >= 1, "Notion refused the write");
}
