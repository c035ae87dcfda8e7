//! A stand-in for the captcha providers' siteverify APIs, on 127.0.0.1. It answers as
//! the providers document, and refuses what they refuse:
//!
//! * Turnstile (<https://developers.cloudflare.com/turnstile/get-started/server-side-validation/>,
//!   <https://developers.cloudflare.com/turnstile/troubleshooting/testing/>): POST
//!   form-encoded or JSON `secret`, `response`, `remoteip`; `{"success", "error-codes"}`
//!   with `missing-input-secret`, `invalid-input-secret`, `missing-input-response`,
//!   `invalid-input-response`, `timeout-or-duplicate` (a token is single-use), except
//!   that a check asked again with the `idempotency_key` of an earlier one gets that
//!   one's answer ("to safely retry validation requests", the reference says), and a key
//!   that is not a UUID is refused with `invalid-idempotency-key`, and a token longer
//!   than the documented maximum of 2,048 characters is a malformed request: HTTP 400,
//!   `bad-request`. The
//!   documented test secrets behave as documented: `1x…AA` always passes, `2x…AA` always
//!   fails, `3x…AA` answers "already spent".
//! * hCaptcha (<https://docs.hcaptcha.com/#verify-the-user-response-server-side>): POST
//!   form-encoded only; a used token is `invalid-or-already-seen-response`; a `sitekey`
//!   that does not belong to the secret is `sitekey-secret-mismatch`.
//!
//! Tokens are issued by the double (what a widget would hand the browser) for its one
//! real secret, [`SECRET`]. Switches make it slow or failing, as a provider can be.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

/// The secret key of the double's widget.
pub const SECRET: &str = "0x4AAAAAAAtestdoublesecretkey00";
/// Its site key (hCaptcha checks it against the secret).
pub const SITE_KEY: &str = "0x4AAAAAAAtestdoublesitekey";
/// Turnstile's documented test secrets.
pub const TURNSTILE_ALWAYS_PASSES: &str = "1x0000000000000000000000000000000AA";
pub const TURNSTILE_ALWAYS_FAILS: &str = "2x0000000000000000000000000000000AA";
pub const TURNSTILE_ALREADY_SPENT: &str = "3x0000000000000000000000000000000AA";

/// The longest token Turnstile's siteverify takes (its server-side validation reference).
const TURNSTILE_MAX_TOKEN: usize = 2048;

#[derive(Default)]
struct Inner {
    issued: HashSet<String>,
    spent: HashSet<String>,
    /// Turnstile's idempotency keys: the token each vouched for.
    keys: HashMap<String, String>,
    delay: Duration,
    status: Option<u16>,
    refuse_all: bool,
    calls: Vec<HashMap<String, String>>,
    next: u64,
}

