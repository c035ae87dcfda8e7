use std::sync::Arc;

use clap::{Args, Subcommand};
use crm_app::Context;

use crate::stack::StackArg;

#[derive(Args)]
pub struct WebhookArgs {
    #[command(subcommand)]
    command: WebhookCommand,
}

#[derive(Subcommand)]
enum WebhookCommand {
    /// Accept Notion's verification handshake for the next few minutes (create the
    /// subscription, or click Resend token, meanwhile).
    Listen {
        /// How long the window stays open, 1 to 60 minutes: long enough to create the
        /// subscription, short enough that the URL is not open to anyone's token for
        /// long.
        #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=60))]
        minutes: u64,
        #[command(flatten)]
        stack: StackArg,
    },
}

/// Opens the handshake window in the deployed store (the stack's settings with
/// `--stack`, else the same `CRM_*` variables as the functions; this shell's AWS
/// credentials). Outside it the webhook refuses handshakes: the first
/// token stored is the key that verifies every event, so only the operator may let one
/// in.
pub async fn run(args: WebhookArgs) -> Result<(), Box<dyn std::error::Error>> {
    crm_app::telemetry::init_json();
    let WebhookCommand::Listen { minutes, stack } = args.command;
    let ctx = Context::build(stack.settings().await?, Arc::new(crm_domain::SystemClock)).await?;
    let until =
        crm_app::webhook::open_handshake_window(&ctx.store, ctx.clock.as_ref(), minutes).await?;
    let until = chrono::DateTime::from_timestamp_millis(until).unwrap_or_default();
    println!(
        "the webhook accepts Notion's verification handshake until {until} (UTC): create the subscription (or click Resend token) now; the token is written into the secret"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        webhook: WebhookArgs,
    }

    #[test]
    fn the_window_is_one_to_sixty_minutes() {
        let parse = |m: &str| Cli::try_parse_from(["crm", "listen", "--minutes", m]);
        assert!(parse("60").is_ok());
        assert!(parse("0").is_err());
        assert!(parse("1000").is_err());
    }
}
