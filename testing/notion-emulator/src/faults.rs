//! Misbehaving on purpose, the ways Notion does.

use serde::{Deserialize, Serialize};

/// What to do to matching requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultAction {
    /// Answer with this status and Notion's error body for it, without acting.
    Status {
        status: u16,
        /// Seconds, sent as `Retry-After` and `additional_data.retry_after`.
        #[serde(default)]
        retry_after: Option<u64>,
        #[serde(default)]
        rate_limit_reason: Option<String>,
    },
    /// Carry out the write, then answer 503 as if it had failed; for a create, with
    /// `additional_data.committed_resource_id` naming what was created.
    CommitThen503,
    /// Carry out the write, then answer this error status with no hint that it was
    /// saved: the case where a caller must read state before trying again.
    CommitThen { status: u16 },
    /// Wait this long before handling the request.
    Latency { ms: u64 },
    /// Drop the connection without an answer, as a reset or a dying proxy does; the
    /// request is not carried out, but the caller cannot know that.
    Reset,
}

/// A fault for requests whose method and path match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    /// `GET`, `POST`, `PATCH`; any when absent.
    #[serde(default)]
    pub method: Option<String>,
    /// A path with `*` for one segment (`/v1/data_sources/*/query`), or `*` for all.
    pub path: String,
    pub action: FaultAction,
    /// How many requests it applies to; every one when absent.
    #[serde(default)]
    pub times: Option<u32>,
}

impl FaultRule {
    pub fn new(method: Option<&str>, path: &str, action: FaultAction) -> Self {
        Self {
            method: method.map(str::to_owned),
            path: path.to_owned(),
            action,
            times: None,
        }
    }

    /// An error status for matching requests.
    pub fn status(method: Option<&str>, path: &str, status: u16) -> Self {
        Self::new(
            method,
            path,
            FaultAction::Status {
                status,
                retry_after: None,
                rate_limit_reason: None,
            },
        )
    }

    /// 429 `rate_limited` with `Retry-After: secs`.
    pub fn rate_limited(method: Option<&str>, path: &str, secs: u64) -> Self {
        Self::new(
            method,
            path,
            FaultAction::Status {
                status: 429,
                retry_after: Some(secs),
                rate_limit_reason: Some("public_api_request_rate_limit".into()),
            },
        )
    }

    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    pub fn matches(&self, method: &str, path: &str) -> bool {
        if self.times == Some(0) {
            return false;
        }
        if let Some(m) = &self.method
            && !m.eq_ignore_ascii_case(method)
        {
            return false;
        }
        if self.path == "*" {
            return true;
        }
        let want: Vec<&str> = self.path.trim_end_matches('/').split('/').collect();
        let got: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        want.len() == got.len() && want.iter().zip(&got).all(|(w, g)| *w == "*" || w == g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_by_segment() {
        let rule = FaultRule::status(Some("POST"), "/v1/data_sources/*/query", 503);
        assert!(rule.matches("POST", "/v1/data_sources/abc/query"));
        assert!(!rule.matches("GET", "/v1/data_sources/abc/query"));
        assert!(!rule.matches("POST", "/v1/data_sources/abc"));
        assert!(FaultRule::status(None, "*", 500).matches("PATCH", "/v1/pages/x"));
        assert!(
            !FaultRule::status(None, "*", 500)
                .times(0)
                .matches("GET", "/")
        );
    }
}
