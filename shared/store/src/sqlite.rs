//! The embedded adapter for `make local`: the same records as the DynamoDB table, in one
//! SQLite table.
//!
//! Each operation runs in an `IMMEDIATE` transaction, which takes SQLite's write lock
//! before reading: the read-decide-write sequence inside is then as atomic as
//! DynamoDB's conditional write, also across processes sharing the file.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crm_domain::{Clock, Timestamp};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use crate::capability::{
    Batches, CacheRead, CacheWrite, Counters, Dedupe, Idempotency, InboxRead, InboxScan,
    InboxSettle, InboxWrite, Leases, Presence,
};
use crate::model::{
    Batch, Begin, CacheEntry, InboxItem, InboxStatus, Inserted, LeaseOutcome, NewInboxItem,
    Present, PutOutcome,
};
use crate::{Result, StoreError, Unfinished, open_sort_key, pk, secs_after};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS records (
    pk          TEXT PRIMARY KEY,
    expires_at  INTEGER,
    owner       TEXT,
    state       TEXT,
    lease_until INTEGER,
    result      TEXT,
    reason      TEXT,
    value       TEXT,
    version     INTEGER,
    kind        TEXT,
    payload     TEXT,
    status      TEXT,
    attempts    INTEGER,
    last_error  TEXT,
    received_at INTEGER,
    updated_at  INTEGER,
    open_sk     TEXT,
    not_before  INTEGER
);
CREATE INDEX IF NOT EXISTS open_inbox ON records (open_sk) WHERE open_sk IS NOT NULL;
";

#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the store file at `path`.
    pub fn open(path: &Path, clock: Arc<dyn Clock>) -> Result<Self> {
        let conn = Connection::open(path).map_err(|e| StoreError::backend("open", e))?;
        // WAL lets a second process (a replay command) read while the server writes;
        // the busy timeout makes it wait for the write lock instead of failing.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| StoreError::backend("open", e))?;
        Self::init(conn, clock)
    }

    /// A store that lives as long as the value: for tests.
    pub fn in_memory(clock: Arc<dyn Clock>) -> Result<Self> {
        let conn = Connection::open_in_memory().map_err(|e| StoreError::backend("open", e))?;
        Self::init(conn, clock)
    }

    fn init(conn: Connection, clock: Arc<dyn Clock>) -> Result<Self> {
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(|e| StoreError::backend("open", e))?;
        conn.execute_batch(SCHEMA)
            .map_err(|e| StoreError::backend("open", e))?;
        // A store file made before items could wait gets the column.
        let columns: Vec<String> = conn
            .prepare("SELECT name FROM pragma_table_info('records')")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(|e| StoreError::backend("open", e))?;
        if !columns.iter().any(|c| c == "not_before") {
            conn.execute_batch("ALTER TABLE records ADD COLUMN not_before INTEGER")
                .map_err(|e| StoreError::backend("open", e))?;
        }
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            clock,
        })
    }

    /// Runs `f` in an immediate transaction on a blocking thread, with the current time.
    async fn tx<T, F>(&self, operation: &'static str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>, Timestamp) -> Result<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        let now = self.clock.now();
        tokio::task::spawn_blocking(move || {
            // A panic in another operation poisons the mutex but leaves the connection
            // usable (its transaction rolled back on drop), so carry on with it.
            let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| StoreError::backend(operation, e))?;
            let out = f(&tx, now)?;
            tx.commit().map_err(|e| StoreError::backend(operation, e))?;
            Ok(out)
        })
        .await
        .map_err(|e| StoreError::backend(operation, e))?
    }
}

fn sql(operation: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| StoreError::backend(operation, e)
}

/// `expires_at` of the record, if it exists.
fn expiry(tx: &Transaction<'_>, key: &str, op: &'static str) -> Result<Option<Option<i64>>> {
    tx.query_row(
        "SELECT expires_at FROM records WHERE pk = ?1",
        params![key],
        |r| r.get::<_, Option<i64>>(0),
    )
    .optional()
    .map_err(sql(op))
}

/// Whether a record with this expiry may be replaced: missing, or expired. A record
/// without `expires_at` never expires.
fn absent_or_expired(found: Option<Option<i64>>, now: Timestamp) -> bool {
    match found {
        None => true,
        Some(Some(exp)) => exp <= now.as_secs(),
        Some(None) => false,
    }
}

