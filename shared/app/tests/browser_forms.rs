//! Browser forms through the real intake handler (as API Gateway invokes it), the
//! store, the worker and the Notion emulator; captchas against a local siteverify
//! double. What a visitor's browser sees, and what reaches Notion — once, or not at all.

mod common;

use std::time::Duration;

use common::{Harness, text};
use crm_app::intake::inbox_id;
use crm_domain::Clock;
use crm_testkit::captcha::CaptchaDouble;
use lambda_http::{Body, Response};
use serde_json::{Value, json};

const SITE: &str = "http://127.0.0.1:8081";
const IP: &str = "203.0.113.24";

fn forms(extra: &str) -> String {
    format!(
        r#"{{
        "contact": {{"origins": ["{SITE}"], "thank_you": "{SITE}/thanks.html"}},
        "quote": {{"origins": ["{SITE}"], "fields": {{"email": "your-email", "message": "details"}},
                   "min_fill_seconds": 3, "per_ip_per_minute": 0}},
        "plain": {{"origins": ["https://www.example.com"]}}
        {extra}
    }}"#
    )
}

struct Seen {
    status: u16,
    headers: lambda_http::http::HeaderMap,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

fn seen(response: Response<Body>) -> Seen {
    let body: &[u8] = response.body().as_ref();
    Seen {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: String::from_utf8_lossy(body).into_owned(),
    }
}

/// What a browser sends with a plain post from a page of `origin`.
fn from_page(origin: &str, content_type: &str) -> Vec<(&'static str, String)> {
    vec![
        ("origin", origin.to_owned()),
        ("referer", format!("{origin}/contact.html")),
        ("content-type", content_type.to_owned()),
        (
            "accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8".into(),
        ),
    ]
}

/// What `fetch()` with JSON sends.
fn from_fetch(origin: &str) -> Vec<(&'static str, String)> {
    vec![
        ("origin", origin.to_owned()),
        ("content-type", "application/json".into()),
        ("accept", "application/json".into()),
    ]
}

const URLENCODED: &str = "application/x-www-form-urlencoded";

async fn post<S: crm_store::Store + Clone>(
    h: &Harness<S>,
    form: &str,
    headers: &[(&str, String)],
    body: &str,
) -> Seen {
    seen(
        h.browser(
            "POST",
            &format!("/lead/form/{form}"),
            headers,
            body.as_bytes(),
            IP,
        )
        .await,
    )
}

async fn with_forms(extra: &str) -> Harness {
    let mut h = Harness::new().await;
    h.use_forms(&forms(extra), None);
    h
}

async fn process_all<S: crm_store::Store + Clone + Send + Sync + 'static>(h: &Harness<S>) {
    let ids = h.pending_ids().await;
    assert!(h.run_worker(&ids).await.is_empty(), "every lead processed");
}

#[tokio::test]
async fn a_plain_post_lands_once_and_the_browser_goes_to_the_thank_you_page() {
    let h = with_forms("").await;
    let body = "email=Ann%40Example.com&name=Ann+M%C3%BCller&company=Acme&message=Call+me&budget=5k\
                &_gotcha=&submission_id=view-1&_crm_fill_ms=6000&utm_source=newsletter";
    let first = post(&h, "contact", &from_page(SITE, URLENCODED), body).await;
    assert_eq!(first.status, 303, "{}", first.body);
    assert_eq!(
        first.header("location"),
        Some("http://127.0.0.1:8081/thanks.html")
    );
    // The browser sent it twice (a double click): one lead.
    let again = post(&h, "contact", &from_page(SITE, URLENCODED), body).await;
    assert_eq!(again.status, 303);
    assert_eq!(h.pending_ids().await, [inbox_id("form:contact:view-1")]);
    process_all(&h).await;

    let contacts = h.contacts();
    assert_eq!(contacts.len(), 1);
    assert_eq!(
        text(&contacts[0], "Email"),
        "Ann@Example.com",
        "as the person typed it"
    );
    assert_eq!(text(&contacts[0], "Name"), "Ann Müller");
    assert_eq!(text(&contacts[0], "Source"), "newsletter");
    let activities = h.activities();
    assert_eq!(activities.len(), 1);
    let details = text(&activities[0], "Details");
    assert!(details.starts_with("Call me\n\nBudget: 5k\n"), "{details}");
    assert!(details.contains("Form: form:contact"), "{details}");
    assert!(
        !details.contains("_crm_fill_ms") && !details.contains("_gotcha"),
        "{details}"
    );
}

