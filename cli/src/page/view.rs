//! What the local page shows, read from the pages the Notion emulator holds (the API's
//! JSON, at the default property names `make local` seeds) and from the inbox. Plain
//! rows, so that rendering them is a pure function.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use crm_store::InboxItem;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct ContactRow {
    pub id: String,
    pub name: String,
    pub email: String,
    pub company: String,
    pub status: String,
    pub source: String,
    pub last_contacted: Option<String>,
    /// Days since the last touch (Last Contacted, else the page's creation).
    pub untouched_days: i64,
    /// What the digest would name today.
    pub stale: bool,
    /// Made by the integration (a lead the worker wrote), not seeded by a person.
    pub by_bot: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DealCard {
    pub id: String,
    pub name: String,
    pub stage: String,
    pub value: Option<f64>,
    pub owners: Vec<String>,
    pub contact: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActivityRow {
    pub title: String,
    pub kind: String,
    pub date: String,
    pub contact: Option<String>,
    pub details: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InboxRow {
    pub id: String,
    pub kind: String,
    pub status: String,
    pub attempts: u32,
    pub reason: Option<String>,
}

impl From<&InboxItem> for InboxRow {
    fn from(item: &InboxItem) -> Self {
        Self {
            id: item.id.clone(),
            kind: item.kind.clone(),
            status: item.status.as_str().to_owned(),
            attempts: item.attempts,
            reason: item.last_error.clone(),
        }
    }
}

/// The staleness rule's inputs, from the settings the digest runs with.
pub struct StaleRule<'a> {
    pub days: u32,
    pub open_statuses: &'a [String],
    pub timezone: Tz,
    pub today: NaiveDate,
}

/// The contacts, newest first, each marked stale as the digest would judge it.
pub fn contacts(pages: &[Value], rule: &StaleRule<'_>, bot: &str) -> Vec<ContactRow> {
    let mut rows: Vec<(DateTime<Utc>, ContactRow)> = pages
        .iter()
        .filter(|p| p["in_trash"] != true)
        .map(|p| {
            let props = &p["properties"];
            let created = time(&p["created_time"]);
            let contacted = date(&props["Last Contacted"]);
            let touch = crm_domain::stale::last_touch(
                contacted.as_deref().and_then(|d| d.parse().ok()),
                created,
                rule.timezone,
            );
            let status = choice(&props["Status"]);
            let open = rule
                .open_statuses
                .iter()
                .any(|s| s.eq_ignore_ascii_case(&status));
            let row = ContactRow {
                id: id(p),
                name: text(&props["Name"]),
                email: props["Email"]["email"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                company: text(&props["Company"]),
                source: choice(&props["Source"]),
                last_contacted: contacted,
                untouched_days: (rule.today - touch).num_days(),
                stale: open && crm_domain::stale::is_stale(touch, rule.today, rule.days),
                by_bot: p["created_by"]["id"] == bot,
                status,
            };
            (created, row)
        })
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    rows.into_iter().map(|(_, row)| row).collect()
}

/// The deals, oldest first (a board keeps its cards in place).
pub fn deals(pages: &[Value], contacts: &[ContactRow]) -> Vec<DealCard> {
    pages
        .iter()
        .filter(|p| p["in_trash"] != true)
        .map(|p| {
            let props = &p["properties"];
            DealCard {
                id: id(p),
                name: text(&props["Deal Name"]),
                stage: choice(&props["Stage"]),
                value: props["Value"]["number"].as_f64(),
                owners: people(&props["Owner"]),
                contact: related(&props["Contact"], contacts),
            }
        })
        .collect()
}

/// The activities, newest first.
pub fn activities(pages: &[Value], contacts: &[ContactRow]) -> Vec<ActivityRow> {
    let mut rows: Vec<(DateTime<Utc>, ActivityRow)> = pages
        .iter()
        .filter(|p| p["in_trash"] != true)
        .map(|p| {
            let props = &p["properties"];
            let row = ActivityRow {
                title: text(&props["Title"]),
                kind: choice(&props["Type"]),
                date: date(&props["Date"]).unwrap_or_default(),
                contact: related(&props["Contact"], contacts),
                details: text(&props["Details"]),
            };
            (time(&p["created_time"]), row)
        })
        .collect();
    rows.sort_by(|a, b| b.1.date.cmp(&a.1.date).then(b.0.cmp(&a.0)));
    rows.into_iter().map(|(_, row)| row).collect()
}

/// The title property `name` of a page, as it reads.
pub fn title_of(page: &Value, name: &str) -> String {
    text(&page["properties"][name])
}

fn id(page: &Value) -> String {
    page["id"].as_str().unwrap_or_default().to_owned()
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map_or_else(Utc::now, |t| t.with_timezone(&Utc))
}

/// A title or rich-text value as it reads.
fn text(property: &Value) -> String {
    property["title"]
        .as_array()
        .or_else(|| property["rich_text"].as_array())
        .map(|parts| {
            parts
                .iter()
                .filter_map(|t| t["plain_text"].as_str().or(t["text"]["content"].as_str()))
                .collect()
        })
        .unwrap_or_default()
}

/// A select's or a status's option name.
fn choice(property: &Value) -> String {
    property["select"]["name"]
        .as_str()
        .or(property["status"]["name"].as_str())
        .unwrap_or_default()
        .to_owned()
}

fn date(property: &Value) -> Option<String> {
    property["date"]["start"].as_str().map(str::to_owned)
}

fn people(property: &Value) -> Vec<String> {
    property["people"]
        .as_array()
        .map(|people| {
            people
                .iter()
                .filter_map(|p| p["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The name of the first contact a relation points at.
fn related(property: &Value, contacts: &[ContactRow]) -> Option<String> {
    // Ids come with or without dashes.
    let plain = |id: &str| id.replace('-', "").to_ascii_lowercase();
    let first = plain(property["relation"].as_array()?.first()?["id"].as_str()?);
    contacts
        .iter()
        .find(|c| plain(&c.id) == first)
        .map(|c| c.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(open: &[String]) -> StaleRule<'_> {
        StaleRule {
            days: 30,
            open_statuses: open,
            timezone: chrono_tz::UTC,
            today: NaiveDate::from_ymd_opt(2026, 6, 30).unwrap(),
        }
    }

    fn contact(name: &str, status: &str, contacted: Option<&str>, created: &str) -> Value {
        json!({"id": format!("{name}-id"), "created_time": created, "created_by": {"id": "bot"},
            "properties": {
                "Name": {"title": [{"plain_text": name}]}, "Email": {"email": "x@example.com"},
                "Status": {"select": {"name": status}},
                "Last Contacted": {"date": contacted.map(|d| json!({"start": d}))},
        }})
    }

    #[test]
    fn contacts_are_marked_stale_as_the_digest_judges_them() {
        let open = vec!["new lead".to_owned()];
        let pages = [
            contact(
                "Old",
                "new lead",
                Some("2026-05-01"),
                "2026-01-01T00:00:00Z",
            ),
            contact("Never", "new lead", None, "2026-04-01T00:00:00Z"),
            contact(
                "Fresh",
                "new lead",
                Some("2026-06-20"),
                "2026-02-01T00:00:00Z",
            ),
            contact(
                "Won",
                "customer",
                Some("2026-01-01"),
                "2026-01-01T00:00:00Z",
            ),
        ];
        let rows = contacts(&pages, &rule(&open), "bot");
        let stale: Vec<_> = rows
            .iter()
            .filter(|r| r.stale)
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(
            stale,
            ["Never", "Old"],
            "newest first; closed ones never stale"
        );
        assert_eq!(
            rows.iter()
                .find(|r| r.name == "Never")
                .unwrap()
                .untouched_days,
            90
        );
        assert!(rows.iter().all(|r| r.by_bot));
    }

    #[test]
    fn a_deal_names_its_contact_and_owners() {
        let open = vec![];
        let people = contacts(
            &[contact("Ann", "new lead", None, "2026-06-01T00:00:00Z")],
            &rule(&open),
            "",
        );
        let deal = json!({"id": "d1", "properties": {
            "Deal Name": {"title": [{"text": {"content": "Pilot"}}]},
            "Stage": {"status": {"name": "negotiation"}}, "Value": {"number": 12000},
            "Owner": {"people": [{"id": "u1", "name": "Dana"}]},
            "Contact": {"relation": [{"id": "annid"}]},
        }});
        let cards = deals(&[deal], &people);
        assert_eq!(cards[0].stage, "negotiation");
        assert_eq!(cards[0].owners, ["Dana"]);
        assert_eq!(cards[0].value, Some(12000.0));
        assert_eq!(cards[0].contact.as_deref(), Some("Ann"));
    }
}
