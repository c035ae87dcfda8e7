//! Notion's deals as the report reads them: each page of the Deals data source as a
//! [`PipelineDeal`], and since when it is in its stage — its `Stage Since` (written by
//! the worker when it saw the deal move), else the product's own record of its moves,
//! else its creation (marked so).

use chrono::{DateTime, NaiveDate, Utc};
use crm_domain::pipeline::{PipelineDeal, Since};
use crm_notion::{Page, PropertyValue};
use crm_settings::DealProperties;
use crm_store::{Batches, StoreError};

use crate::deals::history;
use crate::slack_people::{Person, people_of};

/// A deal and its owners as Notion people (to find in Slack).
pub struct Read {
    pub deal: PipelineDeal,
    pub people: Vec<Person>,
    /// The page id: the rotting DMs' claims are per deal.
    pub page_id: String,
}

/// Reads one page; `None` for a trashed page or one whose creation time is unreadable.
pub fn deal(page: &Page, p: &DealProperties) -> Option<Read> {
    if page.in_trash {
        return None;
    }
    let created = DateTime::parse_from_rfc3339(&page.created_time)
        .ok()?
        .with_timezone(&Utc);
    let text = |name: &str| page.property(name).and_then(PropertyValue::as_text);
    let date = |name: &str| match page.property(name) {
        Some(PropertyValue::Date { date: Some(d) }) => Some(d.start.clone()),
        _ => None,
    };
    let stage_since = date(&p.stage_since).and_then(|s| instant(&s));
    let people = page.property(&p.owner).map(people_of).unwrap_or_default();
    let deal = PipelineDeal {
        name: text(&p.name).unwrap_or_default(),
        url: page.url.clone(),
        stage: text(&p.stage).map(|s| s.trim().to_lowercase()),
        value: match page.property(&p.value) {
            Some(PropertyValue::Number { number }) => *number,
            _ => None,
        },
        owners: people.iter().map(|o| o.name.clone()).collect(),
        close_date: date(&p.close_date)
            .and_then(|d| NaiveDate::parse_from_str(d.get(..10)?, "%Y-%m-%d").ok()),
        created,
        since: stage_since.map_or(Since::Created(created), Since::Moved),
    };
    Some(Read {
        deal,
        people,
        page_id: page.id.clone(),
    })
}

/// A Notion date or date-time as an instant (a date alone: its start, in UTC).
fn instant(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            let day = NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()?;
            Some(day.and_hms_opt(0, 0, 0)?.and_utc())
        })
}

/// Where the page said nothing (a schema without `Stage Since`, or a deal the worker
/// has not seen move since it was added): the last move into its current stage the
/// product kept, if any.
pub async fn since_from_history<S: Batches>(store: &S, read: &mut Read) -> Result<(), StoreError> {
    if matches!(read.deal.since, Since::Moved(_)) {
        return Ok(());
    }
    let Some(stage) = read.deal.stage.clone() else {
        return Ok(());
    };
    let moves = history::of(store, &read.page_id).await?;
    if let Some(last) = moves.last()
        && last.to.trim().eq_ignore_ascii_case(&stage)
    {
        read.deal.since = Since::Moved(last.at());
    }
    Ok(())
}
