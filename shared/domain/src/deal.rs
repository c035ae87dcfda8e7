//! Deal stage changes and how they are announced.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::slack::{MAX_BLOCKS_TEXT, escape, link_text, sections};

/// What the worker knows about a deal when its stage changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deal {
    pub name: String,
    pub url: String,
    pub stage: Option<String>,
    pub value: Option<f64>,
    pub owners: Vec<Owner>,
    /// The Value property's Notion number format (`euro`, …); dollars when unknown.
    #[serde(default)]
    pub currency: Option<String>,
}

impl Deal {
    /// An amount as this deal's Value property shows it.
    pub fn money(&self, value: f64) -> String {
        money_as(value, self.currency.as_deref().unwrap_or("dollar"))
    }
}

/// A person who owns a deal: named, and mentioned when they are known in Slack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub name: String,
    /// Their Slack user id, when the bot found them by email.
    pub slack_user: Option<String>,
}

impl Owner {
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            slack_user: None,
        }
    }

    /// `<@U123>` for a person Slack knows (Slack notifies them), else the name, escaped.
    /// An id that is not shaped like Slack's is never put in markup.
    fn shown(&self) -> String {
        match &self.slack_user {
            Some(id) if is_user_id(id) => format!("<@{id}>"),
            _ => escape(&self.name),
        }
    }
}

/// Slack user ids: `U` or `W`, then capitals, digits (and `_` in test workspaces).
pub fn is_user_id(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some('U' | 'W'))
        && id.len() > 1
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Whether moving from `previous` to `current` is a change worth looking at: the stage
/// differs (compared without case, as people retype option names) and is set.
pub fn changed(previous: Option<&str>, current: Option<&str>) -> bool {
    match (previous, current) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(p), Some(c)) => !p.trim().eq_ignore_ascii_case(c.trim()),
    }
}

/// `12000.0` → `$12,000`; `99.5` → `$99.50`.
pub fn money(value: f64) -> String {
    money_as(value, "dollar")
}

/// An amount in a Notion number format (`dollar`, `euro`, `pound`, …): `€12,000`. A
/// format with no currency (`number`, `number_with_commas`, a percent) is the number,
/// grouped; a currency without a symbol of its own is its code (`CHF 12,000`).
pub fn money_as(value: f64, format: &str) -> String {
    let prefix = match format {
        "dollar" => "$",
        "euro" => "€",
        "pound" => "£",
        "yen" => "¥",
        "rupee" => "₹",
        "won" => "₩",
        "yuan" => "CN¥",
        "real" => "R$",
        "ruble" => "₽",
        "franc" => "CHF ",
        "canadian_dollar" => "CA$",
        "australian_dollar" => "A$",
        "new_zealand_dollar" => "NZ$",
        "hong_kong_dollar" => "HK$",
        "singapore_dollar" => "S$",
        "mexican_peso" => "MX$",
        "krona" => "SEK ",
        "norwegian_krone" => "NOK ",
        "danish_krone" => "DKK ",
        "zloty" => "PLN ",
        "rand" => "R ",
        _ => "",
    };
    let negative = value < 0.0;
    let cents = (value.abs() * 100.0).round() as u64;
    let (whole, frac) = (cents / 100, cents % 100);
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if negative { "-" } else { "" };
    if frac == 0 {
        format!("{sign}{prefix}{grouped}")
    } else {
        format!("{sign}{prefix}{grouped}.{frac:02}")
    }
}

fn title_case(stage: &str) -> String {
    let mut chars = stage.trim().chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The longest deal name shown; Notion titles can be far longer than a message line.
const MAX_NAME: usize = 200;

/// The announcement: `Negotiation → Won: Acme renewal — $12,000 (Dana Lee)`, with the
/// name linking to the page. Returns the plain-text fallback and the Block Kit blocks;
/// user data is escaped in both (Slack reads `&`, `<` and `>` as markup).
pub fn announcement(
    previous: Option<&str>,
    deal: &Deal,
    emoji: Option<&str>,
) -> (String, Vec<Value>) {
    let to = title_case(deal.stage.as_deref().unwrap_or_default());
    let change = match previous {
        Some(from) => format!("{} → {}", escape(&title_case(from)), escape(&to)),
        None => format!("Now {}", escape(&to)),
    };
    let name: String = deal.name.chars().take(MAX_NAME).collect();
    let name = if name.trim().is_empty() {
        "Untitled deal".to_owned()
    } else {
        name
    };
    let mut tail = String::new();
    if let Some(v) = deal.value {
        tail.push_str(&format!(" — {}", deal.money(v)));
    }
    if !deal.owners.is_empty() {
        let owners: Vec<String> = deal.owners.iter().map(Owner::shown).collect();
        tail.push_str(&format!(" ({})", owners.join(", ")));
    }
    let prefix = emoji.map(|e| format!("{e} ")).unwrap_or_default();
    let text = format!("{prefix}{change}: {}{tail} {}", escape(&name), deal.url);
    let line = format!(
        "{prefix}{change}: <{}|{}>{tail}",
        deal.url,
        link_text(&name)
    );
    (text, sections(&[line]))
}

/// One deal's move, as it is announced alone or in a summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Move {
    pub previous: Option<String>,
    pub deal: Deal,
}

