//! Today's Notion limits: the per-connection budget per 60-second window, the
//! workspace's limit shared by every connection, a `rate_limit_reason` no client has
//! seen, and the Free workspace block limit.

mod common;

use common::{Api, VERSION, assert_error, title};
use crm_notion_emulator::{
    BlockLimit, BlockRefusal, DEFAULT_TOKEN, Emulator, RateLimit, StageKind, TokenKind,
};
use serde_json::{Value, json};

const OTHER: &str = "ntn_other_connection";

#[tokio::test]
async fn a_connections_budget_is_spent_in_a_burst_and_refused_to_the_windows_reset() {
    let emulator = Emulator::start(0, DEFAULT_TOKEN).await.unwrap();
    let ws = emulator.seed_crm(StageKind::Status);
    emulator.add_token(OTHER, TokenKind::Internal);
    emulator.set_rate_limit(Some(RateLimit::per_minute(20)));
    let api = Api::new(&emulator);
    let path = format!("/v1/data_sources/{}", ws.contacts_data_source_id);
    for i in 0..20 {
        assert_eq!(
            api.get_as(&path, &[], DEFAULT_TOKEN).await.0,
            200,
            "request {i}"
        );
    }
    let (status, body, retry_after) = api.get_as(&path, &[], DEFAULT_TOKEN).await;
    assert_eq!(status, 429);
    assert_eq!(body["code"], "rate_limited");
    let wait: u64 = retry_after.unwrap().parse().unwrap();
    assert!((59..=60).contains(&wait), "to the window's reset: {wait}");
    assert_eq!(body["additional_data"]["retry_after"], wait);
    assert_eq!(
        body["additional_data"]["rate_limit_reason"],
        "public_api_request_rate_limit"
    );
    // Each connection has a budget of its own; a rotated token is the same connection.
    assert_eq!(api.get_as(&path, &[], OTHER).await.0, 200);
    emulator.set_token("ntn_rotated");
    assert_eq!(api.get_as(&path, &[], "ntn_rotated").await.0, 429);
    // A token of no connection is refused as unauthorized, not counted.
    assert_eq!(api.get_as(&path, &[], "ntn_stranger").await.0, 401);
}

#[tokio::test]
async fn the_workspace_limit_is_shared_by_every_connection_and_may_ask_for_more_than_a_minute() {
    let emulator = Emulator::start(0, DEFAULT_TOKEN).await.unwrap();
    let ws = emulator.seed_crm(StageKind::Status);
    emulator.add_token(OTHER, TokenKind::Internal);
    emulator.set_rate_limit(Some(RateLimit::per_minute(100)));
    emulator.set_workspace_limit(Some(RateLimit::Budget {
        requests: 6,
        seconds: 120.0,
        aligned: false,
    }));
    let api = Api::new(&emulator);
    let path = format!("/v1/data_sources/{}", ws.contacts_data_source_id);
    for token in [DEFAULT_TOKEN, OTHER, DEFAULT_TOKEN, OTHER, OTHER, OTHER] {
        assert_eq!(api.get_as(&path, &[], token).await.0, 200);
    }
    for token in [DEFAULT_TOKEN, OTHER] {
        let (status, body, retry_after) = api.get_as(&path, &[], token).await;
        assert_eq!(status, 429);
        assert_eq!(
            body["additional_data"]["rate_limit_reason"],
            "public_api_space_request_rate_limit"
        );
        let wait: u64 = retry_after.unwrap().parse().unwrap();
        assert!(wait > 60, "longer than a minute: {wait}");
    }
}

#[tokio::test]
async fn a_reason_no_client_has_seen() {
    let emulator = Emulator::start(0, DEFAULT_TOKEN).await.unwrap();
    let ws = emulator.seed_crm(StageKind::Status);
    emulator.set_rate_limit(Some(RateLimit::per_minute(1)));
    emulator.set_rate_limit_reason(Some("public_api_lunar_phase_limit"));
    let api = Api::new(&emulator);
    let path = format!("/v1/data_sources/{}", ws.contacts_data_source_id);
    assert_eq!(api.get_as(&path, &[], DEFAULT_TOKEN).await.0, 200);
    let (status, body, retry_after) = api.get_as(&path, &[], DEFAULT_TOKEN).await;
    assert_eq!(status, 429);
    assert!(retry_after.is_some());
    assert_eq!(
        body["additional_data"]["rate_limit_reason"],
        "public_api_lunar_phase_limit"
    );
}

