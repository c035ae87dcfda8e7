//! Every stage transition the worker applies, kept with its time: the weekly report's
//! "since when is this deal in its stage" where the Deals schema has no `Stage Since`
//! property, and the record of how each deal moved.
//!
//! A deal's transitions are one entry each in one batch of the store ([`Batches`]: keyed
//! entries, each key once), keyed by the event's time — so a redelivered event adds
//! nothing, and the keys sort in time order. The batch is never closed.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use crm_store::{Batches, StoreError};
use serde::{Deserialize, Serialize};

use crate::inbox::keys;

/// How long a deal's transitions are kept after its last one: long enough for the
/// report's 90-day figures and its 12-week chart, bounded like every other record.
pub const HISTORY_RETENTION: Duration = Duration::from_secs(400 * 86_400);

/// One applied transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// The stage before, as last applied; `None` for a deal's first.
    pub from: Option<String>,
    pub to: String,
    /// The time of the event it came from (ms since the epoch).
    pub at_ms: i64,
}

impl Transition {
    pub fn at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.at_ms).unwrap_or_default()
    }

    /// The time as a Notion date-time (`Stage Since`).
    pub fn notion_date(&self) -> String {
        self.at().to_rfc3339_opts(SecondsFormat::Secs, true)
    }
}

/// Keeps `t` in the history of the deal `page_id` (once, however often it is kept).
pub async fn keep<S: Batches>(store: &S, page_id: &str, t: &Transition) -> Result<(), StoreError> {
    let entry = serde_json::to_string(t).unwrap_or_default();
    store
        .batch_add(
            &keys::stage_history(page_id),
            &format!("{:015}", t.at_ms.max(0)),
            &entry,
            HISTORY_RETENTION,
        )
        .await?;
    Ok(())
}

/// The transitions of the deal `page_id`, oldest first.
pub async fn of<S: Batches>(store: &S, page_id: &str) -> Result<Vec<Transition>, StoreError> {
    let Some(batch) = store.batch_get(&keys::stage_history(page_id)).await? else {
        return Ok(Vec::new());
    };
    Ok(batch
        .entries
        .values()
        .filter_map(|e| serde_json::from_str(e).ok())
        .collect())
}
