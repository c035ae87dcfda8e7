//! A Slack message as Slack would show it, in HTML: its Block Kit blocks (the text
//! fallback when it has none), `mrkdwn` read by `crm_domain::slack::pieces` — links,
//! mentions by handle, `*bold*`, `_italic_` — and everything else escaped. The page
//! renders what was posted; it does not trust it.

use crm_domain::browser_form::page::escape;
use crm_domain::slack::{Piece, pieces};
use serde_json::Value;

/// The message `body` (what was posted) as HTML; `handle` names a Slack user id.
pub fn message_html(body: &Value, handle: &dyn Fn(&str) -> Option<String>) -> String {
    let blocks = body["blocks"].as_array().filter(|b| !b.is_empty());
    let Some(blocks) = blocks else {
        return format!(
            "<p>{}</p>",
            mrkdwn(body["text"].as_str().unwrap_or_default(), handle)
        );
    };
    blocks.iter().map(|b| block(b, handle)).collect()
}

fn block(b: &Value, handle: &dyn Fn(&str) -> Option<String>) -> String {
    let text = |t: &Value| {
        let s = t["text"].as_str().unwrap_or_default();
        if t["type"] == "mrkdwn" {
            mrkdwn(s, handle)
        } else {
            escape(s)
        }
    };
    match b["type"].as_str().unwrap_or_default() {
        "header" => format!("<h4>{}</h4>", text(&b["text"])),
        "divider" => "<hr>".into(),
        "context" => {
            let parts: Vec<String> = b["elements"]
                .as_array()
                .map(|e| e.iter().map(text).collect())
                .unwrap_or_default();
            format!("<p class=\"context\">{}</p>", parts.join(" "))
        }
        "section" => {
            let fields: String = b["fields"]
                .as_array()
                .map(|f| {
                    f.iter()
                        .map(|f| format!("<span>{}</span>", text(f)))
                        .collect()
                })
                .unwrap_or_default();
            format!("<p>{}{fields}</p>", text(&b["text"]))
        }
        other => format!(
            "<p class=\"context\">({} block)</p>",
            escape(if other.is_empty() { "unknown" } else { other })
        ),
    }
}

/// One unit of a message's text on its way to HTML.
enum Tok {
    Char(char),
    /// `*` or `_`: emphasis, if it pairs up.
    Mark(char),
    /// Markup already made HTML (a link, a mention): a word, for emphasis.
    Html(String),
    Break,
}

/// `mrkdwn` as HTML: markup by `pieces`, emphasis (`*bold*`, `_italic_`, also around a
/// link) within a line, line breaks kept, every character of text escaped.
fn mrkdwn(text: &str, handle: &dyn Fn(&str) -> Option<String>) -> String {
    let mut toks = Vec::new();
    for piece in pieces(text) {
        match piece {
            Piece::Text(t) => toks.extend(t.chars().map(|c| match c {
                '*' | '_' => Tok::Mark(c),
                '\n' => Tok::Break,
                c => Tok::Char(c),
            })),
            Piece::Link { url, label } => {
                let shown = escape(label.as_deref().unwrap_or(&url));
                toks.push(Tok::Html(
                    if url.starts_with("https://") || url.starts_with("http://") {
                        format!(
                            "<a href=\"{}\" target=\"_blank\" rel=\"noopener\">{shown}</a>",
                            escape(&url)
                        )
                    } else {
                        // mailto:, tel: or anything else: shown, never followed.
                        shown
                    },
                ));
            }
            Piece::User(id) => toks.push(mention('@', &handle(&id).unwrap_or(id))),
            Piece::Channel { id, label } => toks.push(mention('#', &label.unwrap_or(id))),
            Piece::Special { name, label } => toks.push(mention('@', &label.unwrap_or(name))),
        }
    }
    let tags = emphasis(&toks);
    let mut out = String::new();
    for (i, tok) in toks.iter().enumerate() {
        match (tok, tags[i]) {
            (Tok::Mark(_), Some(tag)) => out.push_str(tag),
            (Tok::Mark(c) | Tok::Char(c), _) => out.push_str(&escape(&c.to_string())),
            (Tok::Html(h), _) => out.push_str(h),
            (Tok::Break, _) => out.push_str("<br>"),
        }
    }
    out
}

fn mention(sign: char, name: &str) -> Tok {
    Tok::Html(format!(
        "<span class=\"mention\">{sign}{}</span>",
        escape(name)
    ))
}

