//! The soak: many leads over fewer addresses and many webhook events, duplicated and
//! reordered, all at once, while Notion and Slack faults switch on and off at random.
//! The end state is exact: one contact per address, one Activity per submission, one
//! message per deal's transition, nothing left open.
//!
//! `make test` runs 200 leads over 40 addresses and 100 webhook events; `make soak`
//! sets `CRM_SOAK=large` for five times that, several times over.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::deals::Deals;
use common::text;
use crm_notion_emulator::{DeliveryMode, FaultAction, FaultRule};
use crm_store::prelude::*;
use crm_store::{DynamoStore, InboxStatus};

struct Size {
    leads: usize,
    addresses: usize,
    /// Deals; each gives two events (created, moved once).
    deals: usize,
}

fn size() -> Size {
    match std::env::var("CRM_SOAK").as_deref() {
        Ok("large") => Size {
            leads: 1000,
            addresses: 200,
            deals: 250,
        },
        _ => Size {
            leads: 200,
            addresses: 40,
            deals: 50,
        },
    }
}

const STAGES: &[&str] = &["won", "lost", "negotiation"];

/// Faults Notion and Slack show, each survivable: the end state must not change.
fn random_fault(d: &Deals<DynamoStore>) {
    let notion = [
        FaultRule::status(None, "*", 503),
        FaultRule::status(None, "*", 502),
        FaultRule::rate_limited(None, "*", 1),
        FaultRule::new(None, "*", FaultAction::Latency { ms: 200 }),
        FaultRule::new(None, "*", FaultAction::Reset),
        FaultRule::new(Some("POST"), "/v1/pages", FaultAction::CommitThen503),
        FaultRule::new(
            Some("POST"),
            "/v1/pages",
            FaultAction::CommitThen { status: 504 },
        ),
    ];
    let rule = notion[fastrand::usize(..notion.len())].clone();
    d.h.emulator.inject(rule.times(fastrand::u32(1..6)));
    if fastrand::bool() {
        d.slack.fail_next(fastrand::usize(1..3), 429, Some(1));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn everything_at_once_under_random_faults_ends_exactly_once() {
    let size = size();
    let seed = fastrand::u64(..);
    fastrand::seed(seed);
    eprintln!("soak seed {seed}");
    let d = Arc::new(Deals::dynamo_with_webhooks(&["won", "lost", "negotiation", "ops"]).await);
    d.subscribe().await;
    d.h.emulator.set_delivery_mode(DeliveryMode {
        duplicate: true,
        ..DeliveryMode::default()
    });
    let deals: Vec<String> = (0..size.deals)
        .map(|i| d.new_deal(&format!("Deal {i}")))
        .collect();
    assert!(d.h.emulator.deliveries_idle(Duration::from_secs(30)).await);
    // From here on Notion's deliveries are also held and sent newest first.
    d.h.emulator.set_delivery_mode(DeliveryMode {
        duplicate: true,
        reorder: true,
        ..DeliveryMode::default()
    });

    // The stream: four shards taking whatever is new, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let shards: Vec<_> = (0..4)
        .map(|_| {
            let (d, stop) = (Arc::clone(&d), Arc::clone(&stop));
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if !shard_round(&d).await {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            })
        })
        .collect();
    // Faults every run meets, whatever the random draw and however fast the work goes.
    d.h.emulator
        .inject(FaultRule::rate_limited(None, "*", 1).times(2));
    d.h.emulator
        .inject(FaultRule::status(None, "*", 503).times(2));
    // Chaos: a fault now and then, while everything arrives.
    let chaos = {
        let (d, stop) = (Arc::clone(&d), Arc::clone(&stop));
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                random_fault(&d);
                tokio::time::sleep(Duration::from_millis(fastrand::u64(50..200))).await;
            }
        })
    };
    // Leads, each sent twice, and every deal moved once, all at once.
    let leads: Vec<_> = (0..size.leads)
        .map(|i| {
            let d = Arc::clone(&d);
            let address = format!("lead{}@example.com", i % size.addresses);
            tokio::spawn(async move {
                let lead = serde_json::json!({"submission_id": format!("soak-{i}"), "email": address, "message": format!("message {i}")});
                for _ in 0..2 {
                    // A 503 (the table overwhelmed by everything at once) is retried,
                    // as form providers retry it.
                    let mut answer = d.h.post_lead(&lead).await;
                    for _ in 0..50 {
                        if answer.0 != 503 {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(fastrand::u64(50..250))).await;
                        answer = d.h.post_lead(&lead).await;
                    }
                    let (status, body) = answer;
                    assert!(status == 202 || status == 200, "{status} {body}");
                }
            })
        })
        .collect();
    let mut expected = Vec::new();
    for (i, deal) in deals.iter().enumerate() {
        let stage = STAGES[i % STAGES.len()];
        d.move_to(deal, stage);
        expected.push((stage, format!("Deal {i}")));
    }
    for lead in leads {
        lead.await.unwrap();
    }
    d.h.emulator.flush_deliveries();
    assert!(d.h.emulator.deliveries_idle(Duration::from_secs(60)).await);
    // Notion retries some deliveries later, as it does.
    let delivered: Vec<String> =
        d.h.emulator
            .deliveries()
            .into_iter()
            .map(|r| r.event_id)
            .collect();
    for event in delivered.iter().step_by(7) {
        d.h.emulator.redeliver(event);
    }
    assert!(d.h.emulator.deliveries_idle(Duration::from_secs(60)).await);
    stop.store(true, Ordering::Relaxed);
    chaos.await.unwrap();
    for shard in shards {
        shard.await.unwrap();
    }

    let faulted =
        d.h.emulator
            .requests()
            .iter()
            .filter(|r| r.status == 429 || r.status >= 500)
            .count();
    assert!(faulted > 0, "seed {seed}: the faults were met");

    // The faults are gone; the redrive finishes what failed.
    d.h.emulator.clear_faults();
    let mut open = d.h.open_ids().await;
    for _ in 0..30 {
        if open.is_empty() {
            break;
        }
        shard_round(&d).await;
        // A run the busy table cut short is the next run's to finish.
        let _ = d.h.redrive.run(None).await;
        d.h.clock.advance(Duration::from_secs(5 * 60));
        open = d.h.open_ids().await;
    }
    assert!(open.is_empty(), "seed {seed}: still open: {open:?}");

    let contacts: Vec<String> = d.h.contacts().iter().map(|c| text(c, "Email")).collect();
    let distinct: BTreeSet<&String> = contacts.iter().collect();
    assert_eq!(
        contacts.len(),
        size.addresses,
        "seed {seed}: one contact per address"
    );
    assert_eq!(distinct.len(), size.addresses);
    let details: Vec<String> =
        d.h.activities()
            .iter()
            .map(|a| text(a, "Details"))
            .collect();
    assert_eq!(
        details.len(),
        size.leads,
        "seed {seed}: one Activity per submission"
    );
    for i in 0..size.leads {
        let marker = format!("Submission: own:soak-{i}");
        let n = details
            .iter()
            .filter(|t| t.lines().any(|l| l == marker))
            .count();
        assert_eq!(n, 1, "seed {seed}: {marker}");
    }
    // "Lead → Won" or, when the deal's creation was read after the move, "Now Won".
    for stage in STAGES {
        let posted = d.texts(stage);
        let want: Vec<&String> = expected
            .iter()
            .filter(|(s, _)| s == stage)
            .map(|(_, n)| n)
            .collect();
        assert_eq!(
            posted.len(),
            want.len(),
            "seed {seed}: {stage}: {posted:#?}"
        );
        for name in want {
            let n = posted
                .iter()
                .filter(|t| t.contains(&format!("{}: {name} —", capitalised(stage))))
                .count();
            assert_eq!(n, 1, "seed {seed}: {name} → {stage}: {posted:#?}");
        }
    }
}

/// One batch of new items through the worker, as a stream shard hands it over; false
/// when there was none (or the table was too busy to say: the stream just tries again).
async fn shard_round(d: &Deals<DynamoStore>) -> bool {
    let Ok(open) = d.h.store.inbox_list_open(100).await else {
        return false;
    };
    let mut new: Vec<String> = open
        .into_iter()
        .filter(|i| i.status == InboxStatus::Pending)
        .map(|i| i.id)
        .collect();
    fastrand::shuffle(&mut new);
    new.truncate(5);
    if new.is_empty() {
        return false;
    }
    match d.h.try_stream_event(&new).await {
        Ok(event) => {
            d.h.worker.handle_stream(event, None).await;
            true
        }
        Err(_) => false,
    }
}

fn capitalised(stage: &str) -> String {
    let mut chars = stage.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
