//! Verifying a browser form's captcha token with its provider's siteverify API, on the
//! request path with a short timeout: a token is single-use and expires in minutes, so
//! it cannot wait for the worker. When the provider cannot answer, the lead is kept and
//! marked unverified rather than lost (`docs/design.md`, "Browser forms").
//!
//! Both providers take the same form-encoded request (`secret`, `response`, `remoteip`)
//! and answer `{"success": bool, "error-codes": [...]}`:
//! Turnstile: <https://developers.cloudflare.com/turnstile/get-started/server-side-validation/>;
//! hCaptcha: <https://docs.hcaptcha.com/#verify-the-user-response-server-side>.

use std::time::Duration;

use crm_domain::browser_form::CaptchaProvider;
use crm_settings::FormSettings;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// What the provider said about a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A person solved it.
    Person,
    /// Not a person's token (invalid, expired or already used), with the provider's codes.
    NotAPerson(Vec<String>),
    /// No answer that says either (unreachable, too slow, the provider's own error, or a
    /// secret it does not know): the lead is kept, marked with this reason.
    Unverified(String),
}

/// The siteverify client: one per process, its timeout the setting's.
#[derive(Debug, Clone)]
pub struct CaptchaVerifier {
    http: reqwest::Client,
    turnstile_url: String,
    hcaptcha_url: String,
    timeout: Duration,
}

/// What a token vouches for: one submission, its key and its content together, so that
/// the same token riding on anything else (another address under the same id, or no id)
/// is another submission.
pub fn fingerprint(submission_key: &str, canonical: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(format!("{submission_key}\n{canonical}").as_bytes())[..16])
}

/// A UUID (what Turnstile takes) that is the same for the same submission (its
/// [`fingerprint`]) and token, and differs for anything else.
fn idempotency_key(vouches_for: &str, token: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{vouches_for}\n{token}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

#[derive(Deserialize)]
struct Answer {
    success: bool,
    #[serde(default, rename = "error-codes")]
    error_codes: Vec<String>,
}

/// Codes that say the request, not the token, was wrong: our secret or site key. The
/// visitor is not a bot for it, so the lead is kept, and the log says what to fix.
const OUR_MISTAKES: &[&str] = &[
    "missing-input-secret",
    "invalid-input-secret",
    "sitekey-secret-mismatch",
    "invalid-or-already-seen-secret",
    "bad-request",
];

impl CaptchaVerifier {
    pub fn new(settings: &FormSettings) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: crm_http::builder()
                .timeout(settings.captcha_timeout)
                .build()?,
            turnstile_url: settings.turnstile_verify_url.clone(),
            hcaptcha_url: settings.hcaptcha_verify_url.clone(),
            timeout: settings.captcha_timeout,
        })
    }

    /// The longest a check waits for its provider.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Asks `provider` whether `token` is a person's. Never fails: what cannot be
    /// decided is [`Verdict::Unverified`] with the reason.
    ///
    /// `vouches_for` is the submission's [`fingerprint`]. A token is single-use, yet a
    /// visitor may send the same form again with it — after a 503, or by a double click
    /// — and must not then be taken for a bot. Turnstile answers the same check asked
    /// again with the same `idempotency_key` the same way (its siteverify reference), so
    /// the key is derived from the fingerprint and the token: the same submission again
    /// gets the same answer, anything else riding on the token is refused as spent.
    /// hCaptcha has no such key; the intake's claim on the token (`intake/browser.rs`)
    /// remembers what it vouched for, for both.
    pub async fn verify(
        &self,
        provider: CaptchaProvider,
        secret: &SecretString,
        site_key: &str,
        token: &str,
        remote_ip: Option<&str>,
        vouches_for: &str,
    ) -> Verdict {
        let url = match provider {
            CaptchaProvider::Turnstile => &self.turnstile_url,
            CaptchaProvider::Hcaptcha => &self.hcaptcha_url,
        };
        let body = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("secret", secret.expose_secret())
                .append_pair("response", token);
            if let Some(ip) = remote_ip {
                form.append_pair("remoteip", ip);
            }
            if provider == CaptchaProvider::Turnstile {
                form.append_pair("idempotency_key", &idempotency_key(vouches_for, token));
            }
            if provider == CaptchaProvider::Hcaptcha {
                // hCaptcha then also checks that the token came from this form's widget.
                form.append_pair("sitekey", site_key);
            }
            form.finish()
        };
        let sent = self
            .http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await;
        let provider = provider.as_str();
        let too_slow = || {
            Verdict::Unverified(format!(
                "{provider} did not answer within {} ms",
                self.timeout.as_millis()
            ))
        };
        let response = match sent {
            Ok(r) => r,
            Err(e) if e.is_timeout() => return too_slow(),
            Err(e) => {
                return Verdict::Unverified(format!(
                    "{provider} could not be reached ({})",
                    crate::telemetry::cause_chain(&e)
                ));
            }
        };
        let status = response.status();
        if !status.is_success() {
            return Verdict::Unverified(format!("{provider} answered HTTP {}", status.as_u16()));
        }
        let answer: Answer = match response.json().await {
            Ok(a) => a,
            Err(e) if e.is_timeout() => return too_slow(),
            Err(_) => {
                return Verdict::Unverified(format!(
                    "{provider} answered something other than its JSON"
                ));
            }
        };
        if answer.success {
            return Verdict::Person;
        }
        let codes = answer.error_codes;
        if let Some(code) = codes.iter().find(|c| OUR_MISTAKES.contains(&c.as_str())) {
            tracing::error!(
                provider,
                code = %code,
                "the captcha provider refused our request, not the visitor: check captcha_secrets and the form's site_key"
            );
            return Verdict::Unverified(format!("{provider} refused the secret ({code})"));
        }
        if codes.iter().any(|c| c == "internal-error") {
            return Verdict::Unverified(format!("{provider} had an internal error"));
        }
        Verdict::NotAPerson(codes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_a_uuid_fixed_by_the_submission_and_the_token() {
        let key = idempotency_key("form:contact:view-1", "tok");
        assert_eq!(key, idempotency_key("form:contact:view-1", "tok"));
        assert_ne!(key, idempotency_key("form:contact:view-2", "tok"));
        assert_ne!(key, idempotency_key("form:contact:view-1", "tok2"));
        let parsed = uuid::Uuid::parse_str(&key).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
    }
}
