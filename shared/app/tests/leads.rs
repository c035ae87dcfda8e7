//! Lead intake end to end: signed form → inbox → worker → one Notion contact, with
//! nothing lost and nothing doubled.

mod common;

use std::time::Duration;

use chrono::TimeZone;
use common::{Harness, text};
use crm_app::intake::inbox_id;
use crm_domain::Clock;
use crm_domain::signature::{hmac_sha256, to_base64, to_hex};
use crm_notion_emulator::{BlockLimit, BlockRefusal, FaultAction, FaultRule, TextCase};
use crm_store::InboxStatus;
use crm_store::prelude::*;
use crm_testkit::request::own_signed;
use serde_json::{Value, json};

fn today_in_berlin(h: &Harness) -> String {
    chrono::Utc
        .timestamp_millis_opt(h.clock.now().as_millis())
        .unwrap()
        .with_timezone(&chrono_tz::Europe::Berlin)
        .format("%Y-%m-%d")
        .to_string()
}

fn relation_ids(page: &Value, property: &str) -> Vec<String> {
    page["properties"][property]["relation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_signed_lead_becomes_one_contact_and_one_activity_and_repeats_add_only_activities() {
    let h = Harness::new().await;
    let first = json!({
        "submission_id": "sub-1001",
        "email": "  Ann.Lee@Example.com ",
        "name": "Ann Lee",
        "phone": "+49 30 1234567",
        "message": "We need 20 seats.",
        "utm_source": "newsletter",
        "utm_campaign": "autumn",
    });
    let (status, body) = h.post_lead(&first).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(
        body,
        json!({"status": "accepted", "submission_id": "sub-1001"})
    );
    assert!(h.contacts().is_empty(), "intake never calls Notion");

    let failures = h.run_worker(&[inbox_id("own:sub-1001")]).await;
    assert!(failures.is_empty());
    let contacts = h.contacts();
    assert_eq!(contacts.len(), 1);
    let contact = &contacts[0];
    assert_eq!(text(contact, "Name"), "Ann Lee");
    assert_eq!(
        text(contact, "Email"),
        "Ann.Lee@Example.com",
        "as typed, trimmed"
    );
    assert_eq!(text(contact, "Phone"), "+49 30 1234567");
    assert_eq!(text(contact, "Status"), "new lead");
    assert_eq!(text(contact, "Source"), "newsletter");
    assert_eq!(text(contact, "Company"), "");
    assert_eq!(text(contact, "Last Contacted"), today_in_berlin(&h));
    let activities = h.activities();
    assert_eq!(activities.len(), 1);
    let activity = &activities[0];
    assert_eq!(text(activity, "Type"), "form submission");
    assert_eq!(text(activity, "Title"), "Form submission: Ann Lee");
    let details = text(activity, "Details");
    assert!(details.starts_with("We need 20 seats."), "{details}");
    assert!(details.contains("utm_campaign: autumn"));
    assert!(details.contains("Submission: own:sub-1001"));
    assert_eq!(
        relation_ids(activity, "Contact"),
        [contact["id"].as_str().unwrap()]
    );
    assert_eq!(
        h.inbox(&inbox_id("own:sub-1001")).await.status,
        InboxStatus::Done
    );

    // The same submission again: a duplicate, and no new Activity even if the stream
    // delivers the record again.
    let (status, body) = h.post_lead(&first).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"status": "duplicate", "submission_id": "sub-1001"})
    );
    assert!(h.run_worker(&[inbox_id("own:sub-1001")]).await.is_empty());
    assert_eq!(h.activities().len(), 1);

    // Two days later, a new submission with a company: Last Contacted moves, the empty
    // Company is filled, a second Activity holds the new message.
    h.clock.advance(Duration::from_secs(2 * 86_400));
    let second = json!({
        "submission_id": "sub-1002",
        "email": "ann.lee@example.com",
        "name": "A. Lee",
        "company": "Acme GmbH",
        "message": "Also: invoices in EUR?",
    });
    assert_eq!(h.post_lead(&second).await.0, 202);
    assert!(h.run_worker(&[inbox_id("own:sub-1002")]).await.is_empty());
    let contacts = h.contacts();
    assert_eq!(contacts.len(), 1, "still one contact");
    assert_eq!(text(&contacts[0], "Company"), "Acme GmbH");
    assert_eq!(
        text(&contacts[0], "Name"),
        "Ann Lee",
        "a name a person entered is kept"
    );
    assert_eq!(text(&contacts[0], "Last Contacted"), today_in_berlin(&h));
    assert_eq!(h.activities().len(), 2);
    assert!(
        h.activities()
            .iter()
            .any(|a| text(a, "Details").starts_with("Also: invoices in EUR?"))
    );

    // A third with another company does not overwrite the first one.
    let third = json!({"submission_id": "sub-1003", "email": "ann.lee@example.com", "company": "Other Corp"});
    assert_eq!(h.post_lead(&third).await.0, 202);
    assert!(h.run_worker(&[inbox_id("own:sub-1003")]).await.is_empty());
    assert_eq!(text(&h.contacts()[0], "Company"), "Acme GmbH");
    assert_eq!(h.activities().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_submissions_for_one_email_make_one_contact_and_twenty_activities() {
    let h = std::sync::Arc::new(Harness::dynamo().await);
    let variants = [
        "zoe@example.com",
        "Zoe@Example.com",
        " ZOE@EXAMPLE.COM",
        "zoe@EXAMPLE.com",
    ];
    let posts = (0..20).map(|i| {
        let h = std::sync::Arc::clone(&h);
        let email = variants[i % variants.len()];
        tokio::spawn(async move {
            let lead = json!({"submission_id": format!("zoe-{i}"), "email": email, "message": format!("message {i}")});
            h.post_lead(&lead).await.0
        })
    });
    for status in futures::future::join_all(posts).await {
        assert_eq!(status.unwrap(), 202);
    }
    // Twenty worker invocations at once, one record each, as parallel shards would.
    // A record whose contact is busy is reported failed; the stream delivers it again.
    let mut pending: Vec<String> = (0..20).map(|i| inbox_id(&format!("own:zoe-{i}"))).collect();
    for round in 0..60 {
        let runs = pending.iter().map(|id| {
            let h = std::sync::Arc::clone(&h);
            let id = id.clone();
            tokio::spawn(async move { (id.clone(), h.run_worker(std::slice::from_ref(&id)).await) })
        });
        let mut again = Vec::new();
        for run in futures::future::join_all(runs).await {
            let (id, failures) = run.unwrap();
            if !failures.is_empty() {
                again.push(id);
            }
        }
        pending = again;
        if pending.is_empty() {
            break;
        }
        assert!(round < 59, "still failing after 60 rounds: {pending:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(h.contacts().len(), 1, "exactly one contact");
    let activities = h.activities();
    assert_eq!(activities.len(), 20, "one Activity per submission");
    for i in 0..20 {
        let marker = format!("Submission: own:zoe-{i}");
        assert_eq!(
            activities
                .iter()
                .filter(|a| text(a, "Details").lines().any(|l| l == marker))
                .count(),
            1,
            "{marker}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_made_by_hand_is_found_and_updated_not_duplicated() {
    let h = Harness::new().await;
    let by_hand = h
        .emulator
        .create_page_as_person(
            json!({
                "Name": {"title": [{"text": {"content": "Dana Fox"}}]},
                "Email": {"email": "dana@example.com"},
                "Company": {"rich_text": [{"text": {"content": "Fox & Co"}}]},
                "Status": {"select": {"name": "qualified"}},
                "Last Contacted": {"date": {"start": "2026-01-05"}},
            }),
            &h.ws.contacts_data_source_id,
        )
        .unwrap();
    let lead = json!({"submission_id": "d-1", "email": "Dana@Example.com ", "name": "Dana", "company": "Elsewhere", "phone": "555"});
    assert_eq!(h.post_lead(&lead).await.0, 202);
    assert!(h.run_worker(&[inbox_id("own:d-1")]).await.is_empty());
    let contacts = h.contacts();
    assert_eq!(contacts.len(), 1);
    let c = &contacts[0];
    assert_eq!(c["id"], by_hand["id"]);
    assert_eq!(text(c, "Name"), "Dana Fox");
    assert_eq!(text(c, "Company"), "Fox & Co");
    assert_eq!(
        text(c, "Status"),
        "qualified",
        "a lead never resets the status"
    );
    assert_eq!(text(c, "Phone"), "555", "an empty field is filled");
    assert_eq!(text(c, "Last Contacted"), today_in_berlin(&h));

    // Trashed in Notion after being cached: the next lead makes a new contact.
    h.emulator
        .trash_page_as_person(by_hand["id"].as_str().unwrap(), true)
        .unwrap();
    h.accept("d-2", "dana@example.com").await;
    assert!(h.run_worker(&[inbox_id("own:d-2")]).await.is_empty());
    let contacts = h.contacts();
    let live: Vec<&Value> = contacts.iter().filter(|c| c["in_trash"] == false).collect();
    assert_eq!(live.len(), 1);
    assert_ne!(live[0]["id"], by_hand["id"]);
}

/// Notion does not document whether `equals` ignores case. A contact typed by hand as
/// `Ann@Example.COM` is the one `ann@example.com`'s lead updates, whichever way the
/// emulator is switched: the first lookup indexes every contact, later ones catch up
/// with contacts typed since.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_typed_by_hand_in_another_case_is_updated_in_either_text_case() {
    for case in [TextCase::Sensitive, TextCase::Insensitive] {
        let h = Harness::new().await;
        h.emulator.set_text_case(case);
        let by_hand = |name: &str, email: &str| {
            h.emulator
                .create_page_as_person(
                    json!({"Name": {"title": [{"text": {"content": name}}]}, "Email": {"email": email}}),
                    &h.ws.contacts_data_source_id,
                )
                .unwrap()["id"]
                .clone()
        };
        let ann = by_hand("Ann Lee", "Ann@Example.COM");
        let lead = json!({"submission_id": "c-1", "email": "ann@example.com", "phone": "555"});
        assert_eq!(h.post_lead(&lead).await.0, 202);
        assert!(
            h.run_worker(&[inbox_id("own:c-1")]).await.is_empty(),
            "{case:?}"
        );
        let contacts = h.contacts();
        assert_eq!(contacts.len(), 1, "{case:?}: no second contact");
        assert_eq!(contacts[0]["id"], ann);
        assert_eq!(text(&contacts[0], "Phone"), "555", "{case:?}");

        // Typed by hand after the index was built, found once the index catches up.
        let bob = by_hand("Bob Stone", "Bob@Example.com");
        h.clock.advance(Duration::from_secs(120));
        h.accept("c-2", "bob@example.com").await;
        assert!(
            h.run_worker(&[inbox_id("own:c-2")]).await.is_empty(),
            "{case:?}"
        );
        let contacts = h.contacts();
        assert_eq!(contacts.len(), 2, "{case:?}: no third contact");
        let activity = h
            .activities()
            .into_iter()
            .find(|a| text(a, "Details").contains("c-2"))
            .unwrap();
        assert_eq!(activity["properties"]["Contact"]["relation"][0]["id"], bob);
    }
}

/// Submission ids are the sender's: two sites numbering from 1, or an own form sending
/// an id shaped like Tally's, must not make a second lead a silent "duplicate".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_submission_id_with_other_content_is_kept_not_dropped() {
    let h = Harness::new().await;
    let first = json!({"submission_id": "42", "email": "ann@example.com", "message": "Site A"});
    let (status, body) = h.post_lead(&first).await;
    assert_eq!((status, &body["submission_id"]), (202, &json!("42")));
    // Another site, the same id, another person.
    let other = json!({"submission_id": "42", "email": "bob@example.com", "message": "Site B"});
    let (status, body) = h.post_lead(&other).await;
    assert_eq!(status, 202, "{body}");
    let derived = body["submission_id"].as_str().unwrap().to_owned();
    assert!(derived.starts_with("42~"), "{derived}");
    // Retries of either are still duplicates.
    let (status, body) = h.post_lead(&other).await;
    assert_eq!((status, &body["submission_id"]), (200, &json!(derived)));
    assert_eq!(h.post_lead(&first).await.0, 200);
    // An own form's id shaped like Tally's does not collide with Tally's.
    let own_tally = json!({"submission_id": "2wgx4n", "email": "cy@example.com"});
    assert_eq!(h.post_lead(&own_tally).await.0, 202);
    assert_eq!(post_tally(&h).await, 202);

    let open = h.open_ids().await;
    assert_eq!(open.len(), 4, "{open:?}");
    assert!(h.run_worker(&open).await.is_empty());
    let mut emails: Vec<String> = h.contacts().iter().map(|c| text(c, "Email")).collect();
    emails.sort();
    assert_eq!(
        emails,
        [
            "alice@example.com",
            "ann@example.com",
            "bob@example.com",
            "cy@example.com"
        ]
    );
    assert_eq!(h.activities().len(), 4);
}

/// The deployed secret starts with an empty `notion_token`, and people make typos in
/// the rest: intake needs only `form_secrets`, so nothing else may stop it. Each bad
/// entry is logged once, by name; the worker says what it misses.
#[tokio::test]
async fn one_bad_entry_in_the_secret_stops_only_what_uses_it() {
    let (_guard, logs) = common::Logs::capture();
    let h = Harness::with_secrets(json!({
        "notion_token": "",
        "form_secrets": {"own": common::OWN_SECRET, "Tally": common::TALLY_SECRET, "hubspot": "x"},
        "slack_webhooks": {"won": "hooks.slack.com/services/T0/B0/x"},
        "colour": "blue",
    }))
    .await;
    h.accept("bad-1", "ann@example.com").await;
    assert_eq!(post_tally(&h).await, 202, "\"Tally\" is taken as tally");
    // The secrets are read again after their TTL: the same problems are not logged again.
    h.clock.advance(Duration::from_secs(301));
    h.accept("bad-2", "bob@example.com").await;

    let failures = h.run_worker(&[inbox_id("own:bad-1")]).await;
    assert_eq!(failures.len(), 1, "retried once the token is filled in");
    let item = h.inbox(&inbox_id("own:bad-1")).await;
    assert!(
        item.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("notion_token"),
        "{item:?}"
    );
    for field in [
        "form_secrets.hubspot",
        "form_secrets.Tally",
        "slack_webhooks.won",
        "colour",
    ] {
        assert_eq!(
            logs.lines_with(&format!("field={field} ")),
            1,
            "{field}: {}",
            logs.text()
        );
    }
    assert!(
        !logs.text().contains(common::TALLY_SECRET) && !logs.text().contains("hooks.slack.com")
    );
}

/// What is sent, the headers, the body, and the status and code expected back.
type Rejection = (
    &'static str,
    Vec<(&'static str, String)>,
    Vec<u8>,
    u16,
    &'static str,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rejection_has_its_status_and_code_and_stores_nothing() {
    let h = Harness::new().await;
    let body = json!({"email": "ann@example.com", "message": "hi"}).to_string();
    let signed = h.own_headers(body.as_bytes());
    let json_ct = ("content-type", "application/json".to_owned());

    let mut cases: Vec<Rejection> = vec![(
        "unsigned",
        vec![json_ct.clone()],
        body.clone().into_bytes(),
        401,
        "unauthorized",
    )];
    let mut wrong = signed.clone();
    wrong[2].1 = format!("sha256={}", "0".repeat(64));
    cases.push((
        "wrong signature",
        wrong,
        body.clone().into_bytes(),
        401,
        "unauthorized",
    ));
    let stale = own_signed(
        common::OWN_SECRET,
        h.clock.now().as_secs() - 301,
        body.as_bytes(),
    );
    cases.push((
        "stale timestamp",
        stale,
        body.clone().into_bytes(),
        401,
        "unauthorized",
    ));
    let mut form_ct = signed.clone();
    form_ct[0].1 = "application/x-www-form-urlencoded".into();
    cases.push((
        "wrong content type",
        form_ct,
        body.clone().into_bytes(),
        415,
        "unsupported_media_type",
    ));
    let big = json!({"email": "ann@example.com", "message": "x".repeat(70_000)})
        .to_string()
        .into_bytes();
    cases.push((
        "64 KiB+",
        h.own_headers(&big),
        big,
        413,
        "payload_too_large",
    ));
    let malformed = b"{\"email\": \"ann@example.com\",".to_vec();
    cases.push((
        "malformed JSON",
        h.own_headers(&malformed),
        malformed,
        400,
        "malformed_json",
    ));
    let no_email = json!({"name": "Ann"}).to_string().into_bytes();
    cases.push((
        "missing email",
        h.own_headers(&no_email),
        no_email,
        422,
        "missing_email",
    ));
    let bad_email = json!({"email": "ann@localhost"}).to_string().into_bytes();
    cases.push((
        "invalid email",
        h.own_headers(&bad_email),
        bad_email,
        422,
        "invalid_email",
    ));

    for (what, headers, body, want_status, want_code) in cases {
        let (status, response) = h.post("/lead", &headers, &body).await;
        assert_eq!(status, want_status, "{what}: {response}");
        assert_eq!(response["error"], want_code, "{what}: {response}");
        if want_status == 401 {
            // Which check failed, as Stripe says it: never the secret or the expected
            // signature.
            let reason = match what {
                "unsigned" => "missing_signature",
                "wrong signature" => "signature_mismatch",
                _ => "stale_timestamp",
            };
            assert_eq!(response["reason"], reason, "{what}: {response}");
            let said = response.to_string();
            assert!(
                !said.contains(common::OWN_SECRET) && !said.contains("sha256="),
                "{what}: {said}"
            );
        }
        if want_status == 422 {
            assert!(
                response["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("email")),
                "{what}: {response}"
            );
        }
    }
    assert!(
        h.store.inbox_list_open(100).await.unwrap().is_empty(),
        "nothing stored"
    );
    assert_eq!(h.post("/nope", &signed, body_bytes(&body)).await.0, 404);
}

fn body_bytes(s: &str) -> &[u8] {
    s.as_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_provider_secret_fails_closed() {
    let h = Harness::with_secrets(
        json!({"notion_token": "ntn_x", "form_secrets": {"own": common::OWN_SECRET}}),
    )
    .await;
    let body = tally_body();
    let sig = crm_domain::signature::to_base64(&crm_domain::signature::hmac_sha256(
        b"anything",
        &[body.as_bytes()],
    ));
    let (status, response) = h
        .post(
            "/lead/tally",
            &[
                ("content-type", "application/json".into()),
                ("tally-signature", sig),
            ],
            body.as_bytes(),
        )
        .await;
    assert_eq!(
        (status, &response["error"], &response["reason"]),
        (
            401,
            &json!("unauthorized"),
            &json!("provider_not_configured")
        ),
        "fails closed, and says why to the sender setting it up"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_gateway_base64_bodies_are_decoded_before_verifying() {
    let h = Harness::new().await;
    let body = json!({"submission_id": "b64-1", "email": "b64@example.com"}).to_string();
    let (status, response) = h
        .post_encoded(
            "/lead",
            &h.own_headers(body.as_bytes()),
            body.as_bytes(),
            true,
        )
        .await;
    assert_eq!(status, 202, "{response}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notion_outage_keeps_the_item_failed_until_notion_recovers_then_one_contact() {
    let h = Harness::new().await;
    h.accept("o-1", "omar@example.com").await;
    h.emulator.inject(FaultRule::status(None, "*", 503));
    let failures = h.run_worker(&[inbox_id("own:o-1")]).await;
    assert_eq!(failures.len(), 1, "reported for the stream to retry");
    let item = h.inbox(&inbox_id("own:o-1")).await;
    assert_eq!(item.status, InboxStatus::Failed);
    assert_eq!(item.attempts, 1);
    assert!(
        item.last_error.as_deref().unwrap().contains("503"),
        "{:?}",
        item.last_error
    );
    assert!(
        h.store
            .inbox_list_open(10)
            .await
            .unwrap()
            .iter()
            .any(|i| i.id == item.id)
    );
    assert!(h.run_worker(&[inbox_id("own:o-1")]).await.len() == 1);

    h.emulator.clear_faults();
    assert!(h.run_worker(&[inbox_id("own:o-1")]).await.is_empty());
    assert_eq!(h.contacts().len(), 1);
    assert_eq!(h.activities().len(), 1);
    assert_eq!(
        h.inbox(&inbox_id("own:o-1")).await.status,
        InboxStatus::Done
    );
}

/// A Free workspace with a teammate past its 1,000 blocks refuses every new page (403
/// `restricted_resource` with `additional_data.block_limit`). Upgrading or connecting
/// with a personal access token fixes it, and the lead must be there when that is done:
/// kept for the system's own retries, not parked for a person, its reason naming both
/// fixes; once creates are taken again it lands once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_free_block_limit_a_lead_waits_for_the_next_probe_and_lands_once_after_an_upgrade()
{
    let h = Harness::new().await;
    h.stale_contact("known@example.com");
    h.accept("b-1", "new@example.com").await;
    h.accept("b-2", "known@example.com").await;
    let used = h.emulator.blocks_used();
    h.emulator
        .set_block_limit(Some(BlockLimit::free(used, BlockRefusal::Documented)));
    let batch = [inbox_id("own:b-1"), inbox_id("own:b-2")];
    assert!(
        h.run_worker(&batch).await.is_empty(),
        "back in the inbox, not the stream's to retry"
    );
    let probe = h.clock.now().plus(Duration::from_secs(15 * 60));
    for id in &batch {
        let item = h.inbox(id).await;
        assert_eq!(
            (item.status, item.attempts, item.not_before),
            (InboxStatus::Failed, 0, Some(probe)),
            "{id}: waits for the probe, no attempt counted"
        );
        let reason = item.last_error.unwrap_or_default();
        assert!(reason.contains("block limit"), "{reason}");
    }
    assert_eq!(h.contacts().len(), 1, "no page was made");
    let creates = || {
        h.emulator
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path == "/v1/pages")
            .count()
    };
    // The two run side by side: each may have sent its create before the first refusal
    // was recorded, but no more than that.
    let refused = creates();
    assert!((1..=2).contains(&refused), "{refused} creates");

    // Before the probe's time, a delivery sends no create.
    h.emulator.set_block_limit(None);
    assert!(h.run_worker(&batch).await.is_empty());
    assert_eq!(creates(), refused, "held: none sent");
    assert_eq!(h.contacts().len(), 1);
    h.clock.advance(Duration::from_secs(15 * 60));
    assert!(h.run_worker(&batch).await.is_empty());
    assert_eq!(h.contacts().len(), 2);
    assert_eq!(h.activities().len(), 2);
    for id in &batch {
        assert_eq!(h.inbox(id).await.status, InboxStatus::Done);
    }
}

/// With `activity_log = "notes"`, a new lead costs one block and two calls (find, create
/// the contact with its entry), a repeat lead none and two (find, update), and what a
/// person wrote in Notes stays; each submission's entry is there once, whatever is
/// delivered again, and a Free workspace past its block limit still takes repeat leads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_notes_mode_a_lead_costs_one_block_and_two_calls_and_repeats_append_once() {
    let mut h = Harness::new().await;
    h.use_notes_log();
    h.accept("n-1", "nia@example.com").await;
    let blocks = h.emulator.blocks_used();
    h.emulator.clear_requests();
    assert!(h.run_worker(&[inbox_id("own:n-1")]).await.is_empty());
    assert_eq!(h.emulator.blocks_used() - blocks, 1, "the contact only");
    assert_eq!(
        h.emulator.requests().len(),
        2,
        "{:#?}",
        h.emulator.requests()
    );
    assert!(h.activities().is_empty(), "no Activity page");
    let notes = |h: &Harness| text(&h.contacts()[0], "Notes");
    assert!(notes(&h).contains("[Submission: own:n-1]"), "{}", notes(&h));

    // A person adds to the Notes; the next submission's entry goes after it.
    let contact = h.contacts()[0]["id"].as_str().unwrap().to_owned();
    h.emulator
        .update_page_as_person(
            &contact,
            json!({"Notes": {"rich_text": [
                {"type": "text", "text": {"content": &notes(&h)}},
                {"type": "text", "text": {"content": "\nCalled her, call back in May"}},
            ]}}),
        )
        .unwrap();
    let used = h.emulator.blocks_used();
    h.emulator
        .set_block_limit(Some(BlockLimit::free(used, BlockRefusal::Documented)));
    h.accept("n-2", "nia@example.com").await;
    h.emulator.clear_requests();
    assert!(h.run_worker(&[inbox_id("own:n-2")]).await.is_empty());
    assert!(
        h.emulator.requests().len() <= 2,
        "{:#?}",
        h.emulator.requests()
    );
    for id in ["own:n-1", "own:n-2"] {
        let marker = format!("[Submission: {id}]");
        assert_eq!(notes(&h).matches(&marker).count(), 1, "{id}: {}", notes(&h));
    }
    assert!(notes(&h).contains("call back in May"), "{}", notes(&h));
    let kept = notes(&h).find("call back in May").unwrap();
    assert!(
        kept < notes(&h).find("own:n-2").unwrap(),
        "the entry goes last"
    );

    // Notion saves the entry and the answer is lost: the retry finds it in Notes and
    // does not write it twice.
    h.accept("n-3", "nia@example.com").await;
    h.emulator.inject(
        FaultRule::new(
            Some("PATCH"),
            "/v1/pages/*",
            FaultAction::CommitThen { status: 504 },
        )
        .times(1),
    );
    assert_eq!(
        h.run_worker(&[inbox_id("own:n-3")]).await.len(),
        1,
        "retried"
    );
    assert_eq!(notes(&h).matches("[Submission: own:n-3]").count(), 1);
    assert!(h.run_worker(&[inbox_id("own:n-3")]).await.is_empty());
    assert_eq!(
        notes(&h).matches("[Submission: own:n-3]").count(),
        1,
        "once"
    );
    assert_eq!(h.contacts().len(), 1);
    assert!(h.activities().is_empty());
}

/// Notes a page object carries incompletely (more than 25 mentions: Notion cuts the
/// answer there) are never written back: the submission gets its Activity page, and
/// every mention a person made stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_notes_mode_notes_notion_answers_incompletely_are_left_whole() {
    let mut h = Harness::new().await;
    h.use_notes_log();
    let (dana, _) = h.ws.people[0].clone();
    let mentions: Vec<Value> = (0..30)
        .map(|_| json!({"type": "mention", "mention": {"type": "user", "user": {"id": dana}}}))
        .collect();
    h.emulator
        .create_page_as_person(
            json!({
                "Name": {"title": [{"text": {"content": "Mia"}}]},
                "Email": {"email": "mia@example.com"},
                "Notes": {"rich_text": mentions},
            }),
            &h.ws.contacts_data_source_id,
        )
        .unwrap();
    h.accept("m-1", "mia@example.com").await;
    assert!(h.run_worker(&[inbox_id("own:m-1")]).await.is_empty());

    let contact = h.contacts().pop().unwrap();
    let kept = contact["properties"]["Notes"]["rich_text"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["type"] == "mention")
        .count();
    assert_eq!(kept, 30, "every mention a person made stays");
    assert_eq!(
        h.activities().len(),
        1,
        "the submission has its Activity page"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_waited_out_within_one_attempt() {
    let h = Harness::new().await;
    h.accept("r-1", "rae@example.com").await;
    h.emulator
        .inject(FaultRule::rate_limited(None, "*", 1).times(2));
    let started = std::time::Instant::now();
    assert!(h.run_worker(&[inbox_id("own:r-1")]).await.is_empty());
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert_eq!(h.contacts().len(), 1);
    assert_eq!(
        h.inbox(&inbox_id("own:r-1")).await.attempts,
        0,
        "no failed attempt"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_notion_saved_before_failing_are_never_repeated() {
    let h = Harness::new().await;
    // 503 after commit, with the committed id: the client reads the page back.
    h.accept("c-1", "cy@example.com").await;
    h.emulator
        .inject(FaultRule::new(Some("POST"), "/v1/pages", FaultAction::CommitThen503).times(1));
    assert!(h.run_worker(&[inbox_id("own:c-1")]).await.is_empty());
    assert_eq!(h.contacts().len(), 1);
    assert_eq!(h.activities().len(), 1);

    // A gateway timeout after the Activity was saved, with no hint: the attempt looks
    // before anything else and finds it.
    h.accept("c-2", "cy@example.com").await;
    h.emulator.inject(commit_then_504());
    assert!(
        h.run_worker(&[inbox_id("own:c-2")]).await.is_empty(),
        "found, not retried"
    );
    assert_eq!(h.activities().len(), 2, "saved once");
    assert!(h.run_worker(&[inbox_id("own:c-2")]).await.is_empty());
    assert_eq!(h.activities().len(), 2, "not saved again");
    assert_eq!(
        h.inbox(&inbox_id("own:c-2")).await.status,
        InboxStatus::Done
    );

    // The same for a new contact: the retry finds the contact instead of making another.
    h.accept("c-3", "new@example.com").await;
    h.emulator.inject(commit_then_504());
    assert!(h.run_worker(&[inbox_id("own:c-3")]).await.is_empty());
    assert!(h.run_worker(&[inbox_id("own:c-3")]).await.is_empty());
    let named: Vec<Value> = h
        .contacts()
        .into_iter()
        .filter(|c| text(c, "Email") == "new@example.com")
        .collect();
    assert_eq!(named.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_notion_refuses_is_parked_and_the_stream_moves_on() {
    let h = Harness::new().await;
    h.accept("v-1", "val@example.com").await;
    h.emulator
        .inject(FaultRule::status(Some("POST"), "/v1/data_sources/*/query", 400).times(1));
    let failures = h.run_worker(&[inbox_id("own:v-1")]).await;
    assert!(
        failures.is_empty(),
        "a permanent error does not block the stream"
    );
    let item = h.inbox(&inbox_id("own:v-1")).await;
    assert_eq!(item.status, InboxStatus::Parked);
    assert!(item.last_error.unwrap().contains("validation_error"));
    assert!(
        h.store
            .inbox_list_open(10)
            .await
            .unwrap()
            .iter()
            .any(|i| i.id == item.id),
        "kept for replay"
    );
}

/// Posts [`tally_body`] signed as Tally signs it; returns the status.
async fn post_tally(h: &Harness) -> u16 {
    let tally = tally_body();
    let sig = to_base64(&hmac_sha256(
        common::TALLY_SECRET.as_bytes(),
        &[tally.as_bytes()],
    ));
    let headers = [
        ("content-type", "application/json".to_owned()),
        ("tally-signature", sig),
    ];
    h.post("/lead/tally", &headers, tally.as_bytes()).await.0
}

fn tally_body() -> String {
    json!({
        "eventId": "a4cb511e-d513-4fa5-baee-b815d718dfd1",
        "eventType": "FORM_RESPONSE",
        "createdAt": "2026-06-28T15:00:21.889Z",
        "data": {
            "responseId": "2wgx4n", "submissionId": "2wgx4n", "respondentId": "dwQKYm",
            "formId": "VwbNEw", "formName": "Contact us", "createdAt": "2026-06-28T15:00:21.000Z",
            "fields": [
                {"key": "question_1", "label": "Full name", "type": "INPUT_TEXT", "value": "Alice Ng"},
                {"key": "question_2", "label": "Work email", "type": "INPUT_EMAIL", "value": "alice@example.com"},
                {"key": "question_3", "label": "Company", "type": "INPUT_TEXT", "value": "Acme"},
                {"key": "question_4", "label": "Anything else?", "type": "TEXTAREA", "value": "Pricing please"}
            ]
        }
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tally_typeform_and_formspree_payloads_are_verified_and_mapped() {
    let h = Harness::new().await;
    let ct = ("content-type", "application/json".to_owned());

    let tally = tally_body();
    let sig = to_base64(&hmac_sha256(
        common::TALLY_SECRET.as_bytes(),
        &[tally.as_bytes()],
    ));
    let (status, body) = h
        .post(
            "/lead/tally",
            &[ct.clone(), ("tally-signature", sig.clone())],
            tally.as_bytes(),
        )
        .await;
    assert_eq!(
        (status, body["submission_id"].as_str()),
        (202, Some("2wgx4n")),
        "{body}"
    );
    let tampered = tally.replace("Acme", "Evil");
    assert_eq!(
        h.post(
            "/lead/tally",
            &[ct.clone(), ("tally-signature", sig)],
            tampered.as_bytes()
        )
        .await
        .0,
        401
    );

    let typeform = json!({
        "event_id": "01HXQ6W5M2H7T6Q7W1H5E0Z8YB", "event_type": "form_response",
        "form_response": {
            "form_id": "lT4Z3j", "token": "a3a12ec67a1365927098a606107fac15",
            "submitted_at": "2026-01-18T18:17:02Z", "hidden": {"utm_source": "linkedin"},
            "definition": {"id": "lT4Z3j", "title": "Talk to sales", "fields": [
                {"id": "f1", "title": "What's your full name?", "type": "short_text", "ref": "r1"},
                {"id": "f2", "title": "Work email", "type": "email", "ref": "email"},
                {"id": "f3", "title": "Where do you work?", "type": "short_text", "ref": "company"}
            ]},
            "answers": [
                {"type": "text", "text": "Laura Diaz", "field": {"id": "f1", "type": "short_text", "ref": "r1"}},
                {"type": "email", "email": "laura@example.com", "field": {"id": "f2", "type": "email", "ref": "email"}},
                {"type": "text", "text": "Globex", "field": {"id": "f3", "type": "short_text", "ref": "company"}}
            ]
        }
    })
    .to_string();
    let sig = format!(
        "sha256={}",
        to_base64(&hmac_sha256(
            common::TYPEFORM_SECRET.as_bytes(),
            &[typeform.as_bytes()]
        ))
    );
    assert_eq!(
        h.post(
            "/lead/typeform",
            &[ct.clone(), ("typeform-signature", sig.clone())],
            typeform.as_bytes()
        )
        .await
        .0,
        202
    );
    let tampered = typeform.replace("Globex", "Initech");
    assert_eq!(
        h.post(
            "/lead/typeform",
            &[ct.clone(), ("typeform-signature", sig)],
            tampered.as_bytes()
        )
        .await
        .0,
        401
    );

    let formspree = json!({
        "form": "mqkrwzyx", "keys": ["email", "name", "company", "message"],
        "submission": {"_date": "2026-05-07T16:09:10.000Z", "email": "ada@example.com", "name": "Ada Lovelace",
                       "company": "Analytical Engines Ltd", "message": "Loved the docs."}
    })
    .to_string();
    let t = h.clock.now().as_secs().to_string();
    let v1 = to_hex(&hmac_sha256(
        common::FORMSPREE_SECRET.as_bytes(),
        &[t.as_bytes(), b".", formspree.as_bytes()],
    ));
    let header = format!("t={t},v1={v1}");
    let (status, fs) = h
        .post(
            "/lead/formspree",
            &[ct.clone(), ("formspree-signature", header.clone())],
            formspree.as_bytes(),
        )
        .await;
    assert_eq!(status, 202, "{fs}");
    let tampered = formspree.replace("Ada", "Eve");
    assert_eq!(
        h.post(
            "/lead/formspree",
            &[ct.clone(), ("formspree-signature", header)],
            tampered.as_bytes()
        )
        .await
        .0,
        401
    );

    let ids = [
        inbox_id("tally:2wgx4n"),
        inbox_id("typeform:a3a12ec67a1365927098a606107fac15"),
        inbox_id(&format!(
            "formspree:{}",
            fs["submission_id"].as_str().unwrap()
        )),
    ];
    assert!(h.run_worker(&ids).await.is_empty());
    let contacts = h.contacts();
    let by_email = |e: &str| {
        contacts
            .iter()
            .find(|c| text(c, "Email") == e)
            .unwrap_or_else(|| panic!("{e}"))
    };
    assert_eq!(text(by_email("alice@example.com"), "Company"), "Acme");
    assert_eq!(text(by_email("alice@example.com"), "Name"), "Alice Ng");
    assert_eq!(text(by_email("laura@example.com"), "Company"), "Globex");
    assert_eq!(text(by_email("laura@example.com"), "Source"), "linkedin");
    assert_eq!(text(by_email("ada@example.com"), "Name"), "Ada Lovelace");
    let activities = h.activities();
    assert_eq!(activities.len(), 3);
    assert!(
        activities
            .iter()
            .any(|a| text(a, "Details").starts_with("Pricing please"))
    );
    assert!(
        activities
            .iter()
            .any(|a| text(a, "Details").starts_with("Loved the docs."))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_several_contacts_share_an_email_the_oldest_is_updated() {
    let h = Harness::new().await;
    let make = |name: &str| {
        h.emulator
            .create_page_as_person(
                json!({"Name": {"title": [{"text": {"content": name}}]}, "Email": {"email": "twin@example.com"}}),
                &h.ws.contacts_data_source_id,
            )
            .unwrap()
    };
    let newer = make("Newer twin");
    let older = make("Older twin");
    let long_ago = chrono::Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap();
    assert!(
        h.emulator
            .set_page_times(older["id"].as_str().unwrap(), Some(long_ago), None)
    );
    let lead = json!({"submission_id": "t-1", "email": "twin@example.com", "company": "Twins Ltd"});
    assert_eq!(h.post_lead(&lead).await.0, 202);
    assert!(h.run_worker(&[inbox_id("own:t-1")]).await.is_empty());
    let contacts = h.contacts();
    assert_eq!(contacts.len(), 2, "no third contact");
    let company_of = |id: &Value| {
        contacts
            .iter()
            .find(|c| c["id"] == *id)
            .map(|c| text(c, "Company"))
            .unwrap()
    };
    assert_eq!(company_of(&older["id"]), "Twins Ltd");
    assert_eq!(company_of(&newer["id"]), "");
}

/// The next page create is saved, then answered 504 with no hint that it was saved.
fn commit_then_504() -> FaultRule {
    FaultRule::new(
        Some("POST"),
        "/v1/pages",
        FaultAction::CommitThen { status: 504 },
    )
    .times(1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_items_are_replayed_once_the_cause_is_fixed() {
    let h = Harness::new().await;
    h.accept("p-1", "pia@example.com").await;
    h.accept("p-2", "pat@example.com").await;
    h.emulator.inject(FaultRule::status(None, "*", 503));
    let ids = [inbox_id("own:p-1"), inbox_id("own:p-2")];
    assert_eq!(h.run_worker(&ids).await.len(), 2);
    let report = h.worker.replay(100).await.unwrap();
    assert!(report.done.is_empty());
    assert_eq!(report.failed.len(), 2);
    assert!(report.failed[0].1.contains("503"));

    h.emulator.clear_faults();
    let report = h.worker.replay(100).await.unwrap();
    assert_eq!(report.done.len(), 2);
    assert!(h.store.inbox_list_open(10).await.unwrap().is_empty());
    assert_eq!(h.contacts().len(), 2);
    assert_eq!(h.activities().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_method_and_a_payload_in_the_wrong_shape_are_refused_with_their_codes() {
    let h = Harness::new().await;
    let body = json!({"email": "ann@example.com"}).to_string();
    let mut get = common::api_gateway_request(
        "/lead",
        &h.own_headers(body.as_bytes()),
        body.as_bytes(),
        false,
    );
    *get.method_mut() = lambda_http::http::Method::GET;
    let (status, response) = common::read(h.intake.handle(get).await);
    assert_eq!(
        (status, response),
        (405, json!({"error": "method_not_allowed"}))
    );

    // Correctly signed for Tally, but not Tally's webhook format.
    let not_tally = json!({"email": "ann@example.com"}).to_string();
    let sig = crm_domain::signature::to_base64(&crm_domain::signature::hmac_sha256(
        common::TALLY_SECRET.as_bytes(),
        &[not_tally.as_bytes()],
    ));
    let (status, response) = h
        .post(
            "/lead/tally",
            &[
                ("content-type", "application/json".into()),
                ("tally-signature", sig),
            ],
            not_tally.as_bytes(),
        )
        .await;
    assert_eq!(status, 400, "{response}");
    assert_eq!(response["error"], "unexpected_payload");
    assert!(response["message"].as_str().unwrap().contains("Tally"));
    assert!(h.store.inbox_list_open(10).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_secret_answers_503_so_the_form_retries_and_stores_nothing() {
    let h = Harness::new().await;
    let aws = crm_settings::sdk_config().await;
    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:crm-missing-Ab12Cd";
    let secrets = std::sync::Arc::new(crm_settings::CachedSecrets::new(
        crm_settings::SecretsManagerSource::new(aws_sdk_secretsmanager::Client::new(&aws), missing),
        Duration::from_secs(300),
        std::sync::Arc::new(h.clock.clone()),
    ));
    let clock = std::sync::Arc::new(h.clock.clone());
    let ports =
        crm_app::Ports::new(h.ports.settings.clone(), h.store.clone(), secrets, clock).unwrap();
    let intake = ports.intake();
    let body = json!({"submission_id": "s-1", "email": "ann@example.com"}).to_string();
    let request = common::api_gateway_request(
        "/lead",
        &h.own_headers(body.as_bytes()),
        body.as_bytes(),
        false,
    );
    let (status, response) = common::read(intake.handle(request).await);
    assert_eq!((status, response), (503, json!({"error": "unavailable"})));
    assert!(
        h.store
            .inbox_get(&inbox_id("own:s-1"))
            .await
            .unwrap()
            .is_none()
    );
}

/// Lambda kills an invocation at its timeout; an item killed halfway would keep its
/// claim and lease, and redeliveries would answer "in progress" until they expire. The
/// worker takes a record only while an item's worst case still fits before the
/// deadline, and hands the rest back untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_timeout_strands_no_items() {
    let h = Harness::new().await;
    // One person's three submissions: one lane, written one after another.
    for id in ["late-1", "late-2", "late-3"] {
        h.accept(id, "late@example.com").await;
    }
    h.emulator
        .inject(FaultRule::new(None, "*", FaultAction::Latency { ms: 300 }));
    let ids: Vec<String> = ["late-1", "late-2", "late-3"]
        .iter()
        .map(|id| inbox_id(&format!("own:{id}")))
        .collect();
    let event = h.stream_event(&ids).await;
    let sequence: Vec<String> = event
        .records
        .iter()
        .map(|r| r.change.sequence_number.clone().unwrap())
        .collect();
    // Time for the first item's worst case, and a little more: not for a second.
    let left = h.worker.settings.item_budget
        + crm_app::worker::DEADLINE_MARGIN
        + Duration::from_millis(300);
    let deadline = tokio::time::Instant::now() + left;
    let response = h.worker.handle_stream(event, Some(deadline)).await;
    let handed_back: Vec<String> = response
        .batch_item_failures
        .into_iter()
        .filter_map(|f| f.item_identifier)
        .collect();
    assert_eq!(handed_back, sequence[1..], "the records not taken");
    assert_eq!(h.inbox(&ids[0]).await.status, InboxStatus::Done);
    for id in &ids[1..] {
        let item = h.inbox(id).await;
        assert_eq!(
            (item.status, item.attempts),
            (InboxStatus::Pending, 0),
            "{id}: untouched"
        );
    }
    // Redelivered at once, they are not "in progress": nothing holds them.
    h.emulator.clear_faults();
    assert!(h.run_worker(&ids[1..]).await.is_empty());
    assert_eq!(h.contacts().len(), 1);
    assert_eq!(h.activities().len(), 3);
    assert!(h.worker.settings.lease > h.worker.settings.item_budget);
}

/// Notion's token is rotated: the functions still hold the old one for the secrets'
/// TTL. A 401 reads the secret again and tries once more; only then does it fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notion_token_rotation_does_not_park_leads() {
    let h = Harness::new().await;
    h.accept("rot-1", "ann@example.com").await;
    // Warm: the worker holds the current secret.
    assert!(h.run_worker(&[inbox_id("own:rot-1")]).await.is_empty());
    h.accept("rot-2", "bob@example.com").await;
    h.emulator.set_token("ntn_rotated_token");
    h.rotate_secret(json!({
        "notion_token": "ntn_rotated_token",
        "form_secrets": {"own": common::OWN_SECRET},
    }))
    .await;
    h.clock.advance(Duration::from_secs(30));
    assert!(h.run_worker(&[inbox_id("own:rot-2")]).await.is_empty());
    assert_eq!(
        h.inbox(&inbox_id("own:rot-2")).await.status,
        InboxStatus::Done
    );
    assert_eq!(h.contacts().len(), 2);
    // Rotated in Notion before the secret: a token Notion refuses is retried, never
    // parked, and the item is written once the secret holds the new one.
    h.emulator.set_token("ntn_another");
    h.accept("rot-3", "cy@example.com").await;
    h.clock.advance(Duration::from_secs(30));
    h.run_worker(&[inbox_id("own:rot-3")]).await;
    let item = h.inbox(&inbox_id("own:rot-3")).await;
    assert_eq!(
        item.status,
        InboxStatus::Failed,
        "retried by the redrive, not parked"
    );
    assert!(item.last_error.unwrap().contains("401"));
    h.rotate_secret(json!({
        "notion_token": "ntn_another",
        "form_secrets": {"own": common::OWN_SECRET},
    }))
    .await;
    h.clock.advance(Duration::from_secs(30));
    assert!(h.run_worker(&[inbox_id("own:rot-3")]).await.is_empty());
    assert_eq!(h.contacts().len(), 3);
}

/// A rotation while several leads are in flight: the first to meet the refusal reads
/// the secret again; the others, refused moments later, must use what it read rather
/// than give up because the secret was read "just now".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rotation_with_leads_in_flight_parks_none() {
    let h = Harness::new().await;
    h.accept("fly-0", "first@example.com").await;
    assert!(h.run_worker(&[inbox_id("own:fly-0")]).await.is_empty());
    let ids: Vec<String> = (1..=6).map(|i| inbox_id(&format!("own:fly-{i}"))).collect();
    for i in 1..=6 {
        h.accept(&format!("fly-{i}"), &format!("p{i}@example.com"))
            .await;
    }
    h.emulator.set_token("ntn_rotated_in_flight");
    h.rotate_secret(json!({
        "notion_token": "ntn_rotated_in_flight",
        "form_secrets": {"own": common::OWN_SECRET},
    }))
    .await;
    h.clock.advance(Duration::from_secs(30));
    assert!(h.run_worker(&ids).await.is_empty(), "every item done");
    for id in &ids {
        assert_eq!(h.inbox(id).await.status, InboxStatus::Done, "{id}");
    }
    assert_eq!(h.contacts().len(), 7);
}

/// A form secret is rotated at the provider and in the secret: the first submissions
/// signed with the new one must not be refused while the old one is cached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_secret_rotation_does_not_refuse_forms() {
    let h = Harness::new().await;
    h.accept("fs-1", "ann@example.com").await;
    let rotated = "own-form-secret-rotated";
    h.rotate_secret(json!({
        "notion_token": crm_notion_emulator::DEFAULT_TOKEN,
        "form_secrets": {"own": rotated},
    }))
    .await;
    h.clock.advance(Duration::from_secs(60));
    let body = json!({"submission_id": "fs-2", "email": "bob@example.com"}).to_string();
    let headers = own_signed(rotated, h.clock.now().as_secs(), body.as_bytes());
    assert_eq!(h.post("/lead", &headers, body.as_bytes()).await.0, 202);
    // The old secret no longer signs.
    let body = json!({"submission_id": "fs-3", "email": "cy@example.com"}).to_string();
    assert_eq!(
        h.post("/lead", &h.own_headers(body.as_bytes()), body.as_bytes())
            .await
            .0,
        401
    );
}

/// A create whose answer is lost (saved, then 504) may show in queries only later. The
/// worker waits for Notion to catch up and finds what it made instead of making it
/// twice — by the exact Submission ID, even for an id with a line break in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_create_is_found_even_when_queries_lag() {
    let h = Harness::new().await;
    h.emulator.set_query_lag(Duration::from_millis(150));
    // The contact's create is saved, then answered 504.
    h.emulator.inject(commit_then_504());
    let lead = json!({"submission_id": "lag\nline 2", "email": "lag@example.com"});
    assert_eq!(h.post_lead(&lead).await.0, 202);
    let id = inbox_id("own:lag\nline 2");
    assert!(h.run_worker(std::slice::from_ref(&id)).await.is_empty());
    assert_eq!(h.contacts().len(), 1, "one contact");
    assert_eq!(h.activities().len(), 1);

    // The Activity's create is saved, then answered 504.
    let again = json!({"submission_id": "lag-2\nline 2", "email": "lag@example.com"});
    assert_eq!(h.post_lead(&again).await.0, 202);
    h.emulator.inject(commit_then_504());
    let id = inbox_id("own:lag-2\nline 2");
    assert!(h.run_worker(std::slice::from_ref(&id)).await.is_empty());
    assert_eq!(h.inbox(&id).await.status, InboxStatus::Done);
    let activities = h.activities();
    assert_eq!(activities.len(), 2, "one Activity per submission");
    assert!(
        activities
            .iter()
            .any(|a| text(a, "Submission ID") == "own:lag-2\nline 2")
    );
    assert_eq!(h.contacts().len(), 1);
}

/// A workspace set up before Activities had a Submission ID: leads still land, the
/// Activity is written without it, and the log names the property to add.
#[tokio::test]
async fn activities_without_a_submission_id_property_still_log_leads() {
    let (_guard, logs) = common::Logs::capture();
    let h = Harness::new().await;
    assert!(
        h.emulator
            .remove_property(&h.ws.activities_data_source_id, "Submission ID")
    );
    for id in ["old-1", "old-2"] {
        h.accept(id, "old@example.com").await;
        assert!(
            h.run_worker(&[inbox_id(&format!("own:{id}"))])
                .await
                .is_empty()
        );
    }
    assert_eq!(h.activities().len(), 2);
    assert_eq!(
        logs.lines_with("has no rich_text property \"Submission ID\""),
        1,
        "{}",
        logs.text()
    );
}

/// Failure reasons are logged and kept with the item: a payload the worker cannot read
/// is named by where it fails, not by the values serde would quote.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_reasons_carry_no_personal_data() {
    let h = Harness::new().await;
    let item = crm_store::NewInboxItem {
        id: inbox_id("own:pii-1"),
        kind: "lead".into(),
        payload: json!({"submission_id": "pii-1", "email": "ann@example.com",
                        "received_at_ms": "ann@example.com"})
        .to_string(),
    };
    h.store.inbox_insert(&item).await.unwrap();
    h.run_worker(std::slice::from_ref(&item.id)).await;
    let stored = h.inbox(&item.id).await;
    let reason = stored.last_error.unwrap();
    assert!(reason.starts_with("unreadable lead payload"), "{reason}");
    assert!(!reason.contains("ann@"), "{reason}");
}

/// Webflow's form-submission webhook: the signed sample is stored and becomes a contact;
/// a tampered body, a stale timestamp or no signature (a dashboard-made webhook) is
/// refused with a bare 401 and nothing stored.
#[tokio::test]
async fn a_signed_webflow_submission_is_accepted_and_a_tampered_one_refused() {
    let h = Harness::new().await;
    let ct = ("content-type", "application/json".to_owned());
    let body = json!({
        "triggerType": "form_submission",
        "payload": {
            "name": "Contact Us", "siteId": "65427cf400e02b306eaa049c",
            "data": {"First Name": "Zaphod", "Last Name": "Beeblebrox",
                     "email": "zaphod@heartofgold.ai", "Phone Number": 15_550_000_000_i64,
                     "Message": "Improbable, but interested"},
            "submittedAt": "2026-11-29T12:35:16.117Z", "id": "6321ca84df3949bfc6752327",
            "formId": "65429eadebe8a9f3a30f62d0",
        }
    })
    .to_string();
    let signed = |stamp_ms: i64, body: &str| {
        let stamp = stamp_ms.to_string();
        let sig = to_hex(&hmac_sha256(
            common::WEBFLOW_SECRET.as_bytes(),
            &[stamp.as_bytes(), b":", body.as_bytes()],
        ));
        vec![
            ct.clone(),
            ("x-webflow-timestamp", stamp),
            ("x-webflow-signature", sig),
        ]
    };
    let now_ms = h.clock.now().as_millis();
    for (headers, body_sent, why) in [
        (
            signed(now_ms, &body),
            body.replace("Zaphod", "Mallory"),
            "tampered",
        ),
        (signed(now_ms - 400_000, &body), body.clone(), "stale"),
        (vec![ct.clone()], body.clone(), "unsigned"),
    ] {
        let (status, answer) = h
            .post("/lead/webflow", &headers, body_sent.as_bytes())
            .await;
        assert_eq!(status, 401, "{why}: {answer}");
    }
    assert!(h.open_ids().await.is_empty(), "nothing stored");

    let (status, answer) = h
        .post("/lead/webflow", &signed(now_ms, &body), body.as_bytes())
        .await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["submission_id"], "6321ca84df3949bfc6752327");
    let id = inbox_id("webflow:6321ca84df3949bfc6752327");
    assert!(h.run_worker(&[id]).await.is_empty());
    let contacts = h.contacts();
    assert_eq!(contacts.len(), 1);
    assert_eq!(text(&contacts[0], "Name"), "Zaphod Beeblebrox");
    assert_eq!(text(&contacts[0], "Phone"), "15550000000");
    assert!(text(&h.activities()[0], "Details").starts_with("Improbable, but interested"));
}
