//! The DynamoDB adapter. Every decision that must be atomic is one conditional write;
//! nothing reads, decides, then writes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ReturnValue, ReturnValuesOnConditionCheckFailure,
    ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
};
use crm_domain::{Clock, Timestamp};

use crate::capability::{
    Batches, CacheRead, CacheWrite, Counters, Dedupe, Idempotency, InboxRead, InboxScan,
    InboxSettle, InboxWrite, Leases, Presence,
};
use crate::model::{
    Batch, Begin, CacheEntry, InboxItem, InboxStatus, Inserted, LeaseOutcome, NewInboxItem,
    Present, PutOutcome,
};
use crate::{Result, StoreError, Unfinished, open_sort_key, pk, secs_after};

/// Name of the sparse index over inbox items that are not done.
pub const OPEN_INBOX_INDEX: &str = "open-inbox";
const OPEN_PARTITION: &str = "inbox";

type Item = HashMap<String, AttributeValue>;

/// The production store: one DynamoDB table (see the crate docs for its key scheme).
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for DynamoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoStore")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

/// Outcome of a conditional write: the old item comes back when the condition failed,
/// so the caller can say *why* without a second read.
enum Conditional {
    /// Written; the item it replaced, if any.
    Written(Option<Item>),
    Rejected(Option<Item>),
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            table: table.into(),
            clock,
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table with the shape `template.yaml` declares (key, open-inbox index,
    /// stream, TTL). Used by tests and by local runs against DynamoDB Local; in AWS the
    /// stack owns the table.
    pub async fn create_table(client: &Client, table: &str) -> Result<()> {
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| StoreError::backend("create_table", e))
        };
        let key = |name: &str, key_type: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(key_type)
                .build()
                .map_err(|e| StoreError::backend("create_table", e))
        };
        let open_index = GlobalSecondaryIndex::builder()
            .index_name(OPEN_INBOX_INDEX)
            .key_schema(key("open_pk", KeyType::Hash)?)
            .key_schema(key("open_sk", KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(|e| StoreError::backend("create_table", e))?;
        let stream = StreamSpecification::builder()
            .stream_enabled(true)
            .stream_view_type(StreamViewType::NewImage)
            .build()
            .map_err(|e| StoreError::backend("create_table", e))?;
        client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("pk")?)
            .attribute_definitions(attr("open_pk")?)
            .attribute_definitions(attr("open_sk")?)
            .key_schema(key("pk", KeyType::Hash)?)
            .global_secondary_indexes(open_index)
            .stream_specification(stream)
            .send()
            .await
            .map_err(|e| backend("create_table", e))?;
        let ttl = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name("expires_at")
            .build()
            .map_err(|e| StoreError::backend("create_table", e))?;
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(ttl)
            .send()
            .await
            .map_err(|e| backend("update_time_to_live", e))?;
        Ok(())
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    async fn put_conditional(
        &self,
        operation: &'static str,
        item: Item,
        condition: &str,
        names: &[(&str, &str)],
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<Conditional> {
        let mut req = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        for (k, v) in names {
            req = req.expression_attribute_names(*k, *v);
        }
        for (k, v) in values {
            req = req.expression_attribute_values(k, v);
        }
        match req.send().await {
            Ok(out) => Ok(Conditional::Written(out.attributes)),
            Err(err) => match err.into_service_error() {
                e if e.is_conditional_check_failed_exception() => {
                    let old = match e {
                        aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c) => c.item,
                        _ => None,
                    };
                    Ok(Conditional::Rejected(old))
                }
                e => Err(StoreError::backend(operation, e)),
            },
        }
    }

    /// Writes `item` unless a record with its key exists and has not expired; `true`
    /// when written. A record without `expires_at` never expires.
    async fn put_unless_live(
        &self,
        operation: &'static str,
        item: Item,
        now: Timestamp,
    ) -> Result<bool> {
        let outcome = self
            .put_conditional(
                operation,
                item,
                "attribute_not_exists(pk) OR expires_at <= :now",
                &[],
                vec![(":now", n(now.as_secs()))],
            )
            .await?;
        Ok(matches!(outcome, Conditional::Written(_)))
    }

    async fn update_conditional(
        &self,
        operation: &'static str,
        key: &str,
        update: &str,
        condition: &str,
        names: &[(&str, &str)],
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<bool> {
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .update_expression(update)
            .condition_expression(condition);
        for (k, v) in names {
            req = req.expression_attribute_names(*k, *v);
        }
        for (k, v) in values {
            req = req.expression_attribute_values(k, v);
        }
        match req.send().await {
            Ok(_) => Ok(true),
            Err(err) => {
                let e = err.into_service_error();
                if e.is_conditional_check_failed_exception() {
                    Ok(false)
                } else {
                    Err(StoreError::backend(operation, e))
                }
            }
        }
    }

    async fn get(&self, operation: &'static str, key: &str) -> Result<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend(operation, e))?;
        Ok(out.item)
    }
}

impl Dedupe for DynamoStore {
    async fn put_if_absent(&self, key: &str, ttl: Duration) -> Result<PutOutcome> {
        let now = self.now();
        let item = HashMap::from([
            ("pk".to_owned(), s(&pk("dedupe", key))),
            ("expires_at".to_owned(), n(secs_after(now, ttl))),
        ]);
        Ok(if self.put_unless_live("put_if_absent", item, now).await? {
            PutOutcome::Inserted
        } else {
            PutOutcome::Exists
        })
    }
}

impl Leases for DynamoStore {
    async fn take_lease(&self, name: &str, owner: &str, ttl: Duration) -> Result<LeaseOutcome> {
        let now = self.now();
        let key = pk("lease", name);
        let item = HashMap::from([
            ("pk".to_owned(), s(&key)),
            ("owner".to_owned(), s(owner)),
            ("expires_at".to_owned(), n(secs_after(now, ttl))),
        ]);
        let outcome = self
            .put_conditional(
                "take_lease",
                item,
                "attribute_not_exists(pk) OR expires_at <= :now OR #owner = :owner",
                &[("#owner", "owner")],
                vec![(":now", n(now.as_secs())), (":owner", s(owner))],
            )
            .await?;
        match outcome {
            Conditional::Written(_) => Ok(LeaseOutcome::Acquired),
            Conditional::Rejected(old) => {
                let old = old.unwrap_or_default();
                Ok(LeaseOutcome::Held {
                    until: Timestamp::from_secs(get_n(&old, "expires_at").unwrap_or_default()),
                })
            }
        }
    }

    async fn renew_lease(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool> {
        let now = self.now();
        self.update_conditional(
            "renew_lease",
            &pk("lease", name),
            "SET expires_at = :until",
            "#owner = :owner AND expires_at > :now",
            &[("#owner", "owner")],
            vec![
                (":until", n(secs_after(now, ttl))),
                (":owner", s(owner)),
                (":now", n(now.as_secs())),
            ],
        )
        .await
    }

    async fn release_lease(&self, name: &str, owner: &str) -> Result<bool> {
        let res = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(&pk("lease", name)))
            .condition_expression("#owner = :owner")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await;
        match res {
            Ok(_) => Ok(true),
            Err(err) => {
                let e = err.into_service_error();
                if e.is_conditional_check_failed_exception() {
                    Ok(false)
                } else {
                    Err(StoreError::backend("release_lease", e))
                }
            }
        }
    }
}

impl Idempotency for DynamoStore {
    async fn begin(
        &self,
        key: &str,
        owner: &str,
        lease: Duration,
        retention: Duration,
    ) -> Result<Begin> {
        let now = self.now();
        let item = HashMap::from([
            ("pk".to_owned(), s(&pk("idem", key))),
            ("state".to_owned(), s("in_progress")),
            ("owner".to_owned(), s(owner)),
            ("lease_until".to_owned(), n(secs_after(now, lease))),
            ("expires_at".to_owned(), n(secs_after(now, retention))),
        ]);
        let outcome = self
            .put_conditional(
                "begin",
                item,
                "attribute_not_exists(pk) OR expires_at <= :now OR #state = :failed \
                 OR (#state = :in_progress AND lease_until <= :now)",
                &[("#state", "state")],
                vec![
                    (":now", n(now.as_secs())),
                    (":failed", s("failed")),
                    (":in_progress", s("in_progress")),
                ],
            )
            .await?;
        let old = match outcome {
            Conditional::Written(None) => return Ok(Begin::Claimed),
            // A record past its retention counts as absent: the work is new, not a
            // resumption of an earlier attempt.
            Conditional::Written(Some(old))
                if get_n(&old, "expires_at").is_some_and(|e| e <= now.as_secs()) =>
            {
                return Ok(Begin::Claimed);
            }
            Conditional::Written(Some(_)) => return Ok(Begin::Reclaimed),
            Conditional::Rejected(old) => old.unwrap_or_default(),
        };
        match get_s(&old, "state") {
            Some("completed") => Ok(Begin::Completed {
                result: get_s(&old, "result").map(str::to_owned),
            }),
            Some("in_progress") => Ok(Begin::InProgress {
                until: Timestamp::from_secs(get_n(&old, "lease_until").unwrap_or_default()),
            }),
            other => Err(StoreError::Malformed {
                key: pk("idem", key),
                reason: format!("unexpected state {other:?}"),
            }),
        }
    }

    async fn complete(
        &self,
        key: &str,
        owner: &str,
        result: Option<&str>,
        retention: Duration,
    ) -> Result<()> {
        let now = self.now();
        let mut values = vec![
            (":completed", s("completed")),
            (":in_progress", s("in_progress")),
            (":owner", s(owner)),
            (":expires", n(secs_after(now, retention))),
        ];
        let update = match result {
            Some(r) => {
                values.push((":result", s(r)));
                "SET #state = :completed, expires_at = :expires, #result = :result REMOVE lease_until"
            }
            None => "SET #state = :completed, expires_at = :expires REMOVE lease_until, #result",
        };
        let written = self
            .update_conditional(
                "complete",
                &pk("idem", key),
                update,
                "#state = :in_progress AND #owner = :owner",
                &[
                    ("#state", "state"),
                    ("#owner", "owner"),
                    ("#result", "result"),
                ],
                values,
            )
            .await?;
        if written {
            Ok(())
        } else {
            Err(StoreError::ClaimLost {
                key: pk("idem", key),
            })
        }
    }

    async fn fail(&self, key: &str, owner: &str, reason: &str) -> Result<()> {
        let written = self
            .update_conditional(
                "fail",
                &pk("idem", key),
                "SET #state = :failed, #reason = :reason REMOVE lease_until",
                "#state = :in_progress AND #owner = :owner",
                &[
                    ("#state", "state"),
                    ("#owner", "owner"),
                    ("#reason", "reason"),
                ],
                vec![
                    (":failed", s("failed")),
                    (":in_progress", s("in_progress")),
                    (":owner", s(owner)),
                    (":reason", s(reason)),
                ],
            )
            .await?;
        if written {
            Ok(())
        } else {
            Err(StoreError::ClaimLost {
                key: pk("idem", key),
            })
        }
    }
}

impl CacheRead for DynamoStore {
    async fn cache_get(&self, key: &str) -> Result<Option<CacheEntry>> {
        let full = pk("cache", key);
        let Some(item) = self.get("cache_get", &full).await? else {
            return Ok(None);
        };
        let value = get_s(&item, "value").ok_or_else(|| StoreError::Malformed {
            key: full.clone(),
            reason: "no value".into(),
        })?;
        Ok(Some(CacheEntry {
            value: value.to_owned(),
            version: get_n(&item, "version").unwrap_or_default(),
        }))
    }
}

impl CacheWrite for DynamoStore {
    async fn cache_put(&self, key: &str, value: &str, version: i64) -> Result<bool> {
        let item = HashMap::from([
            ("pk".to_owned(), s(&pk("cache", key))),
            ("value".to_owned(), s(value)),
            ("version".to_owned(), n(version)),
        ]);
        let outcome = self
            .put_conditional(
                "cache_put",
                item,
                "attribute_not_exists(pk) OR #version <= :version",
                &[("#version", "version")],
                vec![(":version", n(version))],
            )
            .await?;
        Ok(matches!(outcome, Conditional::Written(_)))
    }

    async fn cache_delete(&self, key: &str) -> Result<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(&pk("cache", key)))
            .send()
            .await
            .map_err(|e| backend("cache_delete", e))?;
        Ok(())
    }
}

