use std::sync::Arc;

use clap::Args;
use crm_app::Context;

use crate::stack::StackArg;

#[derive(Args)]
pub struct ReplayArgs {
    /// At most this many items, oldest first.
    #[arg(long, default_value_t = 500)]
    limit: usize,
    #[command(flatten)]
    stack: StackArg,
    /// The data folder of a running `crm serve`: without `--stack` or `CRM_*` settings,
    /// the local product's inbox is replayed through it.
    #[arg(long, default_value = ".crm-local")]
    data: std::path::PathBuf,
}

/// Processes the deployed inbox's open items with the deployed settings (read from the
/// stack with `--stack`, else the same `CRM_*` variables as the functions) and this
/// shell's AWS credentials.
pub async fn run(args: ReplayArgs) -> Result<(), Box<dyn std::error::Error>> {
    if args.stack.stack.is_none()
        && let Some(url) = crate::local::url(&args.data)
    {
        return local(&url).await;
    }
    crm_app::telemetry::init_json();
    let settings = args.stack.settings().await?;
    let ctx = Context::build(settings, Arc::new(crm_domain::SystemClock)).await?;
    let report = ctx.worker().replay(args.limit).await?;
    for id in &report.done {
        println!("done    {id}");
    }
    for (id, reason) in &report.failed {
        println!("failed  {id}: {reason}");
    }
    said(report.done.len(), report.failed.len())
}

/// The running `crm serve`'s inbox, replayed by it (its page's Replay button).
async fn local(url: &str) -> Result<(), Box<dyn std::error::Error>> {
    eprintln!("replaying the inbox of the running crm serve at {url}");
    let answer: serde_json::Value = crm_http::client()
        .post(format!("{url}/replay"))
        .timeout(std::time::Duration::from_secs(120))
        .send()
        .await
        .map_err(|e| format!("crm serve at {url} did not answer (is it still running?): {e}"))?
        .error_for_status()?
        .json()
        .await?;
    let empty = Vec::new();
    let done = answer["done"].as_array().unwrap_or(&empty);
    let failed = answer["failed"].as_array().unwrap_or(&empty);
    for id in done {
        println!("done    {}", id.as_str().unwrap_or_default());
    }
    for item in failed {
        println!(
            "failed  {}: {}",
            item["id"].as_str().unwrap_or_default(),
            item["reason"].as_str().unwrap_or_default()
        );
    }
    said(done.len(), failed.len())
}

fn said(done: usize, failed: usize) -> Result<(), Box<dyn std::error::Error>> {
    println!("{done} done, {failed} still failing");
    if failed == 0 {
        Ok(())
    } else {
        Err("some items still fail; fix the cause above and replay again".into())
    }
}
