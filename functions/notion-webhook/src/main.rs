//! Notion webhook receiver (Lambda Function URL): answers the verification handshake,
//! verifies each delivery's signature and puts deal events in the inbox once; the
//! worker does the rest.

use std::convert::Infallible;

use crm_app::Context;
use lambda_http::{Error, Request, service_fn};

const FUNCTION: &str = "notion-webhook";

#[tokio::main]
async fn main() -> Result<(), Error> {
    crm_app::telemetry::init_json();
    let ctx = Context::start(FUNCTION).await?;
    let webhook = ctx.webhook();
    let webhook = &webhook;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, Infallible>(webhook.handle(request).await)
    }))
    .await
}
