//! Error text that may be logged and stored without carrying what a person typed.
//!
//! Failure reasons are logged and kept with inbox items for days. Notion's validation
//! messages quote the values they refuse (``instead was `"ann@example.com"` ``), and
//! serde's errors quote the input they could not read; both may be personal data. What
//! is kept is what diagnoses: the shape of the message, status, code, position.

/// `text` with every quoted stretch — between backticks or double quotes — replaced by
/// `…`.
pub fn quoted_values(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut open: Option<char> = None;
    for c in text.chars() {
        match open {
            Some(q) if c == q => {
                out.push('…');
                out.push(c);
                open = None;
            }
            Some(_) => {}
            None if c == '`' || c == '"' => {
                out.push(c);
                open = Some(c);
            }
            None => out.push(c),
        }
    }
    if open.is_some() {
        out.push('…');
    }
    out
}

/// What a JSON error says, without the input it quotes: its kind and position.
pub fn serde_error(e: &serde_json::Error) -> String {
    let kind = match e.classify() {
        serde_json::error::Category::Io => "unreadable input",
        serde_json::error::Category::Syntax => "not valid JSON",
        serde_json::error::Category::Data => "a field of the wrong type or value",
        serde_json::error::Category::Eof => "the JSON ends early",
    };
    format!("{kind} at line {}, column {}", e.line(), e.column())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_are_dropped_and_the_shape_kept() {
        let notion = "body.properties.Email.email should be a valid email, instead was `\"ann@example.com\"`.";
        let kept = quoted_values(notion);
        assert!(!kept.contains("ann@example.com"), "{kept}");
        assert!(kept.starts_with("body.properties.Email.email should be a valid email"));
        assert_eq!(quoted_values("no quotes"), "no quotes");
        assert!(!quoted_values("cut \"ann@exa").contains("ann"));
    }

    #[test]
    fn serde_errors_say_where_not_what() {
        let err = serde_json::from_str::<i64>("\"ann@example.com\"").unwrap_err();
        assert!(
            err.to_string().contains("ann@example.com"),
            "serde quotes it"
        );
        let said = serde_error(&err);
        assert!(!said.contains("ann"), "{said}");
        assert!(said.contains("line 1"), "{said}");
    }
}
