//! Daily stale-lead digest, fired at 09:00 in the configured time zone by EventBridge
//! Scheduler, which invokes it asynchronously. Posts at most one digest per day. A run
//! that fails before posting returns an error, and Lambda retries the invocation twice
//! (about one and three minutes later); after the last, the event goes to the
//! function's on-failure queue, which raises an alarm.

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
