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
}

/// Processes the deployed inbox's open items with the deployed settings (read from the
/// stack with `--stack`, else the same `CRM_*` variables as the functions) and this
/// shell's AWS credentials.
pub async fn run(args: ReplayArgs) -> Result<(), Box<dyn std::error::Error>> {
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