/// For each token, the tag a `Mark` stands for, if it opens or closes a pair: as Slack
/// reads emphasis, an opening mark follows a line start or a non-word character and
/// comes before text; a closing one follows text and comes before a non-word
/// character; both on one line.
fn emphasis(toks: &[Tok]) -> Vec<Option<&'static str>> {
    let mut tags = vec![None; toks.len()];
    let word = |t: Option<&Tok>| match t {
        Some(Tok::Char(c)) => c.is_alphanumeric(),
        Some(Tok::Html(_)) => true,
        _ => false,
    };
    let space = |t: Option<&Tok>| matches!(t, None | Some(Tok::Break) | Some(Tok::Char(' ')));
    for (mark, open_tag, close_tag) in [('*', "<strong>", "</strong>"), ('_', "<em>", "</em>")] {
        let mut open: Option<usize> = None;
        for (i, tok) in toks.iter().enumerate() {
            match tok {
                Tok::Break => open = None,
                Tok::Mark(m) if *m == mark => {
                    let before = i.checked_sub(1).and_then(|j| toks.get(j));
                    let after = toks.get(i + 1);
                    match open {
                        Some(at) if !space(before) && !word(after) => {
                            tags[at] = Some(open_tag);
                            tags[i] = Some(close_tag);
                            open = None;
                        }
                        None if !word(before) && !space(after) => open = Some(i),
                        _ => {}
                    }
                }
                _ => {}
            }
        }
    }
    tags
}

/// The files a message shares (the report's chart), as images served by the page.
pub fn files_html(body: &Value) -> String {
    body["files"]
        .as_array()
        .map(|files| {
            files
                .iter()
                .filter_map(|f| {
                    let id = f["id"].as_str()?;
                    // Ids are the local Slack's own (`F` and digits); anything else is
                    // not linked.
                    if !id.chars().all(|c| c.is_ascii_alphanumeric()) {
                        return None;
                    }
                    let title = f["title"].as_str().unwrap_or("a file");
                    Some(format!(
                        "<img class=\"file\" src=\"/local/files/{id}\" alt=\"{}\">",
                        escape(title)
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dana(id: &str) -> Option<String> {
        (id == "U1").then(|| "dana".to_owned())
    }

    #[test]
    fn a_deal_message_reads_as_in_slack() {
        let body = json!({"text": "fallback", "blocks": [{"type": "section", "text": {"type": "mrkdwn",
            "text": "*Negotiation → Won: <https://notion.so/p?a=1&amp;b=2|Acme &amp; Co &lt;3&gt;>* — $12,000 (<@U1>)\nnext line"}}]});
        let html = message_html(&body, &dana);
        assert_eq!(
            html,
            "<p><strong>Negotiation → Won: <a href=\"https://notion.so/p?a=1&amp;b=2\" target=\"_blank\" rel=\"noopener\">Acme &amp; Co &lt;3&gt;</a></strong> — $12,000 (<span class=\"mention\">@dana</span>)<br>next line</p>"
        );
    }

    #[test]
    fn nothing_posted_can_inject_markup_or_a_script_link() {
        let body = json!({"text": "<javascript:alert(1)|click> &lt;script&gt;alert(1)&lt;/script&gt; <img src=x>"});
        let html = message_html(&body, &|_| None);
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("href"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn emphasis_needs_a_pair_and_escapes_the_rest() {
        let html = |t: &str| mrkdwn(t, &|_| None);
        assert_eq!(
            html("*a* & _b_ 2*3"),
            "<strong>a</strong> &amp; <em>b</em> 2*3"
        );
        assert_eq!(
            html("jo_kim@example.com and a_b"),
            "jo_kim@example.com and a_b"
        );
        assert_eq!(html("*open\nclose*"), "*open<br>close*");
        assert_eq!(html("x\ny"), "x<br>y");
    }

    proptest::proptest! {
        /// Whatever was posted, the HTML holds only the renderer's own tags, and a link
        /// only to http(s).
        #[test]
        fn only_the_renderers_tags_come_out(text in "(<|>|\\||\\*|_|&|;|@|#|!|javascript:|https://|\"|'|a| |\n){0,40}") {
            let html = message_html(&json!({"text": text}), &|_| Some("<b>".into()));
            const OWN: &[&str] = &["<p>", "</p>", "<strong>", "</strong>", "<em>", "</em>", "<br>",
                "<span class=\"mention\">", "</span>", "</a>", "<a href=\"http://", "<a href=\"https://"];
            for (at, _) in html.match_indices('<') {
                let rest = &html[at..];
                proptest::prop_assert!(OWN.iter().any(|t| rest.starts_with(t)), "{} in {}", rest, html);
                if let Some(href) = rest.strip_prefix("<a href=\"") {
                    let value = &href[..href.find('"').unwrap()];
                    proptest::prop_assert!(!value.contains('<') && !value.contains('\''), "{}", value);
                }
            }
        }
    }

    #[test]
    fn other_blocks_have_a_shape_too() {
        let body = json!({"text": "t", "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Hi <b>"}},
            {"type": "divider"},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "_small_"}]},
            {"type": "image"},
        ]});
        assert_eq!(
            message_html(&body, &|_| None),
            "<h4>Hi &lt;b&gt;</h4><hr><p class=\"context\"><em>small</em></p><p class=\"context\">(image block)</p>"
        );
    }
}
