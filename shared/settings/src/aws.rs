use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

/// The AWS SDK configuration every function uses: credentials, region and endpoints
/// from the environment (so `AWS_ENDPOINT_URL_*` points tests at local servers), with
/// timeouts on every call. Without them a stalled connection would hold a Lambda until
/// its own timeout and lose the request's answer.
pub async fn sdk_config() -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(15))
        .build();
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .load()
        .await
}
