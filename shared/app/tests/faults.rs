//! The fault matrix: a lead, a stage change and a digest run through each way Notion,
//! Slack and DynamoDB fail. While the fault lasts, nothing is lost (every unfinished
//! item is in the table with its reason); once it is gone, the redrive finishes the
//! items and the scheduler's retry posts the digest, with no command run by hand; and
//! in the end each lead is in Notion once, each transition posted once, each digest
//! posted once.

mod common;

use std::time::Duration;

use common::deals::Deals;
use common::text;
use crm_app::digest::Digest;
use crm_app::inbox::keys;
use crm_app::redrive::Redrive;
use crm_app::worker::Worker;
use crm_notion::NotionClient;
use crm_notion_emulator::{FaultAction, FaultRule};

use crm_store::InboxStatus;
use crm_store::prelude::*;
use serde_json::json;

const STEP: Duration = Duration::from_secs(5 * 60);

/// The handlers, with Notion calls that time out after a second and give up after two
/// attempts, so a fault that lasts is met quickly.
struct Rig<S: Store + Clone = crm_store::SqliteStore> {
    d: Deals<S>,
    deal: String,
    worker: Worker<S, common::TestSecrets>,
    redrive: Redrive<S, common::TestSecrets>,
    digest: Digest<S, common::TestSecrets>,
}

async fn rig<S: Store + Clone + Send + Sync + 'static>(d: Deals<S>) -> Rig<S> {
    d.subscribe().await;
    let deal = d.new_deal("Acme");
    d.delivered(1).await;
    assert!(d.drain().await.is_empty());
    d.h.stale_contact("old@example.com");
    let mut config = crm_app::runtime::notion_config(&d.h.ports.settings);
    config.request_timeout = Duration::from_secs(1);
    config.retry = crm_testkit::fast_retry(2);
    config.pacing = crm_notion::Pacing::Fixed { rate: 500.0 };
    let notion = NotionClient::new(config).unwrap();
    let mut worker = d.h.ports.worker();
    worker.notion = notion.clone();
    worker.settings.settle = Duration::from_millis(300);
    let mut redrive = d.h.ports.redrive();
    redrive.worker.notion = notion.clone();
    redrive.worker.settings.settle = worker.settings.settle;
    let mut digest = d.h.ports.digest();
    digest.notion = notion;
    Rig {
        d,
        deal,
        worker,
        redrive,
        digest,
    }
}

impl<S: Store + Clone + Send + Sync + 'static> Rig<S> {
    /// The stream's delivery of what is new.
    async fn stream(&self) {
        let new = self.d.h.pending_ids().await;
        if !new.is_empty() {
            let event = self.d.h.stream_event(&new).await;
            self.worker.handle_stream(event, None).await;
        }
    }

    /// A lead, a stage change and the digest, while the fault lasts; `true` when the
    /// digest was posted (or may have been) by this run.
    async fn during(&self) -> bool {
        self.d.h.accept("m-1", "ann@example.com").await;
        self.stream().await;
        self.d.move_to(&self.deal, "won");
        assert!(
            self.d
                .h
                .emulator
                .deliveries_idle(Duration::from_secs(10))
                .await
        );
        self.stream().await;
        let posted = matches!(self.digest.run().await, Ok(r) if r.ran);
        for item in self.d.h.store.inbox_list_open(100).await.unwrap() {
            assert_ne!(
                item.status,
                InboxStatus::Pending,
                "{} was not tried: {}",
                item.id,
                item.payload
            );
            assert!(
                item.last_error.as_deref().is_some_and(|r| !r.is_empty()),
                "{} is open with no reason",
                item.id
            );
        }
        posted
    }

    /// After the fault: the redrive every five minutes, the scheduler's retry of the
    /// digest, and no person.
    async fn after(&self, digest_posted: bool) {
        if !digest_posted {
            let report = self.digest.run().await.unwrap();
            assert!(report.ran, "{report:?}");
        }
        for _ in 0..20 {
            self.redrive.run(None).await.unwrap();
            let open = self.d.h.store.inbox_list_open(100).await.unwrap();
            if open.iter().all(|i| i.status == InboxStatus::Parked) {
                break;
            }
            self.d.h.clock.advance(STEP);
        }
    }

    /// Each lead once, each transition once, one digest; nothing left but what was
    /// parked, and that only for the reason given.
    async fn assert_once(&self, parked_because: Option<&str>) {
        let anns: Vec<_> = self
            .d
            .h
            .contacts()
            .into_iter()
            .filter(|c| text(c, "Email") == "ann@example.com")
            .collect();
        assert_eq!(anns.len(), 1, "one contact");
        let activities = self.d.h.activities();
        let logged = activities
            .iter()
            .filter(|a| {
                text(a, "Details")
                    .lines()
                    .any(|l| l == "Submission: own:m-1")
            })
            .count();
        assert_eq!(logged, 1, "one Activity");
        assert_eq!(self.d.texts("won").len(), 1, "{:?}", self.d.texts("won"));
        assert_eq!(
            self.d.texts("digest").len(),
            1,
            "{:?}",
            self.d.texts("digest")
        );
        let open = self.d.h.store.inbox_list_open(100).await.unwrap();
        match parked_because {
            None => assert!(open.is_empty(), "left open: {open:#?}"),
            Some(reason) => {
                assert!(!open.is_empty());
                for item in open {
                    assert_eq!(item.status, InboxStatus::Parked);
                    let why = item.last_error.unwrap_or_default();
                    assert!(why.contains(reason), "{why}");
                }
            }
        }
    }
}

