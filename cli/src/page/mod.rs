//! The local page at the root of `crm serve`: the CRM as the Notion emulator holds it
//! (contacts, a deal board, activities), the Slack feed, the inbox with replay, a lead
//! form, "run the digest now" and "send the report now" (with the report's chart, as
//! Slack shows it). Server-rendered, with a few lines of script that read
//! the live parts again every few seconds.
//!
//! Every button goes the product's own way: a lead through the browser-form route, a
//! stage change through the emulator's person route (so Notion's webhook, the inbox and
//! the worker carry it to Slack, as in production), the digest, the report and the
//! replay through the same handlers as the scheduler and `crm replay`. With a real Notion the page
//! shows only the inbox, the feed and links to the databases.

mod blocks;
mod html;
mod view;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use crm_notion_emulator::{Emulator, FaultRule, SeededWorkspace};
use crm_slack::SentLog;
use crm_slack::receiver::{Place, SlackReceiver};
use crm_store::prelude::*;
use serde::Deserialize;

use crate::app::App;
use html::{Demo, FeedEntry, Screen};

/// The Notion behind the page.
pub enum Notion {
    /// The built-in emulator, with the demo workspace and the browser form's snippet.
    Emulated {
        emulator: Arc<Emulator>,
        workspace: Box<SeededWorkspace>,
        form: String,
    },
    /// A real workspace: (name, URL) of each of its databases.
    Real { links: Vec<(String, String)> },
}

/// The Slack behind the page's feed.
pub enum Slack {
    /// The local Slack: everything it received, webhooks, channel posts and DMs.
    Console(Arc<SlackReceiver>),
    /// A real workspace: what this server posted to it.
    Real(SentLog),
}

pub struct Page {
    app: Arc<App>,
    notion: Notion,
    slack: Slack,
    notice: Mutex<Option<(Instant, String)>>,
    fault: Mutex<bool>,
}

/// How long the answer to a button stays on the page.
const NOTICE_FOR: Duration = Duration::from_secs(20);

impl Page {
    pub fn new(app: Arc<App>, notion: Notion, slack: Slack) -> Arc<Self> {
        Arc::new(Self {
            app,
            notion,
            slack,
            notice: Mutex::new(None),
            fault: Mutex::new(false),
        })
    }

    fn tell(&self, text: String) {
        tracing::info!(notice = %text, "local page");
        *self.notice.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), text));
    }

    fn emulator(&self) -> Option<&Emulator> {
        match &self.notion {
            Notion::Emulated { emulator, .. } => Some(emulator),
            Notion::Real { .. } => None,
        }
    }
}

/// The page's routes, [`local_only`]; the caller adds them to the server's router.
pub fn routes(page: Arc<Page>) -> Router {
    Router::new()
        .route("/", get(show))
        .route("/local/deals/{id}/stage", post(move_deal))
        .route("/local/digest", post(run_digest))
        .route("/local/report", post(run_report))
        .route("/local/files/{id}", get(file))
        .route("/local/replay", post(replay))
        .route("/local/fault", post(fault))
        .route_layer(axum::middleware::from_fn(local_only))
        .with_state(page)
}

/// Guards what only the operator's own browser or `curl` may use (the page, its
/// buttons, `/digest`, `/replay`, `/inbox`): see [`foreign`].
pub async fn local_only(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    match foreign(request.headers()) {
        Some(refused) => refused,
        None => next.run(request).await,
    }
}

/// The page answers only when addressed as 127.0.0.1 or localhost, and takes a button
/// only from itself (`crm_domain::loopback`).
fn foreign(headers: &HeaderMap) -> Option<Response> {
    let header = |name| {
        headers
            .get(name)
            .and_then(|h: &axum::http::HeaderValue| h.to_str().ok())
    };
    if crm_domain::loopback::addressed_locally(header(header::HOST), header(header::ORIGIN)) {
        return None;
    }
    Some(
        (
            StatusCode::FORBIDDEN,
            "this page answers only on 127.0.0.1 and localhost, and only to itself",
        )
            .into_response(),
    )
}

async fn show(State(page): State<Arc<Page>>) -> Response {
    let inbox = match page.app.store.inbox_list_open(100).await {
        Ok(items) => items.iter().map(view::InboxRow::from).collect(),
        Err(e) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("reading the inbox: {e}"),
            )
                .into_response();
        }
    };
    let notice = page
        .notice
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .filter(|(at, _)| at.elapsed() < NOTICE_FOR)
        .map(|(_, text)| text.clone());
    let (demo, links) = match &page.notion {
        Notion::Emulated {
            emulator,
            workspace,
            form,
        } => (Some(demo(&page, emulator, workspace, form)), Vec::new()),
        Notion::Real { links } => (None, links.clone()),
    };
    let (feed, feed_note) = feed(&page.slack);
    let screen = Screen {
        notice,
        demo,
        links,
        feed,
        feed_note,
        inbox,
    };
    let mut response = Html(html::page(&screen)).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        "no-store".parse().expect("a header value"),
    );
    response
}

