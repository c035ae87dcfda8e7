//! The weekly pipeline report end to end: deals in the Notion emulator with known
//! stages, values, dates and owners (one moved live through the webhook and the worker),
//! the report read and posted once to the local Slack with its chart shared through the
//! upload flow, every figure matching a count by hand.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::deals::{Deals, ROUTED};
use crm_app::report::PipelineReport;
use crm_domain::Clock;
use serde_json::{Value, json};

/// A deal as a person would have entered it, with its creation time set.
struct Seed<'a> {
    name: &'a str,
    stage: &'a str,
    value: Option<f64>,
    owner: Option<&'a str>,
    close_in_days: Option<i64>,
    created_days_ago: i64,
    /// `Stage Since` as the worker would have written it, days ago.
    since_days_ago: Option<i64>,
}

/// A [`Seed`] in one line: name, stage, value, owner, close date (days from now), created
/// and in its stage since (days ago).
#[allow(clippy::too_many_arguments)]
fn deal<'a>(
    name: &'a str,
    stage: &'a str,
    value: Option<f64>,
    owner: Option<&'a str>,
    close_in_days: Option<i64>,
    created_days_ago: i64,
    since_days_ago: Option<i64>,
) -> Seed<'a> {
    Seed {
        name,
        stage,
        value,
        owner,
        close_in_days,
        created_days_ago,
        since_days_ago,
    }
}

fn ago(now: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    now - chrono::Duration::days(days)
}

fn seed(d: &Deals, now: DateTime<Utc>, s: &Seed<'_>) -> String {
    let mut props = json!({
        "Deal Name": {"title": [{"text": {"content": s.name}}]},
        "Stage": {"status": {"name": s.stage}},
    });
    if let Some(v) = s.value {
        props["Value"] = json!({"number": v});
    }
    if let Some(owner) = s.owner {
        props["Owner"] = json!({"people": [{"id": owner}]});
    }
    if let Some(days) = s.close_in_days {
        let day = (now + chrono::Duration::days(days)).date_naive();
        props["Close Date"] = json!({"date": {"start": day.to_string()}});
    }
    if let Some(days) = s.since_days_ago {
        props["Stage Since"] = json!({"date": {"start": ago(now, days).to_rfc3339()}});
    }
    let page =
        d.h.emulator
            .create_page_as_person(props, &d.h.ws.deals_data_source_id)
            .unwrap();
    let id = page["id"].as_str().unwrap().to_owned();
    assert!(
        d.h.emulator
            .set_page_times(&id, Some(ago(now, s.created_days_ago)), None)
    );
    id
}

