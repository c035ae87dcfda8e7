//! `POST /lead/form/{form}`: a site's own HTML form, posted straight from the visitor's
//! browser. A browser cannot keep a secret, so in place of a signature a submission must
//! come from one of the form's origins and pass its spam checks; what passes is kept in
//! the inbox exactly like a signed lead. Spam is answered like success (a bot learns
//! nothing) and never reaches the inbox; each refusal is logged with its reason and
//! counted as a metric (`FormRefused…`). See `docs/design.md`, "Browser forms".

use crm_domain::Lead;
use crm_domain::browser_form::{
    self, BodyError, FormConfig, Spam, body, config::origin_of_url, page,
};
use crm_settings::SecretsSource;
use lambda_http::http::{HeaderMap, Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;
use tracing::Instrument;

use super::captcha::{Verdict, fingerprint};
use super::vouched::{self, Gate};
use super::{FormError, Intake, IntakeStore, MAX_BODY_BYTES};

/// How the sender wants its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A browser navigating (a plain form post): a redirect or a page.
    Page,
    /// `fetch()`: JSON, as `POST /lead` answers.
    Json,
}

/// What became of a submission that was not refused.
enum Outcome {
    Kept {
        status: StatusCode,
        submission_id: String,
    },
    /// Taken for a bot's, and answered as a kept submission with these fields would be
    /// (`as_kept`): its id and the key a duplicate of it is known by.
    Spam { reason: Spam, as_kept: AsKept },
}

/// The id and dedupe key a kept submission with the same fields would have.
struct AsKept {
    submission_id: String,
    key: String,
}

impl AsKept {
    fn of(form: &FormConfig, fields: &[(String, String)]) -> Self {
        let mapped = browser_form::mapped(form, fields);
        let canonical = mapped.canonical.as_bytes();
        // An id a kept lead would be refused for (too long) is answered as its hash.
        let submission_id = crm_domain::lead::submission_id(mapped.fields.submission_id, canonical)
            .unwrap_or_else(|_| crm_domain::lead::canonical_hash(canonical));
        let key = format!("form:{}:{submission_id}", form.name);
        Self { submission_id, key }
    }
}

/// How long spam is remembered, so that the same spam again is a duplicate, as the
/// same kept submission is.
const SPAM_MEMORY: std::time::Duration = std::time::Duration::from_secs(3 * 86_400);

/// Headers a `fetch()` of the snippet's kind sends and a preflight may allow.
const ALLOWED_HEADERS: &[&str] = &[
    "content-type",
    "accept",
    "accept-language",
    "content-language",
];
/// How long a browser may reuse a preflight's answer (Chromium caps it at two hours).
const PREFLIGHT_MAX_AGE: &str = "7200";

