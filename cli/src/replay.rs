use clap::Args;
use crm_app::Context;

#[derive(Args)]
pub struct ReplayArgs {
    /// At most this many items, oldest first.
    #[arg(long, default_value_t = 500)]
    limit: usize,
}

/// Processes the deployed inbox's open items with the deployed settings (the same
/// `CRM_*` variables and AWS credentials as the functions).
pub async fn run(args: ReplayArgs) -> Result<(), Box<dyn std::error::Error>> {
    crm_app::telemetry::init_json();
    let ctx = Context::from_env().await?;
    let report = ctx.worker().replay(args.limit).await?;
    for id in &report.done {
        println!("done    {id}");
    }
    for (id, reason) in &report.failed {
        println!("failed  {id}: {reason}");
    }
    println!(
        "{} done, {} still failing",
        report.done.len(),
        report.failed.len()
    );
    if report.failed.is_empty() {
        Ok(())
    } else {
        Err("some items still fail; fix the cause above and replay again".into())
    }
}
