//! What the `ops` Slack destination is told, in words: work that has waited too long,
//! work no retry can fix, and a backlog that has cleared (docs/design.md, "Redrive").
//! Never a payload or a secret; addresses are cut to their first letter and domain.

use crate::redact;
use crate::slack::escape;

/// How many items a message names; the rest are counted.
pub const NAMED: usize = 10;

/// One item a person should hear about: its inbox id and why it is not done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfinished {
    pub id: String,
    pub reason: String,
}

/// What one report says. Empty parts are left out; an empty report is not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
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
        self.waiting.is_empty() && self.parked.is_empty() && !self.cleared
    }

    /// The message: plain lines, escaped for Slack (the fallback text and the blocks).
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
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
        lines.push(format!("• `{}`: {}", escape(&item.id), escape(&reason)));
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
        assert_eq!(
            lines[1],
            "• `deal:evt-1`: no Slack webhook for &lt;won&gt;; lead a***@example.com"
        );
        assert!(lines[2].starts_with("✅"));
        assert!(Report::default().is_empty());
    }
}
