//! The Slack client against the local receiver.

use std::time::{Duration, Instant};

use crm_slack::receiver::SlackReceiver;
use crm_slack::{SlackClient, SlackConfig, SlackError, SlackMessage};
use secrecy::SecretString;
use serde_json::json;

fn client(per_second: f64) -> SlackClient {
    SlackClient::new(SlackConfig {
        api_base: String::new(),
        per_second,
        request_timeout: Duration::from_secs(2),
        retry: crm_testkit::fast_retry(4),
    })
    .unwrap()
}

fn message(text: &str) -> SlackMessage {
    SlackMessage {
        text: text.into(),
        blocks: vec![json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})],
    }
}

#[tokio::test]
async fn posts_blocks_with_fallback_text() {
    let slack = SlackReceiver::start(0, false).await.unwrap();
    let url = SecretString::from(slack.url("won"));
    client(100.0)
        .post(&url, &message("Deal won"))
        .await
        .unwrap();
    let got = slack.to("won");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["text"], "Deal won");
    assert_eq!(got[0]["blocks"][0]["type"], "section");
}

#[tokio::test]
async fn rate_limits_are_waited_out() {
    let slack = SlackReceiver::start(0, false).await.unwrap();
    let url = SecretString::from(slack.url("won"));
    slack.fail_next(1, 429, Some(1));
    let started = Instant::now();
    client(100.0).post(&url, &message("one")).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(slack.to("won").len(), 1, "posted once");
}

/// A 5xx or a late answer may come after Slack posted the message: retrying it could
/// post it twice, so the client reports it as unconfirmed and leaves the rest to its
/// caller. Only a refused connection and a 429 are certain not to have posted.
#[tokio::test]
async fn slack_is_never_retried_after_it_may_have_posted() {
    let slack = SlackReceiver::start(0, false).await.unwrap();
    let url = SecretString::from(slack.url("won"));
    slack.post_then_fail(500);
    let err = client(100.0).post(&url, &message("one")).await.unwrap_err();
    assert!(err.may_have_posted() && !err.is_retryable(), "{err:?}");
    assert_eq!(slack.to("won").len(), 1, "posted once, not retried");

    slack.post_then_delay(3_000);
    let err = client(100.0).post(&url, &message("two")).await.unwrap_err();
    assert!(err.may_have_posted(), "{err:?}");
    assert_eq!(slack.to("won").len(), 2, "posted once, not retried");

    let gone = SecretString::from("http://127.0.0.1:9/hooks/won".to_owned());
    let err = client(100.0).post(&gone, &message("x")).await.unwrap_err();
    assert!(err.is_retryable() && !err.may_have_posted(), "{err:?}");
}

#[tokio::test]
async fn a_refused_message_is_final_and_errors_never_show_the_url() {
    let slack = SlackReceiver::start(0, false).await.unwrap();
    let url = SecretString::from(slack.url("secret-hook-T000-B000"));
    // A revoked webhook: not retried by the client, but the item is, until a person
    // puts a working webhook in the secret.
    slack.fail_next(1, 404, None);
    let err = client(100.0).post(&url, &message("x")).await.unwrap_err();
    assert!(
        matches!(err, SlackError::Rejected { status: 404, .. }),
        "{err:?}"
    );
    assert!(err.is_retryable() && !err.may_have_posted());
    assert_eq!(
        slack.attempts(),
        1,
        "one request: the client does not repeat it"
    );
    // A payload Slack refuses stays refused.
    slack.fail_next(1, 400, None);
    let err = client(100.0).post(&url, &message("x")).await.unwrap_err();
    assert!(matches!(err, SlackError::Rejected { status: 400, .. }));
    assert!(!err.is_retryable());
    assert!(slack.received().is_empty());

    slack.fail_next(10, 429, None);
    let err = client(100.0).post(&url, &message("x")).await.unwrap_err();
    assert!(err.is_retryable());
    let printed = format!("{err} {err:?}");
    assert!(!printed.contains("secret-hook"), "{printed}");

    let gone = SecretString::from("http://127.0.0.1:9/hooks/secret-hook-T000".to_owned());
    let err = client(100.0).post(&gone, &message("x")).await.unwrap_err();
    assert!(err.is_retryable());
    let printed = format!("{err} {err:?}");
    assert!(!printed.contains("secret-hook"), "{printed}");
}

