//! The stale-lead digest against the emulator and the Slack receiver.

mod common;

use std::time::Duration;

use chrono::{Days, NaiveDate, TimeZone, Utc};
use common::Harness;
use crm_app::digest::Digest;
use crm_domain::Clock;
use crm_notion_emulator::DEFAULT_TOKEN;

use crm_slack::receiver::SlackReceiver;
use serde_json::json;

struct Setup {
    h: Harness,
    slack: SlackReceiver,
    digest: Digest<crm_store::SqliteStore, common::TestSecrets>,
}

async fn setup() -> Setup {
    let slack = SlackReceiver::start(0, false).await.unwrap();
    let h = Harness::with_secrets(json!({
        "notion_token": DEFAULT_TOKEN,
        "slack_webhooks": {"digest": slack.url("digest")},
    }))
    .await;
    let digest = h.ports.digest();
    Setup { h, slack, digest }
}

fn today(h: &Harness) -> NaiveDate {
    Utc.timestamp_millis_opt(h.clock.now().as_millis())
        .unwrap()
        .with_timezone(&chrono_tz::Europe::Berlin)
        .date_naive()
}

/// A contact as a person made it: `last` days since Last Contacted (None: empty), and
/// created `created` days ago.
fn contact(s: &Setup, name: &str, status: &str, last: Option<u64>, created: u64) {
    let t = today(&s.h);
    let mut props = json!({
        "Name": {"title": [{"text": {"content": name}}]},
        "Email": {"email": format!("{}@example.com", name.to_lowercase())},
        "Status": {"select": {"name": status}},
    });
    if let Some(days) = last {
        props["Last Contacted"] =
            json!({"date": {"start": t.checked_sub_days(Days::new(days)).unwrap().to_string()}});
    }
    let page =
        s.h.emulator
            .create_page_as_person(props, &s.h.ws.contacts_data_source_id)
            .unwrap();
    let at = Utc::now() - chrono::Duration::days(created as i64);
    assert!(
        s.h.emulator
            .set_page_times(page["id"].as_str().unwrap(), Some(at), Some(at))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_the_stale_leads_oldest_first_once_a_day() {
    let s = setup().await;
    contact(&s, "Ann", "new lead", Some(40), 60);
    contact(&s, "Bo", "new lead", Some(30), 60); // exactly 30 days: not yet
    contact(&s, "Cy", "new lead", Some(31), 60);
    contact(&s, "Dee", "contacted", Some(100), 120); // not an open status
    contact(&s, "Eve", "new lead", None, 45); // never touched, created long ago
    contact(&s, "Fay", "new lead", None, 5);
    contact(&s, "Gus", "new lead", Some(2), 60);

    let report = s.digest.run().await.unwrap();
    assert_eq!((report.stale, report.posted, report.ran), (3, true, true));
    let messages = s.slack.to("digest");
    assert_eq!(messages.len(), 1);
    let text = messages[0]["text"].as_str().unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "3 leads not contacted in over 30 days");
    assert!(
        lines[1].starts_with("• Eve — eve@example.com — 45 days"),
        "{text}"
    );
    assert!(
        lines[2].starts_with("• Ann — ann@example.com — 40 days"),
        "{text}"
    );
    assert!(
        lines[3].starts_with("• Cy — cy@example.com — 31 days"),
        "{text}"
    );
    assert_eq!(lines.len(), 4);
    let block = messages[0]["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(block.contains("|Eve>"), "names link to the pages: {block}");

    // The scheduler retrying the same day posts nothing more.
    let again = s.digest.run().await.unwrap();
    assert!(!again.ran);
    assert_eq!(s.slack.to("digest").len(), 1);

    // The next day, Bo has crossed the line too.
    s.h.clock.advance(Duration::from_secs(86_400));
    let next = s.digest.run().await.unwrap();
    assert_eq!((next.stale, next.posted), (4, true));
    assert_eq!(s.slack.to("digest").len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_posted_when_no_lead_is_stale() {
    let s = setup().await;
    contact(&s, "Fay", "new lead", None, 5);
    contact(&s, "Gus", "new lead", Some(2), 60);
    let report = s.digest.run().await.unwrap();
    assert_eq!((report.stale, report.posted, report.ran), (0, false, true));
    assert!(s.slack.received().is_empty());
}

/// A run with nothing stale does not use up the day: `POST /digest` later that day (or
/// a lead that becomes stale by then) still posts, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_with_nothing_stale_does_not_stop_a_later_run_that_day() {
    let s = setup().await;
    contact(&s, "Gus", "new lead", Some(2), 60);
    let first = s.digest.run().await.unwrap();
    assert_eq!((first.stale, first.posted, first.ran), (0, false, true));

    contact(&s, "Ann", "new lead", Some(40), 60);
    let later = s.digest.run().await.unwrap();
    assert_eq!((later.stale, later.posted, later.ran), (1, true, true));
    assert_eq!(s.slack.to("digest").len(), 1);

    let again = s.digest.run().await.unwrap();
    assert!(!again.ran, "posted once a day");
    assert_eq!(s.slack.to("digest").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_open_statuses_and_the_row_cap_are_handled() {
    let mut s = setup().await;
    s.digest.settings.stale.open_statuses = vec!["new lead".into(), "contacted".into()];
    contact(&s, "Ann", "new lead", Some(40), 60);
    contact(&s, "Dee", "contacted", Some(100), 120);
    contact(&s, "Hal", "customer", Some(100), 120);
    s.h.emulator.set_result_cap(1);
    let report = s.digest.run().await.unwrap();
    assert!(report.posted);
    let text = s.slack.to("digest")[0]["text"].as_str().unwrap().to_owned();
    assert!(text.starts_with("at least 1 lead"), "{text}");
    assert!(text.contains("10,000-row limit"), "{text}");

    s.h.emulator.set_result_cap(10_000);
    s.h.clock.advance(Duration::from_secs(86_400));
    let report = s.digest.run().await.unwrap();
    assert_eq!(report.stale, 2, "new lead and contacted, not customer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_post_is_retried_by_the_scheduler_and_then_posts_once() {
    let s = setup().await;
    contact(&s, "Ann", "new lead", Some(40), 60);
    // Rate limited through every attempt of the first run: certainly not posted.
    s.slack.fail_next(3, 429, Some(0));
    assert!(
        s.digest.run().await.is_err(),
        "an error makes the scheduler retry"
    );
    assert!(s.slack.received().is_empty());
    let report = s.digest.run().await;
    assert!(report.unwrap().posted);
    assert_eq!(s.slack.to("digest").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notion_outage_fails_the_run_for_the_scheduler_to_retry() {
    let s = setup().await;
    contact(&s, "Ann", "new lead", Some(40), 60);
    s.h.emulator.inject(crm_notion_emulator::FaultRule::status(
        None,
        "/v1/data_sources/*/query",
        503,
    ));
    let err = s.digest.run().await.unwrap_err();
    assert!(err.to_string().contains("503"), "{err}");
    assert!(s.slack.received().is_empty());
    s.h.emulator.clear_faults();
    assert!(s.digest.run().await.unwrap().posted);
    assert!(!s.digest.run().await.unwrap().ran);
    assert_eq!(s.slack.to("digest").len(), 1);
}

/// A spent window's pause longer than one call's own time is waited out within the
/// run's reading time, once, and the digest goes out in the same run instead of
/// failing it for the scheduler's retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_notion_pause_is_waited_out_within_the_run() {
    let mut s = setup().await;
    contact(&s, "Ann", "new lead", Some(40), 60);
    let mut config = crm_app::runtime::notion_config(&s.h.ports.settings);
    config.pacing = crm_notion::Pacing::Fixed { rate: 500.0 };
    config.retry = crm_testkit::fast_retry(4);
    config.retry.max_elapsed = Duration::from_millis(300);
    s.digest.notion = crm_notion::NotionClient::new(config).unwrap();
    s.h.emulator.inject(
        crm_notion_emulator::FaultRule::rate_limited(None, "/v1/data_sources/*/query", 2).times(1),
    );
    let report = s.digest.run().await.unwrap();
    assert!(report.posted, "{report:?}");
    assert_eq!(s.slack.to("digest").len(), 1);
    assert_eq!(
        s.h.emulator.answered(429),
        1,
        "waited once, not asked again"
    );
}

/// Lambda kills a run at its timeout and retries the scheduled (asynchronous)
/// invocation about a minute later: the killed run's claim must have let go by then,
/// or the retries find today "busy" and no digest goes out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_digest_is_not_lost_when_a_run_is_killed() {
    let s = setup().await;
    contact(&s, "Ann", "new lead", Some(40), 60);
    s.h.emulator.inject(crm_notion_emulator::FaultRule::new(
        None,
        "*",
        crm_notion_emulator::FaultAction::Latency { ms: 2000 },
    ));
    // Killed mid-read: the run's future is dropped, holding the day's claim.
    let killed = tokio::time::timeout(Duration::from_millis(300), s.digest.run()).await;
    assert!(killed.is_err());
    s.h.emulator.clear_faults();
    // Lambda's first retry: the timeout, then about a minute.
    s.h.clock
        .advance(crm_app::digest::RUN_BUDGET + Duration::from_secs(60));
    let report = s.digest.run().await.unwrap();
    assert!(report.posted, "{report:?}");
    assert_eq!(s.slack.to("digest").len(), 1);
}

/// Slack may have posted a digest it did not confirm: the day is settled, never posted
/// twice, whatever Lambda retries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconfirmed_digest_is_never_posted_twice() {
    let s = setup().await;
    contact(&s, "Ann", "new lead", Some(40), 60);
    s.slack.post_then_fail(502);
    let report = s.digest.run().await.unwrap();
    assert!(!report.posted && report.ran, "{report:?}");
    assert!(!s.digest.run().await.unwrap().ran);
    assert_eq!(s.slack.to("digest").len(), 1);
}

/// With a bot token, each owner Slack knows gets their own stale leads by DM; leads
/// with no owner, or whose owner has no Slack account, go to the channel digest. Once a
/// day per recipient, however often the digest runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_owner_gets_their_own_stale_leads_by_dm_once_a_day() {
    use crm_slack::receiver::LOCAL_BOT_TOKEN;
    let slack = SlackReceiver::start(0, false).await.unwrap();
    let mut h = Harness::with_secrets(json!({
        "notion_token": DEFAULT_TOKEN,
        "slack_webhooks": {"digest": slack.url("digest")},
        "slack_bot_token": LOCAL_BOT_TOKEN,
    }))
    .await;
    h.use_slack_api(&slack.api_url());
    let digest = h.ports.digest();
    // Dana is in Slack already; Sam joins; Kim is in Notion only.
    slack.add_user("U_SAM", "sam", "sam@example.com");
    let kim = h.emulator.add_person("Kim Park", "kim@example.com");
    let owners = [
        Some(h.ws.people[0].0.clone()),
        Some(h.ws.people[1].0.clone()),
        Some(kim),
        None,
    ];
    let t = today(&h);
    // 250 contacts: a quarter each Dana's, Sam's, Kim's and nobody's; four in five
    // stale, each last contacted a different number of days ago.
    let mut expected: [Vec<(u64, String)>; 4] = Default::default();
    for i in 0..250u64 {
        let owner = (i % 4) as usize;
        let stale = i % 5 != 0;
        let days = if stale { 31 + i } else { 2 };
        let name = format!("Lead {i:03}");
        let mut props = json!({
            "Name": {"title": [{"text": {"content": name}}]},
            "Email": {"email": format!("lead{i}@example.com")},
            "Status": {"select": {"name": "new lead"}},
            "Last Contacted": {"date": {"start": t.checked_sub_days(Days::new(days)).unwrap().to_string()}},
        });
        if let Some(id) = &owners[owner] {
            props["Owner"] = json!({"people": [{"id": id}]});
        }
        h.emulator
            .create_page_as_person(props, &h.ws.contacts_data_source_id)
            .unwrap();
        if stale {
            expected[owner].push((days, name));
        }
    }
    // Kim has no Slack account: hers go to the channel with the unowned ones.
    let [dana, sam, kim, nobody] = expected;
    let channel: Vec<(u64, String)> = kim.into_iter().chain(nobody).collect();

    // The count, and the ten oldest by name, as the message lists them.
    let listed = |text: &str| -> (usize, Vec<String>) {
        let mut lines = text.lines();
        let count = lines
            .next()
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let mut names: Vec<String> = lines
            .filter_map(|l| l.strip_prefix("• "))
            .map(|l| l.split(" — ").next().unwrap().to_owned())
            .collect();
        names.sort();
        (count, names)
    };
    let oldest = |leads: &[(u64, String)]| -> (usize, Vec<String>) {
        let mut by_age = leads.to_vec();
        by_age.sort_by_key(|b| std::cmp::Reverse(b.0));
        let mut names: Vec<String> = by_age.into_iter().take(10).map(|(_, n)| n).collect();
        names.sort();
        (leads.len(), names)
    };

    let report = digest.run().await.unwrap();
    assert_eq!(report.stale, 200);
    assert_eq!(report.direct, 2);
    let dms = |handle: &str| slack.dms_to(handle);
    assert_eq!(dms("dana").len(), 1);
    assert_eq!(listed(dms("dana")[0].text()), oldest(&dana));
    assert_eq!(dms("sam").len(), 1);
    assert_eq!(listed(dms("sam")[0].text()), oldest(&sam));
    let posted = slack.to("digest");
    assert_eq!(posted.len(), 1);
    assert_eq!(
        listed(posted[0]["text"].as_str().unwrap()),
        oldest(&channel)
    );

    // Again the same day (a scheduler retry, `POST /digest`): nobody hears twice.
    let again = digest.run().await.unwrap();
    assert!(!again.ran);
    assert_eq!((dms("dana").len(), dms("sam").len()), (1, 1));
    assert_eq!(slack.to("digest").len(), 1);
}
