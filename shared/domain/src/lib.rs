//! Pure domain types and rules shared by every function.
//!
//! Nothing in this crate performs I/O: handlers in `crm-app` receive ports (store,
//! Notion, Slack, clock) and feed what they return through the rules here, which is what
//! lets every rule be tested without a server.

pub mod browser_form;
pub mod clock;
pub mod deal;
pub mod email;
pub mod import;
pub mod intake;
pub mod lead;
pub mod loopback;
pub mod notion_id;
pub mod notion_signature;
pub mod ops;
pub mod pipeline;
pub mod redact;
pub mod redrive;
pub mod schema;
pub mod signature;
pub mod slack;
pub mod stale;

pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use email::{ContactEmail, EmailError};
pub use lead::{Lead, LeadError, LeadFields};
pub use notion_id::{NotionId, NotionIdError};