#[tokio::test]
async fn a_fetch_gets_json_with_cors_for_its_origin_and_its_preflight_passes() {
    let h = with_forms("").await;
    let preflight = seen(
        h.browser(
            "OPTIONS",
            "/lead/form/contact",
            &[
                ("origin", SITE.into()),
                ("access-control-request-method", "POST".into()),
                (
                    "access-control-request-headers",
                    "content-type,accept".into(),
                ),
            ],
            b"",
            IP,
        )
        .await,
    );
    assert_eq!(preflight.status, 204);
    assert_eq!(preflight.header("access-control-allow-origin"), Some(SITE));
    assert_eq!(
        preflight.header("access-control-allow-methods"),
        Some("POST")
    );
    assert_eq!(
        preflight.header("access-control-allow-headers"),
        Some("content-type, accept")
    );
    assert!(
        preflight
            .header("vary")
            .is_some_and(|v| v.contains("Origin"))
    );

    let body =
        json!({"email": "bo@example.com", "name": "Bo", "submission_id": "view-2"}).to_string();
    let answer = post(&h, "contact", &from_fetch(SITE), &body).await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert_eq!(answer.header("access-control-allow-origin"), Some(SITE));
    assert_eq!(
        answer.json(),
        json!({"status": "accepted", "submission_id": "view-2"})
    );
    let again = post(&h, "contact", &from_fetch(SITE), &body).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["status"], "duplicate");

    // A field problem reaches the page's script too, with CORS so it can read it.
    let bad = post(
        &h,
        "contact",
        &from_fetch(SITE),
        r#"{"email": "bo@example"}"#,
    )
    .await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.header("access-control-allow-origin"), Some(SITE));
    assert_eq!(bad.json()["error"], "invalid_email");
    assert!(
        bad.json()["message"]
            .as_str()
            .unwrap()
            .contains("domain with a dot")
    );
    process_all(&h).await;
    assert_eq!(h.contacts().len(), 1);
}

#[tokio::test]
async fn a_page_from_another_origin_is_refused_and_nothing_is_kept() {
    let h = with_forms("").await;
    let body = "email=eve%40example.com";
    for (headers, why) in [
        (
            from_page("http://127.0.0.1:9999", URLENCODED),
            "another port",
        ),
        (
            from_page("https://evil.example", URLENCODED),
            "another site",
        ),
        (
            vec![("content-type", URLENCODED.into())],
            "no origin, no referer",
        ),
        (
            from_page("https://www.example.com", URLENCODED),
            "another form's origin",
        ),
    ] {
        let answer = post(&h, "contact", &headers, body).await;
        assert_eq!(answer.status, 403, "{why}");
        assert_eq!(answer.header("access-control-allow-origin"), None, "{why}");
        assert!(
            answer.body.contains("cannot be sent from this site"),
            "{why}: {}",
            answer.body
        );
    }
    // The Referer stands in for a missing Origin.
    let by_referer = post(
        &h,
        "contact",
        &[
            ("referer", format!("{SITE}/contact.html")),
            ("content-type", URLENCODED.into()),
        ],
        "email=ref%40example.com",
    )
    .await;
    assert_eq!(by_referer.status, 303);
    let preflight = seen(
        h.browser(
            "OPTIONS",
            "/lead/form/contact",
            &[("origin", "https://evil.example".into())],
            b"",
            IP,
        )
        .await,
    );
    assert_eq!(preflight.status, 403);
    assert_eq!(preflight.header("access-control-allow-origin"), None);
    assert_eq!(h.pending_ids().await.len(), 1, "only the one from the site");
}

