//! Worker: does the Notion and Slack work for inbox items, triggered by the table's
//! DynamoDB stream (inbox items that become pending), reporting partial batch failures.

use aws_lambda_events::event::dynamodb::Event;
use crm_app::Context;
use lambda_runtime::{Error, LambdaEvent, service_fn};

const FUNCTION: &str = "worker";

#[tokio::main]
async fn main() -> Result<(), Error> {
    crm_app::telemetry::init_json();
    let ctx = Context::start(FUNCTION).await?;
    let worker = ctx.worker();
    let worker = &worker;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        let deadline = crm_app::worker::deadline_in(event.context.deadline());
        Ok::<_, Error>(worker.handle_stream(event.payload, Some(deadline)).await)
    }))
    .await
}
