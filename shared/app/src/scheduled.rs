//! The scheduled jobs, one home for what the scheduled function and `crm serve`'s loops
//! run: each day the stale-lead digest and the owners' rotting-deal DMs; each week the
//! pipeline report. Each posts at most once for its day or week however often it runs.

use serde::Serialize;
use serde_json::Value;

use crate::digest::{Digest, DigestReport, DigestStore};
use crate::report::{PipelineReport, ReportOutcome, ReportStore, RottingOutcome};
use crm_settings::SecretsSource;

/// Which job the schedule's input names (`{"job": "report"}`); the daily one when it
/// names none, as the schedule of a stack deployed before the report did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    Daily,
    Weekly,
}

impl Job {
    pub fn parse(event: &Value) -> Result<Self, String> {
        match event.get("job").and_then(Value::as_str) {
            None | Some("digest") => Ok(Self::Daily),
            Some("report") => Ok(Self::Weekly),
            Some(other) => Err(format!(
                "unknown job {other:?}: the schedule's input names \"digest\" or \"report\""
            )),
        }
    }
}

/// What a run did.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Ran {
    Daily {
        digest: DigestReport,
        rotting: RottingOutcome,
    },
    Weekly(ReportOutcome),
}

/// Runs `job`. The daily one tries both its parts before it answers, so a digest that
/// fails does not keep the owners from hearing of their deals (the retry runs both
/// again, and each posts once).
pub async fn run<S, P>(
    job: Job,
    digest: &Digest<S, P>,
    report: &PipelineReport<S, P>,
) -> Result<Ran, String>
where
    S: DigestStore + ReportStore,
    P: SecretsSource,
{
    match job {
        Job::Daily => {
            let posted = digest.run().await;
            let told = report.tell_rotting().await;
            match (posted, told) {
                (Ok(digest), Ok(rotting)) => Ok(Ran::Daily { digest, rotting }),
                (Err(e), Ok(_)) => Err(format!("the digest: {e}")),
                (Ok(_), Err(e)) => Err(format!("the rotting deals' DMs: {e}")),
                (Err(a), Err(b)) => Err(format!("the digest: {a}; the rotting deals' DMs: {b}")),
            }
        }
        Job::Weekly => report
            .run()
            .await
            .map(Ran::Weekly)
            .map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::Job;
    use serde_json::json;

    #[test]
    fn the_schedules_input_names_the_job() {
        assert_eq!(Job::parse(&json!({"job": "report"})), Ok(Job::Weekly));
        assert_eq!(Job::parse(&json!({"job": "digest"})), Ok(Job::Daily));
        assert_eq!(
            Job::parse(&json!({})),
            Ok(Job::Daily),
            "a schedule from before"
        );
        assert!(
            Job::parse(&json!({"job": "fax"}))
                .unwrap_err()
                .contains("\"fax\"")
        );
    }
}
