//! What the `ops` Slack destination is told, in words: work that has waited too long,
//! work no retry can fix, and a backlog that has cleared (docs/design.md, "Redrive").
//! Never a payload or a secret; addresses are cut to their first letter and domain.

use crate::redact;
use crate::slack::{escape, inert};

/// How many items a message names; the rest are counted.
pub const NAMED: usize = 10;

/// One item a person should hear about: its inbox id and why it is not done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfinished {
    pub id: String,
    pub reason: String,
}

/// Why Notion refuses to create pages, as far as it said (docs/design.md, "Failures").
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreatesRefused {
    /// It said so: the Free plan's block limit.
    BlockLimit,
    /// A bare 403 on a create while reads and edits go through: the block limit, or an
    /// integration without the "Insert content" capability.
    Forbidden,
}

impl CreatesRefused {
    /// The cause in a few words: what an item waiting for it records as its reason.
    pub fn in_short(self) -> &'static str {
        match self {
            Self::BlockLimit => "the workspace reached the Free plan's block limit",
            Self::Forbidden => {
                "Notion refuses to create pages (the Free plan's block limit, or an integration without the \"Insert content\" capability)"
            }
        }
    }
}

/// Notion refusing creates, once per spell: the cause and how many leads wait for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreatesHeld {
    pub cause: CreatesRefused,
    pub leads_waiting: usize,
    /// How often a create is tried meanwhile, in minutes.
    pub probe_minutes: u64,
}

impl CreatesHeld {
    pub fn lines(&self) -> Vec<String> {
        const LIMIT: &str = "the Free plan's block limit (a Free workspace with more than one member has 1,000 blocks for its whole life, and every contact, deal and Activity is one; deleting gives none back)";
        let what = match self.cause {
            CreatesRefused::BlockLimit => format!("the workspace reached {LIMIT}"),
            CreatesRefused::Forbidden => format!(
                "it answers 403 to creates while reads and edits work: either the workspace reached {LIMIT}, or the integration lacks the \"Insert content\" capability (Notion: Settings → Connections → the integration → Capabilities)"
            ),
        };
        let leads = match self.leads_waiting {
            1 => "1 lead waits".to_owned(),
            n => format!("{n} leads wait"),
        };
        vec![
            format!("🧱 Notion refuses to create pages: {what}."),
            format!(
                "{leads} safely in the inbox; repeat leads still update their contacts, and deal alerts and the digest go on. Creates are tried again every {} minutes, and everything waiting is written by itself once one goes through: nothing to replay.",
                self.probe_minutes
            ),
            "Fix it with either: upgrade the Notion workspace to a paid plan, or connect with a personal access token, which the block limit does not apply to (put it in the secret's `notion_token`).".to_owned(),
        ]
    }
}

/// What one report says. Empty parts are left out; an empty report is not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Notion began refusing creates: said once per spell, before the rest.
    pub creates_held: Option<CreatesHeld>,
    /// Items waiting longer than the threshold, still retried: the backlog began.
    pub waiting: Vec<Unfinished>,
    /// The threshold, in minutes, for the words.
    pub waiting_minutes: u64,
    /// Items no retry can fix (or retried for too long), newly parked.
    pub parked: Vec<Unfinished>,
    /// The backlog reported before has cleared.
    pub cleared: bool,
}

impl Report {
    pub fn is_empty(&self) -> bool {
        self.creates_held.is_none()
            && self.waiting.is_empty()
            && self.parked.is_empty()
            && !self.cleared
    }

