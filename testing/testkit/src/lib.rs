//! What the tests (and the bench) share, written once: the guard that keeps them on the
//! local servers `make test` starts, retry timings that keep them fast, the variables a
//! deployed function gets, and a child process that is stopped by its PID.

#[cfg(feature = "aws")]
pub mod aws;
pub mod browser;
pub mod captcha;
pub mod request;
mod throttle;
mod wait;

pub use throttle::ThrottlingProxy;
pub use wait::{eventually, eventually_sync};

use std::process::Child;
use std::time::Duration;

use crm_pacing::RetryPolicy;

/// The variables through which the AWS SDK reaches DynamoDB Local and moto_server.
pub const AWS_ENDPOINTS: &[&str] = &[
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_ENDPOINT_URL_CLOUDFORMATION",
    "AWS_ENDPOINT_URL_LAMBDA",
];

/// Whether `url` points at this machine.
pub fn is_local(url: &str) -> bool {
    url.contains("127.0.0.1") || url.contains("localhost")
}

/// The endpoint in `var`, which must be set and local: no test may reach a real AWS
/// service. `Err` names the variable and what to run.
pub fn local_endpoint(var: &str) -> Result<String, String> {
    let url = std::env::var(var)
        .map_err(|_| format!("{var} is not set: run with `make test` (or `make bench`), which starts the local servers"))?;
    if is_local(&url) {
        Ok(url)
    } else {
        Err(format!("{var} must point at a local server, got {url}"))
    }
}

/// Panics unless every AWS endpoint variable is set and local.
pub fn require_local_aws() {
    for var in AWS_ENDPOINTS {
        if let Err(why) = local_endpoint(var) {
            panic!("{why}");
        }
    }
}

/// Retries as in production, on a test's time scale: `attempts` in all, tens of
/// milliseconds apart — refusals for the rate too, which production bounds only by
/// time, so that a test of a lasting 429 takes seconds, not the call's whole budget.
pub fn fast_retry(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts: attempts,
        max_refusals: attempts,
        max_elapsed: Duration::from_secs(10),
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_secs(3),
    }
}

/// The `CRM_*` variables `template.yaml` gives a deployed function: its table, its
/// secret and the three data sources (contacts, deals, activities). Callers add what
/// their case needs.
pub fn function_env(
    table: &str,
    secret_arn: &str,
    [contacts, deals, activities]: [&str; 3],
) -> Vec<(String, String)> {
    [
        ("CRM_TABLE_NAME", table),
        ("CRM_SECRET_ARN", secret_arn),
        ("CRM_CONTACTS_DATA_SOURCE_ID", contacts),
        ("CRM_DEALS_DATA_SOURCE_ID", deals),
        ("CRM_ACTIVITIES_DATA_SOURCE_ID", activities),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .to_vec()
}

/// A child process (a server under test) stopped by its PID when this is dropped, even
/// when an assertion fails first.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        // Killing a process that already ended fails harmlessly; waiting reaps it.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A number `template.yaml` gives the function whose `Binary:` is `binary`: the first
/// `key: value` after it (its `Timeout`, its stream's `BatchSize`). Tests check, and the
/// bench runs with, what deploys.
pub fn template_number(binary: &str, key: &str) -> Result<u64, String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml");
    let template = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let (_, after) = template
        .split_once(&format!("Binary: {binary}\n"))
        .ok_or_else(|| format!("no function {binary} in template.yaml"))?;
    after
        .lines()
        .find_map(|l| l.trim().strip_prefix(key)?.strip_prefix(": "))
        .ok_or_else(|| format!("no {key} after {binary} in template.yaml"))?
        .trim()
        .parse()
        .map_err(|e| format!("{key} of {binary}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_machine_is_local() {
        assert!(is_local("http://127.0.0.1:8000"));
        assert!(is_local("http://localhost:4566"));
        assert!(!is_local("https://dynamodb.eu-west-1.amazonaws.com"));
    }
}
