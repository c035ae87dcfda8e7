//! Notion object ids.
//!
//! Notion prints ids with dashes in API responses and without them in page URLs, and
//! users paste either. Parsing both into one canonical form means a cache keyed by id
//! can never hold the same page twice.

use std::fmt;

/// A Notion id (page, database, data source, property-bearing object), canonicalised to
/// the dashed lowercase UUID form Notion returns.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NotionId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotionIdError {
    #[error(
        "expected a Notion id of 32 hexadecimal digits (dashes optional), got {len} characters"
    )]
    WrongLength { len: usize },
    #[error("expected a Notion id of hexadecimal digits, found {found:?}")]
    NotHex { found: char },
}

impl NotionId {
    /// Accepts `0123abcd…` (32 hex digits), the dashed 8-4-4-4-12 form, or the id at the
    /// end of a Notion URL slug such as `My-Contacts-0123abcd…`.
    pub fn parse(input: &str) -> Result<Self, NotionIdError> {
        let trimmed = input.trim();
        // A URL slug ends with the id; a bare id has nothing before it.
        let candidate = match trimmed.rsplit_once('-') {
            Some((_, tail)) if tail.len() == 32 => tail,
            _ => trimmed,
        };
        let mut hex = String::with_capacity(32);
        for c in candidate.chars().filter(|c| *c != '-') {
            if !c.is_ascii_hexdigit() {
                return Err(NotionIdError::NotHex { found: c });
            }
            hex.push(c.to_ascii_lowercase());
        }
        if hex.len() != 32 {
            return Err(NotionIdError::WrongLength { len: hex.len() });
        }
        Ok(Self(format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 32-digit form used in notion.so URLs.
    pub fn undashed(&self) -> String {
        self.0.replace('-', "")
    }
}

impl fmt::Display for NotionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DASHED: &str = "1c2b3a4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";

    #[test]
    fn dashed_undashed_upper_and_slug_forms_are_one_id() {
        for input in [
            DASHED,
            "1c2b3a4d5e6f4a7b8c9d0e1f2a3b4c5d",
            "1C2B3A4D5E6F4A7B8C9D0E1F2A3B4C5D",
            " 1c2b3a4d5e6f4a7b8c9d0e1f2a3b4c5d\n",
            "Contacts-1c2b3a4d5e6f4a7b8c9d0e1f2a3b4c5d",
        ] {
            assert_eq!(NotionId::parse(input).unwrap().as_str(), DASHED, "{input}");
        }
    }

    #[test]
    fn rejects_wrong_length_and_non_hex() {
        assert_eq!(
            NotionId::parse("abc"),
            Err(NotionIdError::WrongLength { len: 3 })
        );
        assert_eq!(
            NotionId::parse("zc2b3a4d5e6f4a7b8c9d0e1f2a3b4c5d"),
            Err(NotionIdError::NotHex { found: 'z' })
        );
        assert!(NotionId::parse("").is_err());
    }

    #[test]
    fn undashed_round_trips() {
        let id = NotionId::parse(DASHED).unwrap();
        assert_eq!(NotionId::parse(&id.undashed()).unwrap(), id);
    }
}
