//! The store: everything the functions need to remember between invocations.
//!
//! One narrow trait, [`Store`], with two adapters: [`DynamoStore`] (production, and the
//! tests against DynamoDB Local) and `SqliteStore` (the embedded store `make local`
//! uses, behind the `sqlite` feature so that no Lambda function links SQLite). Both pass
//! the same behavioural suite, so code written against the trait behaves the same on a
//! laptop and in AWS.
//!
//! # Why these five record kinds
//!
//! * **dedupe** — "have I seen this before?" for webhook event ids. Notion redelivers
//!   for about a day, so a dedupe mark carries an expiry and may be claimed again once
//!   it has passed.
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
//! | inbox       | `inbox#{id}`         | `kind`, `payload`, `status`, `attempts`, `last_error`, `received_at`, `updated_at`, `expires_at` (once done), `open_pk` + `open_sk` (while not done) |
//!
//! `expires_at` is whole Unix seconds and is also the table's TTL attribute, so DynamoDB
//! eventually deletes what has expired. Correctness never depends on that deletion
//! (DynamoDB may take days): every conditional write treats `expires_at <= now` as
//! absent.
//!
//! The sparse global secondary index `open-inbox` (partition `open_pk` = `"inbox"`, sort
//! `open_sk` = zero-padded `received_at` millis + `#` + id) holds exactly the inbox
//! items that are not done, oldest first; marking an item done removes both attributes.

mod claim;
mod dynamo;
mod error;
mod model;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use claim::{Claim, Claimed, Claims};
pub use dynamo::{DynamoStore, OPEN_INBOX_INDEX, inbox_item_from_stream_image};
pub use error::StoreError;
pub use model::{
    Begin, CacheEntry, InboxItem, InboxStatus, Inserted, LeaseOutcome, NewInboxItem, PutOutcome,
    Unfinished,
};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

use std::future::Future;
use std::time::Duration;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What every function needs from persistent storage. Time comes from the adapter's
/// [`crm_domain::Clock`], so tests can expire things without sleeping.
pub trait Store: Send + Sync {
    /// Writes a dedupe mark for `key` unless one exists that has not yet expired.
    /// Exactly one of any number of concurrent callers gets [`PutOutcome::Inserted`].
    fn put_if_absent(
        &self,
        key: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<PutOutcome>> + Send;

    /// Takes the lease `name` for `owner` until `ttl` from now, if it is free, expired or
    /// already held by `owner` (which then extends it).
    fn take_lease(
        &self,
        name: &str,
        owner: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<LeaseOutcome>> + Send;

    /// Extends a lease `owner` still holds. `false` when it has expired or changed hands:
    /// the caller must stop, because someone else may now be doing the same work.
    fn renew_lease(
        &self,
        name: &str,
        owner: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Gives the lease up if `owner` holds it; `false` when it was not theirs to release.
    fn release_lease(&self, name: &str, owner: &str) -> impl Future<Output = Result<bool>> + Send;

    /// Claims the unit of work `key` for `owner`. Claimable when new, failed, expired, or
    /// in progress under a lease that has run out.
    fn begin(
        &self,
        key: &str,
        owner: &str,
        lease: Duration,
        retention: Duration,
    ) -> impl Future<Output = Result<Begin>> + Send;

    /// Marks the work done, keeping `result` for `retention`. Fails with
    /// [`StoreError::ClaimLost`] when `owner` no longer holds the claim.
    fn complete(
        &self,
        key: &str,
        owner: &str,
        result: Option<&str>,
        retention: Duration,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Hands the work back (claimable at once), recording why. Fails with
    /// [`StoreError::ClaimLost`] when `owner` no longer holds the claim.
    fn fail(&self, key: &str, owner: &str, reason: &str)
    -> impl Future<Output = Result<()>> + Send;

    fn cache_get(&self, key: &str) -> impl Future<Output = Result<Option<CacheEntry>>> + Send;

    /// Stores `value` under `key` unless the stored entry has a higher version; returns
    /// whether it was written. Equal versions overwrite, so a redelivered event is a no-op
    /// rather than an error.
    fn cache_put(
        &self,
        key: &str,
        value: &str,
        version: i64,
    ) -> impl Future<Output = Result<bool>> + Send;

    fn cache_delete(&self, key: &str) -> impl Future<Output = Result<()>> + Send;

    /// Inserts an inbox item once; the same id again is [`Inserted::Duplicate`] (until a
    /// done item's retention has passed).
    fn inbox_insert(&self, item: &NewInboxItem) -> impl Future<Output = Result<Inserted>> + Send;

    fn inbox_get(&self, id: &str) -> impl Future<Output = Result<Option<InboxItem>>> + Send;

    /// Marks the item done and keeps it for `retain` (the duplicate-detection window).
    fn inbox_mark_done(
        &self,
        id: &str,
        retain: Duration,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Records a failed attempt with `reason` (failed, or parked when no retry can fix
    /// it) and counts it; the item stays open. A done item is left done.
    fn inbox_mark_failed(
        &self,
        id: &str,
        reason: &str,
        how: Unfinished,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Items not yet done (pending, failed or parked), oldest first.
    fn inbox_list_open(&self, limit: usize) -> impl Future<Output = Result<Vec<InboxItem>>> + Send;
}

pub(crate) fn pk(prefix: &str, key: &str) -> String {
    format!("{prefix}#{key}")
}

pub(crate) fn secs_after(now: crm_domain::Timestamp, d: Duration) -> i64 {
    now.plus(d).as_secs()
}

/// Sort key of the open-inbox index: fixed-width millis so that string order is time
/// order, then the id to keep keys unique.
pub(crate) fn open_sort_key(received_at_millis: i64, id: &str) -> String {
    format!("{received_at_millis:015}#{id}")
}
