//! The contact's email: the identity a lead is deduplicated on.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An email address, in the form that identifies a contact and as the person typed it.
///
/// The canonical form makes every spelling of one mailbox one contact:
/// * invisible format characters dropped, surrounding space trimmed;
/// * fullwidth ASCII (`ｕｎｉ３`, what an East Asian keyboard types) folded to ASCII — a
///   compatibility form no mailbox is registered under, so the fold cannot merge two
///   real ones; the other compatibility mappings (NFKC's ligatures, superscripts) can,
///   and are left alone;
/// * Unicode NFC, so a precomposed `é` and `e` + a combining accent are one character;
/// * lowercased;
/// * the domain as its A-labels (`exämple.com` → `xn--exmple-cua.com`, RFC 3492
///   punycode per label, after the lowercase and NFC above — what IDNA's mapping does
///   for the addresses people type; the full UTS 46 tables are left out of the build),
///   and an A-label given as such is checked to decode.
///
/// Lowercasing the local part is technically lossy (RFC 5321 lets a server treat it as
/// case-sensitive) but no mainstream provider does, and one person typing their address
/// two ways is far more common than two people differing only by case.
///
/// Equality, hashing and order are the canonical form's; what was typed (trimmed, NFC)
/// is kept for display — the contact's Email in Notion — and is what serializes, so a
/// stored address reads back through the same rules.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ContactEmail {
    canonical: String,
    typed: String,
}

impl PartialEq for ContactEmail {
    fn eq(&self, other: &Self) -> bool {
        self.canonical == other.canonical
    }
}
impl Eq for ContactEmail {}
impl std::hash::Hash for ContactEmail {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.canonical.hash(state);
    }
}
impl PartialOrd for ContactEmail {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ContactEmail {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.canonical.cmp(&other.canonical)
    }
}

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
    #[error(
        "the email address must not have two dots in a row, or a dot first or last before the @"
    )]
    Dots,
    #[error("the email address must not be in quotes; write it as name@example.com")]
    Quoted,
    #[error(
        "the email address must end in a domain like example.com, not an IP address in brackets"
    )]
    Literal,
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

/// Fullwidth ASCII (U+FF01–U+FF5E) as ASCII, and the ideographic space as a space.
fn fold_fullwidth(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// A domain's labels as A-labels: ASCII ones as they are (an `xn--` one checked to
/// decode), others punycoded. `None` when a label cannot be.
fn a_labels(domain: &str) -> Option<String> {
    let labels = domain.split('.').map(|label| {
        if label.is_ascii() {
            match label.strip_prefix("xn--") {
                Some(encoded) => idna::punycode::decode_to_string(encoded)
                    .filter(|decoded| !decoded.is_ascii())
                    .map(|_| label.to_owned()),
                None => Some(label.to_owned()),
            }
        } else if label.starts_with("xn--") {
            // The prefix marks an A-label, which is ASCII by definition.
            None
        } else {
            idna::punycode::encode_str(label).map(|encoded| format!("xn--{encoded}"))
        }
    });
    labels.collect::<Option<Vec<_>>>().map(|l| l.join("."))
}

impl ContactEmail {
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        use unicode_normalization::UnicodeNormalization;
        // Invisible format characters (a zero-width space from a copy-paste, a bidi
        // override) would make `ann@example.com` and `ann\u{200b}@example.com` two
        // contacts that look the same: they are dropped.
        let visible: String = input.chars().filter(|c| !is_invisible_format(*c)).collect();
        let typed: String = visible.trim().nfc().collect();
        let email: String = typed
            .chars()
            .map(fold_fullwidth)
            .nfc()
            .collect::<String>()
            .to_lowercase();
        if email.is_empty() {
            return Err(EmailError::Empty);
        }
        if email.chars().count() > MAX_EMAIL_LEN {
            return Err(EmailError::TooLong);
        }
        if email.starts_with('"') {
            return Err(EmailError::Quoted);
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
        if local.contains('"') {
            return Err(EmailError::Quoted);
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(EmailError::Dots);
        }
        if domain.starts_with('[') {
            return Err(EmailError::Literal);
        }
        let labels_ok = domain.split('.').all(|l| !l.is_empty());
        if !domain.contains('.') || !labels_ok {
            return Err(EmailError::Domain);
        }
        let domain = a_labels(domain).ok_or(EmailError::Domain)?;
        let canonical = format!("{local}@{domain}");
        if canonical.chars().count() > MAX_EMAIL_LEN {
            return Err(EmailError::TooLong);
        }
        Ok(Self { canonical, typed })
    }

    /// The canonical form: what identifies the contact (keys, lookups, comparisons).
    pub fn as_str(&self) -> &str {
        &self.canonical
    }

    /// As the person typed it (trimmed, NFC): what the contact shows.
    pub fn typed(&self) -> &str {
        &self.typed
    }

    /// The part before the `@`: a fallback display name.
    pub fn local_part(&self) -> &str {
        self.typed.split('@').next().unwrap_or_default()
    }

    /// The address for logs: first letter and domain only (`a***@example.com`), since
    /// logs are kept longer and read by more people than the CRM.
    pub fn redacted(&self) -> String {
        redact(&self.canonical)
    }
}

/// An address for logs: its first character and its domain (`a***@example.com`).
pub fn redact(address: &str) -> String {
    let (local, domain) = address.split_once('@').unwrap_or((address, ""));
    let first: String = local.chars().take(1).collect();
    format!("{first}***@{domain}")
}

/// The canonical form.
impl fmt::Display for ContactEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical)
    }
}

