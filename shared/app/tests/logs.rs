//! Logs are kept longer and read by more people than the CRM: every line of a full run
//! — all the handlers, on their happy paths and their error paths, at every level —
//! holds no token, no signing secret, no webhook URL and no full email address.

mod common;

use std::time::Duration;

use common::deals::Deals;
use common::{FORMSPREE_SECRET, Logs, OWN_SECRET, TALLY_SECRET, TYPEFORM_SECRET, WEBFLOW_SECRET};
use crm_notion_emulator::{DEFAULT_TOKEN, FaultRule};
use serde_json::json;

const EMAILS: &[&str] = &[
    "ann.lee@example.com",
    "Bo.Diaz@Example.com",
    "cy@example.org",
    "dee@example.net",
];

#[tokio::test]
async fn no_secret_and_no_address_reaches_a_log_line() {
    let (_guard, logs) = Logs::capture_json(tracing::Level::TRACE);
    // "negotiation" has no webhook: its announcements fail for good.
    let d = Deals::with_webhooks(&["won", "lost", "digest"]).await;
    let webhook_token = d.subscribe().await;
    let deal = d.new_deal("Acme");
    d.delivered(1).await;

    // Intake: accepted, repeated, badly signed, an invalid address, a body too large.
    for (i, email) in EMAILS.iter().enumerate() {
        let lead = json!({"submission_id": format!("log-{i}"), "email": email, "message": format!("hello from {email}")});
        assert_eq!(d.h.post_lead(&lead).await.0, 202);
        assert_eq!(d.h.post_lead(&lead).await.0, 200);
    }
    let body = json!({"email": "eve@example.com"}).to_string();
    let mut headers = d.h.own_headers(body.as_bytes());
    let signature = crm_domain::intake::own::SIGNATURE_HEADER;
    headers.retain(|(k, _)| *k != signature);
    headers.push((signature, "sha256=00".into()));
    assert_eq!(d.h.post("/lead", &headers, body.as_bytes()).await.0, 401);
    let invalid = json!({"email": "fay@@example.com"});
    assert_eq!(d.h.post_lead(&invalid).await.0, 422);

    // The worker: leads written, one through a Notion outage, one refused by Notion.
    assert!(d.drain().await.is_empty());
    d.h.accept("log-outage", "gus@example.com").await;
    d.h.emulator.inject(FaultRule::status(None, "*", 503));
    d.drain().await;
    d.h.emulator.clear_faults();
    d.h.accept("log-refused", "hal@example.com").await;
    d.h.emulator
        .inject(FaultRule::status(Some("POST"), "/v1/data_sources/*/query", 400).times(1));
    d.drain().await;
    // A token Notion refuses.
    d.h.emulator.set_token("ntn_another_token");
    d.h.accept("log-token", "ivy@example.com").await;
    d.drain().await;
    d.h.emulator.set_token(DEFAULT_TOKEN);

    // Deals: a transition posted, one Slack leaves unconfirmed, one with no webhook.
    d.move_to(&deal, "won");
    d.delivered(2).await;
    d.drain().await;
    d.slack.post_then_fail(500);
    d.move_to(&deal, "lost");
    d.delivered(3).await;
    d.drain().await;
    d.move_to(&deal, "negotiation");
    d.delivered(4).await;
    d.drain().await;

    // The digest, with a stale lead; the redrive an hour later, reporting to the log
    // (there is no ops webhook).
    d.h.stale_contact("jo@example.com");
    d.h.ports.digest().run().await.unwrap();
    d.h.clock.advance(Duration::from_secs(2 * 3600));
    d.h.redrive.run(None).await.unwrap();

    let text = logs.text();
    assert!(text.lines().count() > 50, "a full run was logged: {text}");
    for seen in [
        "lead accepted",
        "activity logged",
        "parked",
        "work needs attention",
    ] {
        assert!(text.contains(seen), "{seen:?} was logged");
    }
    assert!(
        text.contains("a***@example.com") || text.contains("b***@example.com"),
        "addresses appear, redacted: {text}"
    );
    let mut secrets = vec![
        DEFAULT_TOKEN.to_owned(),
        "ntn_another_token".to_owned(),
        OWN_SECRET.to_owned(),
        TALLY_SECRET.to_owned(),
        TYPEFORM_SECRET.to_owned(),
        FORMSPREE_SECRET.to_owned(),
        WEBFLOW_SECRET.to_owned(),
        webhook_token,
    ];
    for hook in ["won", "lost", "digest"] {
        secrets.push(d.slack.url(hook));
    }
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "{secret} is in the logs");
    }
    let mut addresses: Vec<String> = EMAILS.iter().map(|e| e.to_string()).collect();
    addresses.extend(EMAILS.iter().map(|e| e.to_lowercase()));
    for e in ["eve", "gus", "hal", "ivy", "jo"] {
        addresses.push(format!("{e}@example.com"));
    }
    for address in &addresses {
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.contains(address.as_str()))
            .collect();
        assert!(lines.is_empty(), "{address} is in the logs: {lines:#?}");
    }
}

