//! The client against the emulator: pagination, every retry rule, counted in the
//! emulator's request log.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use crm_notion::filter::{Choice, Condition, Text};
use crm_notion::{
    CreatePage, Filter, NotionClient, NotionConfig, NotionError, Pacing, PropertyValue,
    QueryRequest, RetryPolicy, UpdatePage,
};
use crm_notion_emulator::{
    BlockLimit, BlockRefusal, DEFAULT_TOKEN, Emulator, FaultAction, FaultRule, RateLimit,
    SeededWorkspace, StageKind,
};
use secrecy::SecretString;
use serde_json::json;
use tokio::time::Instant;

struct Setup {
    emulator: Emulator,
    ws: SeededWorkspace,
}

async fn setup() -> Setup {
    let emulator = Emulator::start(0, DEFAULT_TOKEN).await.unwrap();
    let ws = emulator.seed_crm(StageKind::Status);
    Setup { emulator, ws }
}

/// A client fast enough that tests measure retries, not pacing.
fn client(emulator: &Emulator) -> NotionClient {
    client_with(emulator, |_| {})
}

fn client_with(emulator: &Emulator, tweak: impl FnOnce(&mut NotionConfig)) -> NotionClient {
    let mut config = NotionConfig::new(emulator.base_url(), SecretString::from(DEFAULT_TOKEN));
    config.pacing = Pacing::Fixed { rate: 1000.0 };
    config.burst = 1000;
    config.retry = RetryPolicy {
        max_attempts: 5,
        max_refusals: u32::MAX,
        max_elapsed: Duration::from_secs(30),
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_secs(5),
    };
    tweak(&mut config);
    NotionClient::new(config).unwrap()
}

fn contact(ds: &str, name: &str, email: &str) -> CreatePage {
    CreatePage {
        data_source_id: ds.to_owned(),
        properties: BTreeMap::from([
            ("Name".to_owned(), PropertyValue::title(name)),
            ("Email".to_owned(), PropertyValue::email(email)),
            ("Status".to_owned(), PropertyValue::select("new lead")),
        ]),
    }
}

/// The contact most tests create.
fn ann(ws: &SeededWorkspace) -> CreatePage {
    contact(&ws.contacts_data_source_id, "Ann", "ann@example.com")
}

/// Requests logged for `method` on paths starting with `prefix`.
fn count(emulator: &Emulator, method: &str, prefix: &str) -> usize {
    emulator
        .requests()
        .iter()
        .filter(|r| r.method == method && r.path.starts_with(prefix))
        .count()
}

#[tokio::test]
async fn pagination_returns_all_250_rows_once() {
    let Setup { emulator, ws } = setup().await;
    let notion = client(&emulator);
    for i in 0..250 {
        notion
            .create_page(&contact(
                &ws.contacts_data_source_id,
                &format!("Lead {i}"),
                &format!("lead{i}@example.com"),
            ))
            .await
            .unwrap();
    }
    emulator.clear_requests();
    let request = QueryRequest {
        page_size: Some(100),
        ..QueryRequest::default()
    };
    let (pages, complete) = notion
        .query_all(&ws.contacts_data_source_id, &request)
        .await
        .unwrap();
    assert!(complete);
    assert_eq!(pages.len(), 250);
    let ids: HashSet<&str> = pages.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids.len(), 250, "no row twice");
    assert_eq!(
        count(&emulator, "POST", "/v1/data_sources"),
        3,
        "100 + 100 + 50"
    );
}

#[tokio::test]
async fn a_capped_query_is_reported_incomplete() {
    let Setup { emulator, ws } = setup().await;
    let notion = client(&emulator);
    for i in 0..12 {
        notion
            .create_page(&contact(
                &ws.contacts_data_source_id,
                &format!("L{i}"),
                &format!("l{i}@example.com"),
            ))
            .await
            .unwrap();
    }
    emulator.set_result_cap(10);
    let request = QueryRequest {
        page_size: Some(4),
        ..QueryRequest::default()
    };
    let (pages, complete) = notion
        .query_all(&ws.contacts_data_source_id, &request)
        .await
        .unwrap();
    assert_eq!(pages.len(), 10);
    assert!(!complete);
}

