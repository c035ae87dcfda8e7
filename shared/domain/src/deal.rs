//! Deal stage changes and how they are announced.

use serde_json::Value;

use crate::slack::{escape, link_text, sections};

/// What the worker knows about a deal when its stage changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Deal {
    pub name: String,
    pub url: String,
    pub stage: Option<String>,
    pub value: Option<f64>,
    pub owners: Vec<Owner>,
}

/// A person who owns a deal: named, and mentioned when they are known in Slack.
#[derive(Debug, Clone, PartialEq, Eq)]
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
        format!("{sign}${grouped}")
    } else {
        format!("{sign}${grouped}.{frac:02}")
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
        tail.push_str(&format!(" — {}", money(v)));
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
        }
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
    fn stage_changes_ignore_case_and_blank() {
        assert!(changed(Some("negotiation"), Some("won")));
        assert!(!changed(Some("Won"), Some("won ")));
        assert!(changed(None, Some("won")));
        assert!(!changed(Some("won"), None));
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
