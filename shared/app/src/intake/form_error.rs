use crm_domain::LeadError;
use crm_domain::browser_form::BodyError;
use crm_store::StoreError;
use lambda_http::http::StatusCode;

/// Every way a browser form's post can be refused or fail, each with its status, its
/// stable code, a message a visitor can act on (shown on the page, or in the JSON for
/// `fetch()`), and how loudly it is logged.
#[derive(Debug, thiserror::Error)]
pub enum FormError {
    #[error("only POST (and the OPTIONS preflight) is accepted")]
    MethodNotAllowed,
    #[error("no browser form of this name is configured")]
    NotFound,
    #[error("the page's origin is not allowed for this form")]
    Origin { origin: Option<String> },
    #[error("body over 64 KiB")]
    TooLarge,
    #[error(transparent)]
    Body(BodyError),
    #[error(transparent)]
    Invalid(LeadError),
    #[error("over the per-address limit")]
    RateLimited,
    #[error("could not store the lead")]
    Store(#[source] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl FormError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Origin { .. } => StatusCode::FORBIDDEN,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Body(BodyError::UnsupportedType) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Body(BodyError::FileNotAccepted(_) | BodyError::NotText(_)) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::Body(_) => StatusCode::BAD_REQUEST,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            // Nothing was stored: the visitor is asked to send again.
            Self::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::MethodNotAllowed => "method_not_allowed",
            Self::NotFound => "not_found",
            Self::Origin { .. } => "origin_not_allowed",
            Self::TooLarge => "payload_too_large",
            Self::Body(e) => match e {
                BodyError::UnsupportedType => "unsupported_media_type",
                BodyError::NotUtf8 => "not_utf8",
                BodyError::MalformedJson => "malformed_json",
                BodyError::NotAnObject | BodyError::Multipart(_) => "malformed_body",
                BodyError::NotText(_) => "invalid_field",
                BodyError::FileNotAccepted(_) => "file_not_accepted",
            },
            Self::Invalid(e) => e.code(),
            Self::RateLimited => "rate_limited",
            Self::Store(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// The page's heading.
    pub fn heading(&self) -> &'static str {
        match self {
            Self::Invalid(LeadError::MissingEmail | LeadError::InvalidEmail(_)) => {
                "Please check your email address"
            }
            Self::RateLimited => "Please wait a minute",
            Self::Store(_) | Self::Internal(_) => "Please try again",
            _ => "The form could not be sent",
        }
    }

    /// What is wrong, in words.
    pub fn message(&self) -> String {
        match self {
            Self::Invalid(LeadError::MissingEmail) => {
                "Please enter your email address, so that we can reply.".into()
            }
            Self::Invalid(LeadError::InvalidEmail(e)) => {
                let why = e.to_string();
                format!(
                    "That does not look like an email address: it {}.",
                    why.trim_start_matches("the email address ")
                )
            }
            Self::Invalid(e) => e.to_string(),
            Self::Body(e) => e.to_string(),
            Self::TooLarge => {
                "Your message is too long to send. Please shorten it to under 60,000 characters and send it again.".into()
            }
            Self::RateLimited => {
                "Too many messages came from your network in the last minute. Please wait a minute and send the form again.".into()
            }
            Self::Origin { .. } => "This form cannot be sent from this site.".into(),
            Self::NotFound => "There is no such form.".into(),
            Self::MethodNotAllowed => "Send the form with POST.".into(),
            Self::Store(_) | Self::Internal(_) => {
                "We could not take your message just now. Please send the form again in a minute.".into()
            }
        }
    }

    /// Loud for our faults, quiet for the visitor's.
    pub fn log(&self, form: &str) {
        let chain = crate::telemetry::cause_chain(self);
        match self {
            Self::Store(_) | Self::Internal(_) => {
                tracing::error!(form, error = %chain, code = self.code(), "browser form not accepted")
            }
            Self::Origin { origin } => tracing::warn!(
                form,
                origin = origin.as_deref().unwrap_or("(none)"),
                code = self.code(),
                "browser form refused: add the origin to the form's origins if it is yours"
            ),
            _ => tracing::warn!(form, error = %chain, code = self.code(), "browser form refused"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_domain::EmailError;

    #[test]
    fn a_visitor_reads_what_to_fix() {
        let missing = FormError::Invalid(LeadError::MissingEmail);
        assert_eq!(missing.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(missing.code(), "missing_email");
        assert!(missing.message().contains("enter your email"));
        let invalid = FormError::Invalid(LeadError::InvalidEmail(EmailError::Domain));
        assert_eq!(invalid.code(), "invalid_email");
        assert_eq!(
            invalid.message(),
            "That does not look like an email address: it needs a domain with a dot after the @, like example.com."
        );
        let file = FormError::Body(BodyError::FileNotAccepted("cv".into()));
        assert_eq!(file.code(), "file_not_accepted");
        assert!(file.message().contains("\"cv\""));
        assert_eq!(
            FormError::RateLimited.status(),
            StatusCode::TOO_MANY_REQUESTS
        );
    }
}
