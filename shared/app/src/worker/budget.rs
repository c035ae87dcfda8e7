//! How long one inbox item may take at worst, so the worker never starts an item the
//! invocation cannot finish.
//!
//! Lambda kills an invocation at its timeout. An item killed mid-way keeps its claim and
//! its contact lease until they expire, and every redelivery meanwhile answers "in
//! progress" and spends one of the stream's retries. So: every Notion or Slack call has
//! a bounded worst case (its retry budget — waiting for a slot of the shared pace
//! included — plus one request timeout), an item makes a
//! bounded number of calls, and the worker takes a record only while that worst case
//! still fits before the deadline. The records it does not take are reported as batch
//! failures, untouched, and come back at once.
//!
//! Waiting for Notion's budget may take longer than one call's retry budget (a spent
//! window's `Retry-After` runs up to a minute): an item's calls may wait until its
//! worst case less one call's (`Worker::process`), one deadline for the whole item, and
//! no call starts after that deadline (`NotionClient::until`), so the worst case bounds
//! the item whatever path it takes — a resumed lead that looks again after each step
//! makes more calls than [`CALLS_PER_ITEM`], and stops at the deadline instead: the item
//! waits in the inbox (not before now) and the redrive finishes it.

use std::time::Duration;

/// Calls one item makes at most: a lead reads its cached contact, queries, updates or
/// creates the contact, looks for an Activity an earlier attempt wrote, and creates
/// one (five); a deal event reads the schema, the bot user and the page and posts to
/// Slack (four). One more for a query that follows a cursor.
pub const CALLS_PER_ITEM: u32 = 6;

/// Time kept back after the last item for recording outcomes and answering.
pub const MARGIN: Duration = Duration::from_secs(10);

/// The worst case of one item whose every call takes its worst case `call`.
pub fn item_worst_case(call: Duration) -> Duration {
    call * CALLS_PER_ITEM
}

/// How long an attempt holds an item's claim and its contact's lease: longer than the
/// item can take, so a live attempt is never taken over.
pub fn lease_for(item: Duration) -> Duration {
    item + Duration::from_secs(60)
}

/// Whether an item whose worst case is `item` may start with `remaining` left.
pub fn may_start(remaining: Duration, item: Duration) -> bool {
    remaining >= item + MARGIN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_starts_only_when_its_worst_case_fits() {
        let item = item_worst_case(Duration::from_secs(40));
        assert_eq!(item, Duration::from_secs(240));
        assert!(may_start(Duration::from_secs(250), item));
        assert!(!may_start(Duration::from_secs(249), item));
    }
}
