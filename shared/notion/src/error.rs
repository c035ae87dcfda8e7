use std::time::Duration;

/// A failed Notion call, after the client's own retries.
#[derive(Debug, thiserror::Error)]
pub enum NotionError {
    /// Notion answered with an error status.
    #[error("{0}")]
    Api(Box<ApiFailure>),

    /// No answer within the per-request timeout.
    #[error("Notion did not answer {method} {path} in time")]
    Timeout { method: String, path: String },

    /// The request could not be sent or the answer could not be read.
    #[error("could not reach Notion for {method} {path}")]
    Transport {
        method: String,
        path: String,
        #[source]
        source: reqwest::Error,
    },

    /// Not sent: the process's pace had no slot for it within the call's time budget
    /// (many calls waiting, or a pause after a 429). Certainly not carried out.
    #[error("{method} {path} was not sent: Notion's rate budget had no room for it in time")]
    Paced { method: String, path: String },

    /// Notion answered 2xx with a body we cannot read.
    #[error("unexpected Notion response to {method} {path}: {detail}")]
    Decode {
        method: String,
        path: String,
        detail: String,
    },
}

/// What Notion said when it refused a call. Keeps the `request_id` Notion support asks
/// for. Shown (in logs, in stored failure reasons) without the values Notion's message
/// quotes, which may be what a person typed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "Notion answered {status} {code}: {}{}{}",
    crm_domain::redact::quoted_values(.message),
    request_id_suffix(.request_id),
    if *.block_limit { BLOCK_LIMIT_FIXES } else { "" }
)]
pub struct ApiFailure {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
    pub retry_after: Option<Duration>,
    pub rate_limit_reason: Option<String>,
    /// Set on a 503 for a write Notion did commit: the id of what it created.
    pub committed_resource_id: Option<String>,
    /// A create refused for the Free workspace block limit (`additional_data.block_limit`).
    pub block_limit: bool,
}

/// What a person can do about the block limit, said wherever the refusal is.
const BLOCK_LIMIT_FIXES: &str = ". The workspace reached the Free plan's block limit (1,000 blocks with more than one member): new pages wait until it is upgraded, or until the integration connects with a personal access token, which the limit does not apply to";

fn request_id_suffix(id: &Option<String>) -> String {
    id.as_ref()
        .map(|id| format!(" (request id {id})"))
        .unwrap_or_default()
}

impl NotionError {
    /// Whether the same call may succeed later (the caller should keep the work and
    /// retry), as opposed to a request that will fail the same way every time.
    pub fn is_retryable(&self) -> bool {
        match self {
            // The block limit passes with an upgrade or a personal access token: the
            // work waits for it, retried by the system, not parked for a person.
            Self::Api(e) => {
                self.is_rate_refusal()
                    || e.block_limit
                    || matches!(e.status, 409 | 500 | 502 | 503 | 504)
            }
            Self::Timeout { .. } | Self::Transport { .. } | Self::Paced { .. } => true,
            Self::Decode { .. } => false,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api(e) => Some(e.status),
            _ => None,
        }
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api(e) => Some(&e.code),
            _ => None,
        }
    }

    /// The id of what a create committed before Notion answered 503.
    pub fn committed_resource_id(&self) -> Option<&str> {
        match self {
            Self::Api(e) if e.status == 503 => e.committed_resource_id.as_deref(),
            _ => None,
        }
    }

    /// 404 `object_not_found`: absent, or not shared with the integration.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// Whether a write that failed this way may still have been carried out: no answer,
    /// a connection lost after sending, a 5xx, or a 2xx we could not read. A refused
    /// connection, a 4xx and a 429 are certain not to have written.
    pub fn may_have_committed(&self) -> bool {
        match self {
            Self::Api(e) => matches!(e.status, 500 | 502 | 503 | 504),
            Self::Timeout { .. } | Self::Decode { .. } => true,
            Self::Transport { source, .. } => !source.is_connect(),
            Self::Paced { .. } => false,
        }
    }

    /// 429 or Notion's 529: refused for the rate (or load), not for what was asked, so
    /// the same call goes through later. Not a 429 for an integration Notion blocked:
    /// that will not unblock by waiting.
    pub fn is_rate_refusal(&self) -> bool {
        match self {
            Self::Api(e) => {
                matches!(e.status, 429 | 529)
                    && e.rate_limit_reason.as_deref() != Some("public_api_request_blocked")
            }
            _ => false,
        }
    }

    /// How long Notion asked to be left alone (`Retry-After`), if it said.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::Api(e) => e.retry_after,
            _ => None,
        }
    }

    /// 401 `unauthorized` or 403 `restricted_resource`: the token was refused — it may
    /// have been rotated since it was read. Not a create refused for the block limit,
    /// which no token of the same connection changes.
    pub fn is_token_refused(&self) -> bool {
        matches!(self.status(), Some(401 | 403)) && !self.is_block_limit()
    }

    /// A create refused because the Free workspace reached its block limit (a 403 with
    /// `additional_data.block_limit`, as one copy of Notion's docs gives it).
    pub fn is_block_limit(&self) -> bool {
        matches!(self, Self::Api(e) if e.block_limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Notion's validation messages quote what they refuse; logs and stored reasons
    /// keep the status, code, request id and the shape of the message, not the value.
    #[test]
    fn failure_reasons_carry_no_personal_data() {
        let err = NotionError::Api(Box::new(ApiFailure {
            status: 400,
            code: "validation_error".into(),
            message: "body.properties.Email.email should be a valid email, instead was `\"ann@example.com\"`.".into(),
            request_id: Some("req-42".into()),
            retry_after: None,
            rate_limit_reason: None,
            committed_resource_id: None,
            block_limit: false,
        }));
        let shown = format!("{err}");
        assert!(!shown.contains("ann@example.com"), "{shown}");
        for kept in [
            "400",
            "validation_error",
            "req-42",
            "body.properties.Email.email",
        ] {
            assert!(shown.contains(kept), "{kept} in {shown}");
        }
    }
}
