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

/// Lines (already escaped `mrkdwn`) as section blocks of at most [`MAX_SECTION`]
/// characters, never splitting a line, and at most [`MAX_BLOCKS`] blocks; a line too long
/// for a section is cut.
pub fn sections(lines: &[String]) -> Vec<Value> {
    let mut blocks = Vec::new();
    let mut current = String::new();
    for line in lines {
        let line: String = line.chars().take(MAX_SECTION).collect();
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
        let huge = vec!["y".repeat(5000)];
        assert_eq!(
            sections(&huge)[0]["text"]["text"].as_str().unwrap().len(),
            MAX_SECTION
        );
    }
}
