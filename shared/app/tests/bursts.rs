//! A script moving many deals at once: one summary per destination instead of one post
//! per deal, still exactly one post per transition, whatever is redelivered.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::Harness;
use common::deals::{Deals, ROUTED, slack_and_secret};
use crm_store::prelude::*;

/// Deals whose Slack messages are held for bursts: more than 5 within a minute are one
/// summary; a message waits 10 s for others.
async fn deals() -> Deals {
    let (slack, secret) = slack_and_secret(ROUTED).await;
    let mut h = Harness::with_secrets(secret).await;
    h.use_bursts(5, 60, 10);
    let d = Deals::assemble(h, slack).await;
    d.subscribe().await;
    d
}

/// Drains the inbox: the worker waits for its held messages to fall due, moving the
/// test's clock by each wait (`ManualPause`).
async fn drain<S: crm_store::Store + Clone + Send + Sync + 'static>(d: &Deals<S>) -> Vec<String> {
    let open = d.h.open_ids().await;
    if open.is_empty() {
        return Vec::new();
    }
    d.h.run_worker(&open).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_script_moving_forty_deals_makes_one_summary_per_destination() {
    let d = deals().await;
    let ids: Vec<String> = (0..40)
        .map(|i| d.new_deal(&format!("Deal {i:02}")))
        .collect();
    d.delivered(40).await;
    assert!(drain(&d).await.is_empty());
    assert!(
        d.slack.received().is_empty(),
        "a new deal in lead is not routed"
    );

    // The script: 15 won, 15 lost, 10 to negotiation, within a few seconds.
    for (i, id) in ids.iter().enumerate() {
        let stage = match i % 8 {
            0..=2 => "won",
            3..=5 => "lost",
            _ => "negotiation",
        };
        d.move_to(id, stage);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    d.delivered(80).await;
    assert!(drain(&d).await.is_empty());
    let won = d.texts("won");
    let lost = d.texts("lost");
    let negotiation = d.texts("negotiation");
    assert_eq!(
        (won.len(), lost.len(), negotiation.len()),
        (1, 1, 1),
        "{won:#?} {lost:#?} {negotiation:#?}"
    );
    assert_eq!(
        won[0].lines().next().unwrap(),
        "15 deals moved · 15 → Won ($180,000)"
    );
    assert_eq!(
        lost[0].lines().next().unwrap(),
        "15 deals moved · 15 → Lost ($180,000)"
    );
    assert_eq!(
        negotiation[0].lines().next().unwrap(),
        "10 deals moved · 10 → Negotiation ($120,000)"
    );
    // Every deal is in exactly one post.
    for i in 0..40 {
        let name = format!("Deal {i:02}");
        let posts = [&won[0], &lost[0], &negotiation[0]]
            .iter()
            .filter(|t| t.contains(&name))
            .count();
        assert_eq!(posts, 1, "{name}");
    }

    // Notion redelivers every event: nothing new is posted.
    let events: Vec<String> =
        d.h.emulator
            .deliveries()
            .iter()
            .map(|x| x.event_id.clone())
            .collect();
    for event in &events {
        assert!(d.h.emulator.redeliver(event));
    }
    d.delivered(160).await;
    assert!(drain(&d).await.is_empty());
    assert_eq!(d.slack.received().len(), 3);

    // Later, one deal moves on its own: a normal post.
    d.h.clock.advance(Duration::from_secs(120));
    d.move_to(&ids[0], "lost");
    d.delivered(161).await;
    assert!(drain(&d).await.is_empty());
    let lost = d.texts("lost");
    assert_eq!(lost.len(), 2);
    assert!(lost[1].starts_with("Won → Lost: Deal 00"), "{}", lost[1]);
}

/// A run that ends before its held messages fall due leaves them to the redrive, which
/// posts them once they are; nothing is lost and nothing posted twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn held_messages_a_run_could_not_wait_for_are_posted_by_the_redrive() {
    let d = deals().await;
    let id = d.new_deal("Solo");
    d.delivered(1).await;
    assert!(drain(&d).await.is_empty());
    d.move_to(&id, "won");
    d.delivered(2).await;
    // The stream's invocation holds the message, and is killed (its timeout) while it
    // waits for the message to fall due.
    let open = d.h.open_ids().await;
    let event = d.h.stream_event(&open).await;
    let worker = Arc::clone(&d.h);
    d.h.pause.hold();
    let run = tokio::spawn(async move { worker.worker.handle_stream(event, None).await });
    crm_testkit::eventually("the run waiting", Duration::from_secs(10), || async {
        (d.h.pause.waiting() == 1).then_some(())
    })
    .await;
    let item = d.h.store.inbox_get(&open[0]).await.unwrap().unwrap();
    assert_eq!(
        item.status,
        crm_store::InboxStatus::Done,
        "its message is held"
    );
    run.abort();
    let _ = run.await;
    d.h.pause.release(Duration::ZERO);
    assert!(d.texts("won").is_empty(), "not due yet");
    let early = d.h.redrive.run(None).await.unwrap();
    assert_eq!(early.bursts, 0, "still not due");
    d.h.clock.advance(Duration::from_secs(11));
    let report = d.h.redrive.run(None).await.unwrap();
    assert_eq!(report.bursts, 1);
    let won = d.texts("won");
    assert_eq!(won.len(), 1);
    assert!(won[0].starts_with("🎉 Lead → Won: Solo"), "{}", won[0]);
    d.h.clock.advance(Duration::from_secs(600));
    assert_eq!(d.h.redrive.run(None).await.unwrap().bursts, 0);
    assert_eq!(d.texts("won").len(), 1);
}