#[tokio::test]
async fn rate_limited_calls_wait_out_retry_after() {
    let Setup { emulator, ws } = setup().await;
    let notion = client(&emulator);
    emulator.inject(FaultRule::rate_limited(Some("POST"), "/v1/data_sources/*/query", 1).times(1));
    let started = Instant::now();
    notion
        .query_data_source(&ws.contacts_data_source_id, &QueryRequest::default())
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was honoured"
    );
    assert_eq!(count(&emulator, "POST", "/v1/data_sources"), 2);
    let statuses: Vec<u16> = emulator.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 200]);
}

/// A 429 says "later", not "no": refusals for the rate are retried past the attempts a
/// failing call gets, for as long as the call's time budget lasts, and no longer.
#[tokio::test]
async fn refusals_for_the_rate_are_bounded_by_time_not_by_attempts() {
    let Setup { emulator, ws } = setup().await;
    let notion = client_with(&emulator, |c| c.retry.max_attempts = 2);
    emulator.inject(FaultRule::rate_limited(None, "/v1/data_sources/*/query", 0).times(6));
    notion
        .query_data_source(&ws.contacts_data_source_id, &QueryRequest::default())
        .await
        .unwrap();
    let statuses: Vec<u16> = emulator.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 429, 429, 429, 429, 429, 200]);

    emulator.clear_requests();
    let notion = client_with(&emulator, |c| {
        c.retry.max_attempts = 2;
        c.retry.max_elapsed = Duration::from_secs(2);
    });
    emulator.inject(FaultRule::rate_limited(None, "/v1/data_sources/*/query", 1));
    let started = Instant::now();
    let err = notion
        .query_data_source(&ws.contacts_data_source_id, &QueryRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(429));
    assert!(err.is_retryable());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(emulator.requests().len() >= 2, "{:?}", emulator.requests());
}

#[tokio::test]
async fn a_rate_limited_create_is_retried_and_makes_one_page() {
    let Setup { emulator, ws } = setup().await;
    let notion = client(&emulator);
    emulator.inject(FaultRule::rate_limited(Some("POST"), "/v1/pages", 1).times(2));
    notion.create_page(&ann(&ws)).await.unwrap();
    assert_eq!(count(&emulator, "POST", "/v1/pages"), 3);
    assert_eq!(emulator.pages(&ws.contacts_data_source_id).len(), 1);
}

#[tokio::test]
async fn overload_529_is_retried_like_429_even_for_writes() {
    let Setup { emulator, ws } = setup().await;
    let notion = client(&emulator);
    emulator.inject(FaultRule::status(Some("POST"), "/v1/pages", 529).times(1));
    notion.create_page(&ann(&ws)).await.unwrap();
    assert_eq!(count(&emulator, "POST", "/v1/pages"), 2);
    assert_eq!(emulator.pages(&ws.contacts_data_source_id).len(), 1);
}

#[tokio::test]
async fn blocked_access_is_not_retried() {
    let Setup { emulator, ws } = setup().await;
    let notion = client(&emulator);
    emulator.inject(FaultRule::new(
        None,
        "*",
        FaultAction::Status {
            status: 429,
            retry_after: Some(1),
            rate_limit_reason: Some("public_api_request_blocked".into()),
        },
    ));
    let err = notion
        .query_data_source(&ws.contacts_data_source_id, &QueryRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(429));
    assert!(!err.is_retryable());
    assert_eq!(emulator.requests().len(), 1);
}