/// The same with a Slack bot token: owners looked up by email, mentioned, sent DMs and
/// their stale leads; a lookup Slack rate-limits; the token refused. No line holds the
/// bot token or an owner's address.
#[tokio::test]
async fn the_bot_token_and_owners_addresses_never_reach_a_log_line() {
    let (_guard, logs) = Logs::capture_json(tracing::Level::TRACE);
    let d = Deals::with_bot(&["won", "digest"]).await;
    d.slack.add_channel("C_NEGOTIATION", "negotiation", true);
    d.subscribe().await;
    let (dana, _) = d.h.ws.people[0].clone();
    let (sam, _) = d.h.ws.people[1].clone();
    let deal = d.new_deal_owned_by("Acme", &[&dana, &sam]);
    d.delivered(1).await;
    d.drain().await;
    d.slack.rate_limit_method("users.lookupByEmail", 1, 1);
    d.move_to(&deal, "negotiation");
    d.delivered(2).await;
    assert!(d.drain().await.is_empty());
    assert_eq!(d.slack.dms_to("dana").len(), 1);
    // The digest, with stale leads the owners own.
    d.h.stale_contact("kay@example.com");
    d.h.ports.digest().run().await.unwrap();
    // Slack refuses the token (lost has no webhook: it goes to #lost with the bot): the
    // event is parked.
    d.slack.rotate_bot_token("xoxb-the-new-one");
    d.move_to(&deal, "lost");
    // (The stale contact's creation was delivered too.)
    d.delivered(4).await;
    d.drain().await;

    let text = logs.text();
    assert!(
        text.contains("has no Slack account"),
        "Sam was looked up: {text}"
    );
    assert!(text.contains("slack_bot_token"), "the refusal was logged");
    for secret in [crm_slack::receiver::LOCAL_BOT_TOKEN, DEFAULT_TOKEN] {
        assert!(!text.contains(secret), "{secret} is in the logs");
    }
    for address in ["dana@example.com", "sam@example.com", "kay@example.com"] {
        let lines: Vec<&str> = text.lines().filter(|l| l.contains(address)).collect();
        assert!(lines.is_empty(), "{address} is in the logs: {lines:#?}");
    }
}

/// Browser forms, on every path: kept, spam of each kind, a field problem, another
/// origin, a captcha verified, refused, unverified, and refused for our secret. No line
/// holds a visitor's address, a captcha token or a captcha secret.
#[tokio::test]
async fn browser_forms_log_no_address_no_token_and_no_captcha_secret() {
    use crm_testkit::captcha::{CaptchaDouble, SECRET};
    let (_guard, logs) = Logs::capture_json(tracing::Level::TRACE);
    let double = CaptchaDouble::start().await;
    let mut h = common::Harness::new().await;
    let site = "http://127.0.0.1:8081";
    h.use_forms(
        &format!(
            r#"{{"c": {{"origins": ["{site}"], "min_fill_seconds": 1,
                 "captcha": {{"provider": "turnstile", "site_key": "k"}}}}}}"#
        ),
        Some((&double, Duration::from_millis(300))),
    );
    let headers = vec![
        ("origin", site.to_owned()),
        (
            "content-type",
            "application/x-www-form-urlencoded".to_owned(),
        ),
    ];
    let mut tokens = Vec::new();
    let send = |body: String, headers: &[(&'static str, String)]| {
        let h = &h;
        let headers = headers.to_vec();
        async move {
            h.browser(
                "POST",
                "/lead/form/c",
                &headers,
                body.as_bytes(),
                "203.0.113.5",
            )
            .await
            .status()
            .as_u16()
        }
    };
    let token = double.issue();
    tokens.push(token.clone());
    let kept = format!("email=kim%40example.com&_crm_fill_ms=5000&cf-turnstile-response={token}");
    assert_eq!(send(kept, &headers).await, 200, "kept: the thank-you page");
    let spam = [
        "email=lou%40example.com&_gotcha=x".to_owned(),
        "email=lou%40example.com&_crm_fill_ms=10".to_owned(),
        "email=lou%40example.com&_crm_fill_ms=5000".to_owned(),
        format!("email=lou%40example.com&_crm_fill_ms=5000&cf-turnstile-response={token}"),
    ];
    for body in spam {
        send(body, &headers).await;
    }
    send(
        "email=max%40example&_crm_fill_ms=5000&cf-turnstile-response=t".into(),
        &headers,
    )
    .await;
    let elsewhere = vec![
        ("origin", "https://evil.example".to_owned()),
        headers[1].clone(),
    ];
    send("email=ned%40example.com".into(), &elsewhere).await;
    double.set_delay(Duration::from_secs(1));
    let slow = double.issue();
    tokens.push(slow.clone());
    send(
        format!("email=oli%40example.com&_crm_fill_ms=5000&cf-turnstile-response={slow}"),
        &headers,
    )
    .await;
    let text = logs.text();
    for seen in [
        "lead accepted",
        "taken for spam",
        "captcha not verified",
        "browser form refused",
    ] {
        assert!(text.contains(seen), "{seen:?} was logged: {text}");
    }
    for secret in tokens.iter().map(String::as_str).chain([SECRET]) {
        assert!(!text.contains(secret), "{secret} is in the logs");
    }
    for address in [
        "kim@example.com",
        "lou@example.com",
        "max@example",
        "ned@example.com",
        "oli@example.com",
    ] {
        let lines: Vec<&str> = text.lines().filter(|l| l.contains(address)).collect();
        assert!(lines.is_empty(), "{address} is in the logs: {lines:#?}");
    }
}