impl InboxWrite for DynamoStore {
    async fn inbox_insert(&self, new: &NewInboxItem) -> Result<Inserted> {
        let now = self.now();
        let item = HashMap::from([
            ("pk".to_owned(), s(&pk("inbox", &new.id))),
            ("kind".to_owned(), s(&new.kind)),
            ("payload".to_owned(), s(&new.payload)),
            ("status".to_owned(), s(InboxStatus::Pending.as_str())),
            ("attempts".to_owned(), n(0)),
            ("received_at".to_owned(), n(now.as_millis())),
            ("updated_at".to_owned(), n(now.as_millis())),
            ("open_pk".to_owned(), s(OPEN_PARTITION)),
            (
                "open_sk".to_owned(),
                s(&open_sort_key(now.as_millis(), &new.id)),
            ),
        ]);
        // Only done items carry `expires_at`, so a pending or failed item can never be
        // overwritten: the work it holds is not lost to a late duplicate.
        Ok(if self.put_unless_live("inbox_insert", item, now).await? {
            Inserted::New
        } else {
            Inserted::Duplicate
        })
    }
}

impl InboxRead for DynamoStore {
    async fn inbox_get(&self, id: &str) -> Result<Option<InboxItem>> {
        let full = pk("inbox", id);
        match self.get("inbox_get", &full).await? {
            Some(item) => inbox_item_from(&item).map(Some),
            None => Ok(None),
        }
    }
}