fn demo(page: &Page, emulator: &Emulator, ws: &SeededWorkspace, form: &str) -> Demo {
    let stale = &page.app.digest.settings.stale;
    let rule = view::StaleRule {
        days: stale.days,
        open_statuses: &stale.open_statuses,
        timezone: stale.timezone,
        today: chrono::Utc::now()
            .with_timezone(&stale.timezone)
            .date_naive(),
    };
    let contacts = view::contacts(
        &pages(emulator, &ws.contacts_data_source_id),
        &rule,
        &ws.bot_user_id,
    );
    Demo {
        deals: view::deals(&pages(emulator, &ws.deals_data_source_id), &contacts),
        activities: view::activities(&pages(emulator, &ws.activities_data_source_id), &contacts),
        contacts,
        form: form.to_owned(),
        fault: *page.fault.lock().unwrap_or_else(|p| p.into_inner()),
        stale_days: stale.days,
    }
}

/// The pages of a data source the emulator holds, read as the client reads Notion's.
pub fn pages(emulator: &Emulator, data_source_id: &str) -> Vec<crm_notion::Page> {
    emulator
        .pages(data_source_id)
        .into_iter()
        .filter_map(|p| serde_json::from_value(p).ok())
        .collect()
}

/// Links to a real workspace's three databases, each read from its data source's
/// parent (the data source's own id where Notion could not be read: the page still
/// shows, the link may not open).
pub async fn notion_links(
    notion: &crm_notion::NotionClient,
    sources: [(&str, String); 3],
) -> Vec<(String, String)> {
    let mut links = Vec::new();
    for (name, id) in sources {
        let database = match notion.retrieve_data_source(&id).await {
            Ok(ds) => ds.parent.database_id.unwrap_or_else(|| id.clone()),
            Err(e) => {
                tracing::warn!(error = %e, data_source = name, "could not read the data source for its link");
                id.clone()
            }
        };
        links.push((
            name.to_owned(),
            format!("https://www.notion.so/{}", database.replace('-', "")),
        ));
    }
    links
}

/// The Slack feed, newest first, and where it comes from.
fn feed(slack: &Slack) -> (Vec<FeedEntry>, String) {
    match slack {
        Slack::Console(slack) => {
            let users = slack.users();
            let handle = |id: &str| users.iter().find(|u| u.id == id).map(|u| u.handle.clone());
            let entries = slack
                .feed()
                .into_iter()
                .rev()
                .map(|posted| FeedEntry {
                    place: match &posted.place {
                        Place::Webhook(name) => format!("#{name} · incoming webhook"),
                        Place::Channel(name) => format!("#{name}"),
                        Place::Dm(who) => format!("DM to @{who}"),
                    },
                    html: blocks::message_html(&posted.body, &handle)
                        + &blocks::files_html(&posted.body),
                })
                .collect();
            (
                entries,
                "as it would appear, newest first (the console prints it too)".into(),
            )
        }
        Slack::Real(log) => {
            let entries = log
                .all()
                .into_iter()
                .rev()
                .map(|sent| FeedEntry {
                    place: sent.to,
                    html: blocks::message_html(&serde_json::json!(sent.message), &|_| None),
                })
                .collect();
            (
                entries,
                "what this server posted to your workspace since it started, newest first".into(),
            )
        }
    }
}

#[derive(Deserialize)]
struct StageForm {
    stage: String,
}

async fn move_deal(
    State(page): State<Arc<Page>>,
    Path(id): Path<String>,
    Form(form): Form<StageForm>,
) -> Response {
    let Some(emulator) = page.emulator() else {
        return (StatusCode::NOT_FOUND, "deals move in Notion itself").into_response();
    };
    let Some(stage) = crm_domain::schema::STAGES
        .iter()
        .find(|s| s.eq_ignore_ascii_case(&form.stage))
    else {
        return (StatusCode::UNPROCESSABLE_ENTITY, "no such stage").into_response();
    };
    // As a person in the Notion app: the emulator sends the webhook event for it.
    let moved = emulator.update_page_as_person(
        &id,
        serde_json::json!({"Stage": {"status": {"name": stage}}}),
    );
    page.tell(match moved {
        Ok(deal) => format!(
            "{} moved to {stage} in Notion. Notion's webhook event is on its way: watch the Slack feed.",
            serde_json::from_value::<crm_notion::Page>(deal)
                .ok()
                .and_then(|d| d.property("Deal Name").and_then(crm_notion::PropertyValue::as_text))
                .unwrap_or_else(|| "The deal".into())
        ),
        Err(e) => format!("Notion refused the move: {e}"),
    });
    Redirect::to("/#board").into_response()
}

