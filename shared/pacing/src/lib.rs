//! Pacing and retry timing for HTTP clients of rate-limited services (Notion allows
//! about 3 requests per second, a Slack webhook about 1 message per second): a limiter
//! that spaces requests before they are sent, and the waits between retries.

mod limiter;
mod paced;
mod retry;
mod share;

pub use limiter::{Basis, Estimate, Limiter, START_RATE, Ticket};
pub use paced::{Call, Ending, Heard, paced};
pub use retry::{RetryPolicy, Tries, parse_retry_after};
pub use share::{MARGIN, share_of};
