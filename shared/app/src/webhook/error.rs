use crm_settings::SecretsError;
use crm_store::StoreError;
use lambda_http::http::StatusCode;
use serde_json::{Value, json};

/// Every way the webhook refuses or fails a delivery, each with its status, stable code
/// and log level. Notion retries anything but a 2xx for about a day, and pauses a
/// subscription that keeps failing: what we cannot store is a 503 (try again), what is
/// not Notion's is a 4xx.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("only POST is accepted")]
    MethodNotAllowed,
    #[error("body over 256 KiB")]
    TooLarge,
    #[error("a verification handshake arrived while no handshake window was open")]
    HandshakeClosed,
    #[error("a verification handshake arrived without Content-Type: application/json")]
    HandshakeNotJson,
    #[error("an event arrived but no verification token is stored")]
    NoToken,
    #[error("the X-Notion-Signature does not match")]
    BadSignature,
    #[error("the body is not JSON")]
    MalformedJson,
    #[error("the body is not a Notion event")]
    NotAnEvent,
    #[error("could not read the secret")]
    Secrets(#[source] SecretsError),
    #[error("could not read or write the store")]
    Store(#[source] StoreError),
}

impl WebhookError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::HandshakeClosed => StatusCode::FORBIDDEN,
            Self::HandshakeNotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::NoToken | Self::BadSignature => StatusCode::UNAUTHORIZED,
            Self::MalformedJson | Self::NotAnEvent => StatusCode::BAD_REQUEST,
            // Nothing was stored; Notion delivers it again.
            Self::Secrets(_) | Self::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::MethodNotAllowed => "method_not_allowed",
            Self::TooLarge => "payload_too_large",
            Self::HandshakeClosed => "handshake_closed",
            Self::HandshakeNotJson => "unsupported_media_type",
            Self::NoToken | Self::BadSignature => "unauthorized",
            Self::MalformedJson => "malformed_json",
            Self::NotAnEvent => "not_an_event",
            Self::Secrets(_) | Self::Store(_) => "unavailable",
        }
    }

    /// The JSON body: the code only.
    pub fn body(&self) -> Value {
        json!({"error": self.code()})
    }

    /// The metric it counts in, if any: a delivery refused for its signature or token,
    /// which Notion retries for a day and then pauses the subscription over, so that a
    /// rise raises `DeliveriesRefusedAlarm`.
    pub fn metric(&self) -> Option<&'static str> {
        matches!(
            self,
            Self::NoToken | Self::BadSignature | Self::HandshakeClosed | Self::HandshakeNotJson
        )
        .then_some("DeliveriesRefused")
    }

    /// Counts it in its [`metric`](Self::metric), every time: the alarm reads the rate.
    pub fn count(&self) {
        if let Some(metric) = self.metric() {
            crate::telemetry::metrics("notion-webhook", &[(metric, 1)]);
        }
    }

    /// What went wrong, one word per cause (`code` says less: two causes answer
    /// `unauthorized`): what a refusal is logged once per, not once per delivery.
    pub fn cause(&self) -> &'static str {
        match self {
            Self::MethodNotAllowed => "method",
            Self::TooLarge => "too_large",
            Self::HandshakeClosed => "handshake_closed",
            Self::HandshakeNotJson => "handshake_not_json",
            Self::NoToken => "no_token",
            Self::BadSignature => "bad_signature",
            Self::MalformedJson => "malformed_json",
            Self::NotAnEvent => "not_an_event",
            Self::Secrets(_) => "secrets",
            Self::Store(_) => "store",
        }
    }

    /// Logs with the cause chain: loud for what needs the operator, quiet otherwise.
    pub fn log(&self) {
        let chain = crate::telemetry::cause_chain(self);
        let code = self.code();
        match self {
            Self::NoToken => tracing::error!(
                error = %chain, code,
                "resend the token from the subscription's page in Notion, after you {}",
                crate::place::open_the_handshake()
            ),
            Self::HandshakeClosed => tracing::warn!(
                error = %chain, code,
                "to connect a subscription, {}, then click Resend token in Notion",
                crate::place::open_the_handshake()
            ),
            Self::Secrets(_) | Self::Store(_) => {
                tracing::error!(error = %chain, code, "delivery not stored; Notion will retry")
            }
            _ => tracing::warn!(error = %chain, code, "delivery refused"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_has_its_status_and_code() {
        let cases = [
            (WebhookError::MethodNotAllowed, 405, "method_not_allowed"),
            (WebhookError::TooLarge, 413, "payload_too_large"),
            (WebhookError::HandshakeClosed, 403, "handshake_closed"),
            (
                WebhookError::HandshakeNotJson,
                415,
                "unsupported_media_type",
            ),
            (WebhookError::NoToken, 401, "unauthorized"),
            (WebhookError::BadSignature, 401, "unauthorized"),
            (WebhookError::MalformedJson, 400, "malformed_json"),
            (WebhookError::NotAnEvent, 400, "not_an_event"),
            (
                WebhookError::Secrets(SecretsError::Contended { arn: "a".into() }),
                503,
                "unavailable",
            ),
            (
                WebhookError::Store(StoreError::NotFound { key: "k".into() }),
                503,
                "unavailable",
            ),
        ];
        for (err, status, code) in cases {
            assert_eq!((err.status().as_u16(), err.code()), (status, code), "{err}");
            assert_eq!(
                err.metric().is_some(),
                matches!(status, 401 | 403 | 415),
                "a refused token or signature is counted, nothing else: {err}"
            );
            assert_eq!(err.body(), json!({"error": code}));
        }
    }
}
