//! The scheduled jobs, fired by EventBridge Scheduler in the configured time zone: each
//! day at 09:00 the stale-lead digest and the owners' rotting-deal DMs, each week the
//! pipeline report with its chart (`crm_app::scheduled`). Each posts at most once for
//! its day or week however often it runs. The scheduler invokes asynchronously: a run
//! that fails returns an error, and Lambda retries the invocation twice (about one and
//! three minutes later); after the last, the event goes to the function's on-failure
//! queue, which raises an alarm.

use std::sync::Arc;

use crm_app::Context;
use crm_app::scheduled::{Job, run};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

const FUNCTION: &str = "stale-leads";

#[tokio::main]
async fn main() -> Result<(), Error> {
    crm_app::telemetry::init_json();
    let ctx = Context::start(FUNCTION).await?;
    let (digest, report) = (
        ctx.digest(),
        ctx.report(Some(Arc::new(crm_chart::PngChart))),
    );
    let (digest, report) = (&digest, &report);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let ran = run(Job::parse(&event.payload)?, digest, report).await?;
        Ok::<_, Error>(serde_json::to_value(ran)?)
    }))
    .await
}