/// A 429 says "later", not "no": a post refused for the rate keeps its turn past the
/// attempts a failing post gets, within its time budget.
#[tokio::test]
async fn refusals_for_the_rate_are_bounded_by_time_not_by_attempts() {
    let slack = SlackReceiver::start(0, false).await.unwrap();
    let url = SecretString::from(slack.url("won"));
    let patient = SlackClient::new(SlackConfig {
        api_base: String::new(),
        per_second: 100.0,
        request_timeout: Duration::from_secs(2),
        retry: crm_pacing::RetryPolicy {
            max_refusals: u32::MAX,
            ..crm_testkit::fast_retry(2)
        },
    })
    .unwrap();
    slack.fail_next(5, 429, Some(0));
    patient.post(&url, &message("Deal won")).await.unwrap();
    assert_eq!(slack.to("won").len(), 1);

    // The same refusals against a cap on them (as the tests' fast retries set it).
    slack.fail_next(5, 429, Some(0));
    let err = client(100.0).post(&url, &message("x")).await.unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(slack.to("won").len(), 1);
}

#[tokio::test]
async fn each_webhook_is_paced_on_its_own() {
    let slack = SlackReceiver::start(0, false).await.unwrap();
    let slack_client = client(2.0);
    let won = SecretString::from(slack.url("won"));
    let lost = SecretString::from(slack.url("lost"));
    let started = Instant::now();
    let posts = (0..3).map(|i| {
        let c = slack_client.clone();
        let won = won.clone();
        async move { c.post(&won, &message(&format!("w{i}"))).await }
    });
    let l0 = message("l0");
    let other = slack_client.post(&lost, &l0);
    let (results, other) = tokio::join!(futures::future::join_all(posts), other);
    assert!(results.into_iter().all(|r| r.is_ok()));
    other.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "3 posts at 2/s take about 1 s"
    );
    assert_eq!(slack.to("won").len(), 3);
    assert_eq!(slack.to("lost").len(), 1);
}

/// A 429 from one destination pauses every post to it for `Retry-After`, not only the
/// refused one; posts to other destinations go on.
#[tokio::test]
async fn a_429_pauses_every_post_to_that_destination_only() {
    let slack = SlackReceiver::start(0, false).await.unwrap();
    let slack_client = client(100.0);
    let won = SecretString::from(slack.url("won"));
    let lost = SecretString::from(slack.url("lost"));
    slack.fail_next(1, 429, Some(2));
    let started = Instant::now();
    let first = {
        let (c, won) = (slack_client.clone(), won.clone());
        tokio::spawn(async move { c.post(&won, &message("w0")).await })
    };
    crm_testkit::eventually("the 429 heard", Duration::from_secs(5), || async {
        slack_client.paused_until(&won).map(|_| ())
    })
    .await;
    let timed = |url: SecretString, text: &'static str| {
        let c = slack_client.clone();
        async move {
            c.post(&url, &message(text)).await.unwrap();
            started.elapsed()
        }
    };
    let (w1, w2, l0) = tokio::join!(
        timed(won.clone(), "w1"),
        timed(won.clone(), "w2"),
        timed(lost.clone(), "l0"),
    );
    first.await.unwrap().unwrap();
    for t in [w1, w2] {
        assert!(
            t >= Duration::from_millis(1900),
            "posted during the pause: {t:?}"
        );
    }
    assert!(
        l0 < Duration::from_millis(1500),
        "another destination waited: {l0:?}"
    );
    assert_eq!(slack.to("won").len(), 3);
}

/// Posts queued for one destination beyond what its pace lets through in a post's time
/// budget give up unsent (retryable, not posted) rather than outlast the budget.
#[tokio::test]
async fn a_post_that_cannot_get_a_slot_in_time_gives_up_unsent() {
    let slack = SlackReceiver::start(0, false).await.unwrap();
    let slack_client = SlackClient::new(SlackConfig {
        api_base: String::new(),
        per_second: 2.0,
        request_timeout: Duration::from_secs(2),
        retry: crm_pacing::RetryPolicy {
            max_elapsed: Duration::from_secs(1),
            ..crm_testkit::fast_retry(3)
        },
    })
    .unwrap();
    let won = SecretString::from(slack.url("won"));
    let posts = (0..5).map(|i| {
        let (c, won) = (slack_client.clone(), won.clone());
        async move { c.post(&won, &message(&format!("w{i}"))).await }
    });
    let results = futures::future::join_all(posts).await;
    let posted = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(posted, 3, "{results:?}");
    for err in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(matches!(err, SlackError::Paced), "{err:?}");
        assert!(err.is_retryable() && !err.may_have_posted());
    }
    assert_eq!(slack.to("won").len(), posted);
}
