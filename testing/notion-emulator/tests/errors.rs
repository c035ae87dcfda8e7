//! Every error the emulator answers, in Notion's error body.

mod common;

use common::{Api, VERSION, assert_error, title};
use crm_notion_emulator::{DEFAULT_TOKEN, Emulator, FaultAction, FaultRule, RateLimit, StageKind};
use serde_json::json;

#[tokio::test]
async fn authentication_version_and_url_errors() {
    let emulator = Emulator::start(0, DEFAULT_TOKEN).await.unwrap();
    let ws = emulator.seed_crm(StageKind::Status);
    let api = Api::new(&emulator);
    let path = format!("/v1/data_sources/{}", ws.contacts_data_source_id);

    let (s, b) = api.raw("GET", &path, None, None, Some(VERSION)).await;
    assert_error(s, &b, 401, "unauthorized");
    let (s, b) = api
        .raw("GET", &path, None, Some("ntn_wrong"), Some(VERSION))
        .await;
    assert_error(s, &b, 401, "unauthorized");
    let (s, b) = api.raw("GET", &path, None, Some(DEFAULT_TOKEN), None).await;
    assert_error(s, &b, 400, "missing_version");
    let (s, b) = api
        .raw("GET", &path, None, Some(DEFAULT_TOKEN), Some("2022-06-28"))
        .await;
    assert_error(s, &b, 400, "invalid_request_url");
    let (s, b) = api.call("GET", "/v1/no_such_endpoint", None).await;
    assert_error(s, &b, 400, "invalid_request_url");
    let (s, b) = api.call("DELETE", &path, None).await;
    assert_error(s, &b, 400, "invalid_request_url");
}

#[tokio::test]
async fn unknown_and_malformed_ids() {
    let emulator = Emulator::start(0, DEFAULT_TOKEN).await.unwrap();
    emulator.seed_crm(StageKind::Status);
    let api = Api::new(&emulator);
    let missing = "59833787-2cf9-4fdf-8782-e53db20768a5";
    for path in [
        format!("/v1/pages/{missing}"),
        format!("/v1/data_sources/{missing}"),
        format!("/v1/databases/{missing}"),
    ] {
        let (s, b) = api.call("GET", &path, None).await;
        assert_error(s, &b, 404, "object_not_found");
    }
    let (s, b) = api.query(missing, json!({})).await;
    assert_error(s, &b, 404, "object_not_found");
    let (s, b) = api
        .call(
            "POST",
            "/v1/pages",
            Some(json!({"parent": {"data_source_id": missing}, "properties": {}})),
        )
        .await;
    assert_error(s, &b, 404, "object_not_found");
    let (s, b) = api.call("GET", "/v1/pages/not-an-id", None).await;
    assert_error(s, &b, 400, "validation_error");
}

#[tokio::test]
async fn bad_bodies_are_validation_errors() {
    let emulator = Emulator::start(0, DEFAULT_TOKEN).await.unwrap();
    let ws = emulator.seed_crm(StageKind::Status);
    let api = Api::new(&emulator);
    let ds = &ws.contacts_data_source_id;

    let resp = api
        .http
        .post(format!("{}/v1/pages", api.base))
        .bearer_auth(DEFAULT_TOKEN)
        .header("Notion-Version", VERSION)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_error(status, &body, 400, "invalid_json");

    let create = |props: serde_json::Value| json!({"parent": {"type": "data_source_id", "data_source_id": ds}, "properties": props});
    let cases = [
        json!({"Shoe Size": {"number": 44}}),
        json!({"Email": {"rich_text": []}}),
        json!({"Email": {"type": "url", "email": "a@b.c"}}),
        json!({"Email": {"email": "x".repeat(201)}}),
        json!({"Notes": {"rich_text": [{"text": {"content": "y".repeat(2001)}}]}}),
        json!({"Notes": {"rich_text": (0..101).map(|_| json!({"text": {"content": "z"}})).collect::<Vec<_>>()}}),
        json!({"Last Contacted": {"date": {"start": "yesterday-ish"}}}),
        json!({"Status": {"select": {"name": "a,b"}}}),
        json!({"Name": {"title": [{"text": {}}]}}),
    ];
    for props in cases {
        let (s, b) = api
            .call("POST", "/v1/pages", Some(create(props.clone())))
            .await;
        assert_error(s, &b, 400, "validation_error");
        let _ = props;
    }
    assert!(emulator.pages(ds).is_empty(), "no invalid write was stored");

    // Status options must exist (selects grow, statuses do not).
    let deals = &ws.deals_data_source_id;
    let (s, b) = api
        .call("POST", "/v1/pages", Some(json!({"parent": {"data_source_id": deals}, "properties": {"Stage": {"status": {"name": "maybe"}}}})))
        .await;
    assert_error(s, &b, 400, "validation_error");

    for body in [
        json!({"page_size": 101}),
        json!({"page_size": 0}),
        json!({"filter": {"property": "Nope", "email": {"equals": "x"}}}),
        json!({"filter": {"property": "Email", "rich_text": {"equals": "x"}}}),
        json!({"filter": {"property": "Email", "email": {"sounds_like": "x"}}}),
        json!({"filter": {"and": [{"or": [{"and": [{"property": "Email", "email": {"is_empty": true}}]}]}]}}),
        json!({"sorts": [{"property": "Email", "direction": "sideways"}]}),
        json!({"start_cursor": "59833787-2cf9-4fdf-8782-e53db20768a5"}),
    ] {
        let (s, b) = api.query(ds, body.clone()).await;
        assert_error(s, &b, 400, "validation_error");
    }
}

