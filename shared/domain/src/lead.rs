//! A lead: one form submission, validated, in the shape the worker needs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::email::{ContactEmail, EmailError};

/// Longest submission id accepted from a client (it becomes part of a store key).
pub const MAX_SUBMISSION_ID_LEN: usize = 200;
/// Notion's limit on a phone number property.
pub const MAX_PHONE_LEN: usize = 200;
/// Notion's limit on a select option name.
pub const MAX_SOURCE_LEN: usize = 100;
/// The source recorded when a submission names none.
pub const DEFAULT_SOURCE: &str = "website";

/// Fields as a provider's payload yields them, before validation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeadFields {
    pub email: Option<String>,
    pub name: Option<String>,
    pub company: Option<String>,
    pub phone: Option<String>,
    pub message: Option<String>,
    /// `utm_source`, `utm_campaign`, … as submitted.
    pub utm: BTreeMap<String, String>,
    pub submission_id: Option<String>,
}

/// A validated lead, as stored in the inbox and processed by the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lead {
    pub submission_id: String,
    pub email: ContactEmail,
    pub name: Option<String>,
    pub company: Option<String>,
    pub phone: Option<String>,
    pub message: Option<String>,
    /// The contact's Source: `utm_source`, else [`DEFAULT_SOURCE`].
    pub source: String,
    pub utm: BTreeMap<String, String>,
    /// Which route took it: `own`, `tally`, `typeform`, `formspree`, `webflow`.
    pub provider: String,
    /// When it was accepted, milliseconds since the epoch: the contact was touched
    /// then, whenever the worker gets to it.
    pub received_at_ms: i64,
    /// Checks intake could not make, each in words (`captcha unverified: …`): the lead
    /// is kept, and its Activity says what was not checked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unverified: Vec<String>,
}

/// One error code per field problem, so a form can show the right message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeadError {
    #[error("email is required")]
    MissingEmail,
    #[error("{0}")]
    InvalidEmail(EmailError),
    #[error("{field} must be a string")]
    NotText { field: &'static str },
    #[error("submission_id must be 1 to 200 characters")]
    InvalidSubmissionId,
}

impl LeadError {
    /// The stable machine-readable code sent to the client.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingEmail => "missing_email",
            Self::InvalidEmail(_) => "invalid_email",
            Self::NotText { field } => match *field {
                "name" => "invalid_name",
                "company" => "invalid_company",
                "phone" => "invalid_phone",
                "message" => "invalid_message",
                _ => "invalid_field",
            },
            Self::InvalidSubmissionId => "invalid_submission_id",
        }
    }
}

