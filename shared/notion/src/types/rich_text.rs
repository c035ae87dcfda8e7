use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Notion's limit on one text object's `content`, in UTF-16 code units (Notion's API
/// counts like JavaScript does).
pub const MAX_RICH_TEXT_LEN: usize = 2000;
/// Notion's limit on the rich-text objects in one property value.
pub const MAX_RICH_TEXT_OBJECTS: usize = 100;
/// The references (mentions in a title or rich text, related pages, people) a page
/// object carries per property; beyond it the value read is incomplete, and writing it
/// back would drop the rest (retrieve-a-page reference).
pub const MAX_PAGE_REFERENCES: usize = 25;

/// One rich-text object. Requests only need `type` and `text`; responses also carry
/// `plain_text`, `annotations` and `href`, and mentions or equations instead of text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RichText {
    #[serde(rename = "type", default = "text_kind")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextContent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plain_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mention: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equation: Option<Value>,
}

fn text_kind() -> String {
    "text".to_owned()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextContent {
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<Link>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    pub url: String,
}

impl RichText {
    /// A plain text object for a request.
    pub fn text(content: impl Into<String>) -> Self {
        Self {
            kind: text_kind(),
            text: Some(TextContent {
                content: content.into(),
                link: None,
            }),
            plain_text: None,
            href: None,
            annotations: None,
            mention: None,
            equation: None,
        }
    }

    /// The object as a request sends it back: what Notion answered with, less the
    /// fields only answers carry (`plain_text`, `href`), so that text a person wrote
    /// keeps its formatting, links and mentions when a property is written again.
    pub fn for_request(&self) -> Self {
        Self {
            plain_text: None,
            href: None,
            ..self.clone()
        }
    }

    /// The text a person sees: `plain_text` when Notion sent it, else the content.
    pub fn as_plain(&self) -> &str {
        match (&self.plain_text, &self.text) {
            (Some(p), _) => p,
            (None, Some(t)) => &t.content,
            (None, None) => "",
        }
    }
}

/// The plain text of a rich-text array.
pub fn plain_text(parts: &[RichText]) -> String {
    parts.iter().map(RichText::as_plain).collect()
}

/// Text as rich-text objects within Notion's limits: split into pieces of at most
/// [`MAX_RICH_TEXT_LEN`] UTF-16 units (never inside a character), at most
/// [`MAX_RICH_TEXT_OBJECTS`] pieces. Long text is kept, not rejected; only text past
/// 200,000 units, which Notion cannot hold in one property, is cut.
pub fn rich_text(text: &str) -> Vec<RichText> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut units = 0;
    for c in text.chars() {
        let len = c.len_utf16();
        if units + len > MAX_RICH_TEXT_LEN {
            parts.push(RichText::text(std::mem::take(&mut current)));
            units = 0;
            if parts.len() == MAX_RICH_TEXT_OBJECTS {
                return parts;
            }
        }
        current.push(c);
        units += len;
    }
    if !current.is_empty() {
        parts.push(RichText::text(current));
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(r: &RichText) -> usize {
        r.as_plain().encode_utf16().count()
    }

    #[test]
    fn short_text_is_one_object_and_empty_text_is_none() {
        assert_eq!(rich_text("hello"), vec![RichText::text("hello")]);
        assert!(rich_text("").is_empty());
    }

    #[test]
    fn long_text_is_split_at_the_limit_without_losing_anything() {
        let text = "a".repeat(4500);
        let parts = rich_text(&text);
        assert_eq!(
            parts.iter().map(units).collect::<Vec<_>>(),
            [2000, 2000, 500]
        );
        assert_eq!(plain_text(&parts), text);
    }

    #[test]
    fn astral_characters_count_as_two_units_and_are_never_split() {
        let text = "😀".repeat(1001); // 2002 UTF-16 units
        let parts = rich_text(&text);
        assert_eq!(parts.iter().map(units).collect::<Vec<_>>(), [2000, 2]);
        assert_eq!(plain_text(&parts), text);
    }

    #[test]
    fn text_beyond_what_a_property_holds_is_cut_at_100_objects() {
        let parts = rich_text(&"b".repeat(MAX_RICH_TEXT_LEN * 101));
        assert_eq!(parts.len(), MAX_RICH_TEXT_OBJECTS);
        assert!(parts.iter().all(|p| units(p) == MAX_RICH_TEXT_LEN));
    }
}