/// However large a burst, its summary is a message Slack takes: Slack refuses blocks
/// holding more than about 13,000 characters in all (`msg_blocks_too_long`), which the
/// receiver enforces, by webhook and with the bot token alike.
#[tokio::test]
async fn the_summary_of_a_huge_burst_is_a_message_slack_takes() {
    use crm_domain::deal::{Deal, Move, Owner, summary};
    use crm_slack::receiver::{LOCAL_BOT_TOKEN, SlackReceiver};
    use crm_slack::{Destination, SlackClient, SlackConfig, SlackMessage};
    let slack = SlackReceiver::start(0, false).await.unwrap();
    let moves: Vec<Move> = (0..300)
        .map(|i| Move {
            previous: Some("negotiation".into()),
            deal: Deal {
                name: format!("Deal {i} of a long quarter-end push"),
                url: format!("https://www.notion.so/Deal-{i}-0123456789abcdef0123456789abcdef"),
                stage: Some("won".into()),
                value: Some(12_000.0),
                owners: vec![Owner::named("Dana Lee")],
                currency: None,
            },
        })
        .collect();
    let (text, blocks) = summary(&moves);
    let message = SlackMessage { text, blocks };
    let client = SlackClient::new(SlackConfig {
        api_base: slack.api_url(),
        ..SlackConfig::default()
    })
    .unwrap();
    for to in [
        Destination::Webhook(slack.url("won").into()),
        Destination::Channel {
            token: LOCAL_BOT_TOKEN.into(),
            channel: "#sales".into(),
        },
    ] {
        client.send(&to, &message).await.unwrap();
    }
    assert_eq!(slack.received().len() + slack.bot_posts().len(), 2);
    let last = message.text.lines().last().unwrap();
    assert!(last.starts_with("…and "), "the rest are counted: {last}");
}

/// A held message Slack may have posted without confirming it (a 5xx after posting) is
/// never posted again — not by the redrive, not after Notion redelivers — and says so.
/// (Current-thread, so that its logs can be read.)
#[tokio::test]
async fn a_held_message_slack_left_unconfirmed_is_never_posted_again() {
    let (_guard, logs) = common::Logs::capture();
    let d = deals().await;
    let id = d.new_deal("Vandelay");
    d.delivered(1).await;
    assert!(drain(&d).await.is_empty());
    d.slack.post_then_fail(500);
    d.move_to(&id, "won");
    d.delivered(2).await;
    assert!(
        drain(&d).await.is_empty(),
        "the event is done: its message was held"
    );
    assert_eq!(d.texts("won").len(), 1, "Slack has it, and answered 500");
    assert_eq!(
        logs.lines_with("may have been posted without Slack confirming it"),
        1,
        "{}",
        logs.text()
    );

    d.h.clock.advance(Duration::from_secs(600));
    assert_eq!(d.h.redrive.run(None).await.unwrap().bursts, 0);
    let last = d.last_event();
    assert!(d.h.emulator.redeliver(&last));
    d.delivered(3).await;
    assert!(drain(&d).await.is_empty());
    assert_eq!(d.texts("won").len(), 1, "never posted again");
}

/// Two workers (two stream shards' runs, side by side) holding one burst's messages at
/// once on DynamoDB Local: still one summary, each deal in it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_holding_one_burst_at_once_post_one_summary() {
    let (slack, secret) = slack_and_secret(ROUTED).await;
    let mut h = Harness::dynamo_with_secrets(secret).await;
    h.use_bursts(5, 60, 10);
    let d = Deals::assemble(h, slack).await;
    d.subscribe().await;
    let ids: Vec<String> = (0..20)
        .map(|i| d.new_deal(&format!("Deal {i:02}")))
        .collect();
    d.delivered(20).await;
    assert!(drain(&d).await.is_empty());
    for id in &ids {
        d.move_to(id, "won");
    }
    d.delivered(40).await;
    let open = d.h.open_ids().await;
    assert_eq!(open.len(), 20);
    let (first, second) = open.split_at(10);
    let other = Arc::new(d.h.ports.worker());
    // Both runs hold their messages and wait for the batch together; then it falls due.
    d.h.pause.hold();
    let runs = [
        (Arc::clone(&d.h.worker), d.h.stream_event(first).await),
        (other, d.h.stream_event(second).await),
    ]
    .map(|(worker, event)| tokio::spawn(async move { worker.handle_stream(event, None).await }));
    crm_testkit::eventually("both runs waiting", Duration::from_secs(30), || async {
        (d.h.pause.waiting() == 2).then_some(())
    })
    .await;
    d.h.pause.release(Duration::from_secs(11));
    for run in runs {
        assert!(run.await.unwrap().batch_item_failures.is_empty());
    }
    let won = d.texts("won");
    assert_eq!(won.len(), 1, "{won:#?}");
    assert!(
        won[0].starts_with("20 deals moved · 20 → Won"),
        "{}",
        won[0]
    );
    for i in 0..20 {
        assert_eq!(
            won[0].matches(&format!("Deal {i:02}")).count(),
            1,
            "Deal {i:02}"
        );
    }
}
