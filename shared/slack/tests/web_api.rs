//! The Slack client's Web API calls (bot token) against the local receiver, which
//! answers as Slack's docs say Slack does.

use std::time::{Duration, Instant};

use crm_slack::receiver::{LOCAL_BOT_TOKEN, SlackReceiver};
use crm_slack::{SlackClient, SlackConfig, SlackError, SlackMessage};
use secrecy::SecretString;
use serde_json::json;

fn client(slack: &SlackReceiver) -> SlackClient {
    SlackClient::new(SlackConfig {
        api_base: slack.api_url(),
        per_second: 100.0,
        request_timeout: Duration::from_secs(2),
        retry: crm_testkit::fast_retry(4),
    })
    .unwrap()
}

fn token() -> SecretString {
    SecretString::from(LOCAL_BOT_TOKEN)
}

fn message(text: &str) -> SlackMessage {
    SlackMessage {
        text: text.into(),
        blocks: vec![json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})],
    }
}

#[tokio::test]
async fn posts_to_a_channel_by_name_or_id_with_blocks() {
    let slack = SlackReceiver::start(0, false).await.unwrap();
    let c = client(&slack);
    assert_eq!(
        c.post_message(&token(), "#sales", &message("one"))
            .await
            .unwrap(),
        "C_SALES"
    );
    c.post_message(&token(), "C_SALES", &message("two"))
        .await
        .unwrap();
    let posts = slack.channel_posts("sales");
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[0].text(), "one");
    assert_eq!(posts[0].body["blocks"][0]["type"], "section");
    assert!(slack.dms_to("dana").is_empty());
}

#[tokio::test]
async fn finds_people_by_email_and_sends_them_direct_messages() {
    let slack = SlackReceiver::start(0, false).await.unwrap();
    let c = client(&slack);
    let dana = c
        .lookup_user_by_email(&token(), "dana@example.com")
        .await
        .unwrap();
    assert_eq!(dana.as_deref(), Some("U_DANA"));
    assert_eq!(
        c.lookup_user_by_email(&token(), "nobody@example.com")
            .await
            .unwrap(),
        None,
        "users_not_found is an answer, not an error"
    );
    let dm = c.open_dm(&token(), "U_DANA").await.unwrap();
    c.post_message(&token(), &dm, &message("yours"))
        .await
        .unwrap();
    let dms = slack.dms_to("dana");
    assert_eq!(dms.len(), 1);
    assert_eq!(dms[0].text(), "yours");
    assert!(slack.channel_posts("sales").is_empty());
}

#[tokio::test]
async fn rate_limits_are_waited_out_as_429_or_as_ok_false() {
    let slack = SlackReceiver::start(0, false).await.unwrap();
    let c = client(&slack);
    slack.rate_limit_method("users.lookupByEmail", 1, 2);
    let started = Instant::now();
    let dana = c
        .lookup_user_by_email(&token(), "dana@example.com")
        .await
        .unwrap();
    assert_eq!(dana.as_deref(), Some("U_DANA"));
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "Retry-After: 2 waited out"
    );

    slack.fail_method("chat.postMessage", 1, "ratelimited");
    c.post_message(&token(), "#sales", &message("once"))
        .await
        .unwrap();
    assert_eq!(slack.channel_posts("sales").len(), 1, "posted once");
}

/// A refused token is final, and the error names the setting to fix, never the token.
#[tokio::test]
async fn a_refused_token_names_the_setting_and_not_the_token() {
    let slack = SlackReceiver::start(0, false).await.unwrap();
    let c = client(&slack);
    let wrong = SecretString::from("xoxb-wrong-token-123");
    let err = c
        .post_message(&wrong, "#sales", &message("x"))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, SlackError::Token { .. }), "{err:?}");
    assert!(!err.is_retryable());
    assert!(
        text.contains("slack_bot_token") && text.contains("invalid_auth"),
        "{text}"
    );
    assert!(!text.contains("xoxb-wrong") && !format!("{err:?}").contains("xoxb-wrong"));
    assert_eq!(slack.api_calls(), ["chat.postMessage"], "not retried");
    assert!(slack.bot_posts().is_empty());

    slack.fail_method("users.lookupByEmail", 1, "missing_scope");
    let err = c
        .lookup_user_by_email(&token(), "dana@example.com")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("missing_scope"), "{err}");
}

