//! Browser forms in a real browser: headless Chromium (Debian's, driven over WebDriver)
//! opens pages on other origins than the intake of `crm serve`, fills and sends the
//! snippet's form; the lead must reach the Notion emulator once — or, for a page the
//! form does not allow and for a bot, not at all.

mod common;

use std::time::Duration;

use axum::response::Html;
use common::LocalProduct;
use crm_domain::browser_form::parse_forms;
use crm_domain::browser_form::snippet::{Send, snippet};
use crm_testkit::browser::Browser;
use serde_json::{Value, json};

/// Serves `html` at `/` of a new origin on 127.0.0.1; returns the page's URL.
async fn other_site(html: String) -> String {
    let app = axum::Router::new().route("/", axum::routing::get(move || async move { Html(html) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

fn emails(contacts: &[Value]) -> Vec<String> {
    contacts
        .iter()
        .map(|c| {
            c["properties"]["Email"]["email"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

fn plain_text(page: &Value, property: &str) -> String {
    let p = &page["properties"][property];
    p["rich_text"]
        .as_array()
        .or_else(|| p["title"].as_array())
        .map(|parts| {
            parts
                .iter()
                .filter_map(|t| t["plain_text"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_sent_from_a_browser_on_another_origin_lands_once_and_spam_does_not() {
    let product = LocalProduct::start("browser-forms");
    let demo = product.url("demo_page");
    let intake = product.url("intake");
    let intake_base = intake.trim_end_matches("/lead");
    let browser = Browser::start().await;

    // 1. The same snippet on a page of an origin the form does not list: refused, in words.
    let form = parse_forms(r#"{"demo": {"origins": ["http://127.0.0.1:1"]}}"#)
        .unwrap()
        .remove("demo")
        .unwrap();
    let stranger = other_site(snippet(&form, intake_base, Send::Plain)).await;
    browser.goto(&stranger).await;
    browser
        .fill("input[name=email]", "stranger@example.com")
        .await;
    browser.click("button[type=submit]").await;
    let refused = browser
        .wait_for(
            "the refusal",
            "var p = document.getElementById('crm-problem'); return p && p.dataset.code;",
        )
        .await;
    assert_eq!(refused, "origin_not_allowed");
    assert!(
        browser
            .text("#crm-problem")
            .await
            .contains("cannot be sent from this site")
    );

    // 2. A bot fills the honeypot: it is shown the thank-you page all the same.
    browser.goto(&demo).await;
    browser
        .fill("#plain input[name=email]", "bot@example.com")
        .await;
    browser
        .execute(
            "document.querySelector('#plain input[name=_gotcha]').value = 'http://spam.example';",
            json!([]),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    browser.click("#plain button[type=submit]").await;
    browser
        .wait_for(
            "the thank-you page",
            "return document.getElementById('thanks');",
        )
        .await;

    // 3. A person, with the plain form: ends on the form's thank-you page.
    browser.goto(&demo).await;
    browser
        .fill("#plain input[name=email]", "Visitor@Example.com")
        .await;
    browser
        .fill("#plain input[name=name]", "Vera Visitor")
        .await;
    browser
        .fill(
            "#plain textarea[name=message]",
            "Saw your site, tell me more",
        )
        .await;
    // The demo form wants a second of filling in, as a person takes.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    browser.click("#plain button[type=submit]").await;
    browser
        .wait_for(
            "the thank-you page",
            "return document.getElementById('thanks');",
        )
        .await;
    assert!(browser.url().await.ends_with("/thanks.html"));

    // Shown as the person typed it.
    let contacts = product.wait_for_contact("Visitor@Example.com").await;
    // Sent before the person's lead and never kept: neither reached Notion.
    assert_eq!(emails(&contacts), ["Visitor@Example.com"]);
    let activities = product.new_pages("activities").await;
    assert_eq!(activities.len(), 1, "one Activity");
    assert!(plain_text(&activities[0], "Details").starts_with("Saw your site, tell me more"));

    // 4. The fetch() form: the preflight passes, the page shows the JSON answer.
    browser.goto(&demo).await;
    browser
        .fill("#fetch input[name=email]", "fetcher@example.com")
        .await;
    browser
        .fill("#fetch input[name=company]", "Fetch & Co")
        .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    browser.click("#fetch button[type=submit]").await;
    let status = browser
        .wait_for(
            "the answer",
            "return document.querySelector('#fetch [data-crm-answer]').dataset.status;",
        )
        .await;
    assert_eq!(status, "accepted");
    assert!(
        browser
            .text("#fetch [data-crm-answer]")
            .await
            .contains("Thank you")
    );
    assert!(browser.url().await.starts_with(&demo), "the page stayed");
    let contacts = product.wait_for_contact("fetcher@example.com").await;
    let mut all = emails(&contacts);
    all.sort();
    assert_eq!(all, ["Visitor@Example.com", "fetcher@example.com"]);
    assert_eq!(product.new_pages("activities").await.len(), 2);
}

/// A form with a Turnstile captcha, in the browser: the widget's token (put in its
/// hidden field, as the widget does) is checked by a siteverify double. A token the
/// provider refuses lands nothing; a provider too slow to answer costs no lead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_captcha_the_provider_refuses_lands_nothing_and_one_it_cannot_judge_is_kept_marked() {
    use crm_testkit::captcha::CaptchaDouble;
    let double = CaptchaDouble::start().await;
    let demo_port = crm_testkit::browser::free_port();
    let form = parse_forms(
        r#"{"human": {"origins": ["http://127.0.0.1:1"],
        "captcha": {"provider": "turnstile", "site_key": "1x00000000000000000000AA"}}}"#,
    )
    .unwrap()
    .remove("human")
    .unwrap();
    // The page is served before the intake knows its port: its snippet's action is
    // pointed at the intake once that is up.
    let page = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let served = std::sync::Arc::clone(&page);
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let html = served.lock().unwrap().clone();
            async move { Html(html) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let forms = json!({
        "demo": {"origins": [format!("http://127.0.0.1:{demo_port}")]},
        "human": {"origins": [&site], "thank_you": format!("{site}/#thanks"),
                  "captcha": {"provider": "turnstile", "site_key": "1x00000000000000000000AA"}},
    });
    let product = LocalProduct::start_with(
        "browser-captcha",
        &demo_port.to_string(),
        &[
            ("CRM_BROWSER_FORMS", forms.to_string()),
            ("CRM_TURNSTILE_VERIFY_URL", double.url("turnstile")),
            ("CRM_CAPTCHA_TIMEOUT_MS", "500".into()),
        ],
    );
    let intake = product.url("intake");
    *page.lock().unwrap() = snippet(&form, intake.trim_end_matches("/lead"), Send::Plain);
    let browser = Browser::start().await;

    let send = |email: &'static str| {
        let (browser, site) = (&browser, &site);
        async move {
            browser.goto(&format!("{site}/")).await;
            browser.fill("input[name=email]", email).await;
            // What the widget does once a person passes its challenge.
            browser
                .execute(
                    "var t = document.createElement('input'); t.type = 'hidden'; \
                     t.name = 'cf-turnstile-response'; t.value = 'XXXX.DUMMY.TOKEN.XXXX'; \
                     document.querySelector('form').appendChild(t);",
                    json!([]),
                )
                .await;
            browser.click("button[type=submit]").await;
            browser
                .wait_for("the thank-you page", "return location.hash === '#thanks';")
                .await;
        }
    };
    double.refuse_all(true);
    send("refused@example.com").await;
    double.refuse_all(false);
    double.set_delay(Duration::from_secs(3));
    send("patient@example.com").await;

    let contacts = product.wait_for_contact("patient@example.com").await;
    assert_eq!(
        emails(&contacts),
        ["patient@example.com"],
        "the refused one never landed"
    );
    let activities = product.new_pages("activities").await;
    assert_eq!(activities.len(), 1);
    let details = plain_text(&activities[0], "Details");
    assert!(
        details.contains("captcha unverified: turnstile did not answer within 500 ms"),
        "{details}"
    );
    assert_eq!(double.calls().len(), 2, "each token checked once");
    assert_eq!(
        double.calls()[0]["secret"],
        "1x0000000000000000000000000000000AA"
    );
}
