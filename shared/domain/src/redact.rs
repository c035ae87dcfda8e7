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

/// `text` with every email address cut to its first letter and domain
/// (`a***@example.com`), as [`crate::ContactEmail::redacted`] shows one: for text from
/// elsewhere (an error, a stored reason) on its way to a log or a message.
pub fn addresses(text: &str) -> String {
    let local = |c: char| c.is_alphanumeric() || "._%+-'".contains(c);
    let domain = |c: char| c.is_alphanumeric() || ".-".contains(c);
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '@' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = out.chars().rev().take_while(|c| local(*c)).count();
        let end = chars[i + 1..].iter().take_while(|c| domain(**c)).count();
        let host: String = chars[i + 1..i + 1 + end].iter().collect();
        let host = host.trim_end_matches('.');
        if start == 0 || !host.contains('.') {
            out.push('@');
            i += 1;
            continue;
        }
        let kept = out.chars().count() - start;
        let first = out.chars().nth(kept);
        out = out.chars().take(kept).collect();
        out.extend(first);
        out.push_str("***@");
        out.push_str(host);
        i += 1 + host.chars().count();
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

    #[test]
    fn addresses_keep_their_first_letter_and_domain() {
        assert_eq!(
            addresses("lead ann.lee@example.com (from Bo@Example.co.uk.) failed"),
            "lead a***@example.com (from B***@Example.co.uk.) failed"
        );
        assert_eq!(
            addresses("no address @ all, user@localhost"),
            "no address @ all, user@localhost"
        );
        assert_eq!(addresses("émile@exämple.fr"), "é***@exämple.fr");
    }
}