async fn run_digest(State(page): State<Arc<Page>>) -> Response {
    // The day's other job, as the schedule runs them together: the owners' DMs.
    let rotting = match page.app.report.tell_rotting().await {
        Ok(r) if r.told > 0 => format!(
            " {} owner{} got their rotting deals by DM.",
            r.owners,
            if r.owners == 1 { "" } else { "s" }
        ),
        Ok(_) => String::new(),
        Err(e) => format!(" The rotting deals' DMs failed: {e}"),
    };
    let digest = match page.app.digest.run().await {
        Ok(r) if r.posted => format!(
            "Digest posted for {}: {} stale lead{} (see the Slack feed).",
            r.date,
            r.stale,
            if r.stale == 1 { "" } else { "s" }
        ),
        Ok(r) if r.direct > 0 => format!("{} owners got their stale leads by DM.", r.direct),
        Ok(r) if r.ran => "No lead is stale now: nothing was posted.".into(),
        Ok(r) => format!(
            "The digest for {} was already posted: it goes out once a day. Restart `make local` for a fresh day.",
            r.date
        ),
        Err(e) => format!("The digest failed: {e}"),
    };
    page.tell(digest + &rotting);
    Redirect::to("/#slack").into_response()
}

async fn run_report(State(page): State<Arc<Page>>) -> Response {
    page.tell(match page.app.report.run().await {
        Ok(r) if r.posted => format!(
            "Pipeline report posted for {}: {} deal{}{} (see the Slack feed).",
            r.week,
            r.deals,
            if r.deals == 1 { "" } else { "s" },
            if r.chart { ", with its chart" } else { "" }
        ),
        Ok(r) if r.ran && r.deals == 0 => "There are no deals: nothing was posted.".into(),
        Ok(r) if r.ran => "Slack did not confirm the report; it is not posted again.".into(),
        Ok(r) => format!(
            "The report for {} was already posted: it goes out once a week. Restart `make local` for a fresh week.",
            r.week
        ),
        Err(e) => format!("The report failed: {e}"),
    });
    Redirect::to("/#slack").into_response()
}

/// A file the bot shared in the local Slack (the report's chart), as Slack shows it.
async fn file(State(page): State<Arc<Page>>, Path(id): Path<String>) -> Response {
    let Slack::Console(slack) = &page.slack else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match slack.files().into_iter().find(|f| f.id == id) {
        Some(f) => ([(header::CONTENT_TYPE, "image/png")], f.bytes).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn replay(State(page): State<Arc<Page>>) -> Response {
    page.tell(match page.app.worker.replay(500).await {
        Ok(r) if r.failed.is_empty() && r.done.is_empty() => "Nothing was waiting.".into(),
        Ok(r) if r.failed.is_empty() => format!("Replayed: {} done.", r.done.len()),
        Ok(r) => format!(
            "Replayed: {} done, {} still failing: {}",
            r.done.len(),
            r.failed.len(),
            r.failed[0].1
        ),
        Err(e) => format!("Could not read the inbox: {e}"),
    });
    Redirect::to("/#inbox").into_response()
}

#[derive(Deserialize)]
struct FaultForm {
    on: bool,
}

/// Makes the emulator fail every page write with a 500 (or stop): a Notion fault a new
/// lead meets, to see it wait in the inbox and the replay carry it out.
async fn fault(State(page): State<Arc<Page>>, Form(form): Form<FaultForm>) -> Response {
    let Some(emulator) = page.emulator() else {
        return (
            StatusCode::NOT_FOUND,
            "only the built-in emulator can be broken",
        )
            .into_response();
    };
    if form.on {
        emulator.inject(FaultRule::status(Some("POST"), "/v1/pages", 500));
        emulator.inject(FaultRule::status(Some("PATCH"), "/v1/pages/*", 500));
        page.tell(
            "Notion now answers 500 to every page write. Send a lead and watch the inbox.".into(),
        );
    } else {
        emulator.clear_faults();
        page.tell(
            "Notion works again. Replay the inbox (or wait for the redrive, every minute).".into(),
        );
    }
    *page.fault.lock().unwrap_or_else(|p| p.into_inner()) = form.on;
    Redirect::to("/#run").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(host: &str, origin: Option<&str>) -> bool {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, host.parse().unwrap());
        if let Some(o) = origin {
            headers.insert(header::ORIGIN, o.parse().unwrap());
        }
        foreign(&headers).is_none()
    }

    /// The page reads the request's headers into the one guard (whose cases are in
    /// `crm_domain::loopback`) and refuses with a 403.
    #[test]
    fn the_page_uses_the_loopback_guard() {
        assert!(asked("127.0.0.1:3000", None));
        assert!(!asked("crm.attacker.test:3000", None), "a rebound DNS name");
        assert!(!asked("127.0.0.1:3000", Some("http://evil.test")));
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "evil.test".parse().unwrap());
        assert_eq!(foreign(&headers).unwrap().status(), StatusCode::FORBIDDEN);
    }
}
