//! Form providers: each verifies its own signature scheme and maps its own payload to
//! [`LeadFields`]. Every module has the same two functions, `verify` and `parse`, so a
//! new provider is one new file.

pub mod formspree;
pub mod own;
pub mod tally;
pub mod typeform;
pub mod webflow;

mod fields;

use serde_json::Value;

use crate::lead::{LeadError, LeadFields};

/// A refused signature. The client only ever sees a bare 401; this is for the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no signing secret is configured for this form provider")]
    MissingSecret,
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    #[error("the {0} header is malformed")]
    Malformed(&'static str),
    #[error("the signature does not match")]
    Mismatch,
    #[error("the signed timestamp is {age_secs} s away from now (at most 300 s allowed)")]
    Stale { age_secs: i64 },
}

/// A body that cannot become a lead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("the body is not valid JSON")]
    MalformedJson,
    #[error("the body is JSON but not in the {0} webhook format")]
    UnexpectedShape(&'static str),
    #[error(transparent)]
    Field(#[from] LeadError),
}

/// What `verify` needs from the request.
pub struct Signed<'a> {
    /// A header's value by name (any case).
    pub header: &'a dyn Fn(&str) -> Option<String>,
    /// The raw body, exactly as received.
    pub body: &'a [u8],
    /// The provider's signing secret; `None` fails closed.
    pub secret: Option<&'a [u8]>,
    pub now_secs: i64,
    /// Accept the older scheme: hex HMAC of the body, no prefix, no timestamp.
    pub accept_plain: bool,
}

impl Signed<'_> {
    fn secret(&self) -> Result<&[u8], SignatureError> {
        self.secret.ok_or(SignatureError::MissingSecret)
    }

    fn required(&self, name: &'static str) -> Result<String, SignatureError> {
        (self.header)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .ok_or(SignatureError::MissingHeader(name))
    }
}

/// How far a signed timestamp may be from now (either way: a clock running ahead must
/// not make a captured request replayable later).
pub const REPLAY_WINDOW_SECS: i64 = 300;

fn check_age(timestamp: i64, now: i64) -> Result<(), SignatureError> {
    // Saturating: a timestamp near i64's ends is just very stale, not an overflow.
    let age = now.saturating_sub(timestamp);
    if age.unsigned_abs() > REPLAY_WINDOW_SECS.unsigned_abs() {
        Err(SignatureError::Stale { age_secs: age })
    } else {
        Ok(())
    }
}

/// Whether `given` is the base64 HMAC of the raw body (Tally, Typeform).
fn base64_body_signature(
    req: &Signed<'_>,
    secret: &[u8],
    given: &str,
) -> Result<(), SignatureError> {
    let expected = crate::signature::hmac_sha256(secret, &[req.body]);
    if crate::signature::matches_base64(&expected, given) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

fn json(body: &[u8]) -> Result<Value, PayloadError> {
    serde_json::from_slice(body).map_err(|_| PayloadError::MalformedJson)
}

/// The provider for a route name, with its `verify` and `parse`.
pub struct Provider {
    pub name: &'static str,
    pub verify: fn(&Signed<'_>) -> Result<(), SignatureError>,
    pub parse: fn(&[u8]) -> Result<LeadFields, PayloadError>,
}

pub const PROVIDERS: &[Provider] = &[
    Provider {
        name: "own",
        verify: own::verify,
        parse: own::parse,
    },
    Provider {
        name: "tally",
        verify: tally::verify,
        parse: tally::parse,
    },
    Provider {
        name: "typeform",
        verify: typeform::verify,
        parse: typeform::parse,
    },
    Provider {
        name: "formspree",
        verify: formspree::verify,
        parse: formspree::parse,
    },
    Provider {
        name: "webflow",
        verify: webflow::verify,
        parse: webflow::parse,
    },
];

pub fn provider(name: &str) -> Option<&'static Provider> {
    PROVIDERS.iter().find(|p| p.name == name)
}