impl<S: IntakeStore, P: SecretsSource> Intake<S, P> {
    pub(super) async fn browser_form(&self, name: &str, request: &Request) -> Response<Body> {
        let span = tracing::info_span!("form", form = name, submission_id = tracing::field::Empty);
        async move {
            let headers = request.headers();
            let mode = mode_of(headers);
            let Some(form) = self.forms.get(name) else {
                let err = FormError::NotFound;
                err.log(name);
                return refused(&err, mode, None, None);
            };
            let origin = origin_of(headers);
            let allowed = origin.clone().filter(|o| form.allows(o));
            let back = header(headers, "referer")
                .filter(|r| origin_of_url(r).is_some_and(|o| form.allows(&o)));
            if request.method() == Method::OPTIONS {
                return self.preflight(form, origin, allowed.as_deref(), headers);
            }
            match self.take(form, request, origin, allowed.is_some()).await {
                Ok(Outcome::Kept {
                    status,
                    submission_id,
                }) => {
                    let word = super::log_kept(status, &submission_id);
                    success(
                        form,
                        status,
                        word,
                        &submission_id,
                        mode,
                        allowed.as_deref(),
                        back.as_deref(),
                    )
                }
                Ok(Outcome::Spam { reason, as_kept }) => {
                    tracing::warn!(
                        reason = reason.code(),
                        "browser form submission taken for spam: answered as a kept one, not kept"
                    );
                    refusal_metric(metric_of(reason));
                    let (status, word) = self.spam_seen(&as_kept.key).await;
                    success(
                        form,
                        status,
                        word,
                        &as_kept.submission_id,
                        mode,
                        allowed.as_deref(),
                        back.as_deref(),
                    )
                }
                Err(err) => {
                    err.log(name);
                    match &err {
                        FormError::Origin { .. } => refusal_metric("FormRefusedOrigin"),
                        FormError::RateLimited => refusal_metric("FormRefusedRateLimited"),
                        _ => {}
                    }
                    refused(&err, mode, allowed.as_deref(), back.as_deref())
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn take(
        &self,
        form: &FormConfig,
        request: &Request,
        origin: Option<String>,
        allowed: bool,
    ) -> Result<Outcome, FormError> {
        if request.method() != Method::POST {
            return Err(FormError::MethodNotAllowed);
        }
        if !allowed {
            return Err(FormError::Origin { origin });
        }
        let raw: &[u8] = request.body().as_ref();
        if raw.len() > MAX_BODY_BYTES {
            return Err(FormError::TooLarge);
        }
        let encoding = header(request.headers(), "content-type")
            .and_then(|ct| body::encoding(&ct))
            .ok_or(FormError::Body(BodyError::UnsupportedType))?;
        let ip = client_ip(request);
        self.within_limit(form, ip.as_deref()).await?;
        let fields = body::fields(&encoding, raw).map_err(FormError::Body)?;
        let screened = match browser_form::screen(form, &fields) {
            Ok(s) => s,
            Err(reason) => {
                return Ok(Outcome::Spam {
                    reason,
                    as_kept: AsKept::of(form, &fields),
                });
            }
        };
        let now = self.clock.now();
        let provider = format!("form:{}", form.name);
        let mut lead = Lead::parse(
            screened.fields,
            &provider,
            screened.canonical.as_bytes(),
            now.as_millis(),
        )
        .map_err(FormError::Invalid)?;
        tracing::Span::current().record("submission_id", lead.submission_id.as_str());
        // Checked after the fields, so a typo in the email does not spend the visitor's
        // single-use token.
        if let (Some(captcha), Some(token)) = (&form.captcha, &screened.captcha_token) {
            let fingerprint = fingerprint(&lead.dedupe_key(), &screened.canonical);
            let verdict =
                match vouched::gate(&self.store, token, &fingerprint, self.captcha_lease()).await {
                    Gate::Known(verdict) => verdict,
                    Gate::Spent => {
                        tracing::info!("the captcha token vouched for another submission");
                        return Ok(Outcome::Spam {
                            reason: Spam::CaptchaRefused,
                            as_kept: AsKept::of(form, &fields),
                        });
                    }
                    Gate::Ask(claim) => {
                        let verdict = self
                            .check_captcha(form, captcha, token, ip.as_deref(), &fingerprint)
                            .await
                            .first_sight();
                        vouched::record(claim, &fingerprint, &verdict).await;
                        verdict
                    }
                    Gate::Unrecorded => {
                        self.check_captcha(form, captcha, token, ip.as_deref(), &fingerprint)
                            .await
                    }
                };
            match verdict {
                Verdict::Person => {}
                Verdict::NotAPerson(codes) => {
                    tracing::info!(codes = %codes.join(","), "the captcha provider refused the token");
                    return Ok(Outcome::Spam {
                        reason: Spam::CaptchaRefused,
                        as_kept: AsKept::of(form, &fields),
                    });
                }
                Verdict::Unverified(reason) => {
                    tracing::warn!(reason = %reason, "captcha not verified: the lead is kept and its Activity says so");
                    lead.unverified
                        .push(format!("captcha unverified: {reason}"));
                }
                Verdict::Misconfigured(reason) => {
                    // Our mistake, never the visitor's: kept, and counted for the alarm
                    // that tells a person (once per spell, as alarms do).
                    refusal_metric("CaptchaMisconfigured");
                    lead.unverified
                        .push(format!("captcha unverified: {reason}"));
                }
            }
        }
        let (status, submission_id) = self.keep(&lead).await.map_err(|e| match e {
            super::IntakeError::Store(e) => FormError::Store(e),
            other => FormError::Internal(other.to_string()),
        })?;
        Ok(Outcome::Kept {
            status,
            submission_id,
        })
    }

    /// Counts this address's submission to the form; over the form's limit is refused.
    /// Without the store the count is skipped, not the lead: the insert that follows
    /// says whether the store can take it.
    async fn within_limit(&self, form: &FormConfig, ip: Option<&str>) -> Result<(), FormError> {
        if form.per_ip_per_minute == 0 {
            return Ok(());
        }
        let key = format!(
            "form#{}#{}",
            form.name,
            address_key(ip.unwrap_or("unknown"))
        );
        match self
            .store
            .count(&key, std::time::Duration::from_secs(60))
            .await
        {
            Ok(n) if n > u64::from(form.per_ip_per_minute) => Err(FormError::RateLimited),
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::warn!(error = %crate::telemetry::cause_chain(&e), "could not count the address's submissions; not limiting this one");
                Ok(())
            }
        }
    }

    /// The status a kept submission would be answered with: accepted the first time,
    /// a duplicate after. A mark in the store stands in for the inbox item spam never
    /// gets; without the store it is "accepted", as a first post is.
    async fn spam_seen(&self, key: &str) -> (StatusCode, &'static str) {
        match self
            .store
            .put_if_absent(&crate::inbox::keys::spam(key), SPAM_MEMORY)
            .await
        {
            Ok(crm_store::PutOutcome::Exists) => (StatusCode::OK, "duplicate"),
            Ok(crm_store::PutOutcome::Inserted) => (StatusCode::ACCEPTED, "accepted"),
            Err(e) => {
                tracing::warn!(error = %crate::telemetry::cause_chain(&e), "could not mark spam as seen");
                (StatusCode::ACCEPTED, "accepted")
            }
        }
    }

    /// How long a token's claim is held while its provider is asked: the provider's
    /// timeout, and room to record the answer.
    fn captcha_lease(&self) -> std::time::Duration {
        self.captcha.timeout() + std::time::Duration::from_secs(5)
    }

    async fn check_captcha(
        &self,
        form: &FormConfig,
        captcha: &browser_form::Captcha,
        token: &str,
        ip: Option<&str>,
        vouches_for: &str,
    ) -> Verdict {
        let provider = captcha.provider.as_str();
        let secrets = match self.secrets.get().await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %crate::telemetry::cause_chain(&e), "could not read the secret for the captcha");
                return Verdict::Unverified("the captcha secret could not be read".into());
            }
        };
        let secret = secrets
            .captcha_secrets
            .get(&form.name)
            .or_else(|| secrets.captcha_secrets.get(provider));
        let Some(secret) = secret else {
            tracing::error!(
                provider,
                "no captcha secret: set captcha_secrets.{provider} in the secret"
            );
            return Verdict::Unverified(format!("no secret for {provider} is configured"));
        };
        self.captcha
            .verify(
                captcha.provider,
                secret,
                &captcha.site_key,
                token,
                ip,
                vouches_for,
            )
            .await
    }

