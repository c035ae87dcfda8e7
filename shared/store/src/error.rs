use std::error::Error as StdError;

/// Why a store call failed.
///
/// Conditional-write outcomes that are part of normal operation (a duplicate, a lease
/// held by someone else) are not errors; they come back as values.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The caller's claim expired and was taken by another owner. The caller must not
    /// report its work as done: the new owner will do it.
    #[error("the claim on {key} is no longer held by this owner")]
    ClaimLost { key: String },

    /// The item to update does not exist.
    #[error("no record {key}")]
    NotFound { key: String },

    /// A record exists but cannot be read back (written by something else, or by an
    /// incompatible version).
    #[error("record {key} is malformed: {reason}")]
    Malformed { key: String, reason: String },

    /// The backend failed (network, throttling after the SDK's retries, disk). Worth
    /// retrying later.
    #[error("store backend failed during {operation}")]
    Backend {
        operation: &'static str,
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
}

impl StoreError {
    pub(crate) fn backend(
        operation: &'static str,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        Self::Backend {
            operation,
            source: source.into(),
        }
    }

    /// Whether trying the same call again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Backend { .. })
    }
}
