//! `crm`: the product on one machine.
//!
//! * `crm serve` — every endpoint on 127.0.0.1, the worker and the digest in-process, an
//!   embedded SQLite store; with no config, the built-in Notion emulator and Slack
//!   messages printed to the console (see `make local`).
//! * `crm setup` — create the three Notion data sources, or check existing ones.
//! * `crm replay` — process the deployed inbox's failed items again.
//! * `crm secret set` — fill the deployed secret, field by field, nothing echoed.
//! * `crm sign` — the headers a form must send, for trying the intake with curl.
//! * `crm webhook listen` — let Notion's verification handshake in for a few minutes.
//! * `crm import` — contacts from a CSV export, deduplicated, resumable.
//! * `crm form-snippet` — the HTML of a browser form, to paste into a site.
//! * `crm emulator` — the Notion emulator alone.

mod app;
mod bridge;
mod demo;
mod form_snippet;
mod import;
mod local;
mod page;
mod replay;
mod secret;
mod serve;
mod setup;
mod sign;
mod stack;
mod webhook;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "crm", version, about = "Notion CRM automations")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run everything locally (intake, webhook, worker, digest).
    Serve(serve::ServeArgs),
    /// Process the deployed inbox's items that are not done (after fixing a cause).
    Replay(replay::ReplayArgs),
    /// Fill the deployed secret: the Notion token, form secrets, Slack webhooks.
    Secret(secret::SecretArgs),
    /// Create the Contacts, Deals and Activities data sources, or check existing ones.
    Setup(setup::SetupArgs),
    /// Print the signature headers for a form body (the own scheme, with a timestamp).
    Sign(sign::SignArgs),
    /// Import contacts from a CSV export (HubSpot, Pipedrive, Google Contacts, Mailchimp, a
    /// spreadsheet): each person once, existing contacts only filled where empty, resumable.
    Import(import::ImportArgs),
    /// Print a browser form's HTML (honeypot, captcha widget, the intake URL) to paste into a site.
    FormSnippet(form_snippet::FormSnippetArgs),
    /// The Notion webhook: `listen` accepts the verification handshake for a while.
    Webhook(webhook::WebhookArgs),
    /// Run the Notion emulator on 127.0.0.1.
    Emulator {
        #[arg(long, default_value_t = 7700)]
        port: u16,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // An error is said as a sentence (its Display), not as a Rust value: what a person
    // reads on the terminal, quotes and all.
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Sign(args) => sign::run(&args),
        Command::FormSnippet(args) => form_snippet::run(&args),
        Command::Import(args) => import::run(args).await,
        Command::Setup(args) => setup::run(args).await,
        Command::Replay(args) => replay::run(args).await,
        Command::Secret(args) => secret::run(args).await,
        Command::Webhook(args) => webhook::run(args).await,
        Command::Emulator { port } => {
            let emulator =
                crm_notion_emulator::Emulator::start(port, crm_notion_emulator::DEFAULT_TOKEN)
                    .await?;
            let ws = emulator.seed_crm(crm_notion_emulator::StageKind::Status);
            println!(
                "{}",
                serde_json::json!({"base_url": emulator.base_url(), "workspace": ws})
            );
            tokio::signal::ctrl_c().await?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