#[tokio::test]
async fn spam_is_answered_like_success_and_never_kept() {
    let h = with_forms("").await;
    let honeypot = post(
        &h,
        "contact",
        &from_page(SITE, URLENCODED),
        "email=bot%40example.com&_gotcha=http%3A%2F%2Fspam.example",
    )
    .await;
    assert_eq!(honeypot.status, 303);
    assert_eq!(
        honeypot.header("location"),
        Some("http://127.0.0.1:8081/thanks.html")
    );
    let by_fetch = post(
        &h,
        "contact",
        &from_fetch(SITE),
        r#"{"email": "bot2@example.com", "_gotcha": "x"}"#,
    )
    .await;
    assert_eq!(by_fetch.status, 202);
    assert_eq!(by_fetch.json()["status"], "accepted");
    // The quote form wants three seconds of filling in.
    let quick = post(
        &h,
        "quote",
        &from_page(SITE, URLENCODED),
        "your-email=fast%40example.com&_crm_fill_ms=800",
    )
    .await;
    assert_eq!(quick.status, 200, "the built-in thank-you page");
    assert!(quick.body.contains("Thank you!"));
    let untimed = post(
        &h,
        "quote",
        &from_page(SITE, URLENCODED),
        "your-email=fast%40example.com",
    )
    .await;
    assert_eq!(untimed.status, 200);
    assert!(h.pending_ids().await.is_empty(), "no spam in the inbox");

    let person = post(
        &h,
        "quote",
        &from_page(SITE, URLENCODED),
        "your-email=slow%40example.com&details=A+quote+please&_crm_fill_ms=9000",
    )
    .await;
    assert_eq!(person.status, 200);
    assert!(
        person
            .body
            .contains("href=\"http://127.0.0.1:8081/contact.html\""),
        "back to the form"
    );
    process_all(&h).await;
    assert_eq!(h.contacts().len(), 1);
    assert!(text(&h.activities()[0], "Details").starts_with("A quote please"));
}

#[tokio::test]
async fn a_visitor_reads_in_words_what_to_fix() {
    let h = with_forms("").await;
    let missing = post(&h, "contact", &from_page(SITE, URLENCODED), "name=Ann").await;
    assert_eq!(missing.status, 422);
    assert!(
        missing
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        missing.body.contains("Please enter your email address"),
        "{}",
        missing.body
    );
    assert!(missing.body.contains("data-code=\"missing_email\""));
    assert!(
        missing
            .body
            .contains("href=\"http://127.0.0.1:8081/contact.html\""),
        "a way back"
    );
    let invalid = post(
        &h,
        "contact",
        &from_page(SITE, URLENCODED),
        "email=ann%40example",
    )
    .await;
    assert_eq!(invalid.status, 422);
    assert!(invalid.body.contains("does not look like an email address"));

    let boundary = "----formdata7MA4YWxkTrZu0gW";
    let multipart = |parts: &[(&str, Option<&str>, &str)]| {
        let mut b = String::new();
        for (name, file, value) in parts {
            b += &format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"");
            if let Some(f) = file {
                b += &format!("; filename=\"{f}\"\r\nContent-Type: application/pdf");
            }
            b += &format!("\r\n\r\n{value}\r\n");
        }
        b + &format!("--{boundary}--\r\n")
    };
    let ct = format!("multipart/form-data; boundary={boundary}");
    let with_file = post(
        &h,
        "contact",
        &from_page(SITE, &ct),
        &multipart(&[
            ("email", None, "cv@example.com"),
            ("resume", Some("cv.pdf"), "%PDF-1.7"),
        ]),
    )
    .await;
    assert_eq!(with_file.status, 422);
    assert!(
        with_file.body.contains("takes no files"),
        "{}",
        with_file.body
    );
    assert!(
        with_file.body.contains("&quot;resume&quot;"),
        "names the field"
    );
    let text_only = post(
        &h,
        "contact",
        &from_page(SITE, &ct),
        &multipart(&[
            ("email", None, "mp@example.com"),
            ("message", None, "Line 1\r\nLine 2"),
        ]),
    )
    .await;
    assert_eq!(text_only.status, 303, "{}", text_only.body);
    // A page saved in Latin-1 posts raw bytes (API Gateway hands them over base64).
    let latin1 = [
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\njo@example.com\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nJ").into_bytes(),
        vec![0xFC],
        format!("rgen\r\n--{boundary}--\r\n").into_bytes(),
    ]
    .concat();
    let not_utf8 = seen(
        h.browser(
            "POST",
            "/lead/form/contact",
            &from_page(SITE, &ct),
            &latin1,
            IP,
        )
        .await,
    );
    assert_eq!(not_utf8.status, 400);
    assert!(
        not_utf8.body.contains("not UTF-8 text"),
        "{}",
        not_utf8.body
    );

    let plain_text = post(
        &h,
        "contact",
        &from_page(SITE, "text/plain"),
        "email=a@b.co",
    )
    .await;
    assert_eq!(plain_text.status, 415);
    let big = format!("email=big%40example.com&message={}", "x".repeat(70_000));
    assert_eq!(
        post(&h, "contact", &from_page(SITE, URLENCODED), &big)
            .await
            .status,
        413
    );
    let unknown = post(&h, "nope", &from_page(SITE, URLENCODED), "email=a%40b.co").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(
        h.pending_ids().await.len(),
        1,
        "only the text-only multipart"
    );
}