/// Blank (after trimming) counts as absent.
fn clean(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

pub(crate) fn cut(s: String, max: usize) -> String {
    if s.chars().count() <= max {
        s
    } else {
        s.chars().take(max).collect()
    }
}

impl Lead {
    /// Validates `fields`. `body` is the raw request body: when the submission names
    /// no id, the id is a hash of its canonical form, so a provider's retry of the same
    /// body is recognised as a duplicate.
    pub fn parse(
        fields: LeadFields,
        provider: &str,
        body: &[u8],
        received_at_ms: i64,
    ) -> Result<Self, LeadError> {
        let email = match clean(fields.email) {
            None => return Err(LeadError::MissingEmail),
            Some(e) => ContactEmail::parse(&e).map_err(LeadError::InvalidEmail)?,
        };
        let submission_id = submission_id(fields.submission_id, body)?;
        let utm: BTreeMap<String, String> = fields
            .utm
            .into_iter()
            .filter_map(|(k, v)| clean(Some(v)).map(|v| (k, v)))
            .collect();
        // A select option cannot contain a comma and has a length limit.
        let source = utm
            .get("utm_source")
            .map(|s| cut(s.replace(',', " "), MAX_SOURCE_LEN))
            .unwrap_or_else(|| DEFAULT_SOURCE.to_owned());
        Ok(Self {
            submission_id,
            email,
            name: clean(fields.name),
            company: clean(fields.company),
            phone: clean(fields.phone).map(|p| cut(p, MAX_PHONE_LEN)),
            message: clean(fields.message),
            source,
            utm,
            provider: provider.to_owned(),
            received_at_ms,
            unverified: Vec::new(),
        })
    }

    /// The id that deduplicates: the submission id within its provider's namespace, so
    /// the same id from two providers — or an own form sending `tally:…` — never
    /// collide.
    pub fn dedupe_key(&self) -> String {
        format!("{}:{}", self.provider, self.submission_id)
    }

    /// Whether `other` says the same thing: what a provider's retry of this submission
    /// would carry. When and how it arrived do not count.
    pub fn same_content(&self, other: &Lead) -> bool {
        self.content_hash() == other.content_hash()
    }

    /// The key for a lead that reused another's submission id with different content:
    /// the key, then a digest of the content, so a retry of *this* lead is still a
    /// duplicate of it.
    pub fn derived_key(&self) -> String {
        format!("{}~{}", self.dedupe_key(), &self.content_hash()[..16])
    }

    fn content_hash(&self) -> String {
        let content = serde_json::json!([
            self.email.as_str(),
            self.name,
            self.company,
            self.phone,
            self.message,
            self.utm,
        ]);
        hex::encode(Sha256::digest(content.to_string().as_bytes()))
    }

    /// The name to show: the submitted one, else the email's local part.
    pub fn display_name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| self.email.local_part().to_owned())
    }

    /// The Activity's details: the message, then where the lead came from. The
    /// submission (its inbox key, e.g. `own:42`) is always last, so a retry can find
    /// the Activity it already wrote.
    pub fn activity_details(&self, submission: &str) -> String {
        let mut out = String::new();
        if let Some(m) = &self.message {
            out.push_str(m);
            out.push_str("\n\n");
        }
        out.push_str(&format!("Source: {}\n", self.source));
        for (k, v) in &self.utm {
            if k != "utm_source" {
                out.push_str(&format!("{k}: {v}\n"));
            }
        }
        out.push_str(&format!("Form: {}\n", self.provider));
        for check in &self.unverified {
            out.push_str(check);
            out.push('\n');
        }
        out.push_str(&Self::submission_marker(submission));
        out
    }

    /// The line in an Activity's details that names its submission.
    pub fn submission_marker(submission_id: &str) -> String {
        format!("Submission: {submission_id}")
    }

    /// The submission as a dated entry in its contact's Notes (`activity_log = "notes"`):
    /// the day, the form and where the lead came from, the message, and the submission
    /// in brackets at the end, which is how a retry finds that it is written.
    pub fn note_entry(&self, submission: &str, day: &str) -> String {
        let mut origin = format!("source: {}", self.source);
        for (k, v) in &self.utm {
            if k != "utm_source" {
                origin.push_str(&format!("; {k}: {v}"));
            }
        }
        for check in &self.unverified {
            origin.push_str(&format!("; {check}"));
        }
        let message = self
            .message
            .as_deref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        format!(
            "{day} · form submission ({}, {origin}){message} {}",
            self.provider,
            Self::note_marker(submission)
        )
    }

    /// What ends a submission's entry in Notes: bracketed, so that `own:4` is not found
    /// in `own:42`'s entry.
    pub fn note_marker(submission: &str) -> String {
        format!("[{}]", Self::submission_marker(submission))
    }
}

/// The id a submission is kept under: the one it names, trimmed (at most
/// `MAX_SUBMISSION_ID_LEN` characters), else a hash of its canonical `body`. What a
/// lead is kept under, and what spam is answered with, so the two cannot be told apart.
pub fn submission_id(given: Option<String>, body: &[u8]) -> Result<String, LeadError> {
    match given {
        Some(id) => {
            let id = id.trim().to_owned();
            if id.is_empty() || id.chars().count() > MAX_SUBMISSION_ID_LEN {
                return Err(LeadError::InvalidSubmissionId);
            }
            Ok(id)
        }
        None => Ok(canonical_hash(body)),
    }
}

