//! The local page, rendered: a pure function of what [`Screen`] holds. Every value from
//! Notion, Slack or a visitor is escaped; the only markup that is not the page's own is
//! the Slack feed's, made by `blocks`, and the form snippet, made by the domain.

use crm_domain::browser_form::page::escape as esc;
use crm_domain::deal::money;
use crm_domain::schema::STAGES;

use super::view::{ActivityRow, ContactRow, DealCard, InboxRow};

/// One message in the Slack feed.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEntry {
    /// Where it went: `#won (webhook)`, `#sales`, `DM @dana`.
    pub place: String,
    /// The message, already HTML (see `blocks`).
    pub html: String,
}

/// What the built-in Notion emulator holds, and the controls that act on it.
pub struct Demo {
    pub contacts: Vec<ContactRow>,
    pub deals: Vec<DealCard>,
    pub activities: Vec<ActivityRow>,
    /// The browser form's snippet, posting to the intake's form route.
    pub form: String,
    /// Whether Notion is made to fail page writes.
    pub fault: bool,
    pub stale_days: u32,
}

pub struct Screen {
    pub notice: Option<String>,
    /// With the emulator; `None` with a real Notion.
    pub demo: Option<Demo>,
    /// With a real Notion: (name, URL) of each database.
    pub links: Vec<(String, String)>,
    /// The Slack feed, newest first.
    pub feed: Vec<FeedEntry>,
    /// Where the feed comes from, in words.
    pub feed_note: String,
    pub inbox: Vec<InboxRow>,
}

pub fn page(s: &Screen) -> String {
    let mut body = String::new();
    body += &notice(s.notice.as_deref());
    match &s.demo {
        Some(demo) => {
            body += &actions(demo);
            body += &board(&demo.deals);
            body += "<div class=\"two\">";
            body += &feed(&s.feed, &s.feed_note);
            body += &inbox(&s.inbox, true);
            body += "</div>";
            body += &contacts(&demo.contacts, demo.stale_days);
            body += &activities(&demo.activities);
        }
        None => {
            body += &links(&s.links);
            body += "<div class=\"two\">";
            body += &feed(&s.feed, &s.feed_note);
            body += &inbox(&s.inbox, false);
            body += "</div>";
        }
    }
    format!(
        r##"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>CRM automations — local</title>
<style>{CSS}</style>
</head><body>
<header><h1>CRM automations <small>running on this machine</small></h1>
<nav><a href="#board">Deals</a> <a href="#slack">Slack</a> <a href="#inbox">Inbox</a> <a href="#contacts">Contacts</a> <a href="#activities">Activities</a></nav></header>
{body}
<script>{SCRIPT}</script>
</body></html>
"##
    )
}