impl InboxSettle for DynamoStore {
    async fn inbox_mark_done(&self, id: &str, retain: Duration) -> Result<()> {
        let now = self.now();
        let written = self
            .update_conditional(
                "inbox_mark_done",
                &pk("inbox", id),
                "SET #status = :done, updated_at = :now_ms, expires_at = :expires \
                 REMOVE open_pk, open_sk, not_before",
                "attribute_exists(pk)",
                &[("#status", "status")],
                vec![
                    (":done", s(InboxStatus::Done.as_str())),
                    (":now_ms", n(now.as_millis())),
                    (":expires", n(secs_after(now, retain))),
                ],
            )
            .await?;
        if written {
            Ok(())
        } else {
            Err(StoreError::NotFound {
                key: pk("inbox", id),
            })
        }
    }

    async fn inbox_mark_failed(&self, id: &str, reason: &str, how: Unfinished) -> Result<()> {
        let now = self.now();
        let mut values = vec![
            (":failed", s(how.status().as_str())),
            (":done", s(InboxStatus::Done.as_str())),
            (":reason", s(reason)),
            (":now_ms", n(now.as_millis())),
            (":one", n(i64::from(how.counts()))),
        ];
        let update = match how.not_before() {
            Some(until) => {
                values.push((":not_before", n(until.as_millis())));
                "SET #status = :failed, last_error = :reason, updated_at = :now_ms, \
                 not_before = :not_before ADD attempts :one"
            }
            None => {
                "SET #status = :failed, last_error = :reason, updated_at = :now_ms \
                 REMOVE not_before ADD attempts :one"
            }
        };
        // A failure reported after another attempt already finished the item must not
        // reopen it.
        let written = self
            .update_conditional(
                "inbox_mark_failed",
                &pk("inbox", id),
                update,
                "attribute_exists(pk) AND #status <> :done",
                &[("#status", "status")],
                values,
            )
            .await?;
        if written {
            return Ok(());
        }
        match self.inbox_get(id).await? {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound {
                key: pk("inbox", id),
            }),
        }
    }
}

