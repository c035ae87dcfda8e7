//! Each store capability makes only the DynamoDB actions it names in `GRANTS`, and
//! every one of them: the IAM roles in `template.yaml` are derived from those lists, so
//! a call outside them would be refused in AWS, and an action no call makes would be a
//! permission granted for nothing. The adapter runs against DynamoDB Local with an
//! interceptor that records each operation the SDK sends.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::{
    delete_item::DeleteItemInput, get_item::GetItemInput, put_item::PutItemInput,
    query::QueryInput, update_item::UpdateItemInput,
};
use crm_domain::ManualClock;
use crm_store::prelude::*;
use crm_store::{DynamoStore, Grant, NewInboxItem, OPEN_INBOX_INDEX, On, Unfinished};

/// The operations the SDK was asked to send, with the index a query named.
#[derive(Debug, Default, Clone)]
struct Recorder(Arc<Mutex<BTreeSet<(String, On)>>>);

impl Recorder {
    fn take(&self) -> BTreeSet<(String, On)> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "grants-recorder"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input();
        let seen = if input.downcast_ref::<GetItemInput>().is_some() {
            ("GetItem".to_owned(), On::Table)
        } else if input.downcast_ref::<PutItemInput>().is_some() {
            ("PutItem".to_owned(), On::Table)
        } else if input.downcast_ref::<UpdateItemInput>().is_some() {
            ("UpdateItem".to_owned(), On::Table)
        } else if input.downcast_ref::<DeleteItemInput>().is_some() {
            ("DeleteItem".to_owned(), On::Table)
        } else if let Some(query) = input.downcast_ref::<QueryInput>() {
            let on = match query.index_name() {
                Some(OPEN_INBOX_INDEX) => On::OpenInboxIndex,
                _ => On::Table,
            };
            ("Query".to_owned(), on)
        } else {
            ("an operation no capability names".to_owned(), On::Table)
        };
        self.0.lock().unwrap().insert(seen);
        Ok(())
    }
}

async fn recorded_store() -> (DynamoStore, Recorder, ManualClock) {
    crm_testkit::local_endpoint("AWS_ENDPOINT_URL_DYNAMODB").unwrap_or_else(|why| panic!("{why}"));
    let config = crm_settings::sdk_config().await;
    let (_, table) = crm_testkit::aws::new_table("crm-grants").await;
    let recorder = Recorder::default();
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&config)
            .interceptor(recorder.clone())
            .build(),
    );
    let clock = ManualClock::starting_now();
    let store = DynamoStore::new(client, table, Arc::new(clock.clone()));
    (store, recorder, clock)
}

fn named(grants: &[Grant]) -> BTreeSet<(String, On)> {
    grants
        .iter()
        .map(|g| (g.operation().to_owned(), g.on))
        .collect()
}

fn item(id: &str) -> NewInboxItem {
    NewInboxItem {
        id: id.to_owned(),
        kind: "lead".to_owned(),
        payload: "{}".to_owned(),
    }
}

const MINUTE: Duration = Duration::from_secs(60);

/// Runs every call of each capability, on each path its adapter code has (written and
/// refused, found and missing), and compares what was sent with what it names.
#[tokio::test]
async fn each_capability_makes_exactly_the_actions_it_names() {
    let (store, recorder, clock) = recorded_store().await;
    let mut seen = Vec::new();
    // What the calls since the last one sent, beside what the capability names.
    macro_rules! made {
        ($capability:ident) => {
            (
                stringify!($capability),
                recorder.take(),
                named(<DynamoStore as $capability>::GRANTS),
            )
        };
    }

    store.put_if_absent("evt", MINUTE).await.unwrap();
    store.put_if_absent("evt", MINUTE).await.unwrap();
    seen.push(made!(Dedupe));

    store.take_lease("l", "a", MINUTE).await.unwrap();
    store.take_lease("l", "b", MINUTE).await.unwrap();
    store.renew_lease("l", "a", MINUTE).await.unwrap();
    store.renew_lease("l", "b", MINUTE).await.unwrap();
    store.release_lease("l", "b").await.unwrap();
    store.release_lease("l", "a").await.unwrap();
    seen.push(made!(Leases));

    store.begin("w", "a", MINUTE, MINUTE).await.unwrap();
    store.begin("w", "b", MINUTE, MINUTE).await.unwrap();
    store.complete("w", "a", Some("ok"), MINUTE).await.unwrap();
    store.begin("w", "b", MINUTE, MINUTE).await.unwrap();
    store.begin("v", "a", MINUTE, MINUTE).await.unwrap();
    store.fail("v", "a", "no").await.unwrap();
    let _ = store.fail("v", "b", "not mine").await;
    let _ = store.complete("u", "a", None, MINUTE).await;
    seen.push(made!(Idempotency));

    store.cache_put("c", "1", 1).await.unwrap();
    recorder.take();
    store.cache_get("c").await.unwrap();
    store.cache_get("missing").await.unwrap();
    seen.push(made!(CacheRead));

    store.cache_put("d", "2", 2).await.unwrap();
    store.cache_put("d", "1", 1).await.unwrap();
    store.cache_delete("d").await.unwrap();
    store.cache_delete("missing").await.unwrap();
    seen.push(made!(CacheWrite));

    store.inbox_insert(&item("i")).await.unwrap();
    store.inbox_insert(&item("i")).await.unwrap();
    seen.push(made!(InboxWrite));

    store.inbox_get("i").await.unwrap();
    store.inbox_get("missing").await.unwrap();
    seen.push(made!(InboxRead));

    store
        .inbox_mark_failed("i", "boom", Unfinished::Retry)
        .await
        .unwrap();
    store.inbox_mark_done("i", MINUTE).await.unwrap();
    let _ = store.inbox_mark_done("missing", MINUTE).await;
    let _ = store
        .inbox_mark_failed("missing", "boom", Unfinished::Retry)
        .await;
    seen.push(made!(InboxSettle));

    store.inbox_insert(&item("j")).await.unwrap();
    recorder.take();
    store.inbox_list_open(10).await.unwrap();
    seen.push(made!(InboxScan));

    store.attend("g", "a", MINUTE).await.unwrap();
    store.attend("g", "b", MINUTE).await.unwrap();
    store.leave("g", "a").await.unwrap();
    store.leave("g", "nobody").await.unwrap();
    // b is long gone: the next attendance forgets it.
    clock.advance(3 * MINUTE);
    store.attend("g", "a", MINUTE).await.unwrap();
    seen.push(made!(Presence));

    store.batch_get("b").await.unwrap();
    store.batch_add("b", "k", "v", MINUTE).await.unwrap();
    store.batch_add("b", "k", "v", MINUTE).await.unwrap();
    store.batch_close("b", MINUTE).await.unwrap();
    store.batch_add("b", "k2", "v", MINUTE).await.unwrap();
    store.batch_get("b").await.unwrap();
    seen.push(made!(Batches));

    store.count("k", MINUTE).await.unwrap();
    store.count("k", MINUTE).await.unwrap();
    seen.push(made!(Counters));

    let wrong: Vec<String> = seen
        .iter()
        .filter(|(_, made, named)| made != named)
        .map(|(capability, made, named)| format!("{capability}: made {made:?}, names {named:?}"))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
