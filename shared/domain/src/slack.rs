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