#[tokio::test]
async fn an_address_over_its_limit_is_told_to_wait_and_others_are_not() {
    let h = with_forms("").await;
    let send = |ip: &'static str, n: usize| {
        let h = &h;
        async move {
            let body = format!("email=lead{n}%40example.com&submission_id={ip}-{n}");
            seen(
                h.browser(
                    "POST",
                    "/lead/form/contact",
                    &from_page(SITE, URLENCODED),
                    body.as_bytes(),
                    ip,
                )
                .await,
            )
        }
    };
    // Into a fresh minute, so all eleven fall in one window.
    let into = h.clock.now().as_millis().rem_euclid(60_000);
    h.clock
        .advance(Duration::from_millis((60_000 - into) as u64 + 1));
    for n in 0..10 {
        assert_eq!(send("198.51.100.7", n).await.status, 303, "submission {n}");
    }
    let over = send("198.51.100.7", 10).await;
    assert_eq!(over.status, 429);
    assert_eq!(over.header("retry-after"), Some("60"));
    assert!(over.body.contains("wait a minute"), "{}", over.body);
    assert_eq!(send("198.51.100.8", 0).await.status, 303, "another address");
    h.clock.advance(Duration::from_secs(60));
    assert_eq!(
        send("198.51.100.7", 11).await.status,
        303,
        "the next minute"
    );
    assert_eq!(h.pending_ids().await.len(), 12);
}

fn captcha_forms(double_site_key: &str) -> String {
    format!(
        r#", "human": {{"origins": ["{SITE}"], "thank_you": "{SITE}/thanks.html",
              "captcha": {{"provider": "turnstile", "site_key": "{double_site_key}"}}}},
            "hhuman": {{"origins": ["{SITE}"], "thank_you": "{SITE}/thanks.html",
              "captcha": {{"provider": "hcaptcha", "site_key": "{double_site_key}"}}}}"#
    )
}

#[tokio::test]
async fn a_captcha_token_is_verified_once_and_a_refused_one_keeps_nothing() {
    let double = CaptchaDouble::start().await;
    let mut h = Harness::new().await;
    h.use_forms(
        &forms(&captcha_forms(crm_testkit::captcha::SITE_KEY)),
        Some((&double, Duration::from_secs(2))),
    );
    for form in ["human", "hhuman"] {
        let field = if form == "human" {
            "cf-turnstile-response"
        } else {
            "h-captcha-response"
        };
        let token = double.issue();
        let body = format!("email={form}%40example.com&{field}={token}");
        let ok = post(&h, form, &from_page(SITE, URLENCODED), &body).await;
        assert_eq!(ok.status, 303, "{form}");
        let call = double.calls().pop().unwrap();
        assert_eq!(call["response"], token);
        assert_eq!(call["remoteip"], IP, "the visitor's address goes along");
        // The same token again (a replayed post) with another address: spent, on our
        // record of what it vouched for, without asking the provider again.
        let replayed = format!("email=other-{form}%40example.com&{field}={token}");
        assert_eq!(
            post(&h, form, &from_page(SITE, URLENCODED), &replayed)
                .await
                .status,
            303
        );
        let forged = format!("email=bot-{form}%40example.com&{field}=XXXX.forged");
        assert_eq!(
            post(&h, form, &from_page(SITE, URLENCODED), &forged)
                .await
                .status,
            303
        );
        let none = format!("email=none-{form}%40example.com");
        assert_eq!(
            post(&h, form, &from_page(SITE, URLENCODED), &none)
                .await
                .status,
            303
        );
    }
    // The provider is asked once per token: each form's own, and the forged one once
    // (the second form's post of it is answered from the record of the first).
    assert_eq!(
        double.calls().len(),
        3,
        "no call without a token, none twice"
    );
    process_all(&h).await;
    let mut emails: Vec<String> = h.contacts().iter().map(|c| text(c, "Email")).collect();
    emails.sort();
    assert_eq!(emails, ["hhuman@example.com", "human@example.com"]);
    for a in h.activities() {
        assert!(!text(&a, "Details").contains("unverified"));
    }
}