    /// The CORS preflight a `fetch()` with JSON makes first: allowed origins only.
    fn preflight(
        &self,
        form: &FormConfig,
        origin: Option<String>,
        allowed: Option<&str>,
        headers: &HeaderMap,
    ) -> Response<Body> {
        let Some(allowed) = allowed else {
            let err = FormError::Origin { origin };
            err.log(&form.name);
            refusal_metric("FormRefusedOrigin");
            return refused(&err, Mode::Json, None, None);
        };
        let asked = header(headers, "access-control-request-headers").unwrap_or_default();
        let asked: Vec<String> = asked
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        let mut response = Response::builder()
            .status(StatusCode::NO_CONTENT)
            .header("access-control-allow-methods", "POST")
            .header("access-control-max-age", PREFLIGHT_MAX_AGE);
        if asked.iter().all(|h| ALLOWED_HEADERS.contains(&h.as_str())) && !asked.is_empty() {
            response = response.header("access-control-allow-headers", asked.join(", "));
        }
        finish(cors(response, Some(allowed)), Body::Empty)
    }
}

/// JSON when asked for (`Accept`) or sent (a `fetch()` with a JSON body); else a page.
fn mode_of(headers: &HeaderMap) -> Mode {
    let wants_json = header(headers, "accept").is_some_and(|a| a.contains("application/json"));
    let sends_json = header(headers, "content-type")
        .and_then(|ct| body::encoding(&ct))
        .is_some_and(|e| e == body::Encoding::Json);
    if wants_json || sends_json {
        Mode::Json
    } else {
        Mode::Page
    }
}

