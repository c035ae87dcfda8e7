//! The local page of `make local` in a real browser (headless Chromium over WebDriver):
//! a lead sent from its form lands as a contact; a deal moved on its board reaches the
//! Slack feed once, through Notion's webhook, the inbox and the worker; "Run the digest
//! now" names the seeded stale leads and DMs an owner their rotting deals; "Send the
//! report now" posts the pipeline report with its chart; a lead that meets a Notion fault waits in the
//! inbox with its reason, and the replay carries it out once the fault is gone.
//!
//! Each state is photographed into `target/screenshots/` (`make screenshots` copies them
//! to `docs/screenshots/` for the README), and its first test follows the README's Try it.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::LocalProduct;
use crm_testkit::browser::Browser;
use serde_json::json;

fn shot(name: &str) -> PathBuf {
    let dir = std::env::var_os("CRM_SCREENSHOTS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots"),
        PathBuf::from,
    );
    dir.join(format!("local-page-{name}.png"))
}

/// Fills the page's lead form and sends it once a person's fill time has passed.
async fn send_lead(browser: &Browser, email: &str, name: &str, message: &str) {
    browser.fill("#lead input[name=email]", email).await;
    browser.fill("#lead input[name=name]", name).await;
    browser.fill("#lead textarea[name=message]", message).await;
    // The demo form wants a second of filling, as a person takes (a script does not).
    tokio::time::sleep(Duration::from_millis(1200)).await;
    browser.click("#lead button[type=submit]").await;
    let status = browser
        .wait_for(
            "the form's answer",
            "var r = document.querySelector('#lead [data-status]'); return r && r.dataset.status;",
        )
        .await;
    assert_eq!(status, "accepted");
}

/// The Slack feed's messages containing `text`, as the page shows them.
async fn feed_count(browser: &Browser, text: &str) -> u64 {
    browser
        .execute(
            "return [...document.querySelectorAll('#feed .message')].filter(m => m.innerText.includes(arguments[0])).length;",
            json!([text]),
        )
        .await
        .as_u64()
        .unwrap_or_default()
}

/// Waits for the feed's message containing `text`; returns it as the page shows it.
async fn feed_message(browser: &Browser, text: &str) -> String {
    let script = format!(
        "var m = [...document.querySelectorAll('#feed .message')].find(m => m.innerText.includes({})); return m && m.innerText;",
        serde_json::to_string(text).unwrap()
    );
    let found = browser
        .wait_for(&format!("{text:?} in the feed"), &script)
        .await;
    found.as_str().unwrap_or_default().to_owned()
}

/// The README's "Try it", as written: what it tells a newcomer to click, and what it
/// says they will see.
struct TryIt {
    /// The labels it names in bold (`**Send a lead**`).
    labels: Vec<String>,
    /// The Slack line step 2 promises (`*Negotiation → Won: …*`).
    won: String,
}