#[tokio::test]
async fn a_provider_too_slow_or_down_keeps_the_lead_marked_unverified() {
    let double = CaptchaDouble::start().await;
    let mut h = Harness::new().await;
    h.use_forms(
        &forms(&captcha_forms(crm_testkit::captcha::SITE_KEY)),
        Some((&double, Duration::from_millis(500))),
    );
    double.set_delay(Duration::from_secs(3));
    let token = double.issue();
    let slow = post(
        &h,
        "human",
        &from_page(SITE, URLENCODED),
        &format!("email=slow%40example.com&cf-turnstile-response={token}"),
    )
    .await;
    assert_eq!(slow.status, 303);
    double.set_delay(Duration::ZERO);
    double.set_status(Some(502));
    let token = double.issue();
    let down = post(
        &h,
        "human",
        &from_page(SITE, URLENCODED),
        &format!("email=down%40example.com&cf-turnstile-response={token}"),
    )
    .await;
    assert_eq!(down.status, 303);
    process_all(&h).await;
    assert_eq!(h.contacts().len(), 2, "both kept");
    let mut details: Vec<String> = h.activities().iter().map(|a| text(a, "Details")).collect();
    details.sort();
    assert!(
        details[0].contains("captcha unverified: turnstile answered HTTP 502"),
        "{}",
        details[0]
    );
    assert!(
        details[1].contains("captcha unverified: turnstile did not answer within 500 ms"),
        "{}",
        details[1]
    );
}

#[tokio::test]
async fn a_wrong_captcha_secret_keeps_leads_and_says_what_to_fix() {
    let double = CaptchaDouble::start().await;
    let mut secret = common::default_secret();
    secret["captcha_secrets"] = json!({"turnstile": "0x-not-the-widgets-secret"});
    let mut h = Harness::with_secrets(secret).await;
    h.use_forms(
        &forms(&captcha_forms(crm_testkit::captcha::SITE_KEY)),
        Some((&double, Duration::from_secs(2))),
    );
    let token = double.issue();
    let answer = post(
        &h,
        "human",
        &from_page(SITE, URLENCODED),
        &format!("email=kept%40example.com&cf-turnstile-response={token}"),
    )
    .await;
    assert_eq!(answer.status, 303);
    // hCaptcha has no secret at all in this deployment.
    let token = double.issue();
    let no_secret = post(
        &h,
        "hhuman",
        &from_page(SITE, URLENCODED),
        &format!("email=also-kept%40example.com&h-captcha-response={token}"),
    )
    .await;
    assert_eq!(no_secret.status, 303);
    process_all(&h).await;
    let mut details: Vec<String> = h.activities().iter().map(|a| text(a, "Details")).collect();
    details.sort();
    assert!(
        details[0].contains("captcha unverified: no secret for hcaptcha is configured"),
        "{}",
        details[0]
    );
    assert!(
        details[1]
            .contains("captcha unverified: turnstile refused our request (invalid-input-secret)"),
        "{}",
        details[1]
    );
}

/// The captcha forms on DynamoDB Local behind a proxy that can refuse the store's calls
/// (as DynamoDB's throttling does), with the siteverify double.
async fn captcha_forms_behind_a_throttle() -> (
    crm_testkit::ThrottlingProxy,
    CaptchaDouble,
    Harness<crm_store::DynamoStore>,
) {
    let upstream = crm_testkit::local_endpoint("AWS_ENDPOINT_URL_DYNAMODB").unwrap();
    let proxy = crm_testkit::ThrottlingProxy::start(&upstream)
        .await
        .unwrap();
    let double = CaptchaDouble::start().await;
    let mut h = Harness::dynamo_through(common::default_secret(), proxy.url()).await;
    h.use_forms(
        &forms(&captcha_forms(crm_testkit::captcha::SITE_KEY)),
        Some((&double, Duration::from_secs(2))),
    );
    (proxy, double, h)
}