/// The running double; dropping it stops it.
pub struct CaptchaDouble {
    base: String,
    inner: Arc<Mutex<Inner>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CaptchaDouble {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl CaptchaDouble {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/{provider}/siteverify", post(siteverify))
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the captcha double");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { base, inner, task }
    }

    /// The siteverify URL of `provider` (`turnstile` or `hcaptcha`).
    pub fn url(&self, provider: &str) -> String {
        format!("{}/{provider}/siteverify", self.base)
    }

    /// A fresh token, as the widget hands one to a person's browser.
    pub fn issue(&self) -> String {
        let mut inner = self.lock();
        inner.next += 1;
        let token = format!("XXXX.person-{}.{}", inner.next, uuid_like(inner.next));
        inner.issued.insert(token.clone());
        token
    }

    /// Answers only after `delay` (a provider that is slow or unreachable).
    pub fn set_delay(&self, delay: Duration) {
        self.lock().delay = delay;
    }

    /// Answers every call with this HTTP status and no JSON (a provider's outage).
    pub fn set_status(&self, status: Option<u16>) {
        self.lock().status = status;
    }

    /// Answers every call `success: false` (`invalid-input-response`), whatever the
    /// secret: a provider that takes no token for a person's.
    pub fn refuse_all(&self, refuse: bool) {
        self.lock().refuse_all = refuse;
    }

    /// The parameters of every call so far (the secret included, as sent).
    pub fn calls(&self) -> Vec<HashMap<String, String>> {
        self.lock().calls.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn uuid_like(n: u64) -> String {
    format!("{:016x}", n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

async fn siteverify(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    let params: HashMap<String, String> = if json && provider == "turnstile" {
        serde_json::from_slice::<HashMap<String, serde_json::Value>>(&body)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(k, v)| Some((k, v.as_str()?.to_owned())))
            .collect()
    } else {
        form_urlencoded_pairs(&body)
    };
    // Recorded on arrival: a caller that gives up waiting has still made the call.
    let (delay, status) = {
        let mut i = inner.lock().unwrap_or_else(|p| p.into_inner());
        i.calls.push(params.clone());
        (i.delay, i.status)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if let Some(status) = status {
        return (
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
            "unavailable",
        )
            .into_response();
    }
    let mut i = inner.lock().unwrap_or_else(|p| p.into_inner());
    let verdict = if i.refuse_all {
        Err("invalid-input-response")
    } else {
        decide(&provider, &params, &mut i)
    };
    let status = match verdict {
        Err("bad-request") => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    let body = match verdict {
        Ok(()) => {
            serde_json::json!({"success": true, "error-codes": [], "hostname": "127.0.0.1", "challenge_ts": "2026-11-29T09:00:00Z"})
        }
        Err(code) => serde_json::json!({"success": false, "error-codes": [code]}),
    };
    (status, axum::Json(body)).into_response()
}

fn decide(provider: &str, p: &HashMap<String, String>, i: &mut Inner) -> Result<(), &'static str> {
    let secret = p.get("secret").map(String::as_str).unwrap_or("");
    let token = p.get("response").map(String::as_str).unwrap_or("");
    if secret.is_empty() {
        return Err("missing-input-secret");
    }
    if provider == "turnstile" && token.chars().count() > TURNSTILE_MAX_TOKEN {
        return Err("bad-request");
    }
    if provider == "turnstile" {
        match secret {
            TURNSTILE_ALWAYS_PASSES => return Ok(()),
            TURNSTILE_ALWAYS_FAILS => return Err("invalid-input-response"),
            TURNSTILE_ALREADY_SPENT => return Err("timeout-or-duplicate"),
            _ => {}
        }
    }
    if secret != SECRET {
        return Err("invalid-input-secret");
    }
    if token.is_empty() {
        return Err("missing-input-response");
    }
    if provider == "hcaptcha" && p.get("sitekey").is_some_and(|k| k != SITE_KEY) {
        return Err("sitekey-secret-mismatch");
    }
    let spent = if provider == "hcaptcha" {
        "invalid-or-already-seen-response"
    } else {
        "timeout-or-duplicate"
    };
    let key = p
        .get("idempotency_key")
        .filter(|_| provider == "turnstile")
        .cloned();
    if key.as_deref().is_some_and(|k| !is_uuid(k)) {
        return Err("invalid-idempotency-key");
    }
    if let Some(key) = &key
        && i.keys.get(key).is_some_and(|t| t == token)
    {
        return Ok(());
    }
    if i.spent.contains(token) {
        return Err(spent);
    }
    if !i.issued.remove(token) {
        return Err("invalid-input-response");
    }
    i.spent.insert(token.to_owned());
    if let Some(key) = key {
        i.keys.insert(key, token.to_owned());
    }
    Ok(())
}

/// Turnstile takes a UUID as `idempotency_key` and answers `invalid-idempotency-key` to
/// anything else (its server-side validation reference: the parameter, the error code).
fn is_uuid(key: &str) -> bool {
    key.len() == 36
        && key.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn form_urlencoded_pairs(body: &[u8]) -> HashMap<String, String> {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        percent_encoding::percent_decode_str(&s)
            .decode_utf8_lossy()
            .into_owned()
    };
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            Some((decode(k), decode(v)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn check(double: &CaptchaDouble, token: &str, key: &str) -> serde_json::Value {
        crm_http::client()
            .post(double.url("turnstile"))
            .json(&serde_json::json!({
                "secret": SECRET,
                "response": token,
                "idempotency_key": key,
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// A check asked again with its UUID gets the same answer; a spent token under
    /// another key is refused; a key that is not a UUID is refused as Turnstile does.
    #[tokio::test]
    async fn turnstile_retries_by_uuid_idempotency_key_and_refuses_other_keys() {
        let double = CaptchaDouble::start().await;
        let token = double.issue();
        let key = "0f8fad5b-d9cb-469f-a165-70867728950e";
        assert_eq!(check(&double, &token, key).await["success"], true);
        assert_eq!(check(&double, &token, key).await["success"], true);
        let other = check(&double, &token, "7c9e6679-7425-40de-944b-e07fc1f90ae7").await;
        assert_eq!(
            other["error-codes"],
            serde_json::json!(["timeout-or-duplicate"])
        );
        let fresh = double.issue();
        let malformed = check(&double, &fresh, "form:contact:view-1").await;
        assert_eq!(
            malformed["error-codes"],
            serde_json::json!(["invalid-idempotency-key"])
        );
    }
}
