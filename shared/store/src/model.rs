use crm_domain::Timestamp;

/// Result of [`crate::Dedupe::put_if_absent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    Inserted,
    /// A live mark already exists: this is a repeat.
    Exists,
}

/// Result of [`crate::Leases::take_lease`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseOutcome {
    Acquired,
    /// Another owner holds it until `until`.
    Held {
        until: Timestamp,
    },
}

/// Result of [`crate::Idempotency::begin`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// The caller now owns the work; nobody tried it before.
    Claimed,
    /// The caller now owns work an earlier attempt started and did not finish (it
    /// failed, or crashed and its lease ran out): some of it may already be done, so
    /// steps that create things must check first. A record past its retention is not
    /// an earlier attempt: beginning it again is [`Begin::Claimed`].
    Reclaimed,
    /// Someone else is working on it; their lease runs until `until`.
    InProgress { until: Timestamp },
    /// Already done; `result` is what the owner recorded.
    Completed { result: Option<String> },
}

impl Begin {
    /// Whether the caller now owns the work.
    pub fn is_claimed(&self) -> bool {
        matches!(self, Self::Claimed | Self::Reclaimed)
    }
}

/// A batch of entries held to be handled together ([`crate::Batches`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Entry key → entry, each key once.
    pub entries: std::collections::BTreeMap<String, String>,
    /// When the first entry was added, and the last.
    pub first_at: Timestamp,
    pub last_at: Timestamp,
    /// Closed batches take no more entries.
    pub closed: bool,
}

/// A member present in a group ([`crate::Presence`]), and what it said when it last
/// attended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Present {
    pub member: String,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    pub value: String,
    pub version: i64,
}

/// Result of [`crate::InboxWrite::inbox_insert`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    New,
    Duplicate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxStatus {
    /// Accepted; the stream hands it to the worker.
    Pending,
    /// An attempt failed; a later one (the stream's, the redrive's) may succeed.
    Failed,
    /// No retry can fix it, or retries went on too long: kept for a person, who has
    /// been told, to fix the cause and replay it.
    Parked,
    Done,
}

impl InboxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Failed => "failed",
            Self::Parked => "parked",
            Self::Done => "done",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "failed" => Some(Self::Failed),
            "parked" => Some(Self::Parked),
            "done" => Some(Self::Done),
            _ => None,
        }
    }
}

/// How an attempt that did not finish leaves an inbox item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unfinished {
    /// A later attempt may succeed: [`InboxStatus::Failed`].
    Retry,
    /// No retry can: [`InboxStatus::Parked`].
    Park,
    /// Not started, because it could not be before `until` (Notion asked for a pause
    /// longer than the attempt had, or refuses creates until a fix): back in the inbox
    /// as [`InboxStatus::Failed`] with a "not before" time, and not counted as an
    /// attempt, so the redrive's growing pauses do not grow for waiting.
    Wait { until: Timestamp },
}

impl Unfinished {
    pub fn status(self) -> InboxStatus {
        match self {
            Self::Retry | Self::Wait { .. } => InboxStatus::Failed,
            Self::Park => InboxStatus::Parked,
        }
    }

    /// The "not before" time it leaves on the item.
    pub fn not_before(self) -> Option<Timestamp> {
        match self {
            Self::Wait { until } => Some(until),
            Self::Retry | Self::Park => None,
        }
    }

    /// Whether it counts as a failed attempt.
    pub fn counts(self) -> bool {
        !matches!(self, Self::Wait { .. })
    }
}

/// What the HTTP functions write: the work, as received, for the worker to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInboxItem {
    /// Unique per unit of work: a form submission id or a Notion event id.
    pub id: String,
    /// What the payload is (`lead`, `notion_event`), so the worker can route it.
    pub kind: String,
    /// The payload as the worker will parse it (JSON).
    pub payload: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxItem {
    pub id: String,
    pub kind: String,
    pub payload: String,
    pub status: InboxStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub received_at: Timestamp,
    pub updated_at: Timestamp,
    /// Set while the item waits for a time before which it cannot start
    /// ([`Unfinished::Wait`]); cleared by any other outcome.
    pub not_before: Option<Timestamp>,
}
