//! The store split by capability, each naming the DynamoDB actions its calls make.
//!
//! A handler is generic over a *port*: the capabilities it uses and no others, declared
//! with [`port!`](crate::port). The compiler then holds the handler's code to its port
//! (a call outside it does not compile), and the port's [`Grant`]s are exactly what the
//! function's IAM role must allow: `template.yaml`'s roles are checked against them
//! (`infra/check-template.py`, fed by `infra/iam-needs.json`, which a test keeps equal to
//! the ports), and the store suite checks that each capability's calls make only the
//! actions it names.

use std::future::Future;
use std::time::Duration;

use crate::{
    Batch, Begin, CacheEntry, InboxItem, Inserted, LeaseOutcome, NewInboxItem, Present, PutOutcome,
    Result, Unfinished,
};

/// What a DynamoDB action is allowed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum On {
    /// The table itself.
    Table,
    /// The `open-inbox` index ([`crate::OPEN_INBOX_INDEX`]).
    OpenInboxIndex,
}

/// One DynamoDB action a capability's calls make, and on what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Grant {
    /// The IAM action, e.g. `dynamodb:PutItem`.
    pub action: &'static str,
    pub on: On,
}

impl Grant {
    /// The action's API operation name (`PutItem`), as the SDK reports it.
    pub fn operation(&self) -> &'static str {
        self.action.trim_start_matches("dynamodb:")
    }
}

const GET: Grant = Grant {
    action: "dynamodb:GetItem",
    on: On::Table,
};
const PUT: Grant = Grant {
    action: "dynamodb:PutItem",
    on: On::Table,
};
const UPDATE: Grant = Grant {
    action: "dynamodb:UpdateItem",
    on: On::Table,
};
const DELETE: Grant = Grant {
    action: "dynamodb:DeleteItem",
    on: On::Table,
};
const QUERY_OPEN: Grant = Grant {
    action: "dynamodb:Query",
    on: On::OpenInboxIndex,
};

/// Dedupe marks: "have I seen this before?", with an expiry.
pub trait Dedupe: Send + Sync {
    const GRANTS: &'static [Grant] = &[PUT];

    /// Writes a dedupe mark for `key` unless one exists that has not yet expired.
    /// Exactly one of any number of concurrent callers gets [`PutOutcome::Inserted`].
    fn put_if_absent(
        &self,
        key: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<PutOutcome>> + Send;
}

/// Short per-name locks (per canonical email, per redrive run).
pub trait Leases: Send + Sync {
    const GRANTS: &'static [Grant] = &[PUT, UPDATE, DELETE];

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
}

/// Once-only work: the records [`crate::Claims`] claims, completes and hands back.
pub trait Idempotency: Send + Sync {
    const GRANTS: &'static [Grant] = &[PUT, UPDATE];

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
    /// [`crate::StoreError::ClaimLost`] when `owner` no longer holds the claim.
    fn complete(
        &self,
        key: &str,
        owner: &str,
        result: Option<&str>,
        retention: Duration,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Hands the work back (claimable at once), recording why. Fails with
    /// [`crate::StoreError::ClaimLost`] when `owner` no longer holds the claim.
    fn fail(&self, key: &str, owner: &str, reason: &str)
    -> impl Future<Output = Result<()>> + Send;
}

/// Reading small versioned facts (email → page id, a deal's last stage).
pub trait CacheRead: Send + Sync {
    const GRANTS: &'static [Grant] = &[GET];

    fn cache_get(&self, key: &str) -> impl Future<Output = Result<Option<CacheEntry>>> + Send;
}

/// Writing and forgetting small versioned facts.
pub trait CacheWrite: Send + Sync {
    const GRANTS: &'static [Grant] = &[PUT, DELETE];

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
}

/// Accepting work into the inbox.
pub trait InboxWrite: Send + Sync {
    const GRANTS: &'static [Grant] = &[PUT];

    /// Inserts an inbox item once; the same id again is [`Inserted::Duplicate`] (until a
    /// done item's retention has passed).
    fn inbox_insert(&self, item: &NewInboxItem) -> impl Future<Output = Result<Inserted>> + Send;
}

/// Reading one inbox item.
pub trait InboxRead: Send + Sync {
    const GRANTS: &'static [Grant] = &[GET];

