//! The product under every way Notion has counted requests (README, "Set up Notion"):
//! the older average per second (a strict window, a bucket), today's budget per window
//! per connection (spendable in a burst, `Retry-After` to the reset), a workspace's budget
//! over every connection (a longer `Retry-After`), and a 429 with a reason no client has
//! seen. With the deployed settings (no rate set), a burst of new and repeat leads is
//! written once each, nothing is parked, and no record is handed back to the stream.
//! The windows are seconds long here, so the test waits them out on the wall clock.

mod common;

use std::collections::HashMap;

use common::{Harness, text};
use crm_app::intake::inbox_id;
use crm_notion_emulator::RateLimit;

const NEW: usize = 12;
const REPEATS: usize = 4;

async fn a_burst_of_leads_is_written_once_under(
    connection: RateLimit,
    workspace: Option<RateLimit>,
    reason: Option<&str>,
) {
    let h = Harness::new().await;
    let mut ids = Vec::new();
    for i in 0..NEW {
        let id = format!("b-{i}");
        h.accept(&id, &format!("b{i}@example.com")).await;
        ids.push(id);
    }
    // Repeats of the first few, in the same burst: each person's in order.
    for i in 0..REPEATS {
        let id = format!("again-{i}");
        h.accept(&id, &format!("b{i}@example.com")).await;
        ids.push(id);
    }
    h.emulator.set_rate_limit(Some(connection));
    h.emulator.set_workspace_limit(workspace);
    h.emulator.set_rate_limit_reason(reason);
    h.emulator.clear_requests();

    let worker = h.deployed_worker();
    let inbox: Vec<String> = ids
        .iter()
        .map(|id| inbox_id(&format!("own:{id}")))
        .collect();
    let response = worker
        .handle_stream(h.stream_event(&inbox).await, None)
        .await;
    h.all_done_at_first_try(&response, &inbox).await;
    let mut contacts: HashMap<String, usize> = HashMap::new();
    for page in h.contacts() {
        *contacts.entry(text(&page, "Email")).or_default() += 1;
    }
    assert_eq!(contacts.len(), NEW, "one contact per person");
    assert!(contacts.values().all(|n| *n == 1), "{contacts:?}");
    let per_lead = h.activities_per_submission(&ids);
    assert!(per_lead.iter().all(|n| *n == 1), "{per_lead:?}");
    assert!(
        h.emulator.answered(429) > 0,
        "the budget was reached: the test tests the pacing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_strict_average_per_second() {
    a_burst_of_leads_is_written_once_under(RateLimit::STRICT, None, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_bucket_that_allows_bursts() {
    let bucket = RateLimit::Bucket {
        per_second: 3.0,
        burst: 10,
    };
    a_burst_of_leads_is_written_once_under(bucket, None, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_budget_per_window() {
    let window = RateLimit::Budget {
        requests: 20,
        seconds: 4.0,
        aligned: false,
    };
    a_burst_of_leads_is_written_once_under(window, None, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_workspace_budget_with_a_longer_retry_after() {
    let connection = RateLimit::Budget {
        requests: 40,
        seconds: 4.0,
        aligned: false,
    };
    let workspace = RateLimit::Budget {
        requests: 25,
        seconds: 6.0,
        aligned: true,
    };
    a_burst_of_leads_is_written_once_under(connection, Some(workspace), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_429_with_a_reason_no_client_has_seen() {
    a_burst_of_leads_is_written_once_under(
        RateLimit::STRICT,
        None,
        Some("public_api_some_new_limit"),
    )
    .await;
}
