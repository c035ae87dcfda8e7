//! Lead intake: the URL website forms post to (API Gateway HTTP API).
//!
//! Thin by design: build the context once per cold start, then answer requests with the
//! shared intake handler (verify, validate, store in the inbox; never call Notion).

use std::convert::Infallible;

use crm_app::Context;
use lambda_http::{Error, Request, service_fn};

const FUNCTION: &str = "lead-intake";

#[tokio::main]
async fn main() -> Result<(), Error> {
    crm_app::telemetry::init_json();
    let ctx = Context::start(FUNCTION).await?;
    let intake = ctx.intake();
    let intake = &intake;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, Infallible>(intake.handle(request).await)
    }))
    .await
}