/// `body-` and the SHA-256 of the body's canonical JSON (keys sorted, no whitespace),
/// or of the raw bytes when it is not JSON.
pub fn canonical_hash(body: &[u8]) -> String {
    let canonical = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => serde_json::to_vec(&v).unwrap_or_else(|_| body.to_vec()),
        Err(_) => body.to_vec(),
    };
    format!("body-{}", hex::encode(Sha256::digest(&canonical)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(email: &str) -> LeadFields {
        LeadFields {
            email: Some(email.into()),
            ..LeadFields::default()
        }
    }

    #[test]
    fn a_minimal_lead_gets_defaults() {
        let lead = Lead::parse(fields(" Ann@Example.com "), "own", b"{}", 1_000).unwrap();
        assert_eq!(lead.email.as_str(), "ann@example.com");
        assert_eq!(lead.source, "website");
        assert_eq!(lead.display_name(), "Ann", "as typed");
        assert!(lead.submission_id.starts_with("body-"));
    }

    #[test]
    fn missing_and_invalid_email_have_their_own_codes() {
        assert_eq!(
            Lead::parse(LeadFields::default(), "own", b"", 0)
                .unwrap_err()
                .code(),
            "missing_email"
        );
        assert_eq!(
            Lead::parse(fields("  "), "own", b"", 0).unwrap_err().code(),
            "missing_email"
        );
        let err = Lead::parse(fields("ann@"), "own", b"", 0).unwrap_err();
        assert_eq!(err.code(), "invalid_email");
        assert!(err.to_string().contains("domain"), "{err}");
        let mut f = fields("a@b.co");
        f.submission_id = Some(" ".into());
        assert_eq!(
            Lead::parse(f, "own", b"", 0).unwrap_err().code(),
            "invalid_submission_id"
        );
    }

    #[test]
    fn the_same_body_hashes_the_same_whatever_its_key_order_and_spacing() {
        let a = canonical_hash(br#"{"email":"a@b.co","name":"A"}"#);
        let b = canonical_hash(b"{ \"name\": \"A\",\n \"email\": \"a@b.co\" }");
        assert_eq!(a, b);
        assert_ne!(a, canonical_hash(br#"{"email":"a@b.co","name":"B"}"#));
    }

    #[test]
    fn ids_are_namespaced_by_provider_and_content_tells_reuse_from_retry() {
        let mut f = fields("a@b.co");
        f.submission_id = Some("42".into());
        f.message = Some("Hello".into());
        let own = Lead::parse(f.clone(), "own", b"", 1).unwrap();
        let tally = Lead::parse(f.clone(), "tally", b"", 2).unwrap();
        assert_eq!(own.dedupe_key(), "own:42");
        assert_ne!(own.dedupe_key(), tally.dedupe_key());
        let retry = Lead::parse(f.clone(), "own", b"{}", 99).unwrap();
        assert!(
            own.same_content(&retry),
            "arrival time and body bytes do not count"
        );
        f.message = Some("Another site".into());
        let other = Lead::parse(f, "own", b"", 3).unwrap();
        assert!(!own.same_content(&other));
        assert!(other.derived_key().starts_with("own:42~"));
        assert_ne!(other.derived_key(), own.derived_key());
    }

    #[test]
    fn long_values_are_cut_to_notion_limits_not_rejected() {
        let mut f = fields("a@b.co");
        f.phone = Some("1".repeat(500));
        f.utm.insert(
            "utm_source".into(),
            format!("news,letter{}", "x".repeat(200)),
        );
        f.message = Some("m".repeat(10_000));
        let lead = Lead::parse(f, "own", b"", 0).unwrap();
        assert_eq!(lead.phone.unwrap().len(), MAX_PHONE_LEN);
        assert_eq!(lead.source.chars().count(), MAX_SOURCE_LEN);
        assert!(lead.source.starts_with("news letter"));
        assert_eq!(
            lead.message.unwrap().len(),
            10_000,
            "the message is never cut here"
        );
    }

    #[test]
    fn details_carry_message_origin_and_the_submission_marker() {
        let mut f = fields("a@b.co");
        f.message = Some("Need a quote".into());
        f.submission_id = Some("sub-9".into());
        f.utm.insert("utm_source".into(), "ads".into());
        f.utm.insert("utm_campaign".into(), "spring".into());
        let lead = Lead::parse(f, "tally", b"", 0).unwrap();
        let details = lead.activity_details(&lead.dedupe_key());
        assert!(
            details.starts_with("Need a quote\n\nSource: ads\n"),
            "{details}"
        );
        assert!(details.contains("utm_campaign: spring"));
        assert!(details.contains("Form: tally"));
        assert!(details.ends_with("Submission: tally:sub-9"));
    }
}