impl Dedupe for SqliteStore {
    async fn put_if_absent(&self, key: &str, ttl: Duration) -> Result<PutOutcome> {
        let key = pk("dedupe", key);
        self.tx("put_if_absent", move |tx, now| {
            if !absent_or_expired(expiry(tx, &key, "put_if_absent")?, now) {
                return Ok(PutOutcome::Exists);
            }
            tx.execute(
                "INSERT OR REPLACE INTO records (pk, expires_at) VALUES (?1, ?2)",
                params![key, secs_after(now, ttl)],
            )
            .map_err(sql("put_if_absent"))?;
            Ok(PutOutcome::Inserted)
        })
        .await
    }
}

/// A batch as JSON in the record's `value`; each operation one immediate transaction.
#[derive(serde::Serialize, serde::Deserialize, Default)]
struct StoredBatch {
    entries: std::collections::BTreeMap<String, String>,
    first_at: i64,
    last_at: i64,
    closed: bool,
}

impl From<StoredBatch> for Batch {
    fn from(b: StoredBatch) -> Self {
        Self {
            entries: b.entries,
            first_at: Timestamp::from_millis(b.first_at),
            last_at: Timestamp::from_millis(b.last_at),
            closed: b.closed,
        }
    }
}

fn read_batch(tx: &Transaction<'_>, key: &str, op: &'static str) -> Result<Option<StoredBatch>> {
    let value: Option<String> = tx
        .query_row(
            "SELECT value FROM records WHERE pk = ?1",
            params![key],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql(op))?;
    value
        .map(|v| serde_json::from_str(&v).map_err(|e| StoreError::backend(op, e)))
        .transpose()
}

fn write_batch(
    tx: &Transaction<'_>,
    key: &str,
    batch: &StoredBatch,
    expires_at: i64,
    op: &'static str,
) -> Result<()> {
    let value = serde_json::to_string(batch).map_err(|e| StoreError::backend(op, e))?;
    tx.execute(
        "INSERT OR REPLACE INTO records (pk, value, expires_at) VALUES (?1, ?2, ?3)",
        params![key, value, expires_at],
    )
    .map_err(sql(op))?;
    Ok(())
}

impl Batches for SqliteStore {
    async fn batch_add(
        &self,
        batch: &str,
        key: &str,
        entry: &str,
        retention: Duration,
    ) -> Result<Option<Batch>> {
        let record = pk("batch", batch);
        let (key, entry) = (key.to_owned(), entry.to_owned());
        self.tx("batch_add", move |tx, now| {
            let mut b = read_batch(tx, &record, "batch_add")?.unwrap_or_default();
            if b.closed {
                return Ok(None);
            }
            if b.entries.is_empty() {
                b.first_at = now.as_millis();
            }
            b.entries.entry(key).or_insert(entry);
            b.last_at = now.as_millis();
            write_batch(tx, &record, &b, secs_after(now, retention), "batch_add")?;
            Ok(Some(b.into()))
        })
        .await
    }

    async fn batch_close(&self, batch: &str, retention: Duration) -> Result<Batch> {
        let record = pk("batch", batch);
        self.tx("batch_close", move |tx, now| {
            let mut b = read_batch(tx, &record, "batch_close")?.unwrap_or_default();
            b.closed = true;
            write_batch(tx, &record, &b, secs_after(now, retention), "batch_close")?;
            Ok(b.into())
        })
        .await
    }

    async fn batch_get(&self, batch: &str) -> Result<Option<Batch>> {
        let record = pk("batch", batch);
        self.tx("batch_get", move |tx, _| {
            Ok(read_batch(tx, &record, "batch_get")?.map(Batch::from))
        })
        .await
    }
}

/// A record per member (`presence#{group}#{member}`, present until `lease_until`
/// millis): the group is a key range, so one transaction says "I am here", forgets who
/// has gone and lists who is left.
impl Presence for SqliteStore {
    async fn attend_saying(
        &self,
        group: &str,
        member: &str,
        ttl: Duration,
        note: &str,
    ) -> Result<Vec<Present>> {
        let from = pk("presence", &format!("{group}#"));
        let key = format!("{from}{member}");
        let (member, note) = (member.to_owned(), note.to_owned());
        self.tx("attend", move |tx, now| {
            tx.execute(
                "INSERT OR REPLACE INTO records (pk, owner, lease_until, expires_at, value) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    key,
                    member,
                    now.plus(ttl).as_millis(),
                    secs_after(now, ttl),
                    note
                ],
            )
            .map_err(sql("attend"))?;
            let range = "pk >= ?1 AND pk < ?1 || char(1114111)";
            tx.execute(
                &format!("DELETE FROM records WHERE {range} AND lease_until <= ?2"),
                params![from, now.as_millis()],
            )
            .map_err(sql("attend"))?;
            let mut stmt = tx
                .prepare(&format!(
                    "SELECT owner, value FROM records WHERE {range} ORDER BY owner"
                ))
                .map_err(sql("attend"))?;
            let present = stmt
                .query_map(params![from], |r| {
                    Ok(Present {
                        member: r.get(0)?,
                        note: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    })
                })
                .and_then(Iterator::collect)
                .map_err(sql("attend"))?;
            Ok(present)
        })
        .await
    }

    async fn leave(&self, group: &str, member: &str) -> Result<()> {
        let key = pk("presence", &format!("{group}#{member}"));
        self.tx("leave", move |tx, _| {
            tx.execute("DELETE FROM records WHERE pk = ?1", params![key])
                .map_err(sql("leave"))?;
            Ok(())
        })
        .await
    }
}