/// A subscription whose every delivery is refused (a lost token, a rotated one) says so
/// once per cause, not once per delivery: the line that says what to do is not buried
/// under thousands like it. Each refusal still counts in the metric its alarm reads.
#[tokio::test]
async fn a_refused_delivery_is_logged_once_per_cause_and_counted_each_time() {
    let (_guard, logs) = Logs::capture();
    let d = Deals::new().await;
    let token = d.subscribe().await;
    let deal = d.new_deal("Loud");
    d.delivered(1).await;
    let event = d
        .fixture_event("notion-event-2026-03-11.json", &deal, None)
        .await;
    for _ in 0..40 {
        assert_eq!(d.post_event(&event, "secret_not_the_token").await.0, 401);
    }
    assert_eq!(logs.lines_with("delivery refused"), 1, "{}", logs.text());
    assert_eq!(
        logs.lines_with("DeliveriesRefused"),
        0,
        "metrics go to stdout"
    );
    // Another cause is said on its own; the same one again after a while.
    d.h.clock.advance(Duration::from_secs(11 * 60));
    assert_eq!(d.post_event(&event, "secret_not_the_token").await.0, 401);
    assert_eq!(logs.lines_with("delivery refused"), 2);
    assert_eq!(d.post_event(&event, &token).await.0, 200);
}

/// Events for the pages the product writes itself (a contact, an Activity) are expected:
/// they are ignored without the warning that says "check CRM_DEALS_DATA_SOURCE_ID",
/// which an event for a data source the product does not know still gets.
#[tokio::test]
async fn the_products_own_contact_pages_raise_no_mismatch_warning() {
    let (_guard, logs) = Logs::capture();
    let d = Deals::new().await;
    let token = d.subscribe().await;
    d.h.emulator
        .create_page_as_person(
            serde_json::json!({"Name": {"title": [{"text": {"content": "Ann"}}]}, "Email": {"email": "ann@example.com"}}),
            &d.h.ws.contacts_data_source_id,
        )
        .unwrap();
    d.delivered(1).await;
    assert_eq!(
        logs.lines_with("neither the Deals data source"),
        0,
        "{}",
        logs.text()
    );
    let elsewhere = serde_json::json!({
        "id": "5c6f2a6e-0d51-4b8e-9a51-3d4b2b6f0a11", "timestamp": "2026-11-24T09:00:00.000Z",
        "type": "page.created", "authors": [{"id": "u1", "type": "person"}],
        "entity": {"id": "59833787-2cf9-4fdf-8782-e53db20768a5", "type": "page"},
        "data": {"parent": {"id": "0ef2e755-4912-8096-91c1-00376a88a5ca", "type": "database",
                            "data_source_id": "1ef2e755-4912-8096-91c1-00376a88a5cb"}},
    })
    .to_string();
    let signature = crm_domain::notion_signature::sign(&token, elsewhere.as_bytes());
    assert_eq!(d.post(&elsewhere, &signature).await.0, 200);
    assert_eq!(
        logs.lines_with("neither the Deals data source"),
        1,
        "{}",
        logs.text()
    );
}
