//! The weekly report as a Slack message: the figures first (what a founder reads in the
//! channel preview), then the deals that need someone, each list capped with a count of
//! the rest.

use chrono::NaiveDate;
use serde_json::Value;

use super::{Named, Pipeline};
use crate::deal::money_as;
use crate::slack::{escape, link_text, sections};

/// Deals named per list; the rest are counted.
const LISTED: usize = 10;

/// The report's text (plain) and blocks. Amounts are in `format`, the Deals Value
/// property's Notion number format; `complete` is false when Notion stopped at its
/// 10,000-row limit and the figures cover only what it returned.
pub fn report_message(
    p: &Pipeline,
    format: &str,
    today: NaiveDate,
    complete: bool,
) -> (String, Vec<Value>) {
    let money = |v: f64| money_as(v, format);
    let mut lines: Vec<String> = Vec::new();
    let open: usize = p.by_stage.iter().map(|s| s.count).sum();
    lines.push(format!(
        "*Pipeline report — week of {}*",
        today.format("%-d %b %Y")
    ));
    lines.push(format!(
        "Open: {open} {} worth {} · weighted forecast {}",
        deals(open),
        money(p.open_value),
        money(p.forecast)
    ));
    for s in &p.by_stage {
        lines.push(format!(
            "• {}: {} · {}",
            escape(&title(&s.stage)),
            s.count,
            money(s.value)
        ));
    }
    let closed = |label: &str, list: &[Named]| {
        let value: f64 = list.iter().filter_map(|n| n.value).sum();
        let mut line = format!(
            "{label} in the last 7 days: {} · {}",
            list.len(),
            money(value)
        );
        if !list.is_empty() {
            let names: Vec<String> = list.iter().take(LISTED).map(link).collect();
            line.push_str(&format!(" ({})", names.join(", ")));
            if list.len() > LISTED {
                line.push_str(&format!(" and {} more", list.len() - LISTED));
            }
        }
        line
    };
    lines.push(closed("Won", &p.won_week));
    lines.push(closed("Lost", &p.lost_week));
    lines.push(match (p.win_rate_90, p.median_days_to_win) {
        (None, _) => "Win rate (90 days): nothing closed yet".to_owned(),
        (Some(rate), median) => {
            let mut line = format!("Win rate (90 days): {:.0} %", rate * 100.0);
            if let Some(days) = median {
                line.push_str(&format!(" · median {} to win", days_text(days)));
            }
            line
        }
    });
    listed(
        &mut lines,
        "Rotting (in their stage past its limit)",
        &p.rotting,
        |n| {
            let from = if n.from_creation {
                " since created"
            } else {
                ""
            };
            format!("{} days{from}", n.days)
        },
    );
    listed(&mut lines, "Slipped (close date past)", &p.slipped, |n| {
        format!("{} days past", n.days)
    });
    for (what, list) in [
        ("an owner", &p.missing_owner),
        ("a value", &p.missing_value),
        ("a close date", &p.missing_close_date),
    ] {
        listed(&mut lines, &format!("Missing {what}"), list, |_| {
            String::new()
        });
    }
    if !complete {
        lines.push(
            "_Notion stopped at its 10,000-row limit for one query: these figures cover the deals it returned._"
                .to_owned(),
        );
    }
    // The fallback text: links as their names, the bold headings and italics plain.
    let plain: Vec<String> = lines
        .iter()
        .map(|l| {
            let l = l
                .strip_prefix('*')
                .and_then(|l| l.strip_suffix('*'))
                .or_else(|| l.strip_prefix('_').and_then(|l| l.strip_suffix('_')))
                .unwrap_or(l);
            crate::slack::plain_text(l, |_| None)
        })
        .collect();
    (plain.join("\n"), sections(&lines))
}

/// An owner's DM about their deals that crossed their stage's limit: each with its link,
/// its stage and how long it has been there.
pub fn rotting_message(deals: &[(Named, String, u32)]) -> (String, Vec<Value>) {
    let n = deals.len();
    let mut lines = vec![if n == 1 {
        "*One of your deals has stopped moving*".to_owned()
    } else {
        format!("*{n} of your deals have stopped moving*")
    }];
    for (deal, stage, limit) in deals.iter().take(LISTED * 4) {
        let from = if deal.from_creation {
            " (since it was created)"
        } else {
            ""
        };
        lines.push(format!(
            "• {} — {} days in {}{from}, past its {limit}-day limit",
            link(deal),
            deal.days,
            escape(&title(stage))
        ));
    }
    if n > LISTED * 4 {
        lines.push(format!("…and {} more", n - LISTED * 4));
    }
    let plain: Vec<String> = lines
        .iter()
        .map(|l| crate::slack::plain_text(l.trim_matches('*'), |_| None))
        .collect();
    (plain.join("\n"), sections(&lines))
}