impl InboxScan for DynamoStore {
    async fn inbox_list_open(&self, limit: usize) -> Result<Vec<InboxItem>> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        while items.len() < limit {
            let page_limit = i32::try_from(limit - items.len()).unwrap_or(i32::MAX);
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(OPEN_INBOX_INDEX)
                .key_condition_expression("open_pk = :p")
                .expression_attribute_values(":p", s(OPEN_PARTITION))
                .scan_index_forward(true)
                .limit(page_limit)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| backend("inbox_list_open", e))?;
            for item in out.items() {
                items.push(inbox_item_from(item)?);
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        Ok(items)
    }
}

/// A batch record's entry attributes start with this; the rest is the entry's key.
const ENTRY: &str = "e_";

fn batch_from(item: &Item) -> Batch {
    let entries = item
        .iter()
        .filter_map(|(name, value)| {
            let key = name.strip_prefix(ENTRY)?;
            Some((key.to_owned(), value.as_s().ok()?.clone()))
        })
        .collect();
    let at = |name| Timestamp::from_millis(get_n(item, name).unwrap_or_default());
    Batch {
        entries,
        first_at: at("first_at"),
        last_at: at("last_at"),
        closed: item.get("closed").and_then(|v| v.as_bool().ok()).copied() == Some(true),
    }
}

