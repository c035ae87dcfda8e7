//! The small HTML pages a browser is shown when a form was posted without JavaScript:
//! a thank-you page (when the form names no thank-you URL of its own) and a page that
//! says in words what is wrong, with a way back to the form.

/// Escapes text for HTML content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title>\
         <style>body{{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem;color:#222}}\
         h1{{font-size:1.4rem}}a{{color:#0b5cad}}</style></head>\
         <body><main>{body}</main></body></html>\n",
        title = escape(title),
    )
}

/// The link back to the form: the page it was sent from, when that is known.
fn back(link: Option<&str>) -> String {
    match link {
        Some(url) => format!("<p><a href=\"{}\">Back to the form</a></p>", escape(url)),
        None => "<p>Use your browser's Back button to return to the form.</p>".to_owned(),
    }
}

/// Shown after a plain post when the form has no thank-you URL.
pub fn thank_you(back_to: Option<&str>) -> String {
    let link = back_to
        .map(|url| format!("<p><a href=\"{}\">Back to the site</a></p>", escape(url)))
        .unwrap_or_default();
    page(
        "Thank you",
        &format!(
            "<h1 id=\"crm-thank-you\">Thank you!</h1><p>We got your message and will be in touch.</p>{link}"
        ),
    )
}

/// A page that says what went wrong (`message`, in words) under a heading, with the
/// stable `code` kept in the page for scripts and tests.
pub fn problem(heading: &str, message: &str, code: &str, back_to: Option<&str>) -> String {
    page(
        heading,
        &format!(
            "<h1>{}</h1><p id=\"crm-problem\" data-code=\"{}\">{}</p>{}",
            escape(heading),
            escape(code),
            escape(message),
            back(back_to),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_visitor_typed_cannot_become_markup() {
        let html = problem(
            "Check your email address",
            "<script>alert(1)</script> is not valid",
            "invalid_email",
            Some("https://a.com/?q=\"><script>"),
        );
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; is not valid"));
        assert!(html.contains("href=\"https://a.com/?q=&quot;&gt;&lt;script&gt;\""));
        assert!(html.contains("data-code=\"invalid_email\""));
    }

    #[test]
    fn without_a_page_to_return_to_the_visitor_is_told_how() {
        assert!(problem("x", "y", "z", None).contains("Back button"));
        assert!(thank_you(None).contains("Thank you!"));
        assert!(
            thank_you(Some("https://a.com/contact")).contains("href=\"https://a.com/contact\"")
        );
    }
}