impl Counters for SqliteStore {
    async fn count(&self, key: &str, window: Duration) -> Result<u64> {
        let (index, ends) = crate::window_of(self.clock.now(), window);
        let record = pk("count", &format!("{key}#{index}"));
        self.tx("count", move |tx, _| {
            let n: i64 = tx
                .query_row(
                    "INSERT INTO records (pk, version, expires_at) VALUES (?1, 1, ?2) \
                     ON CONFLICT(pk) DO UPDATE SET version = version + 1 RETURNING version",
                    params![record, ends],
                    |r| r.get(0),
                )
                .map_err(sql("count"))?;
            Ok(n.unsigned_abs())
        })
        .await
    }
}

impl Leases for SqliteStore {
    async fn take_lease(&self, name: &str, owner: &str, ttl: Duration) -> Result<LeaseOutcome> {
        let key = pk("lease", name);
        let owner = owner.to_owned();
        self.tx("take_lease", move |tx, now| {
            let held: Option<(String, i64)> = tx
                .query_row(
                    "SELECT owner, expires_at FROM records WHERE pk = ?1",
                    params![key],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(sql("take_lease"))?;
            if let Some((holder, until)) = held
                && holder != owner
                && until > now.as_secs()
            {
                return Ok(LeaseOutcome::Held {
                    until: Timestamp::from_secs(until),
                });
            }
            tx.execute(
                "INSERT OR REPLACE INTO records (pk, owner, expires_at) VALUES (?1, ?2, ?3)",
                params![key, owner, secs_after(now, ttl)],
            )
            .map_err(sql("take_lease"))?;
            Ok(LeaseOutcome::Acquired)
        })
        .await
    }

    async fn renew_lease(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool> {
        let key = pk("lease", name);
        let owner = owner.to_owned();
        self.tx("renew_lease", move |tx, now| {
            let n = tx
                .execute(
                    "UPDATE records SET expires_at = ?1 \
                     WHERE pk = ?2 AND owner = ?3 AND expires_at > ?4",
                    params![secs_after(now, ttl), key, owner, now.as_secs()],
                )
                .map_err(sql("renew_lease"))?;
            Ok(n == 1)
        })
        .await
    }

    async fn release_lease(&self, name: &str, owner: &str) -> Result<bool> {
        let key = pk("lease", name);
        let owner = owner.to_owned();
        self.tx("release_lease", move |tx, _| {
            let n = tx
                .execute(
                    "DELETE FROM records WHERE pk = ?1 AND owner = ?2",
                    params![key, owner],
                )
                .map_err(sql("release_lease"))?;
            Ok(n == 1)
        })
        .await
    }
}

impl Idempotency for SqliteStore {
    async fn begin(
        &self,
        key: &str,
        owner: &str,
        lease: Duration,
        retention: Duration,
    ) -> Result<Begin> {
        let key = pk("idem", key);
        let owner = owner.to_owned();
        self.tx("begin", move |tx, now| {
            type Row = (Option<String>, Option<i64>, Option<String>, Option<i64>);
            let row: Option<Row> = tx
                .query_row(
                    "SELECT state, lease_until, result, expires_at FROM records WHERE pk = ?1",
                    params![key],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()
                .map_err(sql("begin"))?;
            // A record past its retention counts as absent: the work is new, not a
            // resumption of an earlier attempt.
            let existed = row
                .as_ref()
                .is_some_and(|(_, _, _, e)| !e.is_some_and(|e| e <= now.as_secs()));
            if let Some((state, lease_until, result, expires_at)) = row {
                let expired = expires_at.is_some_and(|e| e <= now.as_secs());
                match state.as_deref() {
                    _ if expired => {}
                    Some("failed") => {}
                    Some("completed") => return Ok(Begin::Completed { result }),
                    Some("in_progress") => {
                        let until = lease_until.unwrap_or_default();
                        if until > now.as_secs() {
                            return Ok(Begin::InProgress {
                                until: Timestamp::from_secs(until),
                            });
                        }
                    }
                    other => {
                        return Err(StoreError::Malformed {
                            key,
                            reason: format!("unexpected state {other:?}"),
                        });
                    }
                }
            }
            tx.execute(
                "INSERT OR REPLACE INTO records (pk, state, owner, lease_until, expires_at) \
                 VALUES (?1, 'in_progress', ?2, ?3, ?4)",
                params![
                    key,
                    owner,
                    secs_after(now, lease),
                    secs_after(now, retention)
                ],
            )
            .map_err(sql("begin"))?;
            Ok(if existed {
                Begin::Reclaimed
            } else {
                Begin::Claimed
            })
        })
        .await
    }

    async fn complete(
        &self,
        key: &str,
        owner: &str,
        result: Option<&str>,
        retention: Duration,
    ) -> Result<()> {
        let key = pk("idem", key);
        let owner = owner.to_owned();
        let result = result.map(str::to_owned);
        self.tx("complete", move |tx, now| {
            let n = tx
                .execute(
                    "UPDATE records SET state = 'completed', result = ?1, expires_at = ?2, \
                     lease_until = NULL \
                     WHERE pk = ?3 AND state = 'in_progress' AND owner = ?4",
                    params![result, secs_after(now, retention), key, owner],
                )
                .map_err(sql("complete"))?;
            if n == 1 {
                Ok(())
            } else {
                Err(StoreError::ClaimLost { key })
            }
        })
        .await
    }

    async fn fail(&self, key: &str, owner: &str, reason: &str) -> Result<()> {
        let key = pk("idem", key);
        let owner = owner.to_owned();
        let reason = reason.to_owned();
        self.tx("fail", move |tx, _| {
            let n = tx
                .execute(
                    "UPDATE records SET state = 'failed', reason = ?1, lease_until = NULL \
                     WHERE pk = ?2 AND state = 'in_progress' AND owner = ?3",
                    params![reason, key, owner],
                )
                .map_err(sql("fail"))?;
            if n == 1 {
                Ok(())
            } else {
                Err(StoreError::ClaimLost { key })
            }
        })
        .await
    }
}

impl CacheRead for SqliteStore {
    async fn cache_get(&self, key: &str) -> Result<Option<CacheEntry>> {
        let key = pk("cache", key);
        self.tx("cache_get", move |tx, _| {
            tx.query_row(
                "SELECT value, version FROM records WHERE pk = ?1",
                params![key],
                |r| {
                    Ok(CacheEntry {
                        value: r.get(0)?,
                        version: r.get(1)?,
                    })
                },
            )
            .optional()
            .map_err(sql("cache_get"))
        })
        .await
    }
}

impl CacheWrite for SqliteStore {
    async fn cache_put(&self, key: &str, value: &str, version: i64) -> Result<bool> {
        let key = pk("cache", key);
        let value = value.to_owned();
        self.tx("cache_put", move |tx, _| {
            let n = tx
                .execute(
                    "INSERT INTO records (pk, value, version) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (pk) DO UPDATE SET value = excluded.value, \
                     version = excluded.version WHERE records.version <= excluded.version",
                    params![key, value, version],
                )
                .map_err(sql("cache_put"))?;
            Ok(n == 1)
        })
        .await
    }

    async fn cache_delete(&self, key: &str) -> Result<()> {
        let key = pk("cache", key);
        self.tx("cache_delete", move |tx, _| {
            tx.execute("DELETE FROM records WHERE pk = ?1", params![key])
                .map_err(sql("cache_delete"))?;
            Ok(())
        })
        .await
    }
}

impl InboxWrite for SqliteStore {
    async fn inbox_insert(&self, item: &NewInboxItem) -> Result<Inserted> {
        let item = item.clone();
        self.tx("inbox_insert", move |tx, now| {
            let key = pk("inbox", &item.id);
            // Only done items carry `expires_at`: pending and failed work is never replaced.
            if !absent_or_expired(expiry(tx, &key, "inbox_insert")?, now) {
                return Ok(Inserted::Duplicate);
            }
            tx.execute(
                "INSERT OR REPLACE INTO records \
                 (pk, kind, payload, status, attempts, received_at, updated_at, open_sk) \
                 VALUES (?1, ?2, ?3, 'pending', 0, ?4, ?4, ?5)",
                params![
                    key,
                    item.kind,
                    item.payload,
                    now.as_millis(),
                    open_sort_key(now.as_millis(), &item.id)
                ],
            )
            .map_err(sql("inbox_insert"))?;
            Ok(Inserted::New)
        })
        .await
    }
}

impl InboxRead for SqliteStore {
    async fn inbox_get(&self, id: &str) -> Result<Option<InboxItem>> {
        let key = pk("inbox", id);
        self.tx("inbox_get", move |tx, _| {
            let row = tx
                .query_row(
                    &format!("SELECT {INBOX_COLUMNS} FROM records WHERE pk = ?1"),
                    params![key],
                    inbox_row,
                )
                .optional()
                .map_err(sql("inbox_get"))?;
            row.map(inbox_item_from).transpose()
        })
        .await
    }
}

impl InboxSettle for SqliteStore {
    async fn inbox_mark_done(&self, id: &str, retain: Duration) -> Result<()> {
        let key = pk("inbox", id);
        self.tx("inbox_mark_done", move |tx, now| {
            let n = tx
                .execute(
                    "UPDATE records SET status = 'done', updated_at = ?1, expires_at = ?2, \
                     open_sk = NULL, not_before = NULL WHERE pk = ?3",
                    params![now.as_millis(), secs_after(now, retain), key],
                )
                .map_err(sql("inbox_mark_done"))?;
            if n == 1 {
                Ok(())
            } else {
                Err(StoreError::NotFound { key })
            }
        })
        .await
    }

    async fn inbox_mark_failed(&self, id: &str, reason: &str, how: Unfinished) -> Result<()> {
        let key = pk("inbox", id);
        let reason = reason.to_owned();
        let status = how.status().as_str();
        self.tx("inbox_mark_failed", move |tx, now| {
            let exists: Option<String> = tx
                .query_row(
                    "SELECT status FROM records WHERE pk = ?1",
                    params![key],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql("inbox_mark_failed"))?;
            match exists.as_deref() {
                None => Err(StoreError::NotFound { key }),
                // A failure reported after another attempt finished must not reopen it.
                Some("done") => Ok(()),
                Some(_) => {
                    tx.execute(
                        "UPDATE records SET status = ?1, last_error = ?2, updated_at = ?3, \
                         attempts = attempts + ?4, not_before = ?5 WHERE pk = ?6",
                        params![
                            status,
                            reason,
                            now.as_millis(),
                            i64::from(how.counts()),
                            how.not_before().map(Timestamp::as_millis),
                            key
                        ],
                    )
                    .map_err(sql("inbox_mark_failed"))?;
                    Ok(())
                }
            }
        })
        .await
    }
}

impl InboxScan for SqliteStore {
    async fn inbox_list_open(&self, limit: usize) -> Result<Vec<InboxItem>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.tx("inbox_list_open", move |tx, _| {
            let mut stmt = tx
                .prepare(&format!(
                    "SELECT {INBOX_COLUMNS} FROM records WHERE open_sk IS NOT NULL \
                     ORDER BY open_sk LIMIT ?1"
                ))
                .map_err(sql("inbox_list_open"))?;
            let rows = stmt
                .query_map(params![limit], inbox_row)
                .map_err(sql("inbox_list_open"))?;
            let mut items = Vec::new();
            for row in rows {
                items.push(inbox_item_from(row.map_err(sql("inbox_list_open"))?)?);
            }
            Ok(items)
        })
        .await
    }
}

const INBOX_COLUMNS: &str =
    "pk, kind, payload, status, attempts, last_error, received_at, updated_at, not_before";

type InboxRow = (
    String,
    String,
    String,
    String,
    i64,
    Option<String>,
    i64,
    i64,
    Option<i64>,
);

fn inbox_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<InboxRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
    ))
}

fn inbox_item_from(row: InboxRow) -> Result<InboxItem> {
    let (key, kind, payload, status, attempts, last_error, received_at, updated_at, not_before) =
        row;
    let status = InboxStatus::parse(&status).ok_or_else(|| StoreError::Malformed {
        key: key.clone(),
        reason: format!("unknown status {status:?}"),
    })?;
    let id = key.strip_prefix("inbox#").unwrap_or(&key).to_owned();
    Ok(InboxItem {
        id,
        kind,
        payload,
        status,
        attempts: u32::try_from(attempts).unwrap_or(0),
        last_error,
        received_at: Timestamp::from_millis(received_at),
        updated_at: Timestamp::from_millis(updated_at),
        not_before: not_before.map(Timestamp::from_millis),
    })
}