/// One item per batch, an entry an attribute of it: an add is one conditional
/// UpdateItem (refused once the batch is closed) that returns the whole batch.
impl Batches for DynamoStore {
    async fn batch_add(
        &self,
        batch: &str,
        key: &str,
        entry: &str,
        retention: Duration,
    ) -> Result<Option<Batch>> {
        let now = self.now();
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&pk("batch", batch)))
            .update_expression(
                "SET #e = if_not_exists(#e, :entry), first_at = if_not_exists(first_at, :now), \
                 last_at = :now, expires_at = :expires",
            )
            .condition_expression("attribute_not_exists(closed)")
            .expression_attribute_names("#e", format!("{ENTRY}{key}"))
            .expression_attribute_values(":entry", s(entry))
            .expression_attribute_values(":now", n(now.as_millis()))
            .expression_attribute_values(":expires", n(secs_after(now, retention)))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match res {
            Ok(out) => Ok(Some(batch_from(&out.attributes.unwrap_or_default()))),
            Err(err) => {
                let e = err.into_service_error();
                if e.is_conditional_check_failed_exception() {
                    Ok(None)
                } else {
                    Err(StoreError::backend("batch_add", e))
                }
            }
        }
    }

    async fn batch_close(&self, batch: &str, retention: Duration) -> Result<Batch> {
        let now = self.now();
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&pk("batch", batch)))
            .update_expression("SET closed = :closed, expires_at = :expires")
            .expression_attribute_values(":closed", AttributeValue::Bool(true))
            .expression_attribute_values(":expires", n(secs_after(now, retention)))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| backend("batch_close", e))?;
        Ok(batch_from(&out.attributes.unwrap_or_default()))
    }

    async fn batch_get(&self, batch: &str) -> Result<Option<Batch>> {
        Ok(self
            .get("batch_get", &pk("batch", batch))
            .await?
            .map(|item| batch_from(&item)))
    }
}

/// A presence record's member attributes start with this; the rest is the member.
const MEMBER: &str = "m_";
/// And each member's note.
const NOTE: &str = "n_";
/// A member gone this long is removed from the record, so it does not grow with every
/// process that ever ran.
const FORGET_AFTER: Duration = Duration::from_secs(60);
/// How long a presence record outlives its last attendance (then TTL deletes it).
const PRESENCE_RETENTION: Duration = Duration::from_secs(86_400);

/// One item per group, a member an attribute of it: one UpdateItem both says "I am here"
/// and returns who else is, with no index and no second read.
impl Presence for DynamoStore {
    async fn attend_saying(
        &self,
        group: &str,
        member: &str,
        ttl: Duration,
        note: &str,
    ) -> Result<Vec<Present>> {
        let now = self.now();
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&pk("presence", group)))
            .update_expression("SET #m = :until, #n = :note, expires_at = :expires")
            .expression_attribute_names("#m", format!("{MEMBER}{member}"))
            .expression_attribute_names("#n", format!("{NOTE}{member}"))
            .expression_attribute_values(":until", n(now.plus(ttl).as_millis()))
            .expression_attribute_values(":note", s(note))
            .expression_attribute_values(":expires", n(secs_after(now, PRESENCE_RETENTION)))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| backend("attend", e))?;
        let item = out.attributes.unwrap_or_default();
        let members = |pred: &dyn Fn(i64) -> bool| -> Vec<String> {
            let mut found: Vec<String> = item
                .iter()
                .filter_map(|(name, value)| {
                    let who = name.strip_prefix(MEMBER)?;
                    let until: i64 = value.as_n().ok()?.parse().ok()?;
                    pred(until).then(|| who.to_owned())
                })
                .collect();
            found.sort();
            found
        };
        let forget_before = now.as_millis() - FORGET_AFTER.as_millis() as i64;
        let gone = members(&|until| until < forget_before);
        if !gone.is_empty() {
            self.forget(group, &gone, forget_before).await;
        }
        let note = |who: &str| {
            item.get(&format!("{NOTE}{who}"))
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
        Ok(members(&|until| until > now.as_millis())
            .into_iter()
            .map(|member| Present {
                note: note(&member),
                member,
            })
            .collect())
    }

    async fn leave(&self, group: &str, member: &str) -> Result<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&pk("presence", group)))
            .update_expression("REMOVE #m, #n")
            .expression_attribute_names("#m", format!("{MEMBER}{member}"))
            .expression_attribute_names("#n", format!("{NOTE}{member}"))
            .send()
            .await
            .map_err(|e| backend("leave", e))?;
        Ok(())
    }
}