impl Move {
    /// The move's own message: a deal won is cheered.
    pub fn message(&self) -> (String, Vec<Value>) {
        let won = self
            .deal
            .stage
            .as_deref()
            .is_some_and(|s| s.trim().eq_ignore_ascii_case("won"));
        announcement(self.previous.as_deref(), &self.deal, won.then_some("🎉"))
    }

    fn stage(&self) -> String {
        title_case(self.deal.stage.as_deref().unwrap_or_default())
    }
}

/// One message for many moves to one destination: `12 deals moved · 5 → Won ($84,000) ·
/// 4 → Lost · 3 → Negotiation`, then each deal on a line of its own, as many as one Slack
/// message takes ([`MAX_BLOCKS_TEXT`]), and how many more.
pub fn summary(moves: &[Move]) -> (String, Vec<Value>) {
    // Stages by how many deals moved to each, then by name.
    let mut stages: Vec<(String, usize, Option<f64>)> = Vec::new();
    for m in moves {
        let stage = m.stage();
        match stages.iter_mut().find(|(s, ..)| *s == stage) {
            Some((_, count, value)) => {
                *count += 1;
                if let Some(v) = m.deal.value {
                    *value = Some(value.unwrap_or(0.0) + v);
                }
            }
            None => stages.push((stage, 1, m.deal.value)),
        }
    }
    stages.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let noun = if moves.len() == 1 { "deal" } else { "deals" };
    let mut headline = format!("{} {noun} moved", moves.len());
    for (stage, count, value) in &stages {
        headline.push_str(&format!(" · {count} → {}", escape(stage)));
        if let Some(v) = value {
            // One Deals data source, one format: the first move's says it.
            headline.push_str(&format!(" ({})", moves[0].deal.money(*v)));
        }
    }
    let mut lines = vec![format!("*{headline}*")];
    let mut plain = vec![headline.clone()];
    // As many deals as Slack takes in one message, with room kept for the "more" line.
    let mut room = MAX_BLOCKS_TEXT - lines[0].chars().count() - 40;
    let mut listed = 0;
    for m in moves {
        let (text, blocks) = m.message();
        let line = format!(
            "• {}",
            blocks
                .first()
                .and_then(|b| b["text"]["text"].as_str())
                .unwrap_or_default()
        );
        let len = line.chars().count() + 1;
        if len > room {
            break;
        }
        room -= len;
        lines.push(line);
        plain.push(format!("• {text}"));
        listed += 1;
    }
    if listed < moves.len() {
        let more = format!("…and {} more", moves.len() - listed);
        lines.push(more.clone());
        plain.push(more);
    }
    (plain.join("\n"), sections(&lines))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deal(stage: &str) -> Deal {
        Deal {
            name: "Acme renewal".into(),
            url: "https://www.notion.so/Acme-renewal-5983".into(),
            stage: Some(stage.into()),
            value: Some(12_000.0),
            owners: vec![Owner::named("Dana Lee")],
            currency: None,
        }
    }

    /// A Deals data source in euros announces euros, alone and in a summary.
    #[test]
    fn amounts_are_in_the_value_propertys_format() {
        let mut won = deal("won");
        won.currency = Some("euro".into());
        let (text, _) = announcement(Some("negotiation"), &won, None);
        assert!(text.contains("Acme renewal — €12,000 (Dana Lee)"), "{text}");
        let moves = vec![
            Move {
                previous: None,
                deal: won.clone(),
            };
            2
        ];
        let (text, _) = summary(&moves);
        assert!(
            text.starts_with("2 deals moved · 2 → Won (€24,000)"),
            "{text}"
        );
    }

    #[test]
    fn the_announcement_reads_like_the_spec() {
        let (text, blocks) = announcement(Some("negotiation"), &deal("won"), Some("🎉"));
        assert_eq!(
            text,
            "🎉 Negotiation → Won: Acme renewal — $12,000 (Dana Lee) https://www.notion.so/Acme-renewal-5983"
        );
        assert_eq!(
            blocks[0]["text"]["text"],
            "🎉 Negotiation → Won: <https://www.notion.so/Acme-renewal-5983|Acme renewal> — $12,000 (Dana Lee)"
        );
        let (text, _) = announcement(
            None,
            &Deal {
                value: None,
                owners: vec![],
                ..deal("lost")
            },
            None,
        );
        assert_eq!(
            text,
            "Now Lost: Acme renewal https://www.notion.so/Acme-renewal-5983"
        );
    }

    #[test]
    fn user_data_is_escaped() {
        let d = Deal {
            name: "<!channel> & <http://evil|x>".into(),
            owners: vec![
                Owner::named("A<B"),
                Owner {
                    name: "C".into(),
                    slack_user: Some("U1><!channel".into()),
                },
            ],
            ..deal("won")
        };
        let (text, blocks) = announcement(Some("lead"), &d, None);
        assert!(
            text.contains("&lt;!channel&gt; &amp; &lt;http://evil|x&gt;"),
            "{text}"
        );
        assert!(text.contains("(A&lt;B, C)"), "{text}");
        let line = blocks[0]["text"]["text"].as_str().unwrap();
        assert!(!line.contains("<!channel>"), "{line}");
        assert!(
            !line.contains("|x>"),
            "a | in a name cannot close the link early: {line}"
        );
    }

    #[test]
    fn owners_known_in_slack_are_mentioned_the_others_named() {
        let d = Deal {
            owners: vec![
                Owner {
                    name: "Dana Lee".into(),
                    slack_user: Some("U_DANA".into()),
                },
                Owner::named("Sam Ortiz"),
            ],
            ..deal("won")
        };
        let (text, blocks) = announcement(Some("negotiation"), &d, None);
        assert!(text.contains("(<@U_DANA>, Sam Ortiz)"), "{text}");
        assert!(
            blocks[0]["text"]["text"]
                .as_str()
                .unwrap()
                .ends_with("(<@U_DANA>, Sam Ortiz)")
        );
    }

    #[test]
    fn a_summary_counts_each_stage_with_its_value_and_lists_the_deals() {
        let moved = |name: &str, from: &str, to: &str, value: Option<f64>| Move {
            previous: Some(from.into()),
            deal: Deal {
                name: name.into(),
                value,
                ..deal(to)
            },
        };
        let mut moves = Vec::new();
        for i in 0..5 {
            moves.push(moved(
                &format!("W{i}"),
                "negotiation",
                "won",
                Some(16_800.0),
            ));
        }
        for i in 0..4 {
            moves.push(moved(&format!("L{i}"), "proposal", "lost", None));
        }
        for i in 0..3 {
            moves.push(moved(&format!("N{i}"), "proposal", "negotiation", None));
        }
        let (text, blocks) = summary(&moves);
        let headline = text.lines().next().unwrap();
        assert_eq!(
            headline,
            "12 deals moved · 5 → Won ($84,000) · 4 → Lost · 3 → Negotiation"
        );
        assert_eq!(text.lines().filter(|l| l.starts_with("• ")).count(), 12);
        let all: String = blocks
            .iter()
            .map(|b| b["text"]["text"].as_str().unwrap())
            .collect();
        assert!(all.contains("• 🎉 Negotiation → Won: <https://"), "{all}");
        assert!(all.contains("L3"));
    }

    #[test]
    fn a_huge_summary_stays_within_slacks_limits_and_counts_the_rest() {
        let moves: Vec<Move> = (0..3000)
            .map(|i| Move {
                previous: Some("lead".into()),
                deal: Deal {
                    name: format!("Deal {i} {}", "x".repeat(150)),
                    ..deal("won")
                },
            })
            .collect();
        let (text, blocks) = summary(&moves);
        assert!(blocks.len() <= crate::slack::MAX_BLOCKS, "{}", blocks.len());
        let mut total = 0;
        for b in &blocks {
            let n = b["text"]["text"].as_str().unwrap().chars().count();
            assert!(n <= crate::slack::MAX_SECTION);
            total += n;
        }
        assert!(total <= MAX_BLOCKS_TEXT, "{total}");
        let last = blocks.last().unwrap()["text"]["text"].as_str().unwrap();
        assert!(last.ends_with("more"), "{last}");
        let listed = text.lines().filter(|l| l.starts_with("• ")).count();
        assert!(text.ends_with(&format!("…and {} more", 3000 - listed)));
        assert!(listed > 30, "{listed}");
    }

    #[test]
    fn stage_changes_ignore_case_and_blank() {
        assert!(changed(Some("negotiation"), Some("won")));
        assert!(!changed(Some("Won"), Some("won ")));
        assert!(changed(None, Some("won")));
        assert!(!changed(Some("won"), None));
    }

    #[test]
    fn money_is_in_the_schemas_currency() {
        assert_eq!(money_as(12_000.0, "euro"), "€12,000");
        assert_eq!(money_as(1_500.5, "franc"), "CHF 1,500.50");
        assert_eq!(money_as(-3.0, "pound"), "-£3");
        assert_eq!(money_as(1_234_567.0, "number_with_commas"), "1,234,567");
    }

    #[test]
    fn money_is_grouped() {
        assert_eq!(money(12_000.0), "$12,000");
        assert_eq!(money(1_234_567.891), "$1,234,567.89");
        assert_eq!(money(99.5), "$99.50");
        assert_eq!(money(0.0), "$0");
        assert_eq!(money(-1500.0), "-$1,500");
    }
}
