//! Daily stale-lead digest, fired at 09:00 in the configured time zone by EventBridge
//! Scheduler. Posts at most one digest per day; a failed run returns an error so the
//! scheduler retries it.

use crm_app::Context;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

const FUNCTION: &str = "stale-leads";

#[tokio::main]
async fn main() -> Result<(), Error> {
    crm_app::telemetry::init_json();
    let ctx = Context::start(FUNCTION).await?;
    let digest = ctx.digest();
    let digest = &digest;
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<Value>| async move {
        let report = digest.run().await?;
        Ok::<_, Error>(serde_json::to_value(report)?)
    }))
    .await
}