    /// The message: plain lines, escaped for Slack (the fallback text and the blocks).
    pub fn lines(&self) -> Vec<String> {
        let mut lines = self
            .creates_held
            .map(|held| held.lines())
            .unwrap_or_default();
        if !self.waiting.is_empty() {
            lines.push(format!(
                "⏳ {} waited more than {} and {} still retried automatically (with growing pauses, for up to a week; `crm replay` tries them all now). Nothing to do unless the cause below lasts:",
                count(self.waiting.len()),
                minutes(self.waiting_minutes),
                if self.waiting.len() == 1 { "is" } else { "are" },
            ));
            list(&self.waiting, &mut lines);
        }
        if !self.parked.is_empty() {
            lines.push(format!(
                "🛑 {} no retry can fix: fix the cause, then run `crm replay`.",
                count(self.parked.len()),
            ));
            list(&self.parked, &mut lines);
        }
        if self.cleared {
            lines.push("✅ The backlog has cleared: nothing is waiting any more.".into());
        }
        lines
    }
}

/// A CloudWatch alarm of the stack that changed state, as the alarms topic publishes it
/// (the JSON in the SNS message: `AlarmName`, `AlarmDescription`, `NewStateValue`,
/// `NewStateReason`). Forwarded to the `ops` destination, so whoever reads Slack hears
/// what an email subscriber would.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Alarm {
    #[serde(rename = "AlarmName")]
    pub name: String,
    #[serde(rename = "AlarmDescription", default)]
    pub description: Option<String>,
    #[serde(rename = "NewStateValue")]
    pub state: String,
    #[serde(rename = "NewStateReason", default)]
    pub reason: String,
}

impl Alarm {
    /// The message: what fired, what it means (the alarm's description says where to
    /// look), and CloudWatch's reason, escaped for Slack, addresses cut.
    pub fn lines(&self) -> Vec<String> {
        let mark = match self.state.as_str() {
            "ALARM" => "🚨",
            "OK" => "✅",
            _ => "❔",
        };
        let mut lines = vec![format!(
            "{mark} {} is {}",
            escape(&self.name),
            escape(&self.state)
        )];
        // The description is the stack's own words, but a message published to the topic
        // by hand arrives here too: whatever it holds, no address goes out in full.
        if let Some(description) = self.description.as_deref().filter(|d| !d.is_empty()) {
            lines.push(escape(&redact::addresses(description)));
        }
        if !self.reason.is_empty() {
            lines.push(format!("_{}_", escape(&redact::addresses(&self.reason))));
        }
        lines
    }
}

fn count(n: usize) -> String {
    if n == 1 {
        "1 item".into()
    } else {
        format!("{n} items")
    }
}

fn minutes(m: u64) -> String {
    match m {
        60 => "an hour".into(),
        m if m % 60 == 0 => format!("{} hours", m / 60),
        1 => "a minute".into(),
        m => format!("{m} minutes"),
    }
}

