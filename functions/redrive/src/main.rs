//! Redrive, fired every five minutes by EventBridge Scheduler: retries what the
//! stream gave up on (the same code as `crm replay`), with growing pauses per item, for
//! up to a week; parks what no retry can fix; tells the `ops` Slack destination, once,
//! what needs a person. Runs never overlap (a lease in the table). The stack's alarms
//! topic invokes it too: each alarm is told to `ops`.

use crm_app::Context;
use crm_app::redrive::Invocation;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

const FUNCTION: &str = "redrive";

#[tokio::main]
async fn main() -> Result<(), Error> {
    crm_app::telemetry::init_json();
    let ctx = Context::start(FUNCTION).await?;
    let redrive = ctx.redrive();
    let redrive = &redrive;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        match Invocation::parse(&event.payload) {
            Invocation::Alarms(alarms) => {
                let told = redrive.tell_alarms(&alarms).await?;
                Ok::<_, Error>(json!({ "alarms_told": told }))
            }
            Invocation::Scheduled => {
                let deadline = crm_app::worker::deadline_in(event.context.deadline());
                let report = redrive.run(Some(deadline)).await?;
                Ok(serde_json::to_value(report)?)
            }
        }
    }))
    .await
}
