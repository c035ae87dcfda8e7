//! Draining the inbox at Notion's budget: items side by side, each person's in order,
//! and processes that share one budget backing off on each other. The times and rates
//! are measured by `make bench`; these tests assert what must hold whatever the timing.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::Harness;
use crm_app::inbox::keys;
use crm_app::intake::inbox_id;
use crm_app::worker::Worker;
use crm_domain::{Clock, ContactEmail};
use crm_notion::NotionClient;
use crm_notion_emulator::{FaultAction, FaultRule, RateLimit};
use crm_slack::receiver::SlackReceiver;
use crm_store::InboxStatus;
use crm_store::prelude::*;
use serde_json::json;

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| inbox_id(&format!("own:{prefix}-{i}")))
        .collect()
}

/// `known` contacts already in Notion, then `new` leads for other people accepted as
/// `<prefix>-<i>`.
async fn known_contacts_and_new_leads(h: &Harness, known: usize, prefix: &str, new: usize) {
    for i in 0..known {
        h.stale_contact(&format!("known{i}@example.com"));
    }
    for i in 0..new {
        h.accept(
            &format!("{prefix}-{i}"),
            &format!("{prefix}{i}@example.com"),
        )
        .await;
    }
}

/// Contacts by email: how many pages each address has.
fn contacts_per_email<S: Store + Clone>(h: &Harness<S>) -> HashMap<String, usize> {
    let mut per = HashMap::new();
    for page in h.contacts() {
        let email = page["properties"]["Email"]["email"]
            .as_str()
            .unwrap()
            .to_owned();
        *per.entry(email).or_default() += 1;
    }
    per
}

/// One stream batch of leads for different people: they are written side by side, so
/// Notion's latency does not add up lead after lead. One person's submissions in the
/// same batch are written one after another: one contact, every message logged, and
/// none sent back to wait for the contact's lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leads_for_different_people_are_written_side_by_side_and_one_persons_in_order() {
    let h = Harness::new().await;
    for i in 0..6 {
        h.accept(&format!("side-{i}"), &format!("p{i}@example.com"))
            .await;
    }
    for i in 0..3 {
        h.accept(&format!("same-{i}"), "ann@example.com").await;
    }
    h.emulator
        .inject(FaultRule::new(None, "*", FaultAction::Latency { ms: 150 }));
    h.emulator.clear_requests();
    let mut batch = ids("side", 6);
    batch.extend(ids("same", 3));
    assert!(h.run_worker(&batch).await.is_empty(), "no record failed");
    for id in &batch {
        assert_eq!(h.inbox(id).await.status, InboxStatus::Done, "{id}");
    }
    let per = contacts_per_email(&h);
    assert_eq!(per.len(), 7);
    assert!(per.values().all(|n| *n == 1), "{per:?}");
    assert_eq!(h.activities().len(), 9);
    let at_once = h.emulator.max_in_flight();
    assert!(
        at_once >= 4,
        "the worker had at most {at_once} calls in flight for seven people"
    );
}

/// A batch where one record cannot finish now: only that record is reported for
/// redelivery; the others, written side by side with it, are done and not reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_reports_only_the_record_that_failed() {
    let h = Harness::new().await;
    for i in 0..4 {
        h.accept(&format!("part-{i}"), &format!("part{i}@example.com"))
            .await;
    }
    // Another attempt holds the third person's contact.
    let held = keys::email(&ContactEmail::parse("part2@example.com").unwrap());
    h.store
        .take_lease(&held, "another-worker", Duration::from_secs(600))
        .await
        .unwrap();
    let batch = ids("part", 4);
    let event = h.stream_event(&batch).await;
    let sequence: Vec<String> = event
        .records
        .iter()
        .map(|r| r.change.sequence_number.clone().unwrap())
        .collect();
    let response = h.worker.handle_stream(event, None).await;
    let failed: Vec<String> = response
        .batch_item_failures
        .into_iter()
        .filter_map(|f| f.item_identifier)
        .collect();
    assert_eq!(failed, vec![sequence[2].clone()]);
    for (i, id) in batch.iter().enumerate() {
        let status = h.inbox(id).await.status;
        let expected = if i == 2 {
            InboxStatus::Failed
        } else {
            InboxStatus::Done
        };
        assert_eq!(status, expected, "{id}");
    }
}