    fn inbox_get(&self, id: &str) -> impl Future<Output = Result<Option<InboxItem>>> + Send;
}

/// Recording what became of an inbox item.
pub trait InboxSettle: Send + Sync {
    /// A failure that finds the item unchanged reads it to tell "done already" (left
    /// so) from "missing" (an error).
    const GRANTS: &'static [Grant] = &[GET, UPDATE];

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
}

/// Listing what is not done yet.
pub trait InboxScan: Send + Sync {
    const GRANTS: &'static [Grant] = &[QUERY_OPEN];

    /// Items not yet done (pending, failed or parked), oldest first.
    fn inbox_list_open(&self, limit: usize) -> impl Future<Output = Result<Vec<InboxItem>>> + Send;
}

/// Who is spending a budget shared between processes right now: each process that
/// calls Notion says so every second or so, and learns from the answer how many do, so
/// that each paces at its share instead of finding it out through 429s (and a process
/// left alone takes the whole budget back at once).
pub trait Presence: Send + Sync {
    const GRANTS: &'static [Grant] = &[UPDATE];

    /// Says `member` is present in `group` until `ttl` from now, with a `note` for the
    /// others (what it knows that they may use), and returns every member present now
    /// (`member` among them) with its latest note, sorted by member, so that each
    /// member can tell its rank.
    fn attend_saying(
        &self,
        group: &str,
        member: &str,
        ttl: Duration,
        note: &str,
    ) -> impl Future<Output = Result<Vec<Present>>> + Send;

    /// [`attend_saying`](Self::attend_saying) with nothing to say: who is present.
    fn attend(
        &self,
        group: &str,
        member: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<Vec<String>>> + Send {
        async move {
            Ok(self
                .attend_saying(group, member, ttl, "")
                .await?
                .into_iter()
                .map(|p| p.member)
                .collect())
        }
    }

    /// Says `member` has left `group`: the others need not wait for it to expire.
    fn leave(&self, group: &str, member: &str) -> impl Future<Output = Result<()>> + Send;
}

/// Counting in fixed windows (a browser form's submissions per address per minute):
/// each call adds one and returns the count so far, so a limit holds across every
/// function instance at once.
pub trait Counters: Send + Sync {
    const GRANTS: &'static [Grant] = &[UPDATE];

    /// Adds one to `key`'s count in the current window of length `window` (windows
    /// start at multiples of it since the epoch) and returns the count in it.
    fn count(&self, key: &str, window: Duration) -> impl Future<Output = Result<u64>> + Send;
}

/// Entries held to be handled together (a burst of stage changes for one Slack
/// destination, posted as one summary): added one by one, each key once, until the batch
/// is closed; closing returns what it holds, and nothing can be added after it.
pub trait Batches: Send + Sync {
    const GRANTS: &'static [Grant] = &[GET, UPDATE];

    /// Adds `entry` under `key` to `batch` unless the batch is closed (`None`); a key
    /// already in it keeps its first entry. Returns the batch as it is after the add.
    fn batch_add(
        &self,
        batch: &str,
        key: &str,
        entry: &str,
        retention: Duration,
    ) -> impl Future<Output = Result<Option<Batch>>> + Send;

    /// Closes `batch` and returns what it holds; closing a closed batch returns the same.
    fn batch_close(
        &self,
        batch: &str,
        retention: Duration,
    ) -> impl Future<Output = Result<Batch>> + Send;

    fn batch_get(&self, batch: &str) -> impl Future<Output = Result<Option<Batch>>> + Send;
}

/// Declares a port: a trait that is exactly the listed capabilities, implemented for
/// every store that has them, with `grants()` listing the DynamoDB actions they make.
///
/// ```ignore
/// crm_store::port!(
///     /// What lead intake keeps.
///     pub IntakeStore: InboxWrite, InboxRead
/// );
/// ```
#[macro_export]
macro_rules! port {
    ($(#[$meta:meta])* $vis:vis $name:ident: $($capability:ident),+ $(,)?) => {
        $(#[$meta])*
        $vis trait $name: $($crate::$capability +)+ Sized {
            /// The DynamoDB actions this port's calls make, sorted, each once.
            fn grants() -> Vec<$crate::Grant> {
                let mut grants = Vec::new();
                $(grants.extend_from_slice(<Self as $crate::$capability>::GRANTS);)+
                grants.sort();
                grants.dedup();
                grants
            }
        }

        impl<T: $($crate::$capability +)+ Sized> $name for T {}
    };
}