fn report(d: &Deals) -> PipelineReport<crm_store::SqliteStore, common::TestSecrets> {
    let mut r = d.h.ports.report(Some(Arc::new(crm_chart::PngChart)));
    // The bot posts it in a channel it is in, so the chart is shared there too.
    r.settings.report.destination = "#sales".into();
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_weekly_report_matches_a_hand_count_and_is_posted_once_with_its_chart() {
    let d = Deals::with_bot(ROUTED).await;
    let now = DateTime::from_timestamp_millis(d.h.clock.now().as_millis()).unwrap();
    let dana = d.h.ws.people[0].0.clone();
    let sam = d.h.ws.people[1].0.clone();
    #[rustfmt::skip]
    let deals = [
        // Never seen moving: counted from its creation 40 days ago, past lead's 14.
        deal("Acme", "lead", Some(10_000.0), Some(&dana), Some(30), 40, None),
        deal("Vandelay", "lead", None, Some(&dana), None, 1, None),
        // Its close date passed 5 days ago.
        deal("Globex", "qualified", Some(20_000.0), Some(&dana), Some(-5), 20, Some(10)),
        // 20 days in proposal, past its 14.
        deal("Initech", "proposal", Some(30_000.0), Some(&sam), Some(10), 60, Some(20)),
        deal("Umbrella", "negotiation", Some(40_000.0), None, None, 30, Some(3)),
        // Won 30 days ago, 20 days after it was created.
        deal("Stark", "won", Some(5_000.0), Some(&dana), Some(-30), 50, Some(30)),
        deal("Wayne", "lost", Some(7_000.0), Some(&dana), Some(0), 40, Some(2)),
        // Won long ago: outside the 90 days.
        deal("Oldco", "won", Some(1_000.0), Some(&dana), Some(-120), 150, Some(120)),
        // Moved to won now, through the webhook and the worker.
        deal("Hooli", "negotiation", Some(50_000.0), Some(&dana), Some(1), 15, Some(5)),
    ];
    let ids: Vec<String> = deals.iter().map(|s| seed(&d, now, s)).collect();
    d.subscribe().await;
    d.move_to(&ids[8], "won");
    d.delivered(1).await;
    assert!(d.drain().await.is_empty());
    assert_eq!(d.texts("won").len(), 1, "the move was announced");

    let r = report(&d);
    let outcome = r.run().await.unwrap();
    assert!(
        outcome.ran && outcome.posted && outcome.chart,
        "{outcome:?}"
    );
    assert_eq!(outcome.deals, 9);

    let posts = d.slack.channel_posts("sales");
    assert_eq!(posts.len(), 1, "one report");
    let text = posts[0].text().to_owned();
    let lines: Vec<&str> = text.lines().collect();
    // By hand: open are Acme and Vandelay (lead), Globex, Initech, Umbrella.
    assert_eq!(
        lines[1], "Open: 5 deals worth $100,000 · weighted forecast $51,000",
        "{text}"
    );
    assert_eq!(lines[2], "• Lead: 2 · $10,000");
    assert_eq!(lines[3], "• Qualified: 1 · $20,000");
    assert_eq!(lines[4], "• Proposal: 1 · $30,000");
    assert_eq!(lines[5], "• Negotiation: 1 · $40,000");
    assert_eq!(lines[6], "Won in the last 7 days: 1 · $50,000 (Hooli)");
    assert_eq!(lines[7], "Lost in the last 7 days: 1 · $7,000 (Wayne)");
    // Won in 90 days: Hooli (15 days after creation) and Stark (20); lost: Wayne.
    assert_eq!(
        lines[8],
        "Win rate (90 days): 67 % · median 17.5 days to win"
    );
    assert_eq!(lines[9], "Rotting (in their stage past its limit) — 2");
    assert!(
        lines[10].starts_with("• Acme — 40 days since created — Dana Lee"),
        "{}",
        lines[10]
    );
    assert!(
        lines[11].starts_with("• Initech — 20 days — Sam"),
        "{}",
        lines[11]
    );
    assert_eq!(lines[12], "Slipped (close date past) — 1");
    assert!(
        lines[13].starts_with("• Globex — 5 days past"),
        "{}",
        lines[13]
    );
    assert!(text.contains("Missing an owner — 1\n• Umbrella"), "{text}");
    assert!(text.contains("Missing a value — 1\n• Vandelay"), "{text}");
    assert!(text.contains("Missing a close date — 2"), "{text}");

    // The chart: a PNG Slack's upload flow took, shared in the same channel.
    let files = d.slack.files();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].channel_name, "sales");
    assert_eq!(files[0].length, files[0].bytes.len() as u64);
    let decoder = png::Decoder::new(std::io::Cursor::new(&files[0].bytes));
    let info = decoder.read_info().unwrap().info().clone();
    assert_eq!(
        (info.width, info.height),
        (crm_chart::WIDTH, crm_chart::HEIGHT)
    );

    // Again this week (`POST /report`, a scheduler retry): nothing more.
    let again = r.run().await.unwrap();
    assert!(!again.ran && !again.posted && !again.chart, "{again:?}");
    assert_eq!(d.slack.channel_posts("sales").len(), 1);
    assert_eq!(d.slack.files().len(), 1);

    // Next week: a new report.
    d.h.clock.advance(Duration::from_secs(7 * 86_400));
    assert!(r.run().await.unwrap().posted);
    assert_eq!(d.slack.channel_posts("sales").len(), 2);
}

/// A run that posted the text but failed before sharing the chart leaves the chart to
/// the next run, which shares it once and posts no second text.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_chart_a_run_could_not_share_is_shared_by_the_next_run_alone() {
    let d = Deals::with_bot(ROUTED).await;
    let now = DateTime::from_timestamp_millis(d.h.clock.now().as_millis()).unwrap();
    seed(
        &d,
        now,
        &deal("Acme", "proposal", Some(1_000.0), None, None, 3, Some(1)),
    );
    let r = report(&d);
    d.slack
        .fail_method("files.getUploadURLExternal", 1, "invalid_arguments");
    assert!(r.run().await.is_err(), "the chart failed");
    assert_eq!(
        d.slack.channel_posts("sales").len(),
        1,
        "the text is posted"
    );
    assert!(d.slack.files().is_empty());
    let next = r.run().await.unwrap();
    assert!(next.chart && !next.posted, "{next:?}");
    assert_eq!(d.slack.channel_posts("sales").len(), 1);
    assert_eq!(d.slack.files().len(), 1);
}

/// Webhook-only installs get the same report as text, and no chart.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_a_bot_token_the_report_is_text_to_the_report_webhook() {
    let d = Deals::with_webhooks(&["won", "report"]).await;
    let now = DateTime::from_timestamp_millis(d.h.clock.now().as_millis()).unwrap();
    seed(
        &d,
        now,
        &deal("Acme", "proposal", Some(1_000.0), None, None, 3, Some(1)),
    );
    let r = d.h.ports.report(Some(Arc::new(crm_chart::PngChart)));
    let outcome = r.run().await.unwrap();
    assert!(outcome.posted && !outcome.chart, "{outcome:?}");
    let posted: Vec<Value> = d.slack.to("report");
    assert_eq!(posted.len(), 1);
    assert!(
        posted[0]["text"]
            .as_str()
            .unwrap()
            .contains("Open: 1 deal worth $1,000")
    );
}