/// A heading with its count and up to [`LISTED`] deals, each with `detail`; nothing
/// when the list is empty.
fn listed(
    lines: &mut Vec<String>,
    heading: &str,
    list: &[Named],
    detail: impl Fn(&Named) -> String,
) {
    if list.is_empty() {
        return;
    }
    lines.push(format!("*{} — {}*", escape(heading), list.len()));
    for n in list.iter().take(LISTED) {
        let mut parts = vec![link(n)];
        let d = detail(n);
        if !d.is_empty() {
            parts.push(d);
        }
        if !n.owners.is_empty() {
            parts.push(escape(&n.owners.join(", ")));
        }
        lines.push(format!("• {}", parts.join(" — ")));
    }
    if list.len() > LISTED {
        lines.push(format!("…and {} more", list.len() - LISTED));
    }
}

fn link(n: &Named) -> String {
    let name = if n.name.trim().is_empty() {
        "Untitled deal"
    } else {
        &n.name
    };
    format!("<{}|{}>", n.url, link_text(name))
}

fn deals(n: usize) -> &'static str {
    if n == 1 { "deal" } else { "deals" }
}

fn days_text(days: f64) -> String {
    if days.fract() == 0.0 {
        format!("{days:.0} days")
    } else {
        format!("{days:.1} days")
    }
}

/// `negotiation` → `Negotiation`.
fn title(stage: &str) -> String {
    let mut c = stage.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => "(no stage)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{StageTotal, WEEKS, WeekWon};
    use super::*;

    fn named(name: &str, days: i64) -> Named {
        Named {
            name: name.into(),
            url: format!("https://www.notion.so/{name}"),
            value: Some(1000.0),
            owners: vec!["Dana Lee".into()],
            days,
            from_creation: false,
        }
    }

    #[test]
    fn the_report_reads_top_down_in_the_schemas_currency() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        let p = Pipeline {
            by_stage: vec![
                StageTotal {
                    stage: "lead".into(),
                    count: 2,
                    value: 3000.0,
                },
                StageTotal {
                    stage: "proposal".into(),
                    count: 1,
                    value: 12000.0,
                },
            ],
            open_value: 15000.0,
            forecast: 6300.0,
            won_week: vec![named("Acme", 0)],
            lost_week: vec![],
            win_rate_90: Some(0.5),
            median_days_to_win: Some(18.5),
            rotting: (0..12).map(|i| named(&format!("Rot{i}"), 30 - i)).collect(),
            slipped: vec![],
            missing_owner: vec![],
            missing_value: vec![],
            missing_close_date: vec![named("Undated", 0)],
            won_by_week: vec![
                WeekWon {
                    starts: today,
                    count: 0,
                    value: 0.0
                };
                WEEKS
            ],
        };
        let (text, blocks) = report_message(&p, "euro", today, true);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Pipeline report — week of 7 Dec 2026");
        assert_eq!(
            lines[1],
            "Open: 3 deals worth €15,000 · weighted forecast €6,300"
        );
        assert_eq!(lines[2], "• Lead: 2 · €3,000");
        assert_eq!(lines[4], "Won in the last 7 days: 1 · €1,000 (Acme)");
        assert_eq!(lines[5], "Lost in the last 7 days: 0 · €0");
        assert_eq!(
            lines[6],
            "Win rate (90 days): 50 % · median 18.5 days to win"
        );
        assert_eq!(lines[7], "Rotting (in their stage past its limit) — 12");
        assert!(text.contains("…and 2 more"), "{text}");
        assert!(text.contains("Missing a close date — 1"));
        assert!(!text.contains("Slipped"), "an empty list is not shown");
        let json = serde_json::to_string(&blocks).unwrap();
        assert!(json.contains("<https://www.notion.so/Acme|Acme>"), "{json}");
    }

    #[test]
    fn an_owners_dm_names_each_deal_its_stage_and_its_days() {
        let mut created = named("Acme", 40);
        created.from_creation = true;
        let (text, blocks) = rotting_message(&[
            (created, "lead".into(), 14),
            (named("Initech", 20), "proposal".into(), 14),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "2 of your deals have stopped moving");
        assert_eq!(
            lines[1],
            "• Acme — 40 days in Lead (since it was created), past its 14-day limit"
        );
        assert_eq!(
            lines[2],
            "• Initech — 20 days in Proposal, past its 14-day limit"
        );
        assert!(
            serde_json::to_string(&blocks)
                .unwrap()
                .contains("|Initech>")
        );
    }
}