#[tokio::test]
async fn a_channel_the_app_is_not_in_says_to_invite_it() {
    let slack = SlackReceiver::start(0, false).await.unwrap();
    slack.add_channel("C_PRIVATE", "deals-private", false);
    let c = client(&slack);
    let err = c
        .post_message(&token(), "#deals-private", &message("x"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not_in_channel") && err.to_string().contains("invite"));
    let err = c
        .post_message(&token(), "#nowhere", &message("x"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("channel_not_found"), "{err}");
    assert_eq!(slack.api_calls().len(), 2, "neither retried");
}

/// A post Slack may have made (a 5xx-like `internal_error`) is not sent again; a lookup
/// is, since reading twice is harmless.
#[tokio::test]
async fn a_post_that_may_have_happened_is_not_repeated_and_a_lookup_is() {
    let slack = SlackReceiver::start(0, false).await.unwrap();
    let c = client(&slack);
    slack.fail_method("chat.postMessage", 1, "internal_error");
    let err = c
        .post_message(&token(), "#sales", &message("x"))
        .await
        .unwrap_err();
    assert!(err.may_have_posted(), "{err:?}");
    assert_eq!(slack.api_calls(), ["chat.postMessage"]);

    slack.fail_method("users.lookupByEmail", 1, "internal_error");
    let dana = c
        .lookup_user_by_email(&token(), "dana@example.com")
        .await
        .unwrap();
    assert_eq!(dana.as_deref(), Some("U_DANA"));
}

/// The test double refuses what Slack refuses: a JSON body without the token in the
/// `Authorization` header; and takes a form body with the token in it.
#[tokio::test]
async fn the_receiver_takes_form_or_json_bodies_as_slack_does() {
    let slack = SlackReceiver::start(0, false).await.unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}/chat.postMessage", slack.api_url());
    let answer: serde_json::Value = http
        .post(&url)
        .json(&json!({"token": LOCAL_BOT_TOKEN, "channel": "#sales", "text": "x"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer, json!({"ok": false, "error": "not_authed"}));
    let answer: serde_json::Value = http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "token={LOCAL_BOT_TOKEN}&channel=%23sales&text=hello"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(slack.channel_posts("sales")[0].text(), "hello");
}

/// The receiver refuses the blocks Slack refuses, by webhook and by `chat.postMessage`:
/// more than 50 blocks or a section over 3,000 characters (`invalid_blocks`), and more
/// text across all blocks than Slack takes (`msg_blocks_too_long`, undocumented: a switch).
#[tokio::test]
async fn blocks_slack_would_refuse_are_refused() {
    let slack = SlackReceiver::start(0, false).await.unwrap();
    let c = client(&slack);
    let section =
        |n: usize| json!({"type": "section", "text": {"type": "mrkdwn", "text": "x".repeat(n)}});
    let with = |blocks: Vec<serde_json::Value>| SlackMessage {
        text: "fallback".into(),
        blocks,
    };
    let cases = [
        (with(vec![section(10); 51]), "invalid_blocks"),
        (with(vec![section(3001)]), "invalid_blocks"),
        (with(vec![section(2900); 5]), "msg_blocks_too_long"),
    ];
    let hook = SecretString::from(slack.url("won"));
    for (message, word) in &cases {
        let err = c
            .post_message(&token(), "#sales", message)
            .await
            .unwrap_err();
        assert!(err.to_string().contains(word), "{word}: {err}");
        let err = c.post(&hook, message).await.unwrap_err();
        assert!(
            matches!(&err, SlackError::Rejected { status: 400, body } if body == word),
            "{word}: {err:?}"
        );
    }
    assert!(slack.bot_posts().is_empty() && slack.received().is_empty());
    // Within the limits: taken.
    c.post_message(&token(), "#sales", &with(vec![section(2500); 4]))
        .await
        .unwrap();
    // Without the undocumented limit, only the documented ones hold.
    slack.set_blocks_text_limit(None);
    c.post(&hook, &cases[2].0).await.unwrap();
}

/// The feed a page shows: webhook posts, channel posts and DMs in the order Slack took
/// them, each with where it went, blocks always as an array (a form post sends them as
/// a JSON string); what Slack refused is not in it.
#[tokio::test]
async fn the_feed_holds_every_post_in_order_with_its_place() {
    use crm_slack::receiver::Place;
    let slack = SlackReceiver::start(0, false).await.unwrap();
    let c = client(&slack);
    let hook = SecretString::from(slack.url("won"));
    c.post(&hook, &message("first")).await.unwrap();
    c.post_message(&token(), "#sales", &message("second"))
        .await
        .unwrap();
    let dm = c.open_dm(&token(), "U_DANA").await.unwrap();
    c.post_message(&token(), &dm, &message("third"))
        .await
        .unwrap();
    slack.revoke("won");
    assert!(c.post(&hook, &message("refused")).await.is_err());
    let form = crm_http::client()
        .post(format!("{}/chat.postMessage", slack.api_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "token={LOCAL_BOT_TOKEN}&channel=%23sales&text=fourth&blocks=%5B%7B%22type%22%3A%22divider%22%7D%5D"
        ))
        .send()
        .await
        .unwrap();
    assert!(form.status().is_success());
    let feed = slack.feed();
    let places: Vec<&Place> = feed.iter().map(|p| &p.place).collect();
    assert_eq!(
        places,
        [
            &Place::Webhook("won".into()),
            &Place::Channel("sales".into()),
            &Place::Dm("dana".into()),
            &Place::Channel("sales".into()),
        ]
    );
    let texts: Vec<&str> = feed
        .iter()
        .map(|p| p.body["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["first", "second", "third", "fourth"]);
    assert_eq!(feed[3].body["blocks"][0]["type"], "divider");
}

/// A file goes through Slack's upload flow: a URL, the bytes, then shared once in the
/// channel with its message; Slack takes a channel's id here, not its name.
#[tokio::test]
async fn a_file_is_uploaded_and_shared_once_with_its_message() {
    use crm_slack::Upload;
    let slack = SlackReceiver::start(0, false).await.unwrap();
    let c = client(&slack);
    let bytes = b"\x89PNG\r\n\x1a\nnot really a chart".to_vec();
    let text = message("The week");
    let file = Upload {
        filename: "pipeline.png",
        title: "Pipeline",
        alt_text: "open deals by stage",
        bytes: &bytes,
        message: Some(&text),
    };
    c.upload_file(&token(), "C_SALES", &file).await.unwrap();
    let files = slack.files();
    assert_eq!(files.len(), 1);
    let shared = &files[0];
    assert_eq!(
        (
            shared.channel_name.as_str(),
            shared.title.as_str(),
            shared.filename.as_str()
        ),
        ("sales", "Pipeline", "pipeline.png")
    );
    assert_eq!(shared.bytes, bytes);
    assert_eq!(shared.length, bytes.len() as u64);
    assert_eq!(shared.message["blocks"][0]["text"]["text"], "The week");
    assert_eq!(
        slack.api_calls(),
        ["files.getUploadURLExternal", "files.completeUploadExternal"]
    );
    assert_eq!(slack.feed().len(), 1, "one message in the channel");

    // A name where an id belongs is refused, and nothing is shared.
    let refused = c.upload_file(&token(), "#sales", &file).await.unwrap_err();
    assert!(
        refused.to_string().contains("channel_not_found"),
        "{refused}"
    );
    assert_eq!(slack.files().len(), 1);
}

/// Completing an upload whose answer was lost is never repeated: Slack may have shared
/// it. A lost answer before that (asking for the URL) is simply asked again.
#[tokio::test]
async fn an_unconfirmed_share_is_not_repeated_and_a_lost_url_is_asked_again() {
    use crm_slack::Upload;
    let slack = SlackReceiver::start(0, false).await.unwrap();
    let c = client(&slack);
    let file = Upload {
        filename: "pipeline.png",
        title: "Pipeline",
        alt_text: "",
        bytes: b"png",
        message: None,
    };
    slack.fail_method("files.getUploadURLExternal", 1, "internal_error");
    slack.fail_method("files.completeUploadExternal", 1, "internal_error");
    let err = c.upload_file(&token(), "C_SALES", &file).await.unwrap_err();
    assert!(err.may_have_posted(), "{err}");
    let calls = slack.api_calls();
    assert_eq!(
        calls,
        [
            "files.getUploadURLExternal",
            "files.getUploadURLExternal",
            "files.completeUploadExternal"
        ]
    );
}

/// The receiver's upload flow by hand, as Slack documents it: a completed upload without
/// a `channel_id` stays private (shared nowhere, no message), a second completion of the
/// same file is refused, and an upload whose bytes never came is not found.
#[tokio::test]
async fn the_receivers_upload_flow_keeps_slacks_rules() {
    let slack = SlackReceiver::start(0, false).await.unwrap();
    let http = reqwest::Client::new();
    let call = |method: &str, body: serde_json::Value| {
        let request = http
            .post(format!("{}/{method}", slack.api_url()))
            .bearer_auth(LOCAL_BOT_TOKEN)
            .json(&body);
        async move {
            request
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        call("files.getUploadURLExternal", json!({"filename": "a.png"})).await["error"],
        "invalid_arguments",
        "no length"
    );
    let asked = call(
        "files.getUploadURLExternal",
        json!({"filename": "a.png", "length": 3}),
    )
    .await;
    let (url, id) = (
        asked["upload_url"].as_str().unwrap(),
        asked["file_id"].as_str().unwrap(),
    );
    let complete = json!({"files": [{"id": id, "title": "A"}]});
    assert_eq!(
        call("files.completeUploadExternal", complete.clone()).await["error"],
        "file_not_found",
        "the bytes never came"
    );
    let uploaded = http.post(url).body(b"png".to_vec()).send().await.unwrap();
    assert_eq!(uploaded.status(), 200);
    assert_eq!(
        call("files.completeUploadExternal", complete.clone()).await["ok"],
        true
    );
    let files = slack.files();
    assert_eq!((files.len(), files[0].channel.as_str()), (1, ""), "private");
    assert!(slack.feed().is_empty(), "shared nowhere");
    assert_eq!(
        call("files.completeUploadExternal", complete).await["error"],
        "file_not_found",
        "completed once only"
    );
}