async fn sqlite_rig() -> Rig {
    rig(Deals::with_webhooks(&["won", "lost", "negotiation", "digest", "ops"]).await).await
}

/// One Notion fault on every call while it lasts.
async fn notion_fault(rules: Vec<FaultRule>) {
    let r = sqlite_rig().await;
    for rule in rules {
        r.d.h.emulator.inject(rule);
    }
    let posted = r.during().await;
    r.d.h.emulator.clear_faults();
    r.after(posted).await;
    r.assert_once(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn notion_rate_limited_with_retry_after() {
    notion_fault(vec![FaultRule::rate_limited(None, "*", 1)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn notion_overloaded_529() {
    notion_fault(vec![FaultRule::status(None, "*", 529)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn notion_server_errors_500_502_503_504() {
    for status in [500, 502, 503, 504] {
        notion_fault(vec![FaultRule::status(None, "*", status)]).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn notion_503_after_committing_each_write() {
    notion_fault(vec![
        FaultRule::new(Some("POST"), "/v1/pages", FaultAction::CommitThen503),
        FaultRule::new(Some("PATCH"), "/v1/pages/*", FaultAction::CommitThen503),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn notion_504_after_committing_each_write_with_no_hint() {
    notion_fault(vec![
        FaultRule::new(
            Some("POST"),
            "/v1/pages",
            FaultAction::CommitThen { status: 504 },
        ),
        FaultRule::new(
            Some("PATCH"),
            "/v1/pages/*",
            FaultAction::CommitThen { status: 504 },
        ),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn notion_requests_time_out() {
    notion_fault(vec![FaultRule::new(
        None,
        "*",
        FaultAction::Latency { ms: 1_500 },
    )])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn notion_connections_reset() {
    notion_fault(vec![FaultRule::new(None, "*", FaultAction::Reset)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slack_rate_limited_with_retry_after() {
    let r = sqlite_rig().await;
    r.d.slack.fail_next(6, 429, Some(1));
    let posted = r.during().await;
    r.after(posted).await;
    r.assert_once(None).await;
}

/// A 5xx after Slack took the message: it may have posted, so it is never posted
/// again; the item is parked saying so (the one case that waits for a person).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slack_answers_500_after_posting() {
    let r = sqlite_rig().await;
    r.d.slack.post_then_fail(500);
    r.d.slack.post_then_fail(500);
    let posted = r.during().await;
    r.after(posted).await;
    r.assert_once(Some("may have been posted")).await;
}

/// A webhook revoked for an afternoon: retried by the redrive until a working one is
/// back, then posted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slack_webhook_revoked_for_an_afternoon() {
    let r = sqlite_rig().await;
    r.d.slack.revoke("won");
    r.d.slack.revoke("digest");
    let posted = r.during().await;
    // An afternoon: the redrive keeps trying; after an hour ops hears of it, once.
    for _ in 0..40 {
        r.redrive.run(None).await.unwrap();
        r.d.h.clock.advance(STEP);
    }
    let ops = r.d.texts("ops");
    assert_eq!(ops.len(), 1, "{ops:#?}");
    // As Slack shows it: the joiners that keep `_` inert are invisible.
    assert!(
        ops[0].replace('\u{2060}', "").contains("no_service"),
        "{}",
        ops[0]
    );
    r.d.slack.restore("won");
    r.d.slack.restore("digest");
    r.after(posted).await;
    r.assert_once(None).await;
}

/// DynamoDB refuses a conditional write because another attempt holds the work (one
/// killed halfway, say): the lead, the announcement and the day wait for its lease to
/// run out, then finish once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_conditional_checks_fail_while_another_attempt_holds_the_work() {
    let d = Deals::dynamo_with_webhooks(&["won", "lost", "negotiation", "digest", "ops"]).await;
    let r = rig(d).await;
    let store = &r.d.h.store;
    let lease = Duration::from_secs(600);
    let keep = Duration::from_secs(86_400);
    let held = |k: String| async move {
        let begun = store
            .begin(&k, "a-killed-attempt", lease, keep)
            .await
            .unwrap();
        assert!(begun.is_claimed(), "{k}");
    };
    held(keys::lead_claim("own:m-1")).await;
    let since = store
        .cache_get(&keys::deal_stage(&r.deal))
        .await
        .unwrap()
        .unwrap()
        .version;
    held(keys::announcement(&r.deal, since, "won")).await;
    let now = crm_domain::Clock::now(&r.d.h.clock).as_millis();
    let today = chrono::DateTime::from_timestamp_millis(now)
        .unwrap()
        .with_timezone(&chrono_tz::Europe::Berlin)
        .date_naive();
    held(keys::digest(today)).await;
    let posted = r.during().await;
    assert!(!posted);
    r.d.h.clock.advance(lease);
    r.after(posted).await;
    r.assert_once(None).await;
}

/// DynamoDB throttles (DynamoDB Local never does; a proxy in front of it answers
/// `ProvisionedThroughputExceededException`). Intake answers 503, so the form retries;
/// the webhook answers 5xx, so Notion retries; the digest run fails for the scheduler to
/// retry; a worker cut off halfway leaves the item to the redrive. Nothing is lost or
/// doubled.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_throttling() {
    let upstream = crm_testkit::local_endpoint("AWS_ENDPOINT_URL_DYNAMODB").unwrap();
    let proxy = crm_testkit::ThrottlingProxy::start(&upstream)
        .await
        .unwrap();
    let names = ["won", "lost", "negotiation", "digest", "ops"];
    let r = rig(Deals::dynamo_through(proxy.url(), &names).await).await;

    proxy.throttle_next(usize::MAX);
    let lead = json!({"submission_id": "m-1", "email": "ann@example.com"});
    let (status, body) = r.d.h.post_lead(&lead).await;
    assert_eq!((status, body["error"].as_str()), (503, Some("unavailable")));
    r.d.move_to(&r.deal, "won");
    assert!(r.digest.run().await.is_err());
    assert!(r.d.h.store.inbox_list_open(100).await.is_err());

    // Throttling eases. The form retries; Notion's retry delivers the event; the
    // stream meets one more throttled write and leaves the items to the redrive.
    proxy.throttle_next(0);
    assert_eq!(r.d.h.post_lead(&lead).await.0, 202);
    assert!(
        r.d.h
            .emulator
            .deliveries_idle(Duration::from_secs(30))
            .await
    );
    let new = r.d.h.pending_ids().await;
    assert_eq!(new.len(), 2, "the lead and the stage change");
    let event = r.d.h.stream_event(&new).await;
    // The worker's first write is its presence beat, which takes up to three attempts
    // (the SDK's) before it gives up on pacing news: four more are the worker's own.
    proxy.throttle_next(3 + 4);
    let failed = r
        .worker
        .handle_stream(event, None)
        .await
        .batch_item_failures;
    assert!(!failed.is_empty(), "cut off by throttling");
    proxy.throttle_next(0);
    r.after(false).await;
    r.assert_once(None).await;
    assert!(proxy.throttled() > 4);
}
