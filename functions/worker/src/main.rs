//! Worker: does the Notion and Slack work for inbox items (DynamoDB stream).
//!
//! Thin by design: build the context once per cold start, then serve events.

use crm_app::{Context, HandlerUnavailable};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

const FUNCTION: &str = "worker";

#[tokio::main]
async fn main() -> Result<(), Error> {
    crm_app::telemetry::init_json();
    let _ctx = Context::start(FUNCTION).await?;
    lambda_runtime::run(service_fn(|_event: LambdaEvent<Value>| async {
        Err::<Value, Error>(HandlerUnavailable { function: FUNCTION }.into())
    }))
    .await
}
