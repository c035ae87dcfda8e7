//! Notion refusing to create pages, and the work that waits for it to create again.
//!
//! A Free workspace with more than one member has 1,000 blocks for its whole life, and
//! every page is one: every contact, deal and Activity. Once they are used (and a grace
//! of three days has passed), Notion refuses every create while reads and edits go on
//! (docs/design.md, "Failures"). It passes only when a person acts: the workspace is
//! upgraded, or the integration connects with a personal access token, which the limit
//! does not apply to. Trying every lead's create meanwhile would spend Notion's budget
//! on refusals and fail each lead on its own, so the first refusal **holds creates**:
//!
//! 1. It is written to the store ([`keys::CREATES_HELD`]): since when, and when to try a
//!    create again (a probe, every [`PROBE_EVERY`]).
//! 2. Before a create, the worker reads the hold: while it holds, the create is not sent
//!    and the item goes back to the inbox with "not before" = the probe's time
//!    (everything before the create — finding the contact, filling its fields — is
//!    done; a deal's alert needs no create at all). Nothing is lost and no attempt is
//!    counted, so no lead is parked or given up while it waits.
//! 3. Once the probe's time has come, the next create is sent: refused, the hold moves
//!    on to the next probe; taken, the hold is lifted, and the redrive runs every
//!    waiting item at its time. The backlog drains with no command.
//! 4. The redrive tells ops once per spell (its start is the claim's key): what
//!    happened, how many leads wait, and the two fixes.
//!
//! The refusal's shape is not settled in Notion's docs: one copy gives 403
//! `restricted_resource` with `additional_data.block_limit`, others leave the detail
//! out, which is also how Notion refuses an integration without the "Insert content"
//! capability. A 403 on a create, after the same token's reads went through, is held
//! either way (both pass only with a person's fix, and both should drain by themselves
//! after it), and the message names both causes when Notion did not say which.

use std::time::Duration;

use crm_domain::ops::CreatesRefused as Why;
use crm_domain::{Clock, Timestamp};
use crm_notion::NotionError;
use crm_store::{CacheRead, CacheWrite, StoreError};
use serde::{Deserialize, Serialize};

use crate::inbox::keys;

/// How often a create is tried while creates are held.
pub const PROBE_EVERY: Duration = Duration::from_secs(15 * 60);

/// Creates held: since when, why, and when the next create is tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    pub since_ms: i64,
    pub probe_at_ms: i64,
    pub why: Why,
}

impl Held {
    pub fn probe_at(&self) -> Timestamp {
        Timestamp::from_millis(self.probe_at_ms)
    }

    /// The reason an item waiting for it records.
    pub fn reason(&self) -> String {
        format!(
            "waits for Notion to create pages again: {}; ops was told the fixes",
            self.why.in_short()
        )
    }
}

/// A create Notion refused in a way that holds every create: the block limit, or a 403
/// after the same token's reads went through (see the module docs).
pub fn holds_creates(e: &NotionError) -> Option<Why> {
    if e.is_block_limit() {
        Some(Why::BlockLimit)
    } else if e.status() == Some(403) {
        Some(Why::Forbidden)
    } else {
        None
    }
}

/// Whether a create may be sent now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    /// Nothing is held.
    Open,
    /// Held, and the probe is due: this create is the probe.
    Probe(Held),
    /// Held until the next probe: the work waits.
    Wait(Held),
}

/// The hold, read and written through the store.
pub struct Creates<'a, S> {
    pub store: &'a S,
    pub clock: &'a dyn Clock,
}

impl<S: CacheRead + CacheWrite> Creates<'_, S> {
    /// The hold as stored; none when the record cannot be read as one.
    pub async fn held(&self) -> Result<Option<Held>, StoreError> {
        Ok(self
            .store
            .cache_get(keys::CREATES_HELD)
            .await?
            .and_then(|entry| serde_json::from_str(&entry.value).ok()))
    }

    /// Whether a create may be sent now.
    pub async fn permit(&self) -> Result<Permit, StoreError> {
        let now = self.clock.now().as_millis();
        Ok(match self.held().await? {
            None => Permit::Open,
            Some(held) if held.probe_at_ms <= now => Permit::Probe(held),
            Some(held) => Permit::Wait(held),
        })
    }

    /// After a create refused for `why`: holds creates (or keeps holding them) until the
    /// next probe, and says until when.
    pub async fn refused(&self, permit: Permit, why: Why) -> Result<Held, StoreError> {
        let now = self.clock.now();
        let since_ms = match permit {
            Permit::Probe(held) | Permit::Wait(held) => held.since_ms,
            Permit::Open => now.as_millis(),
        };
        let held = Held {
            since_ms,
            probe_at_ms: now.plus(PROBE_EVERY).as_millis(),
            why,
        };
        if permit == Permit::Open {
            tracing::error!(
                ?why,
                "Notion refuses to create pages; creates are held, the work waits in the inbox, and ops is told"
            );
        } else {
            tracing::warn!(
                ?why,
                "the probe's create was refused too; creates stay held"
            );
        }
        let value = serde_json::to_string(&held).unwrap_or_default();
        self.store
            .cache_put(keys::CREATES_HELD, &value, now.as_millis())
            .await?;
        Ok(held)
    }

    /// After a create Notion took: a hold, if this was its probe, is lifted.
    pub async fn created(&self, permit: Permit) -> Result<(), StoreError> {
        if let Permit::Probe(held) = permit {
            tracing::info!(
                since_ms = held.since_ms,
                "Notion creates pages again; creates are no longer held and the waiting work runs"
            );
            self.store.cache_delete(keys::CREATES_HELD).await?;
        }
        Ok(())
    }
}
