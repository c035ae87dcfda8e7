//! The Notion API client used by every function.
//!
//! Written over `reqwest` because no published crate does what a CRM that must never
//! lose or duplicate a lead needs from it:
//!
//! * **API version `2026-03-11`, data-source endpoints only** — a user adding a second
//!   data source to a database cannot break us.
//! * **One pacing limiter per client**, shared by every task (default 3 requests/s with
//!   a small burst), so a burst of leads queues here instead of earning 429s.
//! * **Retries that respect what Notion may have done**: 429 and 529 wait out
//!   `Retry-After`; 5xx is retried only for reads (GET and query); a create answered
//!   with 503 after Notion committed it is resolved through
//!   `additional_data.committed_resource_id`, never by sending the write again.
//! * **A timeout on every call and a retry budget** (attempts and total time) per call,
//!   so a worker gives up in time to record the failure.

mod client;
mod error;
pub mod filter;
pub mod types;

pub use client::{NOTION_VERSION, NotionClient, NotionConfig, Pacing};
pub use crm_pacing::RetryPolicy;
pub use error::{ApiFailure, NotionError};
pub use filter::{Direction, Filter, Sort};
pub use types::*;

/// The error building the HTTP client can return.
pub use reqwest::Error as HttpError;