/// A visitor whose post the store could not take (503: "send the form again") sends the
/// same form again, with the same single-use captcha token still in it; a double click
/// sends it twice. Turnstile documents `idempotency_key` for exactly this: the same check
/// asked again gets the same answer. The lead must be kept once, never taken for spam.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_form_sent_again_with_its_spent_captcha_token_is_kept_once() {
    let (proxy, double, h) = captcha_forms_behind_a_throttle().await;
    let token = double.issue();
    let body =
        format!("email=again%40example.com&submission_id=view-9&cf-turnstile-response={token}");

    proxy.throttle_next(usize::MAX);
    let unavailable = post(&h, "human", &from_page(SITE, URLENCODED), &body).await;
    assert_eq!(unavailable.status, 503, "{}", unavailable.body);
    assert!(
        unavailable.body.contains("send the form again"),
        "{}",
        unavailable.body
    );
    proxy.throttle_next(0);

    let again = post(&h, "human", &from_page(SITE, URLENCODED), &body).await;
    assert_eq!(again.status, 303);
    assert_eq!(
        h.pending_ids().await,
        [inbox_id("form:human:view-9")],
        "kept, not taken for spam"
    );

    // A double click: the same token once more, by fetch() this time.
    let json_body = json!({"email": "again@example.com", "submission_id": "view-9",
                           "cf-turnstile-response": token})
    .to_string();
    let twice = post(&h, "human", &from_fetch(SITE), &json_body).await;
    assert_eq!(
        twice.json(),
        json!({"status": "duplicate", "submission_id": "view-9"})
    );
    // A token nobody was issued is still refused, key or no key.
    let forged = post(
        &h,
        "human",
        &from_page(SITE, URLENCODED),
        "email=bot%40example.com&cf-turnstile-response=XXXX.forged",
    )
    .await;
    assert_eq!(forged.status, 303);
    assert_eq!(h.pending_ids().await.len(), 1);
}

/// hCaptcha has no idempotency key: a token it verified for a post the store then
/// refused (the visitor sent again, as asked) is "already seen" the second time. A token
/// this product never recorded, which the provider calls used or expired, is kept once,
/// marked unverified — never a real lead dropped as spam; a second use of it is spam.
#[tokio::test]
async fn an_hcaptcha_token_spent_by_a_post_the_store_refused_keeps_the_resend() {
    let (proxy, double, h) = captcha_forms_behind_a_throttle().await;
    let token = double.issue();
    let body =
        format!("email=resend%40example.com&submission_id=view-7&h-captcha-response={token}");

    proxy.throttle_next(usize::MAX);
    let unavailable = post(&h, "hhuman", &from_page(SITE, URLENCODED), &body).await;
    assert_eq!(unavailable.status, 503, "{}", unavailable.body);
    proxy.throttle_next(0);

    let again = post(&h, "hhuman", &from_page(SITE, URLENCODED), &body).await;
    assert_eq!(again.status, 303);
    assert_eq!(
        h.pending_ids().await,
        [inbox_id("form:hhuman:view-7")],
        "kept, not taken for spam"
    );
    // The same token for someone else is spam.
    let other =
        format!("email=other%40example.com&submission_id=view-8&h-captcha-response={token}");
    assert_eq!(
        post(&h, "hhuman", &from_page(SITE, URLENCODED), &other)
            .await
            .status,
        303
    );
    assert_eq!(h.pending_ids().await.len(), 1);
    process_all(&h).await;
    let activities = h.activities();
    assert_eq!(activities.len(), 1);
    assert!(
        text(&activities[0], "Details").contains("captcha unverified"),
        "{}",
        text(&activities[0], "Details")
    );
}