/// Each owner Slack knows hears of their rotting deals by DM, once a day, and of each
/// deal once per stint in a stage: a deal that moves and rots again is told again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn owners_hear_of_their_rotting_deals_once_per_stint() {
    let d = Deals::with_bot(ROUTED).await;
    let now = DateTime::from_timestamp_millis(d.h.clock.now().as_millis()).unwrap();
    let dana = d.h.ws.people[0].0.clone();
    let sam = d.h.ws.people[1].0.clone();
    let acme = seed(
        &d,
        now,
        &deal("Acme", "lead", Some(10_000.0), Some(&dana), None, 40, None),
    );
    // Sam has no Slack account: his deal rots in the report only.
    seed(
        &d,
        now,
        &deal(
            "Initech",
            "proposal",
            Some(1.0),
            Some(&sam),
            None,
            60,
            Some(20),
        ),
    );
    seed(
        &d,
        now,
        &deal(
            "Fresh",
            "proposal",
            Some(1.0),
            Some(&dana),
            None,
            2,
            Some(2),
        ),
    );
    let r = report(&d);

    let first = r.tell_rotting().await.unwrap();
    assert_eq!(
        (first.rotting, first.owners, first.told),
        (2, 1, 1),
        "{first:?}"
    );
    let dms = d.slack.dms_to("dana");
    assert_eq!(dms.len(), 1);
    let text = dms[0].text();
    assert!(
        text.starts_with("One of your deals has stopped moving"),
        "{text}"
    );
    assert!(
        text.contains("Acme — 40 days in Lead (since it was created), past its 14-day limit"),
        "{text}"
    );
    assert!(
        !text.contains("Fresh") && !text.contains("Initech"),
        "{text}"
    );
    let link = serde_json::to_string(&dms[0].body["blocks"]).unwrap();
    assert!(link.contains("|Acme>") && link.contains("notion"), "{link}");

    // Again today, and tomorrow: nothing more about Acme in this stint.
    assert_eq!(r.tell_rotting().await.unwrap().told, 0);
    d.h.clock.advance(Duration::from_secs(86_400));
    assert_eq!(r.tell_rotting().await.unwrap().told, 0);
    assert_eq!(d.slack.dms_to("dana").len(), 1);
    assert!(
        d.slack.channel_posts("sales").is_empty(),
        "the channel hears only in the report"
    );

    // Acme moves on, and rots in its new stage: told again. (The operator's `crm
    // webhook listen` first: a day has passed since the harness opened its window.)
    crm_app::webhook::open_handshake_window(&d.h.store, &d.h.clock, 10)
        .await
        .unwrap();
    d.subscribe().await;
    d.move_to(&acme, "qualified");
    d.delivered(1).await;
    assert!(d.drain().await.is_empty());
    d.h.clock.advance(Duration::from_secs(22 * 86_400));
    let again = r.tell_rotting().await.unwrap();
    assert_eq!(
        again.told, 2,
        "Acme in its new stint, and Fresh now past proposal's 14: {again:?}"
    );
    let dms = d.slack.dms_to("dana");
    assert_eq!(dms.len(), 2);
    assert!(
        dms[1]
            .text()
            .contains("in Qualified, past its 21-day limit"),
        "{}",
        dms[1].text()
    );
}

/// A DM Slack refused (the conversation could not be opened) tells nobody and loses
/// nothing: the deals are handed back, and the scheduler's retry tells the owner once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rotting_dm_slack_refused_is_sent_by_the_retry() {
    let d = Deals::with_bot(ROUTED).await;
    let now = DateTime::from_timestamp_millis(d.h.clock.now().as_millis()).unwrap();
    let dana = d.h.ws.people[0].0.clone();
    seed(
        &d,
        now,
        &deal("Acme", "lead", Some(1.0), Some(&dana), None, 40, None),
    );
    let r = report(&d);
    d.slack
        .fail_method("conversations.open", 1, "account_inactive");
    let refused = r.tell_rotting().await.unwrap_err();
    assert!(refused.to_string().contains("slack_bot_token"), "{refused}");
    assert!(d.slack.dms_to("dana").is_empty());
    let retry = r.tell_rotting().await.unwrap();
    assert_eq!(retry.told, 1, "{retry:?}");
    assert_eq!(d.slack.dms_to("dana").len(), 1);
    assert_eq!(r.tell_rotting().await.unwrap().told, 0);
}