fn list(items: &[Unfinished], lines: &mut Vec<String>) {
    for item in items.iter().take(NAMED) {
        let reason = redact::addresses(&item.reason);
        lines.push(format!("• `{}`: {}", inert(&item.id), inert(&reason)));
    }
    if items.len() > NAMED {
        lines.push(format!("…and {} more", items.len() - NAMED));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, reason: &str) -> Unfinished {
        Unfinished {
            id: id.into(),
            reason: reason.into(),
        }
    }

    #[test]
    fn creates_held_says_what_happened_how_many_wait_and_both_fixes() {
        let held = CreatesHeld {
            cause: CreatesRefused::BlockLimit,
            leads_waiting: 7,
            probe_minutes: 15,
        };
        let text = Report {
            creates_held: Some(held),
            ..Report::default()
        }
        .lines()
        .join("\n");
        for said in [
            "block limit",
            "7 leads wait",
            "every 15 minutes",
            "upgrade the Notion workspace",
            "personal access token",
            "nothing to replay",
        ] {
            assert!(text.contains(said), "{said:?} in {text}");
        }
        assert!(
            !text.contains("Insert content"),
            "Notion said which: {text}"
        );
        let bare = CreatesHeld {
            cause: CreatesRefused::Forbidden,
            leads_waiting: 1,
            ..held
        }
        .lines()
        .join("\n");
        for said in [
            "1 lead waits",
            "block limit",
            "\"Insert content\" capability",
        ] {
            assert!(bare.contains(said), "{said:?} in {bare}");
        }
    }

    #[test]
    fn an_alarm_says_what_fired_what_it_means_and_why_escaped() {
        let alarm: Alarm = serde_json::from_str(
            r#"{"AlarmName":"crm-WorkerErrorsAlarm-1X","AlarmDescription":"The Worker function failed; its log says why.","NewStateValue":"ALARM","NewStateReason":"Threshold Crossed: 1 datapoint [2.0] was > 0 <x>","OldStateValue":"OK"}"#,
        )
        .unwrap();
        assert_eq!(
            alarm.lines(),
            [
                "🚨 crm-WorkerErrorsAlarm-1X is ALARM",
                "The Worker function failed; its log says why.",
                "_Threshold Crossed: 1 datapoint [2.0] was &gt; 0 &lt;x&gt;_",
            ]
        );
        let bare: Alarm = serde_json::from_str(
            r#"{"AlarmName":"a","AlarmDescription":null,"NewStateValue":"OK"}"#,
        )
        .unwrap();
        assert_eq!(bare.lines(), ["✅ a is OK"]);
    }

    #[test]
    fn a_backlog_is_one_message_naming_ten_items_and_counting_the_rest() {
        let report = Report {
            waiting: (0..12)
                .map(|i| item(&format!("lead:own:{i}"), "Notion answered 503"))
                .collect(),
            waiting_minutes: 60,
            ..Report::default()
        };
        let lines = report.lines();
        assert!(lines[0].starts_with("⏳ 12 items waited more than an hour and are still retried"));
        assert_eq!(lines[1], "• `lead:own:0`: Notion answered 503");
        assert_eq!(lines.len(), 1 + NAMED + 1);
        assert_eq!(lines[11], "…and 2 more");
    }

    #[test]
    fn parked_items_say_what_to_run_and_reasons_carry_no_address_or_markup() {
        let report = Report {
            parked: vec![item(
                "deal:evt-1",
                "no Slack webhook for <won>; lead ann@example.com",
            )],
            cleared: true,
            ..Report::default()
        };
        let lines = report.lines();
        assert_eq!(
            lines[0],
            "🛑 1 item no retry can fix: fix the cause, then run `crm replay`."
        );
        // As Slack shows it (the word joiners that keep `*` and `@` inert are invisible).
        assert_eq!(
            lines[1].replace('\u{2060}', ""),
            "• `deal:evt-1`: no Slack webhook for &lt;won&gt;; lead a***@example.com"
        );
        assert!(lines[2].starts_with("✅"));
        assert!(Report::default().is_empty());
    }

    /// A sender chooses submission ids and much of what reasons quote: nothing of theirs
    /// may leave its code span, format the message, or become a link Slack draws.
    #[test]
    fn user_values_in_the_report_stay_inert() {
        let report = Report {
            parked: vec![item(
                "lead:own:x` *ping* <!channel> https://evil.example/login `y",
                "Notion said: name `*bold*` _it_ ~s~ see https://evil.example/a or www.evil.example",
            )],
            ..Report::default()
        };
        let line = &report.lines()[1];
        let pieces = crate::slack::pieces(line);
        assert!(
            !pieces
                .iter()
                .any(|p| !matches!(p, crate::slack::Piece::Text(_))),
            "no markup: {pieces:?}"
        );
        let span = line.strip_prefix("• `").unwrap();
        let (id, rest) = span.split_once('`').unwrap();
        assert!(
            rest.starts_with(": "),
            "the id's span ends where the product ends it: {line}"
        );
        assert!(id.contains("ping") && !id.contains('`'));
        for marker in ["*bold*", "_it_", "~s~", "https://evil", "www.evil"] {
            assert!(!line.contains(marker), "{marker} drawn by Slack in {line}");
        }
    }
}