/// One solved captcha is one lead. The same token sent again under the same submission
/// id with other addresses (or with no id at all) buys nothing: the provider is asked
/// about the token for *this* submission's content, and the token is remembered with
/// the submission it vouched for.
#[tokio::test]
async fn one_solved_captcha_is_one_lead_whatever_else_rides_on_it() {
    let double = CaptchaDouble::start().await;
    let mut h = Harness::new().await;
    h.use_forms(
        &forms(&captcha_forms(crm_testkit::captcha::SITE_KEY)),
        Some((&double, Duration::from_secs(2))),
    );
    for (form, field) in [
        ("human", "cf-turnstile-response"),
        ("hhuman", "h-captcha-response"),
    ] {
        let token = double.issue();
        for i in 0..5 {
            let body = format!("email={form}-{i}%40example.com&submission_id=S1&{field}={token}");
            let answer = post(&h, form, &from_page(SITE, URLENCODED), &body).await;
            assert_eq!(answer.status, 303, "{form} {i}");
        }
        let no_id = format!("email={form}-x%40example.com&{field}={token}");
        assert_eq!(
            post(&h, form, &from_page(SITE, URLENCODED), &no_id)
                .await
                .status,
            303
        );
    }
    process_all(&h).await;
    let mut emails: Vec<String> = h.contacts().iter().map(|c| text(c, "Email")).collect();
    emails.sort();
    assert_eq!(emails, ["hhuman-0@example.com", "human-0@example.com"]);
    assert_eq!(h.activities().len(), 2, "one Activity per token");
}

/// The captcha decides by cause: a token the provider refuses or finds malformed (a
/// 3,000-character one, answered 400) is spam; a provider that cannot answer keeps the
/// lead, marked unverified (`a_provider_too_slow_or_down_keeps_the_lead_marked_unverified`).
#[tokio::test]
async fn a_malformed_token_is_spam_not_an_unverified_lead() {
    let double = CaptchaDouble::start().await;
    let mut h = Harness::new().await;
    h.use_forms(
        &forms(&captcha_forms(crm_testkit::captcha::SITE_KEY)),
        Some((&double, Duration::from_secs(2))),
    );
    let long = "A".repeat(3_000);
    let answer = post(
        &h,
        "human",
        &from_page(SITE, URLENCODED),
        &format!("email=long%40example.com&cf-turnstile-response={long}"),
    )
    .await;
    assert_eq!(answer.status, 303, "answered like success");
    assert!(h.pending_ids().await.is_empty(), "and nothing kept");
    assert_eq!(
        double.calls().len(),
        1,
        "the provider judged it (HTTP 400, bad-request), not a rule of ours"
    );
}

/// A bot that reads the JSON answer learns nothing: spam is answered with the id a kept
/// submission would get (the one it sent, or the one its fields make), and sent again it
/// is a duplicate, as a kept one is.
#[tokio::test]
async fn a_json_answer_to_spam_is_the_answer_to_a_kept_lead() {
    let h = with_forms("").await;
    let json_post = |body: Value| {
        let h = &h;
        async move { post(h, "contact", &from_fetch(SITE), &body.to_string()).await }
    };
    let kept = json_post(json!({"email": "ora@example.com", "submission_id": "ORA-1"})).await;
    let spam = json_post(json!({"email": "bot@example.com", "submission_id": "ORA-2",
                                "_gotcha": "x"}))
    .await;
    assert_eq!((kept.status, spam.status), (202, 202));
    assert_eq!(
        kept.json(),
        json!({"status": "accepted", "submission_id": "ORA-1"})
    );
    assert_eq!(
        spam.json(),
        json!({"status": "accepted", "submission_id": "ORA-2"})
    );

    // No id: the id the fields make, as for a kept lead with the same fields.
    let fields = json!({"email": "same@example.com", "name": "Same"});
    let mut trapped = fields.clone();
    trapped["_gotcha"] = json!("x");
    let spam = json_post(trapped.clone()).await;
    let kept = json_post(fields).await;
    assert_eq!(spam.json()["submission_id"], kept.json()["submission_id"]);
    assert!(
        kept.json()["submission_id"]
            .as_str()
            .unwrap()
            .starts_with("body-")
    );

    // Sent again: a duplicate, spam or not.
    let again = json_post(trapped).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["status"], "duplicate");
    assert_eq!(h.pending_ids().await.len(), 2, "only the two people");
}
