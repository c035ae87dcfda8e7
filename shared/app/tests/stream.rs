//! The worker as its event source mapping feeds it: the table's real stream on
//! DynamoDB Local, through the filter `template.yaml` deploys.

mod common;

use std::time::Duration;

use common::Harness;
use common::stream::Stream;
use crm_domain::Clock;
use crm_store::InboxStatus;
use crm_store::prelude::*;
use serde_json::json;

/// An id accepted again after its done item's retention passed, but before TTL deleted
/// it, replaces the item: the stream says MODIFY, not INSERT, and it must still reach
/// the worker. Here: an own-form lead with no `submission_id` (its id is the body's
/// hash), the identical body 31 days later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_inbox_id_reaches_the_worker() {
    let h = Harness::dynamo().await;
    let mut stream = Stream::open(&h).await;
    let lead = json!({"email": "ann@example.com", "message": "Still interested?"});
    let (status, body) = h.post_lead(&lead).await;
    assert_eq!(status, 202, "{body}");
    let id = format!("lead:own:{}", body["submission_id"].as_str().unwrap());
    let batch = stream.next_batch().await;
    assert_eq!(batch.records.len(), 1);
    assert!(
        h.worker
            .handle_stream(batch, None)
            .await
            .batch_item_failures
            .is_empty()
    );
    assert_eq!(h.activities().len(), 1);
    assert_eq!(h.inbox(&id).await.status, InboxStatus::Done);

    h.clock.advance(Duration::from_secs(31 * 86_400));
    assert!(h.clock.now().as_secs() > 0);
    let (status, again) = h.post_lead(&lead).await;
    assert_eq!(
        (status, &again["submission_id"]),
        (202, &body["submission_id"])
    );
    let batch = stream.next_batch().await;
    let kinds: Vec<&str> = batch
        .records
        .iter()
        .map(|r| r.event_name.as_str())
        .collect();
    assert_eq!(kinds, ["MODIFY"], "the replaced item, and only it");
    assert!(
        h.worker
            .handle_stream(batch, None)
            .await
            .batch_item_failures
            .is_empty()
    );
    assert_eq!(
        h.activities().len(),
        2,
        "the second submission's message is logged"
    );
    assert_eq!(h.contacts().len(), 1);
    assert_eq!(h.inbox(&id).await.status, InboxStatus::Done);
    // The worker's own updates (done, failed) never come back through the filter.
    assert!(stream.next_batch().await.records.is_empty());
    assert!(h.store.inbox_list_open(10).await.unwrap().is_empty());
}
