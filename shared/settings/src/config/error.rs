//! What loading can report: every problem, each naming where the user fixes it.

use std::fmt;

use crate::secrets::Secrets;

/// Every configuration problem found, each naming its setting. Reported together so a
/// first deploy needs one fix-and-retry, not one per setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {}", join(.problems))]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

impl ConfigError {
    pub(super) fn single(setting: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            problems: vec![Problem {
                setting: setting.into(),
                reason: reason.into(),
            }],
        }
    }

    /// Whether one of the problems is about `setting` (where the user fixes it).
    pub fn mentions(&self, setting: &str) -> bool {
        self.problems.iter().any(|p| p.setting.starts_with(setting))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where the user fixes it: `CRM_STALE_DAYS`, or `stale_days in crm.toml`.
    pub setting: String,
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.setting, self.reason)
    }
}

fn join(problems: &[Problem]) -> String {
    let all: Vec<String> = problems.iter().map(ToString::to_string).collect();
    all.join("; ")
}

/// Where the secrets come from.
#[derive(Debug, Clone)]
pub enum SecretsLocation {
    /// A Secrets Manager secret, by ARN (in AWS: the only way).
    SecretsManager { arn: String },
    /// The `[secrets]` table of the local TOML file.
    Inline(Box<Secrets>),
}
