//! The demo site `make local` serves on a second port: a page with the browser form's
//! snippet, posted from another origin exactly as a real site's page would post to the
//! deployed intake (origin check, CORS, the spam checks), and its thank-you page.

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use crm_domain::browser_form::FormConfig;
use crm_domain::browser_form::snippet::{Send, snippet};

/// The name of the browser form the demo page posts to.
pub const FORM: &str = "demo";

/// The `browser_forms` setting of the local config: the form of the demo site at
/// `site` (its thank-you page there), also posted from the local page at `page` — each
/// by 127.0.0.1 and by localhost, the names a browser may be given. A person takes
/// longer than a second to fill a form; a script does not.
pub fn forms_json(site: &str, page: &str) -> String {
    let origins: Vec<String> = [site, page]
        .iter()
        .flat_map(|o| [o.to_string(), o.replace("://127.0.0.1:", "://localhost:")])
        .collect();
    serde_json::json!({
        FORM: {
            "origins": origins,
            "thank_you": format!("{site}/thanks.html"),
            "min_fill_seconds": 1,
        }
    })
    .to_string()
}

/// The demo site's pages for `form`, whose snippet posts to `intake_base`.
pub fn router(form: &FormConfig, intake_base: &str) -> Router {
    let index = index(form, intake_base);
    Router::new()
        .route("/", get(move || async move { Html(index) }))
        .route("/thanks.html", get(|| async { Html(THANKS) }))
}

fn index(form: &FormConfig, intake_base: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>A site with a contact form</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#222}}
section{{border:1px solid #ddd;border-radius:8px;padding:0 1rem 1rem;margin:1.5rem 0}}input,textarea{{width:100%;box-sizing:border-box}}</style>
</head><body>
<h1>A site with a contact form</h1>
<p>This page is served from another origin than the intake, as your own site would be. Each
form below is what <code>crm form-snippet {name}</code> prints: send one, and watch the lead reach
the Notion emulator (the console shows the worker at it).</p>
<section id="plain"><h2>A plain form</h2><p>Works without JavaScript: the browser ends on the thank-you page.</p>
{plain}</section>
<section id="fetch"><h2>The same form with <code>fetch()</code></h2><p>The page stays; the answer is shown under the button.</p>
{fetch}</section>
</body></html>
"#,
        name = form.name,
        plain = snippet(form, intake_base, Send::Plain),
        fetch = snippet(form, intake_base, Send::Fetch),
    )
}

const THANKS: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Thank you</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}</style></head>
<body><h1 id="thanks">Thank you!</h1><p>We got your message. (This is the form's <code>thank_you</code> page.)</p>
<p><a href="/">Back to the form</a></p></body></html>
"#;

/// A demo contact: name, email, company, status, last contacted (days ago), created
/// (days ago).
type DemoContact = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<i64>,
    i64,
);

