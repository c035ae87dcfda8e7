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
    /// No answer that says either (unreachable, too slow, the provider's own error): the
    /// lead is kept, marked with this reason.
    Unverified(String),
    /// The provider refused our configuration (a secret, a site key): the lead is kept,
    /// marked with this reason, and counted (`CaptchaMisconfigured`), whose alarm tells
    /// a person.
    Misconfigured(String),
}

/// Codes that say only that a token was used before or timed out.
const SPENT: &[&str] = &["timeout-or-duplicate", "invalid-or-already-seen-response"];

impl Verdict {
    /// The verdict on a token this product has no record of (its claim is new). A
    /// provider that calls it used or expired may be speaking of a verification of ours
    /// whose record was lost — the store refused the post it vouched for, and the
    /// visitor sent the form again, as asked; hCaptcha has no idempotency key to bind
    /// its answer to the submission, as Turnstile's is. Such a lead is kept, marked
    /// unverified, instead of dropped as spam; the claim then records it, so the token
    /// buys nothing more: one token is still at most one lead.
    pub fn first_sight(self) -> Self {
        match self {
            Self::NotAPerson(codes)
                if !codes.is_empty() && codes.iter().all(|c| SPENT.contains(&c.as_str())) =>
            {
                Self::Unverified(format!(
                    "the captcha provider says the token was used or expired ({}), and no earlier post with it was kept",
                    codes.join(",")
                ))
            }
            other => other,
        }
    }
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

/// Codes that say our configuration is wrong, not the visitor: our secret, the form's
/// site key, the address or key we sent, a test key in use. The visitor is not a bot for
/// it, so the lead is kept, and ops hears of it. Turnstile's server-side validation
/// reference (`missing-input-secret`, `invalid-input-secret`, `invalid-parsed-secret`,
/// `invalid-widget-id`, `invalid-idempotency-key`); hCaptcha's verify reference
/// (`sitekey-secret-mismatch`, `invalid-remoteip`, `not-using-dummy-passcode`,
/// `missing-input-secret`, `invalid-input-secret`).
const OUR_CONFIGURATION: &[&str] = &[
    "missing-input-secret",
    "invalid-input-secret",
    "invalid-parsed-secret",
    "invalid-widget-id",
    "invalid-idempotency-key",
    "sitekey-secret-mismatch",
    "invalid-remoteip",
    "not-using-dummy-passcode",
];

/// Codes that say the token is not a person's: refused, expired, spent, missing, or so
/// malformed that the request could not be read (`bad-request`: everything else in it
/// is ours and well-formed).
const NOT_A_PERSON: &[&str] = &[
    "invalid-input-response",
    "timeout-or-duplicate",
    "invalid-or-already-seen-response",
    "missing-input-response",
    "bad-request",
];

/// The tokens the providers' test site keys hand every visitor, the same each time
/// (Turnstile's testing page: `XXXX.DUMMY.TOKEN.XXXX`, which production secrets refuse;
/// hCaptcha's integration-testing keys: `10000000-aaaa-bbbb-cccc-000000000001`). One
/// token for every post is what a test setup is, not a token being spent twice.
pub const TEST_TOKENS: &[&str] = &[
    "XXXX.DUMMY.TOKEN.XXXX",
    "10000000-aaaa-bbbb-cccc-000000000001",
];

/// What an answer from siteverify means, by its cause: the provider's failure keeps the
/// lead unverified, our configuration keeps it and tells ops, the token's refusal is
/// spam. A code no provider documents keeps the lead (it cannot be told apart from a
/// configuration the provider learned to refuse).
fn classify(provider: &str, status: u16, answer: Option<Answer>) -> Verdict {
    let codes = answer
        .as_ref()
        .map(|a| a.error_codes.clone())
        .unwrap_or_default();
    if let Some(answer) = &answer
        && answer.success
        && (200..300).contains(&status)
    {
        return Verdict::Person;
    }
    if let Some(code) = codes
        .iter()
        .find(|c| OUR_CONFIGURATION.contains(&c.as_str()))
    {
        return Verdict::Misconfigured(format!("{provider} refused our request ({code})"));
    }
    if codes.iter().any(|c| NOT_A_PERSON.contains(&c.as_str())) {
        return Verdict::NotAPerson(codes);
    }
    if status >= 500 || codes.iter().any(|c| c == "internal-error") {
        return Verdict::Unverified(format!("{provider} answered HTTP {status}"));
    }
    match answer {
        None => Verdict::Unverified(format!(
            "{provider} answered HTTP {status} without its JSON"
        )),
        Some(_) => Verdict::Unverified(format!(
            "{provider} answered HTTP {status} with codes it does not document ({})",
            codes.join(",")
        )),
    }
}

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
        let status = response.status().as_u16();
        let answer: Option<Answer> = match response.json().await {
            Ok(a) => Some(a),
            Err(e) if e.is_timeout() => return too_slow(),
            Err(_) => None,
        };
        let verdict = classify(provider, status, answer);
        if let Verdict::Misconfigured(reason) = &verdict {
            tracing::error!(
                provider,
                %reason,
                "the captcha provider refused our configuration, not the visitor: check captcha_secrets and the form's site_key; leads are kept, marked unverified"
            );
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_first_seen_spent_is_kept_unverified_and_a_refused_one_is_not() {
        let spent = Verdict::NotAPerson(vec!["invalid-or-already-seen-response".into()]);
        assert!(
            matches!(spent.first_sight(), Verdict::Unverified(r) if r.contains("already-seen"))
        );
        let refused = Verdict::NotAPerson(vec!["invalid-input-response".into()]);
        assert_eq!(refused.clone().first_sight(), refused);
        let mixed = Verdict::NotAPerson(vec!["timeout-or-duplicate".into(), "bad-request".into()]);
        assert_eq!(mixed.clone().first_sight(), mixed);
        assert_eq!(Verdict::Person.first_sight(), Verdict::Person);
    }

    fn answer(success: bool, codes: &[&str]) -> Option<Answer> {
        Some(Answer {
            success,
            error_codes: codes.iter().map(|c| c.to_string()).collect(),
        })
    }

    #[test]
    fn an_answer_is_read_by_its_cause() {
        assert_eq!(classify("t", 200, answer(true, &[])), Verdict::Person);
        // The token's fault: spam, whatever the status.
        for (status, code) in [
            (200, "invalid-input-response"),
            (200, "timeout-or-duplicate"),
            (200, "invalid-or-already-seen-response"),
            (400, "bad-request"),
        ] {
            assert!(
                matches!(
                    classify("t", status, answer(false, &[code])),
                    Verdict::NotAPerson(_)
                ),
                "{code}"
            );
        }
        // Ours: kept, and a person told. hCaptcha's own codes included.
        for code in [
            "invalid-input-secret",
            "sitekey-secret-mismatch",
            "invalid-remoteip",
            "not-using-dummy-passcode",
            "invalid-idempotency-key",
        ] {
            assert!(
                matches!(
                    classify("h", 200, answer(false, &[code])),
                    Verdict::Misconfigured(_)
                ),
                "{code}"
            );
        }
        // The provider's: kept unverified.
        assert!(matches!(classify("t", 503, None), Verdict::Unverified(_)));
        assert!(matches!(
            classify("t", 200, answer(false, &["internal-error"])),
            Verdict::Unverified(_)
        ));
        // A 400 with nothing readable, or a code no one documents: kept, never spam.
        assert!(matches!(classify("t", 400, None), Verdict::Unverified(_)));
        assert!(matches!(
            classify("t", 200, answer(false, &["something-new"])),
            Verdict::Unverified(_)
        ));
    }

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