fn contact(ds: &str, name: &str) -> Value {
    json!({"parent": {"data_source_id": ds}, "properties": {"Name": title(name)}})
}

#[tokio::test]
async fn past_the_block_limit_and_its_grace_creates_fail_and_reads_and_edits_go_on() {
    for refusal in [BlockRefusal::Documented, BlockRefusal::Bare] {
        let emulator = Emulator::start(0, DEFAULT_TOKEN).await.unwrap();
        let ws = emulator.seed_crm(StageKind::Status);
        emulator.add_token(OTHER, TokenKind::Personal);
        let ds = ws.contacts_data_source_id.clone();
        let api = Api::new(&emulator);
        let used = emulator.blocks_used();
        // Two blocks left, and Notion's three days of grace.
        emulator.set_block_limit(Some(BlockLimit {
            grace_seconds: 3.0 * 86_400.0,
            ..BlockLimit::free(used + 2, refusal)
        }));
        let first = api.ok("POST", "/v1/pages", Some(contact(&ds, "A"))).await;
        // The write that reaches the limit succeeds and starts the grace, during which
        // creates still go through.
        api.ok("POST", "/v1/pages", Some(contact(&ds, "B"))).await;
        api.ok("POST", "/v1/pages", Some(contact(&ds, "C"))).await;
        // Three days later.
        emulator.end_block_grace();
        let (s, b) = api.call("POST", "/v1/pages", Some(contact(&ds, "D"))).await;
        assert_error(s, &b, 403, "restricted_resource");
        match refusal {
            BlockRefusal::Documented => {
                assert!(b["additional_data"]["block_limit"].is_object(), "{b}")
            }
            BlockRefusal::Bare => assert!(b.get("additional_data").is_none(), "{b}"),
        }
        // Reads and edits that make no block are answered.
        let page = format!("/v1/pages/{}", first["id"].as_str().unwrap());
        api.ok("GET", &page, None).await;
        api.ok(
            "PATCH",
            &page,
            Some(json!({"properties": {"Name": title("A2")}})),
        )
        .await;
        let (s, _) = api.query(&ds, json!({})).await;
        assert_eq!(s, 200);
        // A personal access token is not held to the limit.
        let (s, b) = api
            .raw(
                "POST",
                "/v1/pages",
                Some(contact(&ds, "E")),
                Some(OTHER),
                Some(VERSION),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        // An upgrade lifts it.
        emulator.set_block_limit(None);
        api.ok("POST", "/v1/pages", Some(contact(&ds, "F"))).await;
    }
}

#[tokio::test]
async fn one_member_has_no_block_limit_and_the_switch_is_reachable_over_http() {
    let emulator = Emulator::start(0, DEFAULT_TOKEN).await.unwrap();
    let ws = emulator.seed_crm(StageKind::Status);
    let api = Api::new(&emulator);
    let ds = ws.contacts_data_source_id.clone();
    let set = |body: Value| {
        let http = api.http.clone();
        let url = format!("{}/__admin/block_limit", api.base);
        async move {
            http.post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let used = emulator.blocks_used();
    assert_eq!(
        set(json!({"limit": used, "members": 1, "grace_seconds": 0})).await,
        204
    );
    api.ok("POST", "/v1/pages", Some(contact(&ds, "alone")))
        .await;
    // Three members: the grace begins as the limit is set (the workspace is at it), and
    // ends over HTTP.
    assert_eq!(set(json!({"limit": used + 1, "members": 3})).await, 204);
    api.ok("POST", "/v1/pages", Some(contact(&ds, "in grace")))
        .await;
    let ended = api
        .http
        .post(format!("{}/__admin/block_limit/end_grace", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status().as_u16(), 204);
    let (s, b) = api
        .call("POST", "/v1/pages", Some(contact(&ds, "team")))
        .await;
    assert_error(s, &b, 403, "restricted_resource");
    let usage: Value = api
        .http
        .get(format!("{}/__admin/block_limit", api.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(usage["used"], used + 2);
}