/// One item per key and window: a single atomic `ADD`, so concurrent instances each
/// count and none is lost; the window is in the key, so no expiry check is needed.
impl Counters for DynamoStore {
    async fn count(&self, key: &str, window: Duration) -> Result<u64> {
        let (index, ends) = crate::window_of(self.now(), window);
        let record = pk("count", &format!("{key}#{index}"));
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&record))
            .update_expression("ADD n :one SET expires_at = :ends")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":ends", n(ends))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| backend("count", e))?;
        out.attributes
            .as_ref()
            .and_then(|a| a.get("n"))
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| StoreError::Malformed {
                key: record,
                reason: "the count came back without n".into(),
            })
    }
}

impl DynamoStore {
    /// Removes members gone since before `before` (millis), unless one came back
    /// meanwhile. Housekeeping: a failure only leaves them for the next attendance.
    async fn forget(&self, group: &str, gone: &[String], before: i64) {
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&pk("presence", group)))
            .expression_attribute_values(":before", n(before));
        let mut remove = Vec::new();
        let mut still_gone = Vec::new();
        for (i, who) in gone.iter().enumerate().take(50) {
            req = req
                .expression_attribute_names(format!("#g{i}"), format!("{MEMBER}{who}"))
                .expression_attribute_names(format!("#h{i}"), format!("{NOTE}{who}"));
            remove.push(format!("#g{i}"));
            remove.push(format!("#h{i}"));
            still_gone.push(format!("#g{i} < :before"));
        }
        let res = req
            .update_expression(format!("REMOVE {}", remove.join(", ")))
            .condition_expression(still_gone.join(" AND "))
            .send()
            .await;
        if let Err(err) = res {
            tracing::debug!(error = %err, "could not forget members gone from a presence record");
        }
    }
}

fn backend<E, R>(operation: &'static str, err: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    StoreError::backend(operation, err)
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

fn get_n(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// Reads the inbox item in a DynamoDB stream record's `NewImage` (DynamoDB JSON:
/// `{"pk": {"S": "inbox#…"}, "attempts": {"N": "0"}, …}`). `Ok(None)` when the record is
/// not an inbox item, which the worker skips.
pub fn inbox_item_from_stream_image(image: &serde_json::Value) -> Result<Option<InboxItem>> {
    let Some(map) = image.as_object() else {
        return Ok(None);
    };
    let mut item = Item::new();
    for (name, value) in map {
        let attr = if let Some(s) = value.get("S").and_then(serde_json::Value::as_str) {
            AttributeValue::S(s.to_owned())
        } else if let Some(n) = value.get("N").and_then(serde_json::Value::as_str) {
            AttributeValue::N(n.to_owned())
        } else {
            continue;
        };
        item.insert(name.clone(), attr);
    }
    match get_s(&item, "pk") {
        Some(pk) if pk.starts_with("inbox#") => inbox_item_from(&item).map(Some),
        _ => Ok(None),
    }
}

/// Reads an inbox item from a table item or a stream image (same attributes).
fn inbox_item_from(item: &Item) -> Result<InboxItem> {
    let key = get_s(item, "pk").unwrap_or_default().to_owned();
    let malformed = |reason: &str| StoreError::Malformed {
        key: key.clone(),
        reason: reason.to_owned(),
    };
    let id = key
        .strip_prefix("inbox#")
        .ok_or_else(|| malformed("not an inbox key"))?
        .to_owned();
    let status = get_s(item, "status")
        .and_then(InboxStatus::parse)
        .ok_or_else(|| malformed("unknown status"))?;
    Ok(InboxItem {
        id,
        kind: get_s(item, "kind")
            .ok_or_else(|| malformed("no kind"))?
            .to_owned(),
        payload: get_s(item, "payload")
            .ok_or_else(|| malformed("no payload"))?
            .to_owned(),
        status,
        attempts: get_n(item, "attempts")
            .and_then(|a| u32::try_from(a).ok())
            .unwrap_or(0),
        last_error: get_s(item, "last_error").map(str::to_owned),
        received_at: Timestamp::from_millis(get_n(item, "received_at").unwrap_or_default()),
        updated_at: Timestamp::from_millis(get_n(item, "updated_at").unwrap_or_default()),
        not_before: get_n(item, "not_before").map(Timestamp::from_millis),
    })
}