#[tokio::test]
async fn server_errors_are_retried_for_reads_only() {
    let Setup { emulator, ws } = setup().await;
    let notion = client(&emulator);
    let page = notion.create_page(&ann(&ws)).await.unwrap();
    for status in [500, 502, 503, 504] {
        emulator.clear_requests();
        emulator
            .inject(FaultRule::status(Some("POST"), "/v1/data_sources/*/query", status).times(2));
        notion
            .query_data_source(&ws.contacts_data_source_id, &QueryRequest::default())
            .await
            .unwrap_or_else(|e| panic!("query after {status}: {e}"));
        assert_eq!(
            emulator.requests().len(),
            3,
            "query retried through two {status}s"
        );

        emulator.clear_requests();
        emulator.inject(FaultRule::status(Some("GET"), "/v1/pages/*", status).times(1));
        notion.retrieve_page(&page.id, &[]).await.unwrap();
        assert_eq!(emulator.requests().len(), 2, "GET retried through {status}");

        emulator.clear_requests();
        emulator.inject(FaultRule::status(Some("POST"), "/v1/pages", status).times(1));
        let err = notion
            .create_page(&contact(
                &ws.contacts_data_source_id,
                "Bo",
                "bo@example.com",
            ))
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(status));
        assert!(
            err.is_retryable(),
            "the caller may retry after checking state"
        );
        assert_eq!(
            emulator.requests().len(),
            1,
            "a create is never repeated after {status}"
        );

        emulator.clear_requests();
        emulator.inject(FaultRule::status(Some("PATCH"), "/v1/pages/*", status).times(1));
        let update = UpdatePage {
            properties: BTreeMap::from([("Company".to_owned(), PropertyValue::rich_text("Acme"))]),
            in_trash: None,
        };
        notion.update_page(&page.id, &update).await.unwrap_err();
        assert_eq!(
            emulator.requests().len(),
            1,
            "an update is not repeated after {status}"
        );
    }
    assert_eq!(emulator.pages(&ws.contacts_data_source_id).len(), 1);
}

#[tokio::test]
async fn a_create_answered_503_after_commit_returns_the_committed_page_and_is_sent_once() {
    let Setup { emulator, ws } = setup().await;
    let notion = client(&emulator);
    emulator.inject(FaultRule::new(Some("POST"), "/v1/pages", FaultAction::CommitThen503).times(1));
    let page = notion.create_page(&ann(&ws)).await.unwrap();
    assert_eq!(
        page.property("Email")
            .and_then(PropertyValue::as_text)
            .as_deref(),
        Some("ann@example.com")
    );
    let log: Vec<(String, String, u16)> = emulator
        .requests()
        .into_iter()
        .map(|r| (r.method, r.path, r.status))
        .collect();
    assert_eq!(
        log,
        [
            ("POST".to_owned(), "/v1/pages".to_owned(), 503),
            ("GET".to_owned(), format!("/v1/pages/{}", page.id), 200),
        ]
    );
    assert_eq!(emulator.pages(&ws.contacts_data_source_id).len(), 1);
}

#[tokio::test]
async fn validation_errors_keep_notions_code_message_and_request_id() {
    let Setup { emulator, ws } = setup().await;
    let notion = client(&emulator);
    let mut bad = ann(&ws);
    bad.properties
        .insert("Shoe Size".into(), PropertyValue::number(44.0));
    let err = notion.create_page(&bad).await.unwrap_err();
    let NotionError::Api(api) = &err else {
        panic!("{err:?}");
    };
    assert_eq!((api.status, api.code.as_str()), (400, "validation_error"));
    assert!(api.message.contains("Shoe Size"), "{}", api.message);
    assert!(api.request_id.is_some());
    assert!(!err.is_retryable());
    assert_eq!(emulator.requests().len(), 1);
}