fn readme_try_it() -> TryIt {
    let readme = include_str!("../../README.md");
    let start = readme.find("## Try it").expect("the README has Try it");
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let labels = section
        .split("**")
        .skip(1)
        .step_by(2)
        .filter(|l| !l.starts_with("http"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    let won = section
        .split("Slack feed shows")
        .nth(1)
        .and_then(|rest| rest.split('*').nth(1))
        .expect("step 2 quotes the Slack line")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    TryIt { labels, won }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_page_shows_the_crm_moving() {
    let try_it = readme_try_it();
    let product = LocalProduct::start("local-page");
    let page = product.url("page");
    let browser = Browser::start().await;
    browser.goto(&page).await;
    // What the page shows along the steps, for the README's labels (one shows only once
    // Notion is made to fail).
    let page_text = async || {
        let text = browser
            .execute("return document.body.innerText;", json!([]))
            .await;
        text.as_str().unwrap_or_default().to_lowercase()
    };
    let mut shown = page_text().await;
    assert_eq!(
        browser
            .execute(
                "return document.querySelectorAll('#contacts tr[data-email]').length;",
                json!([])
            )
            .await,
        12,
        "the seeded contacts show"
    );
    browser.screenshot(&shot("start")).await;

    // 1. A lead from the page's form (the browser-form route) becomes a contact.
    send_lead(
        &browser,
        "nia@example.com",
        "Nia Lopez",
        "Pricing for 12 seats?",
    )
    .await;
    browser
        .wait_for(
            "the new contact",
            "return document.querySelector('#contacts tr[data-email=\"nia@example.com\"]');",
        )
        .await;
    let made = product.wait_for_contact("nia@example.com").await;
    assert_eq!(made.len(), 1, "one contact made");
    browser.screenshot_of("#contacts", &shot("lead")).await;

    // 2. A deal moved to Won on the board, as a person: one message in the feed.
    browser
        .click("[data-deal='Soylent expansion'] option[value=won]")
        .await;
    browser
        .click("[data-deal='Soylent expansion'] button")
        .await;
    browser
        .wait_for(
            "the move in the feed",
            "return [...document.querySelectorAll('#feed .message')].some(m => m.innerText.includes('Negotiation → Won: Soylent expansion'));",
        )
        .await;
    assert!(
        browser
            .execute(
                "return !!document.querySelector(\"[data-stage=won] [data-deal='Soylent expansion']\");",
                json!([])
            )
            .await
            == true,
        "the card sits in the Won column"
    );
    // Notion's event and its redeliveries delivered, and every one handled: none has
    // posted again.
    product.settled("every delivery handled").await;
    assert_eq!(
        feed_count(&browser, "→ Won: Soylent expansion").await,
        1,
        "posted once"
    );
    let line = feed_message(&browser, "→ Won").await;
    assert!(line.contains("$32,000") && line.contains("@dana"), "{line}");
    assert!(
        line.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .contains(&try_it.won),
        "the README promises {:?}; the feed shows {line:?}",
        try_it.won
    );
    assert!(!line.contains("&amp;") && !line.contains("&lt;"), "{line}");
    browser.screenshot_of("#slack", &shot("won")).await;

    // 3. The digest, now: the seeded stale leads, and no fresh one.
    browser.click("#run-digest").await;
    let digest = feed_message(&browser, "not contacted in over").await;
    for stale in ["Cleo Tan", "Dev Shah", "Eli Moss", "Fay Wu", "Gus Lind"] {
        assert!(digest.contains(stale), "{stale} in {digest}");
    }
    for fresh in ["Ada Park", "Lu Chen", "Hana Ito", "Nia Lopez", "Jo Kim"] {
        assert!(!digest.contains(fresh), "{fresh} not in {digest}");
    }
    assert!(digest.contains("5 leads"), "{digest}");
    assert!(
        browser.text("#notice").await.contains("5 stale leads"),
        "the button says what it did"
    );
    browser.screenshot_of("#slack", &shot("digest")).await;
    // The day's other job: Dana's rotting deals, by DM (Acme since it was created,
    // Initech 18 days in proposal).
    let dm = feed_message(&browser, "stopped moving").await;
    assert!(dm.contains("DM to @dana"), "{dm}");
    assert!(
        dm.contains("Acme pilot") && dm.contains("Initech renewal"),
        "{dm}"
    );
    assert!(
        !dm.contains("Globex"),
        "Globex is within qualified's limit: {dm}"
    );

    // 3b. The weekly pipeline report, now: its figures and its chart, as Slack shows them.
    browser.click("#run-report").await;
    let report = feed_message(&browser, "Pipeline report").await;
    // By hand: open are Acme (lead), Globex (qualified), Initech (proposal); Tyrell was
    // won 5 days ago and Soylent on the board just now; Cyberdyne lost 12 days ago.
    for line in [
        "Open: 3 deals worth $31,500 · weighted forecast $9,650",
        "Won in the last 7 days: 2 · $44,000",
        "Win rate (90 days): 67 %",
        "Slipped (close date past) — 1",
    ] {
        assert!(report.contains(line), "{line:?} in {report}");
    }
    let chart = browser
        .wait_for(
            "the chart, loaded",
            "var i = document.querySelector('#feed img.file'); return i && i.complete && i.naturalWidth > 0 && [i.naturalWidth, i.naturalHeight];",
        )
        .await;
    assert_eq!(
        chart,
        json!([1000, 520]),
        "the chart Slack took, as the page shows it"
    );
    assert!(
        browser.text("#notice").await.contains("with its chart"),
        "the button says what it did"
    );
    browser.screenshot_of("#slack", &shot("report")).await;
    // `POST /report` the same week, as a script would: nothing more is posted.
    let again: serde_json::Value = crm_http::client()
        .post(format!("{}/report", page.trim_end_matches('/')))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&again["ran"], &again["posted"]),
        (&json!(false), &json!(false)),
        "{again}"
    );
    assert_eq!(feed_count(&browser, "Pipeline report").await, 1);

    // 4. Notion fails page writes: the lead waits in the inbox, with the reason.
    browser.click("#fault-on").await;
    browser
        .wait_for(
            "the fault switch",
            "return document.querySelector('#fault-off');",
        )
        .await;
    // Every button and form the README's Try it names is on the page, by that name.
    shown += &page_text().await;
    assert!(try_it.labels.len() >= 6, "{:?}", try_it.labels);
    for label in &try_it.labels {
        assert!(
            shown.contains(&label.to_lowercase()),
            "the README names {label:?}; the page does not show it"
        );
    }
    send_lead(
        &browser,
        "wait@example.com",
        "Wes Ait",
        "Sent while Notion fails",
    )
    .await;
    let reason = browser
        .wait_for(
            "a failed item",
            "var r = document.querySelector('#inbox tr.failed'); return r && r.innerText;",
        )
        .await;
    let reason = reason.as_str().unwrap_or_default();
    assert!(
        reason.contains("500"),
        "the reason names Notion's answer: {reason}"
    );
    assert!(
        !reason.contains("wait@example.com"),
        "no full address in a reason: {reason}"
    );
    assert!(
        product
            .new_pages("contacts")
            .await
            .iter()
            .all(|c| c["properties"]["Email"]["email"] != "wait@example.com"),
        "not written while Notion fails"
    );
    browser.screenshot_of("#inbox", &shot("failed")).await;

    // The fault removed, the replay carries the lead out and empties the inbox.
    browser.click("#fault-off").await;
    browser
        .wait_for(
            "the fault switch",
            "return document.querySelector('#fault-on');",
        )
        .await;
    browser.click("#replay").await;
    browser
        .wait_for(
            "an empty inbox",
            "return document.querySelector('#inbox-empty');",
        )
        .await;
    assert!(
        browser.text("#notice").await.contains("done"),
        "the replay says what it did"
    );
    let contacts = product.wait_for_contact("wait@example.com").await;
    assert_eq!(
        contacts
            .iter()
            .filter(|c| c["properties"]["Email"]["email"] == "wait@example.com")
            .count(),
        1,
        "written once"
    );
    browser
        .wait_for(
            "the replayed contact",
            "return document.querySelector('#contacts tr[data-email=\"wait@example.com\"]');",
        )
        .await;
    browser.screenshot_of("#inbox", &shot("replayed")).await;
}

/// `crm serve --config` on a "real" Notion: an emulator the server is given by URL and
/// token, as it would be given api.notion.com; `secrets` are more lines of the
/// config's `[secrets]`.
async fn serve_on_real_notion(
    name: &str,
    secrets: &str,
) -> (
    crm_notion_emulator::Emulator,
    crm_notion_emulator::SeededWorkspace,
    LocalProduct,
) {
    use crm_notion_emulator::{DEFAULT_TOKEN, Emulator, StageKind};
    let notion = Emulator::start(0, DEFAULT_TOKEN).await.unwrap();
    let ws = notion.seed_crm(StageKind::Select);
    let dir = std::env::temp_dir().join(format!("crm-{name}-config-{}", std::process::id()));
    let config = common::write_config(&dir, &ws, &notion.base_url(), "", secrets);
    let product = LocalProduct::start_args(name, &["--config", config.to_str().unwrap()], &[]);
    // As its operator would: a subscription made while the handshake window is open.
    notion.subscribe(&product.url("webhook")).await;
    (notion, ws, product)
}

/// A person makes a deal in `lead` and moves it to Won, in the Notion app.
async fn deal_won_by_a_person(
    product: &LocalProduct,
    notion: &crm_notion_emulator::Emulator,
    ws: &crm_notion_emulator::SeededWorkspace,
    name: &str,
) {
    let deal = notion
        .create_page_as_person(
            json!({"Deal Name": {"title": [{"text": {"content": name}}]}, "Stage": {"select": {"name": "lead"}}}),
            &ws.deals_data_source_id,
        )
        .unwrap();
    // A person moves it later, once the worker has seen it made (else both events
    // may find it won already, and the move is told as `Now Won`).
    assert!(notion.deliveries_idle(Duration::from_secs(10)).await);
    product.settled("the creation was handled").await;
    notion
        .update_page_as_person(
            deal["id"].as_str().unwrap(),
            json!({"Stage": {"select": {"name": "won"}}}),
        )
        .unwrap();
}

/// The page until `pred` accepts it (within 20 s).
async fn page_until(page: &str, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let what = format!("the page showing {what}");
    crm_testkit::eventually(&what, Duration::from_secs(20), || async {
        let html = crm_http::client()
            .get(page)
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        pred(&html).then_some(html)
    })
    .await
}

/// With a real Notion and Slack the page shows only what this server holds — the inbox,
/// with a lead Notion refused; what it posted to Slack, once — and links to the
/// workspace's databases; it answers only to its own host names and takes no button
/// from another site.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_real_notion_the_page_shows_the_inbox_the_feed_and_links_only() {
    use crm_notion_emulator::FaultRule;
    let slack = crm_slack::receiver::SlackReceiver::start(0, false)
        .await
        .unwrap();
    let (notion, ws, product) = serve_on_real_notion(
        "page-real",
        &format!(
            "form_secrets = {{ own = \"s3cret\" }}\nslack_webhooks = {{ won = \"{}\", digest = \"{}\" }}\n",
            slack.url("won"),
            slack.url("digest")
        ),
    )
    .await;
    let page = product.url("page");
    let http = crm_http::client();
    let html = http.get(&page).send().await.unwrap().text().await.unwrap();
    for id in [
        &ws.contacts_database_id,
        &ws.deals_database_id,
        &ws.activities_database_id,
    ] {
        let link = format!("https://www.notion.so/{}", id.replace('-', ""));
        assert!(html.contains(&link), "a link to {link}");
    }
    assert!(html.contains("id=\"inbox\"") && html.contains("id=\"slack\""));
    for demo_only in ["id=\"board\"", "id=\"contacts\"", "id=\"lead\"", "fault-on"] {
        assert!(
            !html.contains(demo_only),
            "no {demo_only} with a real Notion"
        );
    }

    // What this server posts to the real Slack shows, once.
    // Notion delivers each event twice here, as its retries do.
    notion.set_delivery_mode(crm_notion_emulator::DeliveryMode {
        duplicate: true,
        ..Default::default()
    });
    deal_won_by_a_person(&product, &notion, &ws, "Real deal").await;
    let html = page_until(&page, "the post", |h| h.contains("Lead → Won: ")).await;
    assert!(html.contains("incoming webhook"), "where it went");
    assert!(
        notion.deliveries_idle(Duration::from_secs(10)).await,
        "every delivery made"
    );
    assert!(
        notion.deliveries().len() >= 4,
        "two events, each delivered twice"
    );
    product.settled("the second deliveries handled too").await;
    let html = http.get(&page).send().await.unwrap().text().await.unwrap();
    assert_eq!(slack.to("won").len(), 1, "Slack got it once");
    assert_eq!(html.matches("Lead → Won: ").count(), 1, "shown once");

    // A lead Notion refuses waits in the inbox, and the page says why.
    notion.inject(FaultRule::status(Some("POST"), "/v1/pages", 500));
    let lead = json!({"email": "real@example.com", "name": "Rea L"});
    assert_eq!(
        common::send_signed(&product.url("intake"), "s3cret", &lead).await,
        202
    );
    let html = page_until(&page, "a failed item", |h| {
        h.contains("<tr class=\"failed\"")
    })
    .await;
    assert!(html.contains("Notion answered 500"), "the reason shows");
    assert!(
        !html.contains("real@example.com"),
        "no address in the inbox"
    );

    // `POST /replay` (docs/local.md's curl for the replay button) writes it once the
    // fault is gone.
    notion.clear_faults();
    let replayed: serde_json::Value = http
        .post(product.url("replay"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        replayed["done"].as_array().map(Vec::len),
        Some(1),
        "{replayed}"
    );
    assert_eq!(replayed["failed"], json!([]), "{replayed}");
    let written = notion
        .pages(&ws.contacts_data_source_id)
        .iter()
        .filter(|c| c["properties"]["Email"]["email"] == "real@example.com")
        .count();
    assert_eq!(written, 1, "written once");
    page_until(&page, "an empty inbox", |h| {
        h.contains("id=\"inbox-empty\"")
    })
    .await;

    // Only its own names; buttons only from itself.
    let other_host = http
        .get(&page)
        .header("host", "crm.attacker.test")
        .send()
        .await
        .unwrap();
    assert_eq!(other_host.status().as_u16(), 403);
    let other_site = http
        .post(format!("{page}local/replay"))
        .header("origin", "http://crm.attacker.test")
        .send()
        .await
        .unwrap();
    assert_eq!(other_site.status().as_u16(), 403);
    for (method, path) in [("POST", "digest"), ("POST", "replay"), ("GET", "inbox")] {
        let answer = http
            .request(method.parse().unwrap(), format!("{page}{path}"))
            .header("origin", "http://crm.attacker.test")
            .send()
            .await
            .unwrap();
        assert_eq!(
            answer.status().as_u16(),
            403,
            "{method} /{path} from another site"
        );
    }
    let no_deals_here = http
        .post(format!("{page}local/deals/x/stage"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("stage=won")
        .send()
        .await
        .unwrap();
    assert_eq!(no_deals_here.status().as_u16(), 404);
}

/// A config with a real Notion and no Slack yet: messages go to the local Slack, on the
/// console and the page, rather than failing for a webhook nobody configured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_notion_without_slack_posts_to_the_local_slack() {
    let (notion, ws, product) = serve_on_real_notion("page-no-slack", "").await;
    deal_won_by_a_person(&product, &notion, &ws, "Unslacked deal").await;
    let line = product.wait_for_line("the console's Slack line", |l| l.starts_with("[slack:won]"));
    assert!(line.contains("Lead → Won: Unslacked deal"), "{line}");
    let html = page_until(&product.url("page"), "the post", |h| {
        h.contains("Lead → Won: ")
    })
    .await;
    assert!(html.contains("#won · incoming webhook"), "where it went");
}
