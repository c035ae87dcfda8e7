//! Text for Slack, which reads `&`, `<` and `>` as markup in every message.

use serde_json::{Value, json};

/// Escapes user data for Slack's `mrkdwn` and plain-text fallback alike, so a deal
/// named `<!channel>` cannot ping a channel and `<url|x>` cannot smuggle a link.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Text for inside `<url|text>`: escaped, and without `|`, which would end the link.
pub fn link_text(s: &str) -> String {
    escape(s).replace('|', "¦")
}

/// A message's `mrkdwn` as a person reads it in Slack, in plain text: `<url|label>` is
/// the label, `<@U123>` the person `name` knows them by (`@dana`; else the id),
/// `<#C123|sales>` `#sales`, `<!here>` `@here`, and `&amp;`, `&lt;`, `&gt;` the
/// characters. For a console or a page that shows what was posted.
pub fn plain_text(mrkdwn: &str, name: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(mrkdwn.len());
    let mut rest = mrkdwn;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('>') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let inner = &rest[start + 1..start + len];
        let (target, label) = match inner.split_once('|') {
            Some((t, l)) => (t, Some(l)),
            None => (inner, None),
        };
        let shown = if let Some(user) = target.strip_prefix('@') {
            format!("@{}", name(user).unwrap_or_else(|| user.to_owned()))
        } else if let Some(channel) = target.strip_prefix('#') {
            format!("#{}", label.unwrap_or(channel))
        } else if let Some(special) = target.strip_prefix('!') {
            format!("@{}", label.unwrap_or(special))
        } else {
            label.unwrap_or(target).to_owned()
        };
        out.push_str(&shown);
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Slack's limit on a section's text.
pub const MAX_SECTION: usize = 3000;
/// Slack's limit on blocks in a message.
pub const MAX_BLOCKS: usize = 50;
/// The most text all of a message's blocks hold together. Slack refuses more with
/// `msg_blocks_too_long` at about 13,000 characters, a limit it does not document
/// (slackapi/bolt-js#2509); 12,000 is the largest block text it does document.
pub const MAX_BLOCKS_TEXT: usize = 12_000;

/// Lines (already escaped `mrkdwn`) as section blocks of at most [`MAX_SECTION`]
/// characters, never splitting a line, at most [`MAX_BLOCKS`] blocks and
/// [`MAX_BLOCKS_TEXT`] characters in all: what Slack takes. A line too long for a section
/// is cut; lines past the limits are left out (a caller with more to say counts them:
/// see `deal::summary`).
pub fn sections(lines: &[String]) -> Vec<Value> {
    let mut blocks = Vec::new();
    let mut current = String::new();
    let mut total = 0;
    for line in lines {
        let line: String = line.chars().take(MAX_SECTION).collect();
        total += line.chars().count() + 1;
        if total > MAX_BLOCKS_TEXT {
            break;
        }
        if !current.is_empty() && current.chars().count() + 1 + line.chars().count() > MAX_SECTION {
            blocks.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(&line);
    }
    if !current.is_empty() {
        blocks.push(current);
    }
    blocks
        .into_iter()
        .take(MAX_BLOCKS)
        .map(|text| json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_reads_as_slack_shows_it() {
        let names = |id: &str| (id == "U_DANA").then(|| "dana".to_owned());
        assert_eq!(
            plain_text(
                "Negotiation → Won: <https://notion.so/p|Acme &amp; Co &lt;3&gt;> — $12,000 (<@U_DANA>, <@U_X>) <#C1|sales> <!here>",
                names
            ),
            "Negotiation → Won: Acme & Co <3> — $12,000 (@dana, @U_X) #sales @here"
        );
        assert_eq!(
            plain_text("no markup, 1 < 2 unclosed <", |_| None),
            "no markup, 1 < 2 unclosed <"
        );
        assert_eq!(
            plain_text(&escape("<@U1> & <b>"), |_| None),
            "<@U1> & <b>",
            "escaped text stays text"
        );
    }

    #[test]
    fn escapes_the_three_characters() {
        assert_eq!(escape("a & <b> c"), "a &amp; &lt;b&gt; c");
        assert_eq!(link_text("x|y"), "x¦y");
    }

    #[test]
    fn sections_stay_under_the_limits() {
        let lines: Vec<String> = (0..400)
            .map(|i| format!("{i:04} {}", "x".repeat(95)))
            .collect();
        let blocks = sections(&lines);
        assert!(blocks.len() <= MAX_BLOCKS);
        for b in &blocks {
            let text = b["text"]["text"].as_str().unwrap();
            assert!(text.chars().count() <= MAX_SECTION);
            assert!(text.lines().all(|l| l.len() == 100), "no line split");
        }
        let total: usize = blocks
            .iter()
            .map(|b| b["text"]["text"].as_str().unwrap().len())
            .sum();
        assert!(total <= MAX_BLOCKS_TEXT, "{total}");
        assert!(total > MAX_BLOCKS_TEXT - 200, "as much as fits: {total}");
        let huge = vec!["y".repeat(5000)];
        assert_eq!(
            sections(&huge)[0]["text"]["text"].as_str().unwrap().len(),
            MAX_SECTION
        );
    }
}
