//! Text for Slack, which reads `&`, `<` and `>` as markup in every message.

use serde_json::{Value, json};

/// Escapes user data for Slack's `mrkdwn` and plain-text fallback alike, so a deal
/// named `<!channel>` cannot ping a channel and `<url|x>` cannot smuggle a link.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// User data made inert in `mrkdwn`, for where the product means no formatting and no
/// link (ids, reasons, names in ops messages): escaped as [`escape`] does; a backtick,
/// which would end a code span the product opened, becomes `ˋ`; a word joiner (U+2060,
/// invisible) after each `*`, `_` and `~` keeps them from formatting, and after `://`,
/// `www.` and `@` keeps Slack from drawing a link or a mention of its own.
pub fn inert(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in escape(s).chars() {
        match c {
            '`' => out.push('ˋ'),
            '*' | '_' | '~' | '@' => {
                out.push(c);
                out.push('\u{2060}');
            }
            _ => out.push(c),
        }
    }
    out.replace("://", ":\u{2060}//")
        .replace("www.", "www\u{2060}.")
}

/// Text for inside `<url|text>`: escaped, and without `|`, which would end the link.
pub fn link_text(s: &str) -> String {
    escape(s).replace('|', "¦")
}

/// A piece of a message's `mrkdwn` as Slack reads it: text, or one `<…>` markup.
/// Text and labels come with `&amp;`, `&lt;`, `&gt;` read back into characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    /// `<url>` or `<url|label>`.
    Link {
        url: String,
        label: Option<String>,
    },
    /// `<@U123>`: a person, by Slack user id.
    User(String),
    /// `<#C123>` or `<#C123|sales>`.
    Channel {
        id: String,
        label: Option<String>,
    },
    /// `<!here>`, `<!channel>`, `<!subteam^…|label>`.
    Special {
        name: String,
        label: Option<String>,
    },
}

/// Splits `mrkdwn` into [`Piece`]s; a `<` with no `>` after it is text (Slack shows it
/// so). The one reading of Slack's markup, for the console and the local page alike.
pub fn pieces(mrkdwn: &str) -> Vec<Piece> {
    let unescape = |s: &str| {
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    let mut out = Vec::new();
    let mut text = String::new();
    let mut rest = mrkdwn;
    while let Some(start) = rest.find('<') {
        let Some(len) = rest[start..].find('>') else {
            break;
        };
        text.push_str(&rest[..start]);
        if !text.is_empty() {
            out.push(Piece::Text(unescape(&std::mem::take(&mut text))));
        }
        let inner = &rest[start + 1..start + len];
        let (target, label) = match inner.split_once('|') {
            Some((t, l)) => (t, Some(unescape(l))),
            None => (inner, None),
        };
        out.push(if let Some(user) = target.strip_prefix('@') {
            Piece::User(user.to_owned())
        } else if let Some(id) = target.strip_prefix('#') {
            Piece::Channel {
                id: id.to_owned(),
                label,
            }
        } else if let Some(name) = target.strip_prefix('!') {
            Piece::Special {
                name: name.to_owned(),
                label,
            }
        } else {
            Piece::Link {
                url: unescape(target),
                label,
            }
        });
        rest = &rest[start + len + 1..];
    }
    text.push_str(rest);
    if !text.is_empty() {
        out.push(Piece::Text(unescape(&text)));
    }
    out
}

/// A message's `mrkdwn` as a person reads it in Slack, in plain text: `<url|label>` is
/// the label, `<@U123>` the person `name` knows them by (`@dana`; else the id),
/// `<#C123|sales>` `#sales`, `<!here>` `@here`, and `&amp;`, `&lt;`, `&gt;` the
/// characters. For a console or a page that shows what was posted.
pub fn plain_text(mrkdwn: &str, name: impl Fn(&str) -> Option<String>) -> String {
    pieces(mrkdwn)
        .into_iter()
        .map(|piece| match piece {
            Piece::Text(t) => t,
            Piece::Link { url, label } => label.unwrap_or(url),
            Piece::User(id) => format!("@{}", name(&id).unwrap_or(id)),
            Piece::Channel { id, label } => format!("#{}", label.unwrap_or(id)),
            Piece::Special { name, label } => format!("@{}", label.unwrap_or(name)),
        })
        .collect()
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
    fn pieces_tell_markup_from_escaped_text() {
        assert_eq!(
            pieces("*Hi* <https://x.test/?a=1&amp;b=2|A &amp; B> to <@U1>, 1 &lt; 2 <"),
            vec![
                Piece::Text("*Hi* ".into()),
                Piece::Link {
                    url: "https://x.test/?a=1&b=2".into(),
                    label: Some("A & B".into())
                },
                Piece::Text(" to ".into()),
                Piece::User("U1".into()),
                Piece::Text(", 1 < 2 <".into()),
            ]
        );
        assert_eq!(
            pieces("<!here> <#C1>"),
            vec![
                Piece::Special {
                    name: "here".into(),
                    label: None
                },
                Piece::Text(" ".into()),
                Piece::Channel {
                    id: "C1".into(),
                    label: None
                },
            ]
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
