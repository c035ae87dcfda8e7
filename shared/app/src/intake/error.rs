use crm_domain::LeadError;
use crm_domain::intake::{PayloadError, SignatureError};
use crm_settings::SecretsError;
use crm_store::StoreError;
use lambda_http::http::StatusCode;
use serde_json::{Value, json};

/// Every way intake can refuse or fail, each with its status and stable code. The
/// client gets the code and, for its own mistakes, a message; the log gets the cause.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("only POST is accepted")]
    MethodNotAllowed,
    #[error("no such route")]
    NotFound,
    #[error("body over 64 KiB")]
    TooLarge,
    #[error("content type is not JSON")]
    UnsupportedMediaType,
    #[error("{provider} signature refused: {reason}")]
    Unauthorized {
        provider: &'static str,
        reason: SignatureError,
    },
    #[error(transparent)]
    Malformed(PayloadError),
    #[error(transparent)]
    Invalid(LeadError),
    #[error("could not read the signing secrets")]
    Secrets(#[source] SecretsError),
    #[error("could not store the lead")]
    Store(#[source] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl IntakeError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Malformed(_) => StatusCode::BAD_REQUEST,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            // The provider will retry a 503; nothing was stored, so nothing is lost.
            Self::Secrets(_) | Self::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::MethodNotAllowed => "method_not_allowed",
            Self::NotFound => "not_found",
            Self::TooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Unauthorized { .. } => "unauthorized",
            Self::Malformed(PayloadError::MalformedJson) => "malformed_json",
            Self::Malformed(_) => "unexpected_payload",
            Self::Invalid(e) => e.code(),
            Self::Secrets(_) | Self::Store(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// The JSON body. A refused signature says which check failed (as Stripe's
    /// webhooks do), so a sender can fix its signing; never anything of the secret.
    pub fn body(&self) -> Value {
        match self {
            Self::Unauthorized { reason, .. } => json!({
                "error": self.code(),
                "reason": signature_code(reason),
                "message": reason.to_string(),
            }),
            Self::Malformed(e) => json!({"error": self.code(), "message": e.to_string()}),
            Self::Invalid(e) => json!({"error": self.code(), "message": e.to_string()}),
            Self::TooLarge => {
                json!({"error": self.code(), "message": "the body must be at most 65536 bytes"})
            }
            Self::UnsupportedMediaType => {
                json!({"error": self.code(), "message": "send the body as application/json"})
            }
            _ => json!({"error": self.code()}),
        }
    }

    /// The metric it counts in, if any: a refused signature, every one of which may be a
    /// real person's lead (a rotated form secret refuses them all), so that a rise
    /// raises `SignaturesRefusedAlarm`.
    pub fn metric(&self) -> Option<&'static str> {
        matches!(self, Self::Unauthorized { .. }).then_some("SignaturesRefused")
    }

    /// Logs with the cause chain (loud for our faults, quiet for the client's), and
    /// counts it in its [`metric`](Self::metric).
    pub fn log(&self) {
        if let Some(metric) = self.metric() {
            crate::telemetry::metrics("lead-intake", &[(metric, 1)]);
        }
        let chain = crate::telemetry::cause_chain(self);
        match self {
            Self::Unauthorized {
                reason: SignatureError::MissingSecret,
                ..
            } => {
                tracing::error!(error = %chain, code = self.code(), "lead refused: configure this provider's secret in form_secrets")
            }
            Self::Secrets(_) | Self::Store(_) | Self::Internal(_) => {
                tracing::error!(error = %chain, code = self.code(), "lead not accepted")
            }
            _ => tracing::warn!(error = %chain, code = self.code(), "lead refused"),
        }
    }
}

/// Which check a signature failed, as the body names it.
fn signature_code(reason: &SignatureError) -> &'static str {
    match reason {
        SignatureError::MissingSecret => "provider_not_configured",
        SignatureError::MissingHeader(_) => "missing_signature",
        SignatureError::Malformed(_) => "malformed_signature",
        SignatureError::Mismatch => "signature_mismatch",
        SignatureError::Stale { .. } => "stale_timestamp",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_signature_is_counted_and_nothing_else_is() {
        let refused = IntakeError::Unauthorized {
            provider: "tally",
            reason: SignatureError::Mismatch,
        };
        assert_eq!(
            (refused.status().as_u16(), refused.metric()),
            (401, Some("SignaturesRefused"))
        );
        for other in [
            IntakeError::TooLarge,
            IntakeError::Malformed(PayloadError::MalformedJson),
            IntakeError::Internal("x".into()),
        ] {
            assert_eq!(other.metric(), None, "{other}");
        }
    }
}