impl TryFrom<String> for ContactEmail {
    type Error = EmailError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

/// What was typed: parsed again, it gives the same canonical form.
impl From<ContactEmail> for String {
    fn from(e: ContactEmail) -> Self {
        e.typed
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
    fn two_spellings_of_one_address_are_one_contact() {
        let same = [
            // Precomposed é and e + combining acute.
            ("\u{e9}mile@example.com", "e\u{301}mile@example.com"),
            // Fullwidth letters and digits, as an East Asian keyboard types them.
            (
                "\u{ff55}\u{ff4e}\u{ff49}\u{ff13}@example.com",
                "uni3@example.com",
            ),
            ("uni3@\u{ff45}xample.com", "uni3@example.com"),
            // A domain in Unicode and in its A-labels (IDNA).
            ("uni4@ex\u{e4}mple.com", "uni4@xn--exmple-cua.com"),
            ("uni4@EX\u{c4}MPLE.com", "uni4@xn--exmple-cua.com"),
        ];
        for (a, b) in same {
            let (a, b) = (
                ContactEmail::parse(a).unwrap(),
                ContactEmail::parse(b).unwrap(),
            );
            assert_eq!(a, b, "{:?} and {:?}", a.typed(), b.typed());
            assert_eq!(a.as_str(), b.as_str());
        }
        // What the person typed is kept for display (composed, trimmed).
        let typed = ContactEmail::parse(" \u{c9}mile@Ex\u{e4}mple.com ").unwrap();
        assert_eq!(typed.typed(), "\u{c9}mile@Ex\u{e4}mple.com");
        assert_eq!(typed.as_str(), "\u{e9}mile@xn--exmple-cua.com");
        // Another mailbox stays another: no folding beyond what cannot merge two.
        assert_ne!(
            ContactEmail::parse("emile@example.com").unwrap(),
            ContactEmail::parse("\u{e9}mile@example.com").unwrap()
        );
    }

    #[test]
    fn addresses_no_mailbox_takes_are_refused_with_a_sentence() {
        let cases = [
            ("a..b@example.com", EmailError::Dots),
            (".ab@example.com", EmailError::Dots),
            ("ab.@example.com", EmailError::Dots),
            ("\"ab\"@example.com", EmailError::Quoted),
            ("\"a b\"@example.com", EmailError::Quoted),
            ("x@[127.0.0.1]", EmailError::Literal),
            ("x@[IPv6:::1]", EmailError::Literal),
            ("uni4@xn--zz\u{e4}.com", EmailError::Domain),
        ];
        for (input, want) in cases {
            assert_eq!(ContactEmail::parse(input), Err(want.clone()), "{input:?}");
            assert!(want.to_string().len() > 30, "a sentence: {want}");
        }
    }

    #[test]
    fn the_canonical_form_reads_back_as_itself() {
        for input in [
            "\u{c9}mile@Ex\u{e4}mple.com",
            "ann@example.com",
            "uni4@xn--exmple-cua.com",
        ] {
            let e = ContactEmail::parse(input).unwrap();
            assert_eq!(ContactEmail::parse(e.as_str()).unwrap(), e);
            assert_eq!(ContactEmail::parse(e.typed()).unwrap(), e);
            let json = serde_json::to_string(&e).unwrap();
            let back: ContactEmail = serde_json::from_str(&json).unwrap();
            assert_eq!((back.as_str(), back.typed()), (e.as_str(), e.typed()));
        }
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
