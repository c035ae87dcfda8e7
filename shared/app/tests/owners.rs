//! With a bot token, a deal's owners are people in Slack: mentioned in the channel post
//! and told by DM for the stages that ping the owner — once per transition, whatever
//! Notion redelivers. Owners Slack does not know, or whose email Notion does not show,
//! are named in plain text.

mod common;

use std::time::{Duration, Instant};

use common::deals::Deals;
use crm_app::webhook::inbox_id;
use crm_notion_emulator::UserInfo;
use crm_store::InboxStatus;
use crm_store::prelude::*;

/// Routes: won and lost to webhooks, negotiation (no webhook of that name) to the
/// channel `#negotiation`, which the app was invited to.
async fn workspace() -> Deals {
    let d = Deals::with_bot(&["won", "lost"]).await;
    d.slack.add_channel("C_NEGOTIATION", "negotiation", true);
    d.subscribe().await;
    d
}

async fn moved(d: &Deals, deal: &str, stage: &str, deliveries: usize) -> Vec<String> {
    d.move_to(deal, stage);
    d.delivered(deliveries).await;
    d.drain().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_is_mentioned_in_the_channel_and_told_by_dm_once() {
    let d = workspace().await;
    let deal = d.new_deal("Acme renewal");
    d.delivered(1).await;
    d.drain().await;
    assert!(moved(&d, &deal, "negotiation", 2).await.is_empty());

    let posts = d.slack.channel_posts("negotiation");
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert!(
        posts[0].text().contains("(<@U_DANA>)") && posts[0].text().contains("Acme renewal"),
        "{}",
        posts[0].text()
    );
    let dms = d.slack.dms_to("dana");
    assert_eq!(dms.len(), 1);
    assert!(
        dms[0].text().contains("Lead → Negotiation"),
        "{}",
        dms[0].text()
    );

    // Notion redelivers the event, and the stream hands the item to a second worker.
    let last = d.last_event();
    assert!(d.h.emulator.redeliver(&last));
    d.delivered(3).await;
    d.drain().await;
    d.h.run_worker(&[inbox_id(&last)]).await;
    assert_eq!(d.slack.channel_posts("negotiation").len(), 1);
    assert_eq!(d.slack.dms_to("dana").len(), 1);

    // Won goes to its webhook, mentioning Dana; won is not a stage that DMs.
    assert!(moved(&d, &deal, "won", 4).await.is_empty());
    let won = d.texts("won");
    assert_eq!(won.len(), 1);
    assert!(won[0].contains("<@U_DANA>"), "{}", won[0]);
    assert_eq!(d.slack.dms_to("dana").len(), 1);
    // Dana was looked up once: remembered in the store.
    let lookups = d
        .slack
        .api_calls()
        .iter()
        .filter(|m| *m == "users.lookupByEmail")
        .count();
    assert_eq!(lookups, 1);
}

/// (Current-thread tests, so that their logs can be read.)
#[tokio::test]
async fn an_owner_without_a_slack_account_is_named_with_one_warning() {
    let (_guard, logs) = common::Logs::capture();
    let d = workspace().await;
    let (dana, _) = d.h.ws.people[0].clone();
    let (sam, _) = d.h.ws.people[1].clone();
    // Sam has no Slack account.
    let deal = d.new_deal_owned_by("Globex", &[&dana, &sam]);
    d.delivered(1).await;
    d.drain().await;
    assert!(
        moved(&d, &deal, "negotiation", 2).await.is_empty(),
        "no error"
    );
    let text = d.slack.channel_posts("negotiation")[0].text().to_owned();
    assert!(text.contains("(<@U_DANA>, Sam Ortiz)"), "{text}");
    assert_eq!(d.slack.dms_to("dana").len(), 1);
    assert!(moved(&d, &deal, "won", 3).await.is_empty());
    assert!(d.texts("won")[0].contains("(<@U_DANA>, Sam Ortiz)"));
    assert_eq!(
        logs.lines_with("has no Slack account"),
        1,
        "{}",
        logs.text()
    );
    assert!(
        !logs.text().contains("sam@example.com"),
        "no address in the log"
    );
}

#[tokio::test]
async fn owners_whose_email_notion_hides_are_named_with_one_warning() {
    let (_guard, logs) = common::Logs::capture();
    let d = workspace().await;
    d.h.emulator.set_user_info(UserInfo::WithoutEmail);
    let dana = d.h.ws.people[0].0.clone();
    for (i, name) in ["Initech", "Umbrella"].into_iter().enumerate() {
        let deal = d.new_deal_owned_by(name, &[&dana]);
        d.delivered(2 * i + 1).await;
        d.drain().await;
        assert!(
            moved(&d, &deal, "negotiation", 2 * i + 2).await.is_empty(),
            "no error"
        );
        let text = d.slack.channel_posts("negotiation")[i].text().to_owned();
        assert!(text.contains("(Dana Lee)"), "{text}");
    }
    assert!(d.slack.dms_to("dana").is_empty());
    assert!(
        !d.slack
            .api_calls()
            .iter()
            .any(|m| m == "users.lookupByEmail")
    );
    assert_eq!(
        logs.lines_with("does not show the deal owners' emails"),
        1,
        "{}",
        logs.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_lookup_is_waited_out() {
    let d = workspace().await;
    let deal = d.new_deal("Hooli");
    d.delivered(1).await;
    d.drain().await;
    d.slack.rate_limit_method("users.lookupByEmail", 1, 2);
    let started = Instant::now();
    assert!(moved(&d, &deal, "negotiation", 2).await.is_empty());
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(
        d.slack.channel_posts("negotiation")[0]
            .text()
            .contains("<@U_DANA>")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_bot_token_parks_the_event_naming_the_setting() {
    let d = workspace().await;
    let deal = d.new_deal("Umbrella");
    d.delivered(1).await;
    d.drain().await;
    d.slack.rotate_bot_token("xoxb-the-new-one");
    assert!(
        moved(&d, &deal, "negotiation", 2).await.is_empty(),
        "parked, not retried by the stream"
    );
    let id = inbox_id(&d.last_event());
    let item = d.h.store.inbox_get(&id).await.unwrap().unwrap();
    assert_eq!(item.status, InboxStatus::Parked);
    let reason = item.last_error.unwrap();
    assert!(
        reason.contains("slack_bot_token") && reason.contains("invalid_auth"),
        "{reason}"
    );
    assert!(!reason.contains(crm_slack::receiver::LOCAL_BOT_TOKEN));
    assert!(d.slack.bot_posts().is_empty());
}

/// Notion may send several events for one change; workers running them at once still
/// post one channel message and one DM.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_for_one_move_run_at_once_post_once_and_dm_once() {
    let d = Deals::dynamo_with_bot(&["won", "lost"]).await;
    d.slack.add_channel("C_NEGOTIATION", "negotiation", true);
    let token = d.subscribe().await;
    let deal = d.new_deal("Initech");
    d.delivered(1).await;
    d.drain().await;
    d.move_to(&deal, "negotiation");
    d.delivered(2).await;
    d.copies_run_at_once(&token, 4).await;
    assert_eq!(d.slack.channel_posts("negotiation").len(), 1);
    assert_eq!(d.slack.dms_to("dana").len(), 1);
}