#[tokio::test]
async fn the_retry_budget_bounds_attempts() {
    let Setup { emulator, ws } = setup().await;
    let notion = client_with(&emulator, |c| c.retry.max_attempts = 3);
    emulator.inject(FaultRule::status(None, "/v1/data_sources/*/query", 503));
    let err = notion
        .query_data_source(&ws.contacts_data_source_id, &QueryRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert!(err.is_retryable());
    assert_eq!(emulator.requests().len(), 3);

    // A Retry-After longer than the time budget is not waited for at all.
    emulator.clear_faults();
    emulator.clear_requests();
    let notion = client_with(&emulator, |c| c.retry.max_elapsed = Duration::from_secs(2));
    emulator.inject(FaultRule::rate_limited(None, "*", 5));
    let started = Instant::now();
    let err = notion
        .query_data_source(&ws.contacts_data_source_id, &QueryRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(429));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(emulator.requests().len(), 1);
}

#[tokio::test]
async fn every_call_times_out_and_only_reads_retry_a_timeout() {
    let Setup { emulator, ws } = setup().await;
    let notion = client_with(&emulator, |c| {
        c.request_timeout = Duration::from_millis(300);
        c.retry.max_attempts = 2;
    });
    emulator.inject(FaultRule::new(None, "*", FaultAction::Latency { ms: 1500 }).times(2));
    let err = notion
        .query_data_source(&ws.contacts_data_source_id, &QueryRequest::default())
        .await
        .unwrap_err();
    assert!(matches!(err, NotionError::Timeout { .. }), "{err:?}");
    assert!(err.is_retryable());

    emulator.clear_faults();
    emulator.inject(FaultRule::new(None, "*", FaultAction::Latency { ms: 1500 }).times(1));
    let err = notion.create_page(&ann(&ws)).await.unwrap_err();
    assert!(matches!(err, NotionError::Timeout { .. }), "{err:?}");
    // The emulator logs a request when it arrives, so the count is final once the
    // client has given up: the query was sent twice, the create once.
    assert_eq!(count(&emulator, "POST", "/v1/data_sources"), 2);
    assert_eq!(count(&emulator, "POST", "/v1/pages"), 1);
}

#[tokio::test]
async fn a_refused_connection_is_an_error_that_may_be_retried() {
    let emulator = Emulator::start(0, DEFAULT_TOKEN).await.unwrap();
    let base = emulator.base_url();
    emulator.stop().await;
    let mut config = NotionConfig::new(base, SecretString::from(DEFAULT_TOKEN));
    config.retry.max_attempts = 2;
    config.retry.base_delay = Duration::from_millis(10);
    let notion = NotionClient::new(config).unwrap();
    let err = notion
        .retrieve_page("59833787-2cf9-4fdf-8782-e53db20768a5", &[])
        .await
        .unwrap_err();
    assert!(matches!(err, NotionError::Transport { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert!(!format!("{err:?}").contains(DEFAULT_TOKEN));
}

/// `n` one-row queries of `data_source` at once, and how each ended.
async fn query_at_once(
    notion: &NotionClient,
    data_source: &str,
    n: usize,
) -> Vec<Result<crm_notion::QueryResponse, NotionError>> {
    let calls = (0..n).map(|_| {
        let notion = notion.clone();
        let ds = data_source.to_owned();
        tokio::spawn(async move {
            let query = QueryRequest {
                page_size: Some(1),
                ..QueryRequest::default()
            };
            notion.query_data_source(&ds, &query).await
        })
    });
    let ended = futures::future::join_all(calls).await;
    ended.into_iter().map(|r| r.unwrap()).collect()
}

/// [`query_at_once`], where each must succeed.
async fn query_all_succeed(notion: &NotionClient, data_source: &str, n: usize) {
    for result in query_at_once(notion, data_source, n).await {
        result.unwrap();
    }
}

/// Many calls at once stay within a server's limit of `RATE` a second with a small
/// burst: none is refused. The pacing is the same at Notion's 3 a second (what
/// `make bench` drains a burst of leads at); a higher rate keeps this test short.
#[tokio::test]
async fn the_limiter_paces_concurrent_calls_under_the_servers_limit() {
    const RATE: f64 = 10.0;
    const CALLS: usize = 40;
    let Setup { emulator, ws } = setup().await;
    // The server's limit, with a little slack for scheduling jitter.
    emulator.set_rate_limit(Some(RateLimit::Bucket {
        per_second: RATE,
        burst: 5,
    }));
    let notion = client_with(&emulator, |c| {
        c.pacing = Pacing::Fixed { rate: RATE };
        c.burst = 3;
    });
    query_all_succeed(&notion, &ws.contacts_data_source_id, CALLS).await;
    let log = emulator.requests();
    assert_eq!(log.len(), CALLS, "no call needed a retry");
    assert!(log.iter().all(|r| r.status == 200));
    let mut at: Vec<u64> = log.iter().map(|r| r.at_ms).collect();
    at.sort_unstable();
    for (i, t) in at.iter().enumerate() {
        let in_second = at[i..].iter().take_while(|u| **u < t + 1000).count();
        assert!(
            in_second <= RATE as usize + 3,
            "{in_second} calls in the second from {t} ms"
        );
    }
    // After the burst of 3, one call every 1/RATE s.
    let least = ((CALLS - 3) as f64 / RATE * 1000.0) as u64 - 100;
    let took = at[CALLS - 1] - at[0];
    assert!(took >= least, "{CALLS} calls at {RATE}/s took {took} ms");
}

/// Against a server that counts in a strict one-second window, the burst costs a 429;
/// then every concurrent call waits out `Retry-After`, not only the refused one, and
/// the pace steps down so the rest go through.
#[tokio::test]
async fn a_429_pauses_every_concurrent_call_and_slows_the_pace() {
    const RATE: f64 = 10.0;
    const CALLS: usize = 40;
    let Setup { emulator, ws } = setup().await;
    emulator.set_rate_limit(Some(RateLimit::Window {
        requests: RATE as u32,
        seconds: 1.0,
    }));
    let notion = client_with(&emulator, |c| {
        c.pacing = Pacing::Fixed { rate: RATE };
        c.burst = 3;
    });
    query_all_succeed(&notion, &ws.contacts_data_source_id, CALLS).await;
    let log = emulator.requests();
    let refused: Vec<u64> = log
        .iter()
        .filter(|r| r.status == 429)
        .map(|r| r.at_ms)
        .collect();
    assert!(
        !refused.is_empty(),
        "a burst then the full rate fits no strict window"
    );
    assert!(
        refused.len() <= 3,
        "{} refused: more than the calls in flight at the first",
        refused.len()
    );
    let first = refused[0];
    let during_pause: Vec<u64> = log
        .iter()
        .map(|r| r.at_ms)
        .filter(|t| *t > first + 50 && *t < first + 900)
        .collect();
    assert!(
        during_pause.is_empty(),
        "calls went out during the pause after the 429 at {first} ms: {during_pause:?}"
    );
    assert_eq!(log.len(), CALLS + refused.len());
}

/// Waiting for a slot counts against a call's time budget: with more calls queued than
/// the pace lets through in that time, the rest give up unsent — retryable, certainly
/// not carried out — instead of stretching past the budget the worker's timeout and
/// leases are built on.
#[tokio::test]
async fn a_call_that_cannot_get_a_slot_in_time_gives_up_unsent() {
    let Setup { emulator, ws } = setup().await;
    let notion = client_with(&emulator, |c| {
        c.pacing = Pacing::Fixed { rate: 2.0 };
        c.burst = 1;
        c.retry.max_elapsed = Duration::from_secs(1);
    });
    let started = std::time::Instant::now();
    let results = query_at_once(&notion, &ws.contacts_data_source_id, 6).await;
    let sent = results.iter().filter(|r| r.is_ok()).count();
    let paced: Vec<&NotionError> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    // Slots at 0, 0.5 and 1 s fit the one-second budget; the others do not.
    assert_eq!(sent, 3, "{results:?}");
    for err in &paced {
        assert!(matches!(err, NotionError::Paced { .. }), "{err:?}");
        assert!(err.is_retryable() && !err.may_have_committed());
    }
    assert_eq!(
        emulator.requests().len(),
        sent,
        "a paced call reached Notion"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn filters_sorts_and_filter_properties_reach_notion() {
    let Setup { emulator, ws } = setup().await;
    let notion = client(&emulator);
    for (name, email) in [("Ann", "ann@example.com"), ("Bo", "bo@example.com")] {
        notion
            .create_page(&contact(&ws.contacts_data_source_id, name, email))
            .await
            .unwrap();
    }
    let ds = notion
        .retrieve_data_source(&ws.contacts_data_source_id)
        .await
        .unwrap();
    let email_id = ds.properties["Email"].id.clone();
    let request = QueryRequest {
        filter: Some(Filter::and([
            Filter::property(
                "Email",
                Condition::Email(Text::Equals("bo@example.com".into())),
            ),
            Filter::property(
                "Status",
                Condition::Select(Choice::Equals("new lead".into())),
            ),
        ])),
        filter_properties: vec![email_id.clone()],
        ..QueryRequest::default()
    };
    let response = notion
        .query_data_source(&ws.contacts_data_source_id, &request)
        .await
        .unwrap();
    assert_eq!(response.results.len(), 1);
    let only = &response.results[0];
    assert_eq!(
        only.properties.len(),
        1,
        "only the requested property came back"
    );
    assert_eq!(
        only.property("Email")
            .and_then(PropertyValue::as_text)
            .as_deref(),
        Some("bo@example.com")
    );
    let fetched = notion.retrieve_page(&only.id, &[email_id]).await.unwrap();
    assert_eq!(fetched.properties.keys().collect::<Vec<_>>(), ["Email"]);
}

#[tokio::test]
async fn databases_are_created_and_read_back_through_their_data_source() {
    let Setup { emulator, ws } = setup().await;
    let notion = client(&emulator);
    let db = notion
        .create_database(&crm_notion::CreateDatabase {
            parent_page_id: ws.root_page_id.clone(),
            title: "Partners".into(),
            properties: BTreeMap::from([
                ("Name".to_owned(), json!({"title": {}})),
                (
                    "Tier".to_owned(),
                    json!({"select": {"options": [{"name": "gold"}]}}),
                ),
            ]),
        })
        .await
        .unwrap();
    assert_eq!(db.data_sources.len(), 1);
    let again = notion
        .retrieve_database(&db.id.replace('-', ""))
        .await
        .unwrap();
    assert_eq!(again.id, db.id);
    let ds = notion
        .retrieve_data_source(&db.data_sources[0].id)
        .await
        .unwrap();
    assert_eq!(ds.name(), "Partners");
    assert_eq!(ds.properties["Tier"].options()[0].name, "gold");
    assert_eq!(ds.properties["Name"].kind, "title");
}

#[tokio::test]
async fn long_text_is_split_not_rejected() {
    let Setup { emulator, ws } = setup().await;
    let notion = client(&emulator);
    let mut page = ann(&ws);
    let notes = "x".repeat(4_500);
    page.properties
        .insert("Notes".into(), PropertyValue::rich_text(&notes));
    let created = notion.create_page(&page).await.unwrap();
    let Some(PropertyValue::RichText { rich_text }) = created.property("Notes") else {
        panic!("notes");
    };
    assert_eq!(rich_text.len(), 3);
    assert_eq!(crm_notion::plain_text(rich_text), notes);
}

/// `GET /v1/users` in pages of 100: every person, with their email when the integration
/// may see it; refused (403, not retried) without user information capabilities.
#[tokio::test]
async fn every_user_is_listed_across_pages() {
    let s = setup().await;
    for i in 0..130 {
        s.emulator
            .add_person(&format!("Person {i}"), &format!("p{i}@example.com"));
    }
    let notion = client(&s.emulator);
    let users = notion.list_users().await.unwrap();
    let emails: HashSet<String> = users
        .iter()
        .filter_map(|u| u.person.as_ref()?.get("email")?.as_str().map(str::to_owned))
        .collect();
    assert!(
        (0..130).all(|i| emails.contains(&format!("p{i}@example.com"))),
        "{}",
        emails.len()
    );
    assert!(
        users.len() >= 131,
        "the bot and the seeded people too: {}",
        users.len()
    );
    assert_eq!(
        count(&s.emulator, "GET", "/v1/users"),
        users.len().div_ceil(100)
    );

    s.emulator
        .set_user_info(crm_notion_emulator::UserInfo::None);
    let refused = notion.list_users().await.unwrap_err();
    assert_eq!(refused.status(), Some(403), "{refused}");
}

/// Today's per-window budget: spent, Notion asks to wait until the window resets, which
/// can be a minute. A caller with a deadline of its own (a worker's item) waits the
/// pause out once, with every other call of the process, instead of failing after its
/// retry budget; one without fails in time, retryable.
#[tokio::test]
async fn a_long_pause_is_waited_out_once_within_the_callers_deadline() {
    let Setup { emulator, ws } = setup().await;
    emulator.set_rate_limit(Some(RateLimit::Budget {
        requests: 4,
        seconds: 3.0,
        aligned: false,
    }));
    let notion = client_with(&emulator, |c| {
        c.pacing = Pacing::Fixed { rate: 10.0 };
        c.burst = 10;
        c.retry.max_elapsed = Duration::from_millis(500);
    });
    let queries = |notion: NotionClient| {
        let ds = ws.contacts_data_source_id.clone();
        futures::future::join_all((0..8).map(move |_| {
            let (notion, ds) = (notion.clone(), ds.clone());
            async move {
                notion
                    .query_data_source(&ds, &QueryRequest::default())
                    .await
            }
        }))
    };
    let answers = queries(notion.until(Instant::now() + Duration::from_secs(10))).await;
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    let refused = emulator.answered(429);
    assert!(
        refused <= 4,
        "{refused} refusals: the pause was kept by every call"
    );

    // Without a deadline of its own, a call gives up within its retry budget, unsent,
    // and says the work can be done later; the pace it learned sends no request Notion
    // would refuse.
    emulator.clear_requests();
    // A fresh window for the same connection (the limit set again counts anew).
    emulator.set_rate_limit(Some(RateLimit::Budget {
        requests: 4,
        seconds: 3.0,
        aligned: false,
    }));
    let answers = queries(notion.clone()).await;
    let failed: Vec<_> = answers.iter().filter_map(|a| a.as_ref().err()).collect();
    assert!(!failed.is_empty(), "{answers:?}");
    assert!(failed.iter().all(|e| e.is_retryable()), "{failed:?}");
    assert!(emulator.requests().iter().all(|r| r.status == 200));
}

/// A create refused for the Free block limit is told apart from a refused token when
/// Notion says so (`additional_data.block_limit`): retryable, not a token to re-read,
/// its message naming the two fixes; sent once (a 403 is not retried in the call).
/// Without that field the refusal cannot be told from a missing capability.
#[tokio::test]
async fn a_create_refused_for_the_block_limit_is_told_apart_when_notion_says_so() {
    for (refusal, told) in [
        (BlockRefusal::Documented, true),
        (BlockRefusal::Bare, false),
    ] {
        let Setup { emulator, ws } = setup().await;
        let notion = client(&emulator);
        let used = emulator.blocks_used();
        emulator.set_block_limit(Some(BlockLimit::free(used, refusal)));
        emulator.clear_requests();
        let err = notion.create_page(&ann(&ws)).await.unwrap_err();
        assert_eq!(err.status(), Some(403));
        assert_eq!(err.is_block_limit(), told, "{refusal:?}");
        assert_eq!(err.is_retryable(), told, "{refusal:?}");
        assert_eq!(err.is_token_refused(), !told, "{refusal:?}");
        let shown = err.to_string();
        assert_eq!(shown.contains("personal access token"), told, "{shown}");
        assert_eq!(emulator.requests().len(), 1);
    }
}

/// A piece of work with a deadline (a worker's item) never starts a call after it: each
/// call has its own worst case, so one started late would carry the item past its time
/// (and its lease). A call started before the deadline runs its course; one after it
/// fails unsent, saying the work can be done later.
#[tokio::test]
async fn no_call_starts_after_the_works_deadline() {
    let Setup { emulator, ws } = setup().await;
    let started = Instant::now();
    let in_time = client(&emulator).until(started + Duration::from_secs(10));
    in_time
        .query_data_source(&ws.contacts_data_source_id, &QueryRequest::default())
        .await
        .unwrap();
    emulator.clear_requests();
    // The same work, its deadline passed (no waiting for it: a deadline already behind).
    let late = client(&emulator)
        .until(started)
        .query_data_source(&ws.contacts_data_source_id, &QueryRequest::default())
        .await;
    assert!(matches!(late, Err(NotionError::Paced { .. })), "{late:?}");
    assert!(emulator.requests().is_empty(), "nothing sent");
}
