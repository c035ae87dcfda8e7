//! Lead intake: verify, validate, write one inbox item, answer. No Notion call is made
//! here, so a slow or failing Notion can never make a form provider time out and drop
//! a lead: the worker does the Notion work from the inbox.

mod browser;
pub mod captcha;
mod error;
mod form_error;
mod vouched;

use std::collections::BTreeMap;
use std::sync::Arc;

use crm_domain::browser_form::FormConfig;
use crm_domain::intake::{PayloadError, SignatureError, Signed, provider};
use crm_domain::{Clock, Lead};
use crm_settings::{CachedSecrets, Secrets, SecretsSource};
use crm_store::Inserted;

use lambda_http::http::{HeaderMap, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use secrecy::ExposeSecret;
use serde_json::json;
use tracing::Instrument;

pub use captcha::CaptchaVerifier;
pub use error::IntakeError;
pub use form_error::FormError;

/// Bodies above this are refused before anything else is read.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How soon after a read the secret is read again when a signature does not match.
const SECRET_RECHECK: std::time::Duration = std::time::Duration::from_secs(30);

/// The signing secret configured for `provider`, as bytes.
fn secret_of<'a>(secrets: &'a Secrets, provider: &str) -> Option<&'a [u8]> {
    secrets
        .form_secrets
        .get(provider)
        .map(|s| s.expose_secret().as_bytes())
}

/// What the intake handler needs.
pub struct Intake<S, P> {
    pub store: S,
    pub secrets: Arc<CachedSecrets<P>>,
    pub clock: Arc<dyn Clock>,
    pub accept_plain_signature: bool,
    /// The browser forms (`/lead/form/{name}`), by name.
    pub forms: Arc<BTreeMap<String, FormConfig>>,
    pub captcha: CaptchaVerifier,
}

pub use crate::inbox::lead_id as inbox_id;

crm_store::port!(
    /// What lead intake keeps: the inbox item, read back for a duplicate; the count of a
    /// browser form's submissions per address; the claim on each captcha token,
    /// recording what it vouched for; and a mark for spam, answered as a duplicate when
    /// it comes again.
    pub IntakeStore: InboxWrite, InboxRead, Counters, Idempotency, Dedupe
);