const CSS: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:84rem;padding:0 1rem 3rem;color:#1d1d1f;background:#fafafa}\
header{display:flex;align-items:baseline;justify-content:space-between;flex-wrap:wrap}header small{font-weight:normal;color:#777;font-size:.6em}\
nav a{margin-left:.8rem}section{background:#fff;border:1px solid #e3e3e3;border-radius:8px;padding:.2rem 1rem 1rem;margin:1rem 0}\
h2{font-size:1.1rem}h2 small{font-weight:normal;color:#777}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #eee;vertical-align:top}\
.notice{background:#fff8d6;border:1px solid #eed77a;border-radius:8px;padding:.6rem 1rem;margin:1rem 0}\
.actions{display:flex;gap:1rem;flex-wrap:wrap}.actions>section{flex:1;min-width:18rem}.actions form[data-crm-form] input,.actions textarea{width:100%;box-sizing:border-box}\
.board{display:flex;gap:.6rem;overflow-x:auto}.column{flex:1;min-width:10rem;background:#f3f3f5;border-radius:6px;padding:.3rem .5rem}\
.column h3{font-size:.9rem;text-transform:capitalize;margin:.3rem 0}.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.4rem .5rem;margin:.4rem 0}\
.card b{display:block}.card small{color:#666;display:block}.card form{margin-top:.3rem;display:flex;gap:.3rem}\
.two{display:flex;gap:1rem;flex-wrap:wrap}.two>section{flex:1;min-width:22rem}\
.message{border-left:3px solid #4a154b;padding:.1rem .6rem;margin:.6rem 0}.message img.file{max-width:100%;border:1px solid #ddd;margin:.3rem 0}.message .place{color:#666;font-size:.85em}.message p{margin:.2rem 0}.context{color:#666;font-size:.9em}\
.mention{background:#e8f2fb;color:#1264a3;border-radius:3px;padding:0 .15rem}\
.stale{background:#fde8e8;color:#9b1c1c;border-radius:4px;padding:0 .3rem;font-size:.85em}.new{background:#e5f6e8;color:#1e6b2e;border-radius:4px;padding:0 .3rem;font-size:.85em}\
.failed td{background:#fff1f0}.muted{color:#777}button{cursor:pointer}";

/// Every few seconds the live parts are read again, so that what the worker does shows
/// without a reload; a part with the focus (a stage being picked) is left alone.
const SCRIPT: &str = "setInterval(async()=>{try{const r=await fetch(location.pathname,{cache:'no-store'});\
const doc=new DOMParser().parseFromString(await r.text(),'text/html');\
document.querySelectorAll('[data-live]').forEach(el=>{if(el.contains(document.activeElement))return;\
const fresh=doc.getElementById(el.id);if(fresh&&fresh.innerHTML!==el.innerHTML)el.innerHTML=fresh.innerHTML;});}catch(e){}},1500);";

fn notice(text: Option<&str>) -> String {
    let inner = text.map_or(String::new(), |t| {
        format!("<div class=\"notice\" role=\"status\">{}</div>", esc(t))
    });
    format!("<div id=\"notice\" data-live>{inner}</div>")
}

fn actions(demo: &Demo) -> String {
    let fault = if demo.fault {
        "<p><b>Notion is failing every page write (HTTP 500).</b> New leads wait in the inbox.</p>\
         <form method=\"post\" action=\"/local/fault\"><input type=\"hidden\" name=\"on\" value=\"false\">\
         <button id=\"fault-off\">Let Notion work again</button></form>"
    } else {
        "<p>Make Notion answer 500 to every page write, then send a lead: it waits in the inbox, with the reason.</p>\
         <form method=\"post\" action=\"/local/fault\"><input type=\"hidden\" name=\"on\" value=\"true\">\
         <button id=\"fault-on\">Make Notion fail</button></form>"
    };
    format!(
        r#"<div class="actions">
<section id="lead"><h2>Send a lead <small>the browser-form route, as your site would</small></h2>
{form}</section>
<section id="run"><h2>Run things now</h2>
<p>The digest names the leads nobody touched in {days} days (it runs daily at 09:00, once a day).</p>
<form method="post" action="/local/digest"><button id="run-digest">Run the digest now</button></form>
<p>The pipeline report sums up the deals by stage, the forecast, the week's wins and losses and the deals that stopped moving, with a chart (it runs Mondays at 09:00, once a week).</p>
<form method="post" action="/local/report"><button id="run-report">Send the report now</button></form>
<h2>Break things</h2><div id="fault" data-live>{fault}</div>
</section></div>
"#,
        form = demo.form,
        days = demo.stale_days,
    )
}

fn board(deals: &[DealCard]) -> String {
    let mut columns = String::new();
    for stage in STAGES {
        let cards: String = deals
            .iter()
            .filter(|d| d.stage.eq_ignore_ascii_case(stage))
            .map(card)
            .collect();
        columns +=
            &format!("<div class=\"column\" data-stage=\"{stage}\"><h3>{stage}</h3>{cards}</div>");
    }
    format!(
        "<section id=\"board\"><h2>Deals <small>move a deal: pick a stage and press Move, as a person would in Notion; the change reaches Slack through the webhook, the inbox and the worker</small></h2>\
         <div class=\"board\" id=\"board-live\" data-live>{columns}</div></section>\n"
    )
}

fn card(d: &DealCard) -> String {
    let options: String = STAGES
        .iter()
        .map(|s| {
            let selected = if d.stage.eq_ignore_ascii_case(s) {
                " selected"
            } else {
                ""
            };
            format!("<option value=\"{s}\"{selected}>{s}</option>")
        })
        .collect();
    let mut about = Vec::new();
    if let Some(v) = d.value {
        about.push(money(v));
    }
    if !d.owners.is_empty() {
        about.push(d.owners.join(", "));
    }
    let contact = d
        .contact
        .as_deref()
        .map_or(String::new(), |c| format!("<small>{}</small>", esc(c)));
    format!(
        "<div class=\"card\" data-deal=\"{name}\"><b>{name}</b><small>{about}</small>{contact}\
         <form method=\"post\" action=\"/local/deals/{id}/stage\"><select name=\"stage\" aria-label=\"Stage\">{options}</select><button>Move</button></form></div>",
        name = esc(&d.name),
        about = esc(&about.join(" · ")),
        id = esc(&d.id),
    )
}

fn feed(entries: &[FeedEntry], note: &str) -> String {
    let messages: String = if entries.is_empty() {
        "<p class=\"muted\">Nothing posted yet.</p>".into()
    } else {
        entries
            .iter()
            .map(|e| {
                format!(
                    "<div class=\"message\"><div class=\"place\">{}</div>{}</div>",
                    esc(&e.place),
                    e.html
                )
            })
            .collect()
    };
    format!(
        "<section id=\"slack\"><h2>Slack <small>{}</small></h2><div id=\"feed\" data-live>{messages}</div></section>\n",
        esc(note)
    )
}

fn inbox(items: &[InboxRow], demo: bool) -> String {
    let rows: String = items
        .iter()
        .map(|i| {
            format!(
                "<tr class=\"{status}\" data-item=\"{id}\"><td>{kind}</td><td>{status}</td><td>{attempts}</td><td>{reason}</td></tr>",
                status = esc(&i.status),
                id = esc(&i.id),
                kind = esc(&i.kind),
                attempts = i.attempts,
                reason = esc(i.reason.as_deref().unwrap_or("")),
            )
        })
        .collect();
    let table = if items.is_empty() {
        "<p class=\"muted\" id=\"inbox-empty\">Nothing waiting: every lead and event was carried out.</p>".to_owned()
    } else {
        format!(
            "<table><tr><th>Kind</th><th>Status</th><th>Attempts</th><th>Reason</th></tr>{rows}</table>"
        )
    };
    let retry = if demo {
        "every minute"
    } else {
        "every few minutes"
    };
    format!(
        "<section id=\"inbox\"><h2>Inbox <small>what is not carried out yet; failed items are retried {retry} with growing pauses</small></h2>\
         <div id=\"inbox-live\" data-live>{table}</div>\
         <form method=\"post\" action=\"/local/replay\"><button id=\"replay\">Replay open items now</button></form></section>\n"
    )
}

fn contacts(rows: &[ContactRow], days: u32) -> String {
    let body: String = rows
        .iter()
        .map(|c| {
            let badge = if c.stale {
                format!(" <span class=\"stale\">stale · {} days</span>", c.untouched_days)
            } else if c.by_bot {
                " <span class=\"new\">from a form</span>".to_owned()
            } else {
                String::new()
            };
            format!(
                "<tr data-email=\"{email}\"><td>{name}{badge}</td><td>{email}</td><td>{company}</td><td>{status}</td><td>{source}</td><td>{last}</td></tr>",
                name = esc(&c.name),
                email = esc(&c.email),
                company = esc(&c.company),
                status = esc(&c.status),
                source = esc(&c.source),
                last = esc(c.last_contacted.as_deref().unwrap_or("—")),
            )
        })
        .collect();
    format!(
        "<section id=\"contacts\"><h2>Contacts <small>stale: an open lead untouched for more than {days} days</small></h2>\
         <div id=\"contacts-live\" data-live><p class=\"muted\">{n} contacts</p><table><tr><th>Name</th><th>Email</th><th>Company</th><th>Status</th><th>Source</th><th>Last contacted</th></tr>{body}</table></div></section>\n",
        n = rows.len(),
    )
}

fn activities(rows: &[ActivityRow]) -> String {
    let body: String = rows
        .iter()
        .map(|a| {
            format!(
                "<tr><td>{date}</td><td>{kind}</td><td>{title}</td><td>{contact}</td><td>{details}</td></tr>",
                date = esc(&a.date),
                kind = esc(&a.kind),
                title = esc(&a.title),
                contact = esc(a.contact.as_deref().unwrap_or("—")),
                details = esc(&a.details),
            )
        })
        .collect();
    format!(
        "<section id=\"activities\"><h2>Activities</h2><div id=\"activities-live\" data-live><table><tr><th>Date</th><th>Type</th><th>Title</th><th>Contact</th><th>Details</th></tr>{body}</table></div></section>\n"
    )
}

fn links(links: &[(String, String)]) -> String {
    let items: String = links
        .iter()
        .map(|(name, url)| format!("<li><a href=\"{}\">{}</a></li>", esc(url), esc(name)))
        .collect();
    format!(
        "<section id=\"notion\"><h2>Notion</h2><p>This server works on your Notion workspace: its databases are there.</p><ul>{items}</ul></section>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_from_notion_are_escaped_and_cards_sit_in_their_stage() {
        let demo = Demo {
            contacts: vec![],
            deals: vec![DealCard {
                id: "d1".into(),
                name: "<script>x</script>".into(),
                stage: "Won".into(),
                value: Some(1000.0),
                owners: vec!["Dana".into()],
                contact: None,
            }],
            activities: vec![],
            form: String::new(),
            fault: false,
            stale_days: 30,
        };
        let html = board(&demo.deals);
        assert!(!html.contains("<script>x"), "{html}");
        let won = html.find("data-stage=\"won\"").unwrap();
        let lost = html.find("data-stage=\"lost\"").unwrap();
        let card = html.find("data-deal=").unwrap();
        assert!(won < card && card < lost, "the card is in the won column");
        assert!(html.contains("<option value=\"won\" selected>"));
    }

    #[test]
    fn a_real_workspace_shows_only_the_inbox_the_feed_and_links() {
        let html = page(&Screen {
            notice: None,
            demo: None,
            links: vec![("Contacts".into(), "https://www.notion.so/abc".into())],
            feed: vec![],
            feed_note: "posted by this server".into(),
            inbox: vec![],
        });
        assert!(html.contains("id=\"inbox\"") && html.contains("id=\"slack\""));
        assert!(html.contains("https://www.notion.so/abc"));
        assert!(!html.contains("id=\"board\"") && !html.contains("id=\"contacts\""));
    }
}
