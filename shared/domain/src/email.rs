//! The contact's email: the identity a lead is deduplicated on.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An email address in canonical form: trimmed and lowercased, so `Ann@Example.com `
/// and `ann@example.com` are one contact.
///
/// Lowercasing the local part is technically lossy (RFC 5321 lets a server treat it as
/// case-sensitive) but no mainstream provider does, and one person typing their address
/// two ways is far more common than two people differing only by case.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ContactEmail(String);

/// Redacted: a full address never reaches a log line or an error through `{:?}`.
impl fmt::Debug for ContactEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ContactEmail")
            .field(&self.redacted())
            .finish()
    }
}

/// Why a string is not an email we accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("the email address is empty")]
    Empty,
    #[error("the email address is longer than 200 characters")]
    TooLong,
    #[error("the email address must contain exactly one @")]
    At,
    #[error("the email address has nothing before the @")]
    NoLocalPart,
    #[error("the email address needs a domain with a dot after the @, like example.com")]
    Domain,
    #[error("the email address must not contain spaces or control characters")]
    Whitespace,
}

/// Notion's limit for an email property, and a sane one for an address.
pub const MAX_EMAIL_LEN: usize = 200;

/// Unicode's format characters (category Cf) that can sit in text unseen: the soft
/// hyphen, zero-width spaces and joiners, direction marks and overrides, word joiners,
/// the byte-order mark.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}')
}

impl ContactEmail {
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        // Invisible format characters (a zero-width space from a copy-paste, a bidi
        // override) would make `ann@example.com` and `ann\u{200b}@example.com` two
        // contacts that look the same: they are dropped.
        let visible: String = input.chars().filter(|c| !is_invisible_format(*c)).collect();
        let email = visible.trim().to_lowercase();
        if email.is_empty() {
            return Err(EmailError::Empty);
        }
        if email.chars().count() > MAX_EMAIL_LEN {
            return Err(EmailError::TooLong);
        }
        if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EmailError::Whitespace);
        }
        let mut parts = email.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(EmailError::At);
        };
        if local.is_empty() {
            return Err(EmailError::NoLocalPart);
        }
        let labels_ok = domain.split('.').all(|l| !l.is_empty());
        if !domain.contains('.') || !labels_ok {
            return Err(EmailError::Domain);
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the `@`: a fallback display name.
    pub fn local_part(&self) -> &str {
        self.0.split('@').next().unwrap_or_default()
    }

    /// The address for logs: first letter and domain only (`a***@example.com`), since
    /// logs are kept longer and read by more people than the CRM.
    pub fn redacted(&self) -> String {
        redact(&self.0)
    }
}

/// An address for logs: its first character and its domain (`a***@example.com`).
pub fn redact(address: &str) -> String {
    let (local, domain) = address.split_once('@').unwrap_or((address, ""));
    let first: String = local.chars().take(1).collect();
    format!("{first}***@{domain}")
}

impl fmt::Display for ContactEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ContactEmail {
    type Error = EmailError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<ContactEmail> for String {
    fn from(e: ContactEmail) -> Self {
        e.0
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn invisible_format_characters_do_not_make_another_contact() {
        let plain = ContactEmail::parse("ann@example.com").unwrap();
        for sneaky in [
            "ann\u{200b}@example.com",
            "\u{feff}ann@example.com",
            "ann@exa\u{202e}mple.com",
            "an\u{00ad}n@example.com\u{2060}",
        ] {
            assert_eq!(ContactEmail::parse(sneaky).unwrap(), plain, "{sneaky:?}");
        }
        assert_eq!(ContactEmail::parse("\u{200b}"), Err(EmailError::Empty));
    }
    use super::*;

    #[test]
    fn case_and_whitespace_variants_are_one_address() {
        for input in [
            "ann@example.com",
            " Ann@Example.COM ",
            "\tANN@EXAMPLE.COM\n",
        ] {
            assert_eq!(
                ContactEmail::parse(input).unwrap().as_str(),
                "ann@example.com"
            );
        }
    }

    #[test]
    fn each_problem_has_its_own_error() {
        let cases = [
            ("", EmailError::Empty),
            ("   ", EmailError::Empty),
            ("ann.example.com", EmailError::At),
            ("ann@@example.com", EmailError::At),
            ("a@b@example.com", EmailError::At),
            ("@example.com", EmailError::NoLocalPart),
            ("ann@localhost", EmailError::Domain),
            ("ann@example.", EmailError::Domain),
            ("ann@.com", EmailError::Domain),
            ("ann smith@example.com", EmailError::Whitespace),
        ];
        for (input, want) in cases {
            assert_eq!(ContactEmail::parse(input), Err(want), "{input:?}");
        }
        let long = format!("{}@example.com", "a".repeat(190));
        assert_eq!(ContactEmail::parse(&long), Err(EmailError::TooLong));
        let just_fits = format!("{}@example.com", "a".repeat(188));
        assert!(ContactEmail::parse(&just_fits).is_ok());
    }

    #[test]
    fn redaction_keeps_the_domain_only() {
        let e = ContactEmail::parse("ann.lee@example.com").unwrap();
        assert_eq!(e.redacted(), "a***@example.com");
        assert_eq!(e.local_part(), "ann.lee");
    }

    #[test]
    fn deserializing_validates() {
        assert!(serde_json::from_str::<ContactEmail>("\"x@y.io\"").is_ok());
        assert!(serde_json::from_str::<ContactEmail>("\"nope\"").is_err());
    }
}