/// Two worker processes and the digest, with no rate set, share one integration's
/// budget: each finds it and they tell each other through the table. Every lead is
/// written exactly once, the digest posts once, and 429s stay a small share of the
/// calls, whether the emulator counts in a strict one-second window or a budget per
/// window (`make bench` measures the combined rate).
async fn two_workers_and_the_digest_share(limit: RateLimit) {
    const LEADS: usize = 30;
    let slack = SlackReceiver::start(0, false).await.unwrap();
    let mut secret = common::default_secret();
    secret["slack_webhooks"] = json!({"digest": slack.url("digest")});
    let h = Harness::dynamo_with_secrets(secret).await;
    for i in 0..3 {
        h.stale_contact(&format!("old{i}@example.com"));
    }
    for i in 0..LEADS {
        h.accept(&format!("two-{i}"), &format!("two{i}@example.com"))
            .await;
    }
    h.emulator.set_rate_limit(Some(limit));
    h.emulator.clear_requests();
    let (a, b) = (h.deployed_worker(), h.deployed_worker());
    let mut digest = h.ports.digest();
    digest.notion = h.deployed_notion();
    // Each worker gets its own half, as two stream shards would.
    let all = ids("two", LEADS);
    let (evens, odds): (Vec<_>, Vec<_>) = all
        .iter()
        .cloned()
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    let half = |v: Vec<(usize, String)>| v.into_iter().map(|(_, id)| id).collect::<Vec<_>>();
    let (ea, eb) = (
        h.stream_event(&half(evens)).await,
        h.stream_event(&half(odds)).await,
    );
    let (ra, rb, report) = tokio::join!(
        a.handle_stream(ea, None),
        b.handle_stream(eb, None),
        digest.run(),
    );
    assert!(ra.batch_item_failures.is_empty() && rb.batch_item_failures.is_empty());
    assert!(report.unwrap().posted);
    for id in &all {
        assert_eq!(h.inbox(id).await.status, InboxStatus::Done, "{id}");
    }
    let per = contacts_per_email(&h);
    assert_eq!(per.len(), LEADS + 3);
    assert!(per.values().all(|n| *n == 1), "{per:?}");
    assert_eq!(h.activities().len(), LEADS);
    let digests = slack.to("digest");
    assert_eq!(digests.len(), 1, "one digest");
    assert!(digests[0].to_string().contains("old0@"), "{}", digests[0]);
    let (refused, calls) = (h.emulator.answered(429), h.emulator.requests().len());
    assert!(
        refused * 10 <= calls,
        "{refused} of {calls} calls refused: the processes did not back off"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_and_the_digest_share_a_strict_per_second_budget_and_every_item_completes_once()
{
    two_workers_and_the_digest_share(RateLimit::Window {
        requests: 12,
        seconds: 1.0,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_and_the_digest_share_a_budget_per_window_and_every_item_completes_once() {
    two_workers_and_the_digest_share(RateLimit::Budget {
        requests: 40,
        seconds: 5.0,
        aligned: false,
    })
    .await;
}

/// Leads written side by side find the contacts index missing at the same moment: one
/// of them reads every contact, the others wait for it and then ask for their own
/// address, instead of each reading every contact again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leads_side_by_side_read_the_contacts_once() {
    let h = Harness::new().await;
    // Two pages of contacts (Notion answers at most 100 rows a page).
    known_contacts_and_new_leads(&h, 150, "idx", 6).await;
    h.emulator.clear_requests();
    assert!(h.run_worker(&ids("idx", 6)).await.is_empty());
    let queries = h
        .emulator
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/query"))
        .count();
    assert_eq!(
        queries, 7,
        "two pages to build the index once, then one query per other person"
    );
    assert_eq!(contacts_per_email(&h).len(), 156);
}

/// The harness's worker with a Notion client of its own: paced fast, each call with
/// half a second of retry budget and `timeout` per request, then `tweak`ed.
fn worker_whose_calls_have<S: Store + Clone>(
    h: &Harness<S>,
    timeout: Duration,
    tweak: impl FnOnce(&mut crm_notion::NotionConfig),
) -> Worker<S, common::TestSecrets> {
    let mut worker = h.ports.worker();
    let mut config = crm_app::runtime::notion_config(&h.ports.settings);
    config.pacing = crm_notion::Pacing::Fixed { rate: 500.0 };
    config.request_timeout = timeout;
    tweak(&mut config);
    config.retry.max_elapsed = Duration::from_millis(500);
    worker.notion = NotionClient::new(config).unwrap();
    worker
}

/// A lead waits for another to build the contacts index only as long as one call may
/// take at worst: past that it is retried later (not left to outlast its lease, nor
/// written without the index), and the retry writes it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_waits_for_the_index_only_one_calls_worst_case() {
    let h = Harness::new().await;
    // Three pages of contacts, each page slow but within the request timeout: the
    // build takes longer than one call's worst case.
    known_contacts_and_new_leads(&h, 250, "busy", 2).await;
    let worker = worker_whose_calls_have(&h, Duration::from_millis(1500), |c| {
        c.retry = crm_testkit::fast_retry(2);
    });
    assert_eq!(worker.notion.worst_call(), Duration::from_secs(2));
    h.emulator.inject(FaultRule::new(
        Some("POST"),
        "/v1/data_sources/*/query",
        FaultAction::Latency { ms: 900 },
    ));
    let batch = ids("busy", 2);
    let event = h.stream_event(&batch).await;
    let failed = worker.handle_stream(event, None).await.batch_item_failures;
    assert_eq!(failed.len(), 1, "the one that waited is retried");
    let reasons: Vec<String> = futures::future::join_all(batch.iter().map(|id| h.inbox(id)))
        .await
        .into_iter()
        .filter_map(|i| i.last_error)
        .collect();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(
        reasons[0].contains("index is still being built"),
        "{reasons:?}"
    );
    // Retried once the index exists: written once.
    h.emulator.clear_faults();
    let event = h.stream_event(&batch).await;
    assert!(
        worker
            .handle_stream(event, None)
            .await
            .batch_item_failures
            .is_empty()
    );
    let per = contacts_per_email(&h);
    assert_eq!(per.len(), 252);
    assert!(per.values().all(|n| *n == 1), "{per:?}");
}

/// Today's Notion counts a budget per window and, once it is spent, asks to wait until
/// the window resets — up to a minute for a connection, longer for a workspace. The
/// worker's items wait that out once, within their own worst case, instead of failing
/// (a stream retry each) or being parked: here every call has half a second of retry
/// budget, and the window resets four seconds after it is spent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_windows_budget_is_waited_out_and_no_item_fails() {
    let h = Harness::new().await;
    known_contacts_and_new_leads(&h, 0, "window", 8).await;
    let worker = worker_whose_calls_have(&h, Duration::from_secs(2), |c| {
        c.burst = 50;
        c.retry = crm_testkit::fast_retry(4);
    });
    h.emulator.set_rate_limit(Some(RateLimit::Budget {
        requests: 14,
        seconds: 4.0,
        aligned: false,
    }));
    h.emulator.clear_requests();
    let batch = ids("window", 8);
    let event = h.stream_event(&batch).await;
    let response = worker.handle_stream(event, None).await;
    h.all_done_at_first_try(&response, &batch).await;
    assert!(contacts_per_email(&h).values().all(|n| *n == 1));
    assert_eq!(contacts_per_email(&h).len(), 8);
    assert!(
        h.emulator.answered(429) > 0,
        "the budget was spent at least once"
    );
}

/// A pause longer than an item's time left (a workspace's `Retry-After` may be minutes)
/// is not waited out by a Lambda billed for sleeping, nor spent as a stream retry: the
/// items it stops go back to the inbox with "not before" = its end, no attempt counted,
/// and the redrive writes each once after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_longer_than_an_items_time_sends_it_back_to_the_inbox_until_then() {
    let h = Harness::new().await;
    known_contacts_and_new_leads(&h, 0, "later", 6).await;
    let mut worker = worker_whose_calls_have(&h, Duration::from_secs(2), |c| {
        c.burst = 50;
        c.retry = crm_testkit::fast_retry(4);
    });
    // Half a second to wait for Notion, past one call's worst case.
    worker.settings.item_budget = worker.notion.worst_call() + Duration::from_millis(500);
    h.emulator.set_rate_limit(Some(RateLimit::Budget {
        requests: 8,
        seconds: 4.0,
        aligned: false,
    }));
    let batch = ids("later", 6);
    let event = h.stream_event(&batch).await;
    let response = worker.handle_stream(event, None).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "no stream retry spent: {} records failed",
        response.batch_item_failures.len()
    );
    let now = h.clock.now();
    let mut waiting = Vec::new();
    let mut latest = Duration::ZERO;
    for id in &batch {
        let item = h.inbox(id).await;
        assert_eq!(item.attempts, 0, "{id}: waiting is not a failed attempt");
        if item.status == InboxStatus::Done {
            continue;
        }
        waiting.push(id.clone());
        let until = item.not_before.expect("a time to run after");
        let after = until.since(now);
        assert!(
            after > Duration::from_millis(500) && after <= Duration::from_secs(4),
            "{id}: not before the pause's end, {after:?} away"
        );
        latest = latest.max(after);
    }
    assert!(
        !waiting.is_empty(),
        "the budget ran out before every item was written"
    );

    // Before their time the redrive leaves them.
    h.redrive.run(None).await.unwrap();
    assert_eq!(
        h.open_ids().await,
        waiting,
        "not run before the pause's end"
    );
    // Their time comes: the emulator's window, on the wall clock, has reset by then,
    // and one redrive run writes them all.
    tokio::time::sleep(latest).await;
    h.clock.advance(latest);
    h.redrive.run(None).await.unwrap();
    assert!(
        h.open_ids().await.is_empty(),
        "still open: {:?}",
        h.open_ids().await
    );
    assert!(contacts_per_email(&h).values().all(|n| *n == 1));
    assert_eq!(contacts_per_email(&h).len(), 6);
    assert_eq!(h.activities().len(), 6);
}