/// Which route a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route<'a> {
    /// A signed post: `own` (`/lead`) or a form provider's webhook (`/lead/tally`).
    Signed(&'a str),
    /// A browser form: `/lead/form/{name}`.
    Browser(&'a str),
}

impl<S: IntakeStore, P: SecretsSource> Intake<S, P> {
    /// Answers one HTTP request. Never fails: every outcome is a response, and every
    /// error response has a stable `error` code.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        if let Some(Route::Browser(form)) = route(request.uri().path()) {
            return self.browser_form(form, &request).await;
        }
        let span = tracing::info_span!("intake", route = %request.uri().path(), submission_id = tracing::field::Empty);
        async move {
            match self.accept(&request).await {
                Ok((status, submission_id)) => {
                    let word = log_kept(status, &submission_id);
                    respond(
                        status,
                        json!({"status": word, "submission_id": submission_id}),
                    )
                }
                Err(err) => {
                    err.log();
                    respond(err.status(), err.body())
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn accept(&self, request: &Request) -> Result<(StatusCode, String), IntakeError> {
        if request.method() != Method::POST {
            return Err(IntakeError::MethodNotAllowed);
        }
        let Some(Route::Signed(name)) = route(request.uri().path()) else {
            return Err(IntakeError::NotFound);
        };
        let provider = provider(name).ok_or(IntakeError::NotFound)?;
        let body: &[u8] = request.body().as_ref();
        if body.len() > MAX_BODY_BYTES {
            return Err(IntakeError::TooLarge);
        }
        if !is_json(request.headers()) {
            return Err(IntakeError::UnsupportedMediaType);
        }
        let secrets = self.secrets.get().await.map_err(IntakeError::Secrets)?;
        let headers = request.headers();
        let lookup = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let now = self.clock.now();
        let verify = |secrets: &Secrets| {
            (provider.verify)(&Signed {
                header: &lookup,
                body,
                secret: secret_of(secrets, provider.name),
                now_secs: now.as_secs(),
                accept_plain: self.accept_plain_signature && provider.name == "own",
            })
        };
        if let Err(reason) = verify(&secrets) {
            // Right after the form secret is rotated, the cached one is stale: read the
            // secret again (at most every SECRET_RECHECK, so forged requests cannot turn
            // into a flood of reads) and check once more if this provider's changed.
            // Only a signature that a rotated secret could explain is worth that read: a
            // missing or malformed header, or a stale timestamp, is refused as it is.
            if !matches!(
                reason,
                SignatureError::Mismatch | SignatureError::MissingSecret
            ) {
                return Err(IntakeError::Unauthorized {
                    provider: provider.name,
                    reason,
                });
            }
            let fresh = self
                .secrets
                .refresh(SECRET_RECHECK)
                .await
                .ok()
                .flatten()
                .filter(|fresh| {
                    secret_of(fresh, provider.name) != secret_of(&secrets, provider.name)
                });
            match fresh {
                Some(fresh) if verify(&fresh).is_ok() => {
                    tracing::info!(
                        provider = provider.name,
                        "signature matched the rotated form secret"
                    );
                }
                _ => {
                    return Err(IntakeError::Unauthorized {
                        provider: provider.name,
                        reason,
                    });
                }
            }
        }
        let fields = (provider.parse)(body).map_err(|e| match e {
            PayloadError::Field(field) => IntakeError::Invalid(field),
            other => IntakeError::Malformed(other),
        })?;
        let lead = Lead::parse(fields, provider.name, body, now.as_millis())
            .map_err(IntakeError::Invalid)?;
        tracing::Span::current().record("submission_id", lead.submission_id.as_str());
        tracing::debug!(email = %lead.email.redacted(), "lead parsed");
        self.keep(&lead).await
    }

    /// Stores an accepted lead in the inbox: 202 when new, 200 for a retry of the same
    /// submission; with the submission id it is kept under.
    async fn keep(&self, lead: &Lead) -> Result<(StatusCode, String), IntakeError> {
        let key = lead.dedupe_key();
        if self.insert(&key, lead).await? == Inserted::New {
            crate::telemetry::metrics("lead-intake", &[("LeadsAccepted", 1)]);
            return Ok((StatusCode::ACCEPTED, lead.submission_id.clone()));
        }
        // The id is taken. A retry of the same submission is a duplicate; a different
        // lead under a reused id (two sites numbering from 1, a form resending a stale
        // id) is kept under an id of its own, never answered "duplicate" and dropped.
        if self
            .stored_lead(&key)
            .await?
            .is_none_or(|stored| stored.same_content(lead))
        {
            return Ok((StatusCode::OK, lead.submission_id.clone()));
        }
        let derived = lead.derived_key();
        tracing::warn!(
            reused = %key,
            kept_as = %derived,
            "a submission id arrived again with different content; accepted under a derived id"
        );
        let status = match self.insert(&derived, lead).await? {
            Inserted::New => {
                crate::telemetry::metrics("lead-intake", &[("LeadsAccepted", 1)]);
                StatusCode::ACCEPTED
            }
            Inserted::Duplicate => StatusCode::OK,
        };
        let (_, suffix) = derived.split_at(key.len());
        Ok((status, format!("{}{suffix}", lead.submission_id)))
    }

    async fn insert(&self, key: &str, lead: &Lead) -> Result<Inserted, IntakeError> {
        let item =
            crate::inbox::lead_item(key, lead).map_err(|e| IntakeError::Internal(e.to_string()))?;
        self.store
            .inbox_insert(&item)
            .await
            .map_err(IntakeError::Store)
    }

    /// The lead stored under `key`, if it is still there and readable.
    async fn stored_lead(&self, key: &str) -> Result<Option<Lead>, IntakeError> {
        let item = self
            .store
            .inbox_get(&inbox_id(key))
            .await
            .map_err(IntakeError::Store)?;
        Ok(item.and_then(|i| serde_json::from_str(&i.payload).ok()))
    }
}

/// Logs a kept lead under its submission id; the word its answer says (`accepted` for
/// a new one, `duplicate` for a retry of one already kept).
fn log_kept(status: StatusCode, submission_id: &str) -> &'static str {
    // Recorded when the lead was read; again only when the kept id is a derived one.
    if submission_id.contains('~') {
        tracing::Span::current().record("submission_id", submission_id);
    }
    let word = if status == StatusCode::ACCEPTED {
        "accepted"
    } else {
        "duplicate"
    };
    tracing::info!(status = word, "lead {word}");
    word
}

/// `/lead` → `own`, `/lead/tally` → `tally`, `/lead/form/contact` → the browser form
/// `contact`. A stage prefix (`/prod/lead`) is allowed, since API Gateway keeps it in the
/// path of a named stage.
fn route(path: &str) -> Option<Route<'_>> {
    let path = path.trim_end_matches('/');
    if let Some((_, form)) = path.rsplit_once("/lead/form/")
        && !form.is_empty()
        && !form.contains('/')
    {
        return Some(Route::Browser(form));
    }
    let (_, after) = path
        .rsplit_once("/lead")
        .filter(|(_, rest)| rest.is_empty() || rest.starts_with('/'))?;
    match after.trim_start_matches('/') {
        "" => Some(Route::Signed("own")),
        name if !name.contains('/') => Some(Route::Signed(name)),
        _ => None,
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
}

fn respond(status: StatusCode, body: serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::Text(body.to_string()))
        .unwrap_or_else(|_| Response::new(Body::Empty))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_map_to_providers() {
        assert_eq!(route("/lead"), Some(Route::Signed("own")));
        assert_eq!(route("/lead/"), Some(Route::Signed("own")));
        assert_eq!(route("/prod/lead/tally"), Some(Route::Signed("tally")));
        assert_eq!(route("/lead/typeform"), Some(Route::Signed("typeform")));
        assert_eq!(route("/lead/form/contact"), Some(Route::Browser("contact")));
        assert_eq!(
            route("/prod/lead/form/contact/"),
            Some(Route::Browser("contact"))
        );
        assert_eq!(route("/lead/form"), Some(Route::Signed("form")));
        assert_eq!(route("/leads"), None);
        assert_eq!(route("/lead/a/b"), None);
        assert_eq!(route("/lead/form/a/b"), None);
        assert_eq!(route("/other"), None);
    }

    #[test]
    fn json_content_types() {
        let mut h = HeaderMap::new();
        assert!(!is_json(&h));
        h.insert(
            "content-type",
            "application/json; charset=utf-8".parse().unwrap(),
        );
        assert!(is_json(&h));
        h.insert("content-type", "text/plain".parse().unwrap());
        assert!(!is_json(&h));
        h.insert(
            "content-type",
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        assert!(!is_json(&h));
    }
}