/// The page's origin: `Origin`, else the origin of `Referer` (some privacy settings
/// send one and not the other).
fn origin_of(headers: &HeaderMap) -> Option<String> {
    header(headers, "origin")
        .filter(|o| o != "null")
        .or_else(|| header(headers, "referer").and_then(|r| origin_of_url(&r)))
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The visitor's address as API Gateway saw it (never a header the sender could set).
fn client_ip(request: &Request) -> Option<String> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.http.source_ip.clone(),
        _ => None,
    }
}

/// The address a limit counts: IPv4 as it is, IPv6 by its /64 (one subscriber's block,
/// which a single machine can change addresses within).
fn address_key(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(v4) => v4.to_string(),
        Err(_) => "unknown".into(),
    }
}

fn metric_of(spam: Spam) -> &'static str {
    match spam {
        Spam::Honeypot => "FormRefusedHoneypot",
        Spam::TooFast => "FormRefusedTooFast",
        Spam::CaptchaMissing => "FormRefusedCaptchaMissing",
        Spam::CaptchaRefused => "FormRefusedCaptcha",
    }
}

fn refusal_metric(name: &str) {
    crate::telemetry::metrics("lead-intake", &[(name, 1)]);
}

fn cors(
    builder: lambda_http::http::response::Builder,
    allowed: Option<&str>,
) -> lambda_http::http::response::Builder {
    let builder = builder
        .header("vary", "Origin")
        .header("cache-control", "no-store");
    match allowed {
        Some(origin) => builder.header("access-control-allow-origin", origin),
        None => builder,
    }
}

fn finish(builder: lambda_http::http::response::Builder, body: Body) -> Response<Body> {
    builder
        .body(body)
        .unwrap_or_else(|_| Response::new(Body::Empty))
}

fn success(
    form: &FormConfig,
    status: StatusCode,
    word: &str,
    submission_id: &str,
    mode: Mode,
    allowed: Option<&str>,
    back: Option<&str>,
) -> Response<Body> {
    match mode {
        Mode::Json => finish(
            cors(Response::builder().status(status), allowed)
                .header("content-type", "application/json"),
            Body::Text(json!({"status": word, "submission_id": submission_id}).to_string()),
        ),
        Mode::Page => match &form.thank_you {
            // 303: the browser follows with a GET, so a reload does not post again.
            Some(url) => finish(
                cors(Response::builder().status(StatusCode::SEE_OTHER), allowed)
                    .header("location", url.as_str()),
                Body::Empty,
            ),
            None => finish(
                cors(Response::builder().status(StatusCode::OK), allowed)
                    .header("content-type", "text/html; charset=utf-8"),
                Body::Text(page::thank_you(back)),
            ),
        },
    }
}

fn refused(
    err: &FormError,
    mode: Mode,
    allowed: Option<&str>,
    back: Option<&str>,
) -> Response<Body> {
    let mut builder = cors(Response::builder().status(err.status()), allowed);
    if matches!(err, FormError::RateLimited) {
        builder = builder.header("retry-after", "60");
    }
    match mode {
        Mode::Json => finish(
            builder.header("content-type", "application/json"),
            Body::Text(json!({"error": err.code(), "message": err.message()}).to_string()),
        ),
        Mode::Page => finish(
            builder.header("content-type", "text/html; charset=utf-8"),
            Body::Text(page::problem(
                err.heading(),
                &err.message(),
                err.code(),
                back,
            )),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_count_by_their_block() {
        assert_eq!(address_key("203.0.113.9"), "203.0.113.9");
        assert_eq!(address_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(address_key("2001:db8:1:2:bbbb::7"), "2001:db8:1:2::/64");
        assert_eq!(address_key("nonsense"), "unknown");
    }

    #[test]
    fn the_origin_is_origin_else_the_referers() {
        let mut h = HeaderMap::new();
        assert_eq!(origin_of(&h), None);
        h.insert("referer", "https://a.com/contact?x=1".parse().unwrap());
        assert_eq!(origin_of(&h).as_deref(), Some("https://a.com"));
        h.insert("origin", "null".parse().unwrap());
        assert_eq!(origin_of(&h).as_deref(), Some("https://a.com"));
        h.insert("origin", "https://b.com".parse().unwrap());
        assert_eq!(origin_of(&h).as_deref(), Some("https://b.com"));
    }
}
