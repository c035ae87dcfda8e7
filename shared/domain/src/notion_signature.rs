//! Notion's webhook signature: `X-Notion-Signature: sha256=<hex HMAC-SHA256>` of the raw
//! body, keyed with the subscription's verification token.

use crate::signature::{hmac_sha256, matches_hex, to_hex};

pub const HEADER: &str = "x-notion-signature";

/// The header value Notion sends for `body`.
pub fn sign(token: &str, body: &[u8]) -> String {
    format!("sha256={}", to_hex(&hmac_sha256(token.as_bytes(), &[body])))
}

/// Whether `header` (the `X-Notion-Signature` value, if any) signs `body`.
pub fn verify(token: &str, body: &[u8], header: Option<&str>) -> bool {
    header
        .and_then(|h| h.trim().strip_prefix("sha256="))
        .is_some_and(|hex| matches_hex(&hmac_sha256(token.as_bytes(), &[body]), hex))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies_the_raw_body() {
        let body = br#"{"id":"e1","type":"page.created"}"#;
        let header = sign("secret_tok", body);
        assert!(header.starts_with("sha256=") && header.len() == 7 + 64);
        assert!(verify("secret_tok", body, Some(&header)));
        assert!(!verify("other", body, Some(&header)));
        assert!(!verify("secret_tok", b"{\"id\":\"e1\"}", Some(&header)));
        assert!(!verify(
            "secret_tok",
            body,
            Some(header.trim_start_matches("sha256="))
        ));
        assert!(!verify("secret_tok", body, None));
    }
}
