//! The store: everything the functions need to remember between invocations.
//!
//! A few narrow capability traits ([`capability`]; [`Store`] is all of them) with two
//! adapters: [`DynamoStore`] (production, and the tests against DynamoDB Local) and
//! `SqliteStore` (the embedded store `make local` uses, behind the `sqlite` feature so
//! that no Lambda function links SQLite). Both pass the same behavioural suite, so code
//! written against the traits behaves the same on a laptop and in AWS. Each handler asks
//! for only the capabilities it uses, through a [`port!`], which is what lets each
//! function's IAM role name only the DynamoDB actions its code makes.
//!
//! # Why these eight record kinds
//!
//! * **dedupe** — "have I seen this before?", for a while: a mark carries an expiry and
//!   may be claimed again once it has passed (spam a browser form answered as kept, so
//!   that the same spam again is answered as a duplicate; webhook events need none:
//!   their inbox id is their dedupe).
//! * **lease** — a short per-name lock (per canonical email) so two workers can never
//!   create two contacts for one person.
//! * **idempotency** — a unit of work that is `in_progress` (owned, with a lease) and
//!   then `completed`; a crashed owner's lease expires and a failure hands it back, so
//!   work is never stuck and never done twice.
//! * **cache** — small key → value facts with a version, written only forward
//!   (email → page id; deal → last stage and the timestamp of the event it came from,
//!   because Notion delivers events out of order).
//! * **inbox** — every accepted lead and event, written once by the HTTP functions and
//!   processed by the worker; failed items stay visible and replayable.
//! * **batch** — entries held to be handled together (a burst of Slack messages for one
//!   destination), each key once, until the batch is closed.
//! * **presence** — which processes are spending Notion's budget right now, each with
//!   a time it is present until, so that each paces at its share of it.
//! * **count** — how many times something happened in a fixed window (submissions of
//!   one address to a browser form in one minute), counted atomically.
//!
//! # Key scheme (single table)
//!
//! The table's only key is the string partition key `pk`; the record kind is its
//! prefix, so kinds can never collide and the worker's stream filter can select inbox
//! inserts with `begins_with(pk, "inbox#")`.
//!
//! | record      | `pk`                 | other attributes                                            |
//! |-------------|----------------------|-------------------------------------------------------------|
//! | dedupe      | `dedupe#{key}`       | `expires_at`                                                |
//! | lease       | `lease#{name}`       | `owner`, `expires_at`                                       |
//! | idempotency | `idem#{key}`         | `state`, `owner`, `lease_until`, `result`, `reason`, `expires_at` |
//! | cache       | `cache#{key}`        | `value`, `version`                                          |
//! | batch       | `batch#{key}`        | `e_{entry key}` (the entry) per entry, `first_at`, `last_at` (millis), `closed`, `expires_at` |
//! | presence    | `presence#{group}`   | `m_{member}` (present until, Unix millis) and `n_{member}` (its note) per member, `expires_at` |
//! | count       | `count#{key}#{window}` | `n` (the count), `expires_at` (the window's end) |
//! | inbox       | `inbox#{id}`         | `kind`, `payload`, `status`, `attempts`, `last_error`, `received_at`, `updated_at`, `not_before` (millis, while it waits), `expires_at` (once done), `open_pk` + `open_sk` (while not done) |
//!
//! `expires_at` is whole Unix seconds and is also the table's TTL attribute, so DynamoDB
//! eventually deletes what has expired. Correctness never depends on that deletion
//! (DynamoDB may take days): every conditional write treats `expires_at <= now` as
//! absent.
//!
//! The sparse global secondary index `open-inbox` (partition `open_pk` = `"inbox"`, sort
//! `open_sk` = zero-padded `received_at` millis + `#` + id) holds exactly the inbox
//! items that are not done, oldest first; marking an item done removes both attributes.

pub mod capability;
mod claim;
mod dynamo;
mod error;
mod model;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use capability::{
    Batches, CacheRead, CacheWrite, Counters, Dedupe, Grant, Idempotency, InboxRead, InboxScan,
    InboxSettle, InboxWrite, Leases, On, Presence,
};
pub use claim::{Claim, Claimed, Claims};
pub use dynamo::{DynamoStore, OPEN_INBOX_INDEX, inbox_item_from_stream_image};
pub use error::StoreError;
pub use model::{
    Batch, Begin, CacheEntry, InboxItem, InboxStatus, Inserted, LeaseOutcome, NewInboxItem,
    Present, PutOutcome, Unfinished,
};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

use std::time::Duration;

/// Every capability trait, for code that calls the store on a concrete adapter (the
/// tests, `crm`): `use crm_store::prelude::*;`.
pub mod prelude {
    pub use crate::capability::{
        Batches, CacheRead, CacheWrite, Counters, Dedupe, Idempotency, InboxRead, InboxScan,
        InboxSettle, InboxWrite, Leases, Presence,
    };
    pub use crate::{Claims, Store};
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

port!(
    /// Everything the store does: what `crm serve`, the tests and the handlers' builder
    /// hold. Each handler asks only for the capabilities it uses (see [`capability`]), so
    /// a function's IAM policy can name exactly the DynamoDB actions its code makes.
    pub Store: Dedupe, Leases, Idempotency, CacheRead, CacheWrite, InboxWrite, InboxRead,
        InboxSettle, InboxScan, Presence, Batches, Counters
);

pub(crate) fn pk(prefix: &str, key: &str) -> String {
    format!("{prefix}#{key}")
}

/// The fixed window of length `window` that holds `now`: its number since the epoch and
/// its end in Unix seconds.
pub(crate) fn window_of(now: crm_domain::Timestamp, window: Duration) -> (i64, i64) {
    let len = i64::try_from(window.as_millis()).unwrap_or(i64::MAX).max(1);
    let index = now.as_millis().div_euclid(len);
    (index, (index + 1).saturating_mul(len) / 1000)
}

pub(crate) fn secs_after(now: crm_domain::Timestamp, d: Duration) -> i64 {
    now.plus(d).as_secs()
}

/// Sort key of the open-inbox index: fixed-width millis so that string order is time
/// order, then the id to keep keys unique.
pub(crate) fn open_sort_key(received_at_millis: i64, id: &str) -> String {
    format!("{received_at_millis:015}#{id}")
}