#[tokio::test]
async fn injected_faults_answer_with_notions_codes() {
    let emulator = Emulator::start(0, DEFAULT_TOKEN).await.unwrap();
    let ws = emulator.seed_crm(StageKind::Status);
    let api = Api::new(&emulator);
    let path = format!("/v1/data_sources/{}", ws.contacts_data_source_id);
    for (status, code) in [
        (409, "conflict_error"),
        (500, "internal_server_error"),
        (502, "bad_gateway"),
        (503, "service_unavailable"),
        (504, "gateway_timeout"),
        (529, "service_overload"),
    ] {
        emulator.inject(FaultRule::status(Some("GET"), "/v1/data_sources/*", status).times(1));
        let (s, b) = api.call("GET", &path, None).await;
        assert_error(s, &b, status, code);
        assert_eq!(
            api.call("GET", &path, None).await.0,
            200,
            "times(1) applied once"
        );
    }

    // Faults can also be set over HTTP, as a non-Rust client would.
    let rule = json!({"method": "GET", "path": "/v1/data_sources/*", "action": {"kind": "status", "status": 429, "retry_after": 7}, "times": 1});
    let admin = api
        .http
        .post(format!("{}/__admin/faults", api.base))
        .json(&rule)
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status().as_u16(), 204);
    let resp = api
        .http
        .get(format!("{}{path}", api.base))
        .bearer_auth(DEFAULT_TOKEN)
        .header("Notion-Version", VERSION)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    assert_eq!(body["additional_data"]["retry_after"], 7);

    // 503 after commit: the page exists and its id is in the error.
    emulator.inject(FaultRule::new(Some("POST"), "/v1/pages", FaultAction::CommitThen503).times(1));
    let (s, b) = api
        .call("POST", "/v1/pages", Some(json!({"parent": {"data_source_id": ws.contacts_data_source_id}, "properties": {"Name": title("Ann")}})))
        .await;
    assert_error(s, &b, 503, "service_unavailable");
    let committed = b["additional_data"]["committed_resource_id"]
        .as_str()
        .unwrap();
    let page = api.ok("GET", &format!("/v1/pages/{committed}"), None).await;
    assert_eq!(page["properties"]["Name"]["title"][0]["plain_text"], "Ann");

    // Notion's own rate limit.
    emulator.set_rate_limit(Some(RateLimit::Bucket {
        per_second: 1.0,
        burst: 2,
    }));
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(api.call("GET", &path, None).await.0);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        3,
        "{statuses:?}"
    );

    // The log counts every request, the refused ones included.
    let log = emulator.requests();
    assert!(log.iter().any(|r| r.status == 429 && r.method == "GET"));
    assert!(log.iter().any(|r| r.status == 503 && r.path == "/v1/pages"));
}

/// Parameters Notion no longer takes are refused, so no client comes to rely on them:
/// `in_trash` in a data source query (trashed pages are never returned), and `archived`
/// on API 2026-03-11, which removed it in favour of `in_trash` — older versions still
/// take it.
#[tokio::test]
async fn removed_parameters_are_refused() {
    let emulator = Emulator::start(0, DEFAULT_TOKEN).await.unwrap();
    let ws = emulator.seed_crm(StageKind::Status);
    let api = Api::new(&emulator);
    let (s, b) = api
        .query(&ws.contacts_data_source_id, json!({"in_trash": true}))
        .await;
    assert_error(s, &b, 400, "validation_error");
    let page = api
        .ok(
            "POST",
            "/v1/pages",
            Some(
                json!({"parent": {"data_source_id": ws.contacts_data_source_id},
                        "properties": {"Name": title("Ann")}}),
            ),
        )
        .await;
    let path = format!("/v1/pages/{}", page["id"].as_str().unwrap());
    let (s, b) = api
        .call("PATCH", &path, Some(json!({"archived": true})))
        .await;
    assert_error(s, &b, 400, "validation_error");
    let (s, b) = api
        .raw(
            "PATCH",
            &path,
            Some(json!({"archived": true})),
            Some(DEFAULT_TOKEN),
            Some("2025-09-03"),
        )
        .await;
    assert_eq!((s, &b["in_trash"]), (200, &json!(true)), "{b}");
}
