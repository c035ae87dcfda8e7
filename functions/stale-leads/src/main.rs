//! The scheduled jobs, fired by EventBridge Scheduler in the configured time zone: the
//! daily stale-lead digest (09:00) and the weekly pipeline report (Monday 09:00, with
//! its chart). Each posts at most once for its day or week however often it runs. The
//! scheduler invokes asynchronously: a run that fails before posting returns an error,
//! and Lambda retries the invocation twice (about one and three minutes later); after
//! the last, the event goes to the function's on-failure queue, which raises an alarm.

use std::sync::Arc;

use crm_app::Context;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

const FUNCTION: &str = "stale-leads";

/// Which job the schedule's input names (`{"job": "report"}`); the digest when it names
/// none, as the schedule of a stack deployed before the report did.
#[derive(Debug, PartialEq)]
enum Job {
    Digest,
    Report,
}

impl Job {
    fn parse(event: &Value) -> Result<Self, String> {
        match event.get("job").and_then(Value::as_str) {
            None | Some("digest") => Ok(Self::Digest),
            Some("report") => Ok(Self::Report),
            Some(other) => Err(format!(
                "unknown job {other:?}: the schedule's input names \"digest\" or \"report\""
            )),
        }
    }
}

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
        let done = match Job::parse(&event.payload)? {
            Job::Digest => serde_json::to_value(digest.run().await?)?,
            Job::Report => serde_json::to_value(report.run().await?)?,
        };
        Ok::<_, Error>(done)
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::Job;
    use serde_json::json;

    #[test]
    fn the_schedules_input_names_the_job() {
        assert_eq!(Job::parse(&json!({"job": "report"})), Ok(Job::Report));
        assert_eq!(Job::parse(&json!({"job": "digest"})), Ok(Job::Digest));
        assert_eq!(
            Job::parse(&json!({})),
            Ok(Job::Digest),
            "a schedule from before"
        );
        assert!(
            Job::parse(&json!({"job": "fax"}))
                .unwrap_err()
                .contains("\"fax\"")
        );
    }
}
