//! The stale-lead rule and the digest that lists stale leads.

use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use crate::slack::{escape, link_text, sections};

/// The first day that is *not* stale: a lead last touched before it has gone more than
/// `days` days without contact as of `today`.
pub fn cutoff(today: NaiveDate, days: u32) -> NaiveDate {
    today
        .checked_sub_days(Days::new(u64::from(days)))
        .unwrap_or(NaiveDate::MIN)
}

/// The day of a lead's last touch in `tz`: its Last Contacted date, or else the day its
/// page was created.
pub fn last_touch(last_contacted: Option<NaiveDate>, created: DateTime<Utc>, tz: Tz) -> NaiveDate {
    last_contacted.unwrap_or_else(|| created.with_timezone(&tz).date_naive())
}

/// Whether a lead last touched on `touch` is stale on `today`: more than `days` days
/// have passed.
pub fn is_stale(touch: NaiveDate, today: NaiveDate, days: u32) -> bool {
    touch < cutoff(today, days)
}

/// One stale lead as the digest shows it.
#[derive(Clone, PartialEq)]
pub struct StaleLead {
    pub name: String,
    pub email: Option<String>,
    pub company: Option<String>,
    pub url: String,
    /// The day of the last touch: Last Contacted, or the day the page was created.
    pub last_touch: NaiveDate,
}

/// `Debug` names the lead but never shows its full email address.
impl std::fmt::Debug for StaleLead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let email = self.email.as_deref().map(crate::email::redact);
        f.debug_struct("StaleLead")
            .field("name", &self.name)
            .field("email", &email)
            .field("company", &self.company)
            .field("url", &self.url)
            .field("last_touch", &self.last_touch)
            .finish()
    }
}

/// How many leads the digest names; the rest are counted.
pub const LISTED: usize = 10;

/// The digest: the count, the oldest [`LISTED`] with how long since the last touch, and
/// how many more. `complete` is false when Notion stopped at its row cap.
pub fn digest(
    leads: &[StaleLead],
    today: NaiveDate,
    days: u32,
    complete: bool,
) -> (String, Vec<Value>) {
    let mut sorted: Vec<&StaleLead> = leads.iter().collect();
    sorted.sort_by_key(|l| l.last_touch);
    let count = leads.len();
    let noun = if count == 1 { "lead" } else { "leads" };
    let at_least = if complete { "" } else { "at least " };
    let headline = format!("{at_least}{count} {noun} not contacted in over {days} days");
    let mut lines = vec![format!("*{}*", escape(&headline))];
    let mut plain = vec![headline.clone()];
    for lead in sorted.iter().take(LISTED) {
        let since = (today - lead.last_touch).num_days();
        let mut details = Vec::new();
        if let Some(e) = &lead.email {
            details.push(escape(e));
        }
        if let Some(c) = &lead.company {
            details.push(escape(c));
        }
        details.push(format!("{since} days"));
        let name = if lead.name.trim().is_empty() {
            "Unnamed lead"
        } else {
            &lead.name
        };
        lines.push(format!(
            "• <{}|{}> — {}",
            lead.url,
            link_text(name),
            details.join(" — ")
        ));
        plain.push(format!("• {} — {}", escape(name), details.join(" — ")));
    }
    if count > LISTED {
        let more = format!("…and {} more", count - LISTED);
        lines.push(more.clone());
        plain.push(more);
    }
    if !complete {
        let note = "Notion stopped at its 10,000-row limit for one query, so there may be more.";
        lines.push(format!("_{note}_"));
        plain.push(note.to_owned());
    }
    (plain.join("\n"), sections(&lines))
}

/// Who hears about which stale leads: each owner Slack knows gets theirs by DM; a lead
/// no such owner looks after goes to the channel digest.
#[derive(Debug, Default, PartialEq)]
pub struct Recipients {
    pub channel: Vec<StaleLead>,
    /// Slack user id → their stale leads.
    pub direct: std::collections::BTreeMap<String, Vec<StaleLead>>,
}

/// Splits `leads`, each with the Slack ids of its owners Slack knows (none: unowned, or
/// no owner has a Slack account), into [`Recipients`]. A lead with two such owners is
/// in both DMs.
pub fn recipients(leads: Vec<(StaleLead, Vec<String>)>) -> Recipients {
    let mut out = Recipients::default();
    for (lead, owners) in leads {
        if owners.is_empty() {
            out.channel.push(lead);
            continue;
        }
        for owner in owners {
            out.direct.entry(owner).or_default().push(lead.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn lead(name: &str, last: &str) -> StaleLead {
        StaleLead {
            name: name.into(),
            email: Some(format!("{}@example.com", name.to_lowercase())),
            company: None,
            url: format!("https://www.notion.so/{name}"),
            last_touch: day(last),
        }
    }

    #[test]
    fn thirty_days_means_last_touch_before_the_cutoff() {
        assert_eq!(cutoff(day("2026-11-24"), 30), day("2026-10-25"));
        assert_eq!(cutoff(day("2026-03-01"), 1), day("2026-02-28"));
    }

    #[test]
    fn the_oldest_ten_are_listed_and_the_rest_counted() {
        let leads: Vec<StaleLead> = (0..12)
            .map(|i| lead(&format!("L{i:02}"), &format!("2026-09-{:02}", 20 - i)))
            .collect();
        let (text, blocks) = digest(&leads, day("2026-11-24"), 30, true);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "12 leads not contacted in over 30 days");
        assert!(
            lines[1].starts_with("• L11 — l11@example.com — 76 days"),
            "{}",
            lines[1]
        );
        assert_eq!(lines.len(), 1 + 10 + 1);
        assert_eq!(lines[11], "…and 2 more");
        let block = blocks[0]["text"]["text"].as_str().unwrap();
        assert!(block.contains("<https://www.notion.so/L11|L11>"));
    }

    #[test]
    fn a_capped_query_says_so() {
        let (text, _) = digest(&[lead("Ann", "2026-01-01")], day("2026-11-24"), 30, false);
        assert!(text.starts_with("at least 1 lead not contacted"));
        assert!(text.contains("10,000-row limit"));
    }

    #[test]
    fn owners_slack_knows_get_their_leads_the_rest_go_to_the_channel() {
        let lead = |name: &str| StaleLead {
            name: name.into(),
            email: None,
            company: None,
            url: format!("https://notion.so/{name}"),
            last_touch: day("2026-01-01"),
        };
        let split = recipients(vec![
            (lead("a"), vec!["U1".into()]),
            (lead("b"), vec![]),
            (lead("c"), vec!["U1".into(), "U2".into()]),
        ]);
        assert_eq!(split.channel, vec![lead("b")]);
        assert_eq!(split.direct["U1"], vec![lead("a"), lead("c")]);
        assert_eq!(split.direct["U2"], vec![lead("c")]);
    }
}
