//! Posting to Slack: through incoming webhooks, or with a bot token through the Web API
//! (`web_api.rs`: channel posts, users by email, direct messages; `files.rs`: a file
//! shared with Slack's upload flow).
//!
//! * one pacing limiter per webhook (Slack allows about one message per second each);
//! * `429` waits out `Retry-After`, `5xx` and unreachable are retried with backoff;
//! * every other answer is final: a deleted webhook (`404`/`410`) or a rejected payload
//!   (`400`) will not heal by retrying, and the caller keeps the message to replay;
//! * the webhook URL is a secret: it never appears in errors, logs or `Debug`.

mod client;
mod files;
mod message;
#[cfg(feature = "receiver")]
pub mod receiver;
mod sent;
mod web_api;

pub use client::{Destination, SlackClient, SlackConfig, SlackError};
pub use files::Upload;
pub use message::SlackMessage;
pub use sent::{Sent, SentLog};
