//! Notion webhook receiver (Lambda Function URL).
//!
//! Thin by design: build the context once per cold start, then serve events.

use crm_app::{Context, HandlerUnavailable};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

const FUNCTION: &str = "notion-webhook";

#[tokio::main]
async fn main() -> Result<(), Error> {
    crm_app::telemetry::init_json();
    let _ctx = Context::start(FUNCTION).await?;
    lambda_runtime::run(service_fn(|_event: LambdaEvent<Value>| async {
        Err::<Value, Error>(HandlerUnavailable { function: FUNCTION }.into())
    }))
    .await
}
