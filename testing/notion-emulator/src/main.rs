//! `notion-emulator`: the emulator as a standalone server on 127.0.0.1.
//!
//! ```text
//! notion-emulator [--port 7700] [--token TOKEN] [--seed status|select|none]
//! ```
//! Prints one JSON line with the base URL and the seeded ids, then serves until
//! interrupted.

use crm_notion_emulator::{DEFAULT_TOKEN, Emulator, StageKind};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut port = 7700u16;
    let mut token = DEFAULT_TOKEN.to_owned();
    let mut seed = Some(StageKind::Status);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--port" => port = value()?.parse()?,
            "--token" => token = value()?,
            "--seed" => {
                seed = match value()?.as_str() {
                    "status" => Some(StageKind::Status),
                    "select" => Some(StageKind::Select),
                    "none" => None,
                    other => {
                        return Err(format!(
                            "--seed: expected status, select or none, got {other}"
                        )
                        .into());
                    }
                }
            }
            "-h" | "--help" => {
                println!(
                    "notion-emulator [--port 7700] [--token TOKEN] [--seed status|select|none]"
                );
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let emulator = Emulator::start(port, &token).await?;
    let seeded = seed.map(|s| emulator.seed_crm(s));
    println!(
        "{}",
        serde_json::json!({"base_url": emulator.base_url(), "token": token, "workspace": seeded})
    );
    tokio::signal::ctrl_c().await?;
    emulator.stop().await;
    Ok(())
}