/// Something for every feature to act on, written as people would have written it
/// (before the webhook subscription, so none of it is announced): contacts fresh, stale
/// by their Last Contacted, and never contacted since long ago; deals in every stage
/// with owners and values; a few activities. Returns the number of stale leads seeded,
/// which the digest should name.
pub fn seed_data(
    emulator: &crm_notion_emulator::Emulator,
    ws: &crm_notion_emulator::SeededWorkspace,
    today: chrono::NaiveDate,
) -> Result<usize, String> {
    use serde_json::json;
    let days_ago = |n: i64| {
        (today - chrono::Duration::days(n))
            .format("%Y-%m-%d")
            .to_string()
    };
    let title = |t: &str| json!({"title": [{"text": {"content": t}}]});
    let text = |t: &str| json!({"rich_text": [{"text": {"content": t}}]});
    let select = |t: &str| json!({"select": {"name": t}});
    // (name, email, company, status, last contacted days ago, created days ago)
    let contacts: &[DemoContact] = &[
        (
            "Ada Park",
            "ada@example.com",
            "Acme",
            "new lead",
            Some(2),
            3,
        ),
        (
            "Ben Ruiz",
            "ben@example.com",
            "Globex",
            "contacted",
            Some(5),
            40,
        ),
        (
            "Cleo Tan",
            "cleo@example.com",
            "Initech",
            "new lead",
            Some(45),
            60,
        ),
        (
            "Dev Shah",
            "dev@example.com",
            "Hooli",
            "new lead",
            Some(61),
            90,
        ),
        (
            "Eli Moss",
            "eli@example.com",
            "Umbrella",
            "new lead",
            Some(33),
            50,
        ),
        ("Fay Wu", "fay@example.com", "Wu & Co", "new lead", None, 75),
        ("Gus Lind", "gus@example.com", "Stark", "new lead", None, 40),
        ("Hana Ito", "hana@example.com", "Wayne", "new lead", None, 4),
        (
            "Ivo Novak",
            "ivo@example.com",
            "Soylent",
            "qualified",
            Some(12),
            30,
        ),
        (
            "Jo Kim",
            "jo@example.com",
            "Tyrell",
            "customer",
            Some(20),
            200,
        ),
        (
            "Kai Berg",
            "kai@example.com",
            "Cyberdyne",
            "lost",
            Some(120),
            180,
        ),
        (
            "Lu Chen",
            "lu@example.com",
            "Oscorp",
            "new lead",
            Some(1),
            1,
        ),
    ];
    let mut stale = 0;
    let mut ids = Vec::new();
    for (name, email, company, status, contacted, created) in contacts {
        let mut properties = json!({
            "Name": title(name), "Email": {"email": email}, "Company": text(company),
            "Status": select(status), "Source": select("website"),
        });
        if let Some(d) = contacted {
            properties["Last Contacted"] = json!({"date": {"start": days_ago(*d)}});
        }
        let page = emulator.create_page_as_person(properties, &ws.contacts_data_source_id)?;
        let id = page["id"].as_str().unwrap_or_default().to_owned();
        let created_at = chrono::Utc::now() - chrono::Duration::days(*created);
        emulator.set_page_times(&id, Some(created_at), Some(created_at));
        let untouched = contacted.unwrap_or(*created);
        if *status == "new lead" && untouched > 30 {
            stale += 1;
        }
        ids.push(id);
    }
    let owner = |i: usize| json!({"people": [{"id": ws.people[i % ws.people.len()].0}]});
    // (deal, stage, value, contact index, owner index, created and in its stage (days
    // ago; none: never seen moving), close date (days from today)): a pipeline whose
    // weekly report has something in every part — a win this week, a deal rotting since
    // it was created, one rotting in proposal past its close date.
    type DemoDeal = (
        &'static str,
        &'static str,
        f64,
        usize,
        usize,
        i64,
        Option<i64>,
        i64,
    );
    let deals: &[DemoDeal] = &[
        ("Acme pilot", "lead", 4_000.0, 0, 0, 25, None, 40),
        (
            "Globex rollout",
            "qualified",
            18_000.0,
            1,
            1,
            30,
            Some(8),
            20,
        ),
        (
            "Initech renewal",
            "proposal",
            9_500.0,
            2,
            0,
            45,
            Some(18),
            -3,
        ),
        (
            "Soylent expansion",
            "negotiation",
            32_000.0,
            8,
            0,
            50,
            Some(4),
            10,
        ),
        ("Tyrell support", "won", 12_000.0, 9, 1, 40, Some(5), -5),
        ("Cyberdyne trial", "lost", 6_000.0, 10, 1, 60, Some(12), -12),
    ];
    let at = |n: i64| chrono::Utc::now() - chrono::Duration::days(n);
    for (name, stage, value, contact, who, created, since, close) in deals {
        let mut properties = json!({
            "Deal Name": title(name), "Stage": {"status": {"name": stage}},
            "Value": {"number": value}, "Contact": {"relation": [{"id": ids[*contact]}]},
            "Owner": owner(*who), "Close Date": {"date": {"start": days_ago(-close)}},
        });
        if let Some(since) = since {
            properties["Stage Since"] = json!({"date": {"start": at(*since).to_rfc3339()}});
        }
        let page = emulator.create_page_as_person(properties, &ws.deals_data_source_id)?;
        let id = page["id"].as_str().unwrap_or_default();
        emulator.set_page_times(id, Some(at(*created)), Some(at(since.unwrap_or(*created))));
    }
    for (contact, kind, details, ago) in [
        (1, "call", "Intro call: wants a quote for 40 seats", 5),
        (8, "meeting", "Demo with their team; pricing next", 12),
        (9, "email", "Renewal signed", 20),
    ] {
        emulator.create_page_as_person(
            json!({
                "Title": title(&format!("{kind}: {}", contacts[contact].0)),
                "Type": select(kind), "Date": {"date": {"start": days_ago(ago)}},
                "Contact": {"relation": [{"id": ids[contact]}]}, "Details": text(details),
            }),
            &ws.activities_data_source_id,
        )?;
    }
    Ok(stale)
}

/// What a deployment knows once it has seen each deal change once: the stage every
/// seeded deal is in (at the time it was last edited), so that the first move on the
/// page is told as `Negotiation → Won`, not `Now Won` — which is what a deal the
/// worker has never seen gets, since Notion's events carry no old values.
pub async fn remember_stages(
    store: &crm_store::SqliteStore,
    emulator: &crm_notion_emulator::Emulator,
    ws: &crm_notion_emulator::SeededWorkspace,
) -> Result<(), crm_store::StoreError> {
    for deal in crate::page::pages(emulator, &ws.deals_data_source_id) {
        let Some(stage) = deal
            .property("Stage")
            .and_then(crm_notion::PropertyValue::as_text)
        else {
            continue;
        };
        let edited = chrono::DateTime::parse_from_rfc3339(&deal.last_edited_time)
            .map_or(0, |t| t.timestamp_millis());
        crm_app::worker::record_stage(store, &deal.id, &stage, edited).await?;
    }
    Ok(())
}
