//! What every function does, written once: the runtime context built at cold start and
//! the handlers, generic over the ports (store, secrets, clock; Notion through a client
//! whose base URL points at Notion or the emulator), so the Lambda binaries, `crm serve`
//! and the tests all run the same code.

pub mod budget_share;
pub mod burst;
pub mod contact_write;
pub mod deals;
pub mod destination;
pub mod digest;
pub mod import;
pub mod inbox;
pub mod intake;
pub mod local_secrets;
pub mod pause;
pub mod place;
pub mod post_once;
pub mod redrive;
pub mod report;
pub mod runtime;
pub mod scheduled;
pub mod slack_people;
pub mod telemetry;
pub mod webhook;
pub mod worker;

pub use runtime::{Context, ContextError, Ports, SecretsProvider};
