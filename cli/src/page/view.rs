//! What the local page shows, read from the pages the Notion emulator holds (as the
//! client's `Page`, at the default property names `make local` seeds) and from the
//! inbox. Plain rows, so that rendering them is a pure function.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use crm_notion::{Page, PropertyValue};
use crm_store::InboxItem;

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
pub fn contacts(pages: &[Page], rule: &StaleRule<'_>, bot: &str) -> Vec<ContactRow> {
    let mut rows: Vec<(DateTime<Utc>, ContactRow)> = pages
        .iter()
        .filter(|p| !p.in_trash)
        .map(|p| {
            let created = time(&p.created_time);
            let contacted = date(p, "Last Contacted");
            let touch = crm_domain::stale::last_touch(
                contacted.as_deref().and_then(|d| d.parse().ok()),
                created,
                rule.timezone,
            );
            let status = text(p, "Status");
            let open = rule
                .open_statuses
                .iter()
                .any(|s| s.eq_ignore_ascii_case(&status));
            let row = ContactRow {
                id: p.id.clone(),
                name: text(p, "Name"),
                email: text(p, "Email"),
                company: text(p, "Company"),
                source: text(p, "Source"),
                last_contacted: contacted,
                untouched_days: (rule.today - touch).num_days(),
                stale: open && crm_domain::stale::is_stale(touch, rule.today, rule.days),
                by_bot: p.created_by.as_ref().is_some_and(|u| u.id == bot),
                status,
            };
            (created, row)
        })
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    rows.into_iter().map(|(_, row)| row).collect()
}

/// The deals, oldest first (a board keeps its cards in place).
pub fn deals(pages: &[Page], contacts: &[ContactRow]) -> Vec<DealCard> {
    pages
        .iter()
        .filter(|p| !p.in_trash)
        .map(|p| DealCard {
            id: p.id.clone(),
            name: text(p, "Deal Name"),
            stage: text(p, "Stage"),
            value: match p.property("Value") {
                Some(PropertyValue::Number { number }) => *number,
                _ => None,
            },
            owners: match p.property("Owner") {
                Some(PropertyValue::People { people }) => {
                    people.iter().filter_map(|u| u.name.clone()).collect()
                }
                _ => Vec::new(),
            },
            contact: related(p, "Contact", contacts),
        })
        .collect()
}

/// The activities, newest first.
pub fn activities(pages: &[Page], contacts: &[ContactRow]) -> Vec<ActivityRow> {
    let mut rows: Vec<(DateTime<Utc>, ActivityRow)> = pages
        .iter()
        .filter(|p| !p.in_trash)
        .map(|p| {
            let row = ActivityRow {
                title: text(p, "Title"),
                kind: text(p, "Type"),
                date: date(p, "Date").unwrap_or_default(),
                contact: related(p, "Contact", contacts),
                details: text(p, "Details"),
            };
            (time(&p.created_time), row)
        })
        .collect();
    rows.sort_by(|a, b| b.1.date.cmp(&a.1.date).then(b.0.cmp(&a.0)));
    rows.into_iter().map(|(_, row)| row).collect()
}

fn time(t: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(t).map_or_else(|_| Utc::now(), |t| t.with_timezone(&Utc))
}

/// A property as a person reads it (a title, text, email, select or status).
fn text(page: &Page, name: &str) -> String {
    page.property(name)
        .and_then(PropertyValue::as_text)
        .unwrap_or_default()
}

fn date(page: &Page, name: &str) -> Option<String> {
    match page.property(name) {
        Some(PropertyValue::Date { date: Some(d) }) => Some(d.start.clone()),
        _ => None,
    }
}

/// The name of the first contact a relation points at.
fn related(page: &Page, name: &str, contacts: &[ContactRow]) -> Option<String> {
    let Some(PropertyValue::Relation { relation, .. }) = page.property(name) else {
        return None;
    };
    // Ids come with or without dashes.
    let plain = |id: &str| id.replace('-', "").to_ascii_lowercase();
    let first = plain(&relation.first()?.id);
    contacts
        .iter()
        .find(|c| plain(&c.id) == first)
        .map(|c| c.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn pages(json: &[Value]) -> Vec<Page> {
        json.iter()
            .map(|p| serde_json::from_value(p.clone()).unwrap())
            .collect()
    }

    fn rule(open: &[String]) -> StaleRule<'_> {
        StaleRule {
            days: 30,
            open_statuses: open,
            timezone: chrono_tz::UTC,
            today: NaiveDate::from_ymd_opt(2026, 6, 30).unwrap(),
        }
    }

    fn contact(name: &str, status: &str, contacted: Option<&str>, created: &str) -> Value {
        json!({"id": format!("{name}-id"), "created_time": created, "last_edited_time": created,
            "created_by": {"id": "bot"}, "parent": {"type": "data_source_id", "data_source_id": "c"},
            "properties": {
                "Name": {"id": "title", "type": "title", "title": [{"type": "text", "text": {"content": name}, "plain_text": name}]},
                "Email": {"id": "e", "type": "email", "email": "x@example.com"},
                "Status": {"id": "s", "type": "select", "select": {"name": status}},
                "Last Contacted": {"id": "l", "type": "date", "date": contacted.map(|d| json!({"start": d}))},
        }})
    }

    #[test]
    fn contacts_are_marked_stale_as_the_digest_judges_them() {
        let open = vec!["new lead".to_owned()];
        let listed = [
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
        let rows = contacts(&pages(&listed), &rule(&open), "bot");
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
            &pages(&[contact("Ann", "new lead", None, "2026-06-01T00:00:00Z")]),
            &rule(&open),
            "",
        );
        let deal = json!({"id": "d1", "created_time": "2026-06-01T00:00:00Z",
            "last_edited_time": "2026-06-01T00:00:00Z", "parent": {"type": "data_source_id", "data_source_id": "d"},
            "properties": {
            "Deal Name": {"id": "title", "type": "title", "title": [{"type": "text", "text": {"content": "Pilot"}}]},
            "Stage": {"id": "st", "type": "status", "status": {"name": "negotiation"}},
            "Value": {"id": "v", "type": "number", "number": 12000},
            "Owner": {"id": "o", "type": "people", "people": [{"object": "user", "id": "u1", "name": "Dana"}]},
            "Contact": {"id": "c", "type": "relation", "relation": [{"id": "annid"}]},
        }});
        let cards = deals(&pages(&[deal]), &people);
        assert_eq!(cards[0].stage, "negotiation");
        assert_eq!(cards[0].owners, ["Dana"]);
        assert_eq!(cards[0].value, Some(12000.0));
        assert_eq!(cards[0].contact.as_deref(), Some("Ann"));
    }
}
