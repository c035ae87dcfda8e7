//! The store suite against DynamoDB Local (AWS's own engine: its conditional writes are
//! atomic, unlike moto's). `make test` starts it and sets `AWS_ENDPOINT_URL_DYNAMODB`.

mod suite;

use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{StreamViewType, TimeToLiveStatus};
use crm_domain::{Clock, ManualClock};
use crm_store::prelude::*;
use crm_store::{DynamoStore, OPEN_INBOX_INDEX};

async fn client() -> Client {
    // Never let these tests reach a real AWS account.
    crm_testkit::local_endpoint("AWS_ENDPOINT_URL_DYNAMODB").unwrap_or_else(|why| panic!("{why}"));
    Client::new(&crm_settings::sdk_config().await)
}

async fn fresh_table() -> (Client, String) {
    // Never let these tests reach a real AWS account.
    client().await;
    crm_testkit::aws::new_table("crm-test").await
}

async fn fresh() -> (Arc<DynamoStore>, ManualClock) {
    let (client, table) = fresh_table().await;
    let clock = ManualClock::starting_now();
    (
        Arc::new(DynamoStore::new(client, table, Arc::new(clock.clone()))),
        clock,
    )
}

store_suite!(fresh);

#[tokio::test]
async fn created_table_has_ttl_stream_and_open_inbox_index() {
    let (client, table) = fresh_table().await;
    let described = client
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let t = described.table().unwrap();
    let stream = t.stream_specification().unwrap();
    assert!(stream.stream_enabled());
    assert_eq!(stream.stream_view_type(), Some(&StreamViewType::NewImage));
    assert!(
        t.global_secondary_indexes()
            .iter()
            .any(|i| i.index_name() == Some(OPEN_INBOX_INDEX))
    );
    let ttl = client
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.attribute_name(), Some("expires_at"));
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
}

#[tokio::test]
async fn expires_at_is_stored_in_whole_seconds_for_dynamodb_ttl() {
    let (client, table) = fresh_table().await;
    let clock = ManualClock::starting_now();
    let store = DynamoStore::new(client.clone(), table.clone(), Arc::new(clock.clone()));
    store
        .put_if_absent("evt-1", std::time::Duration::from_secs(3 * 86_400))
        .await
        .unwrap();
    let item = client
        .get_item()
        .table_name(&table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("dedupe#evt-1".into()),
        )
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let expires: i64 = item["expires_at"].as_n().unwrap().parse().unwrap();
    assert_eq!(expires, clock.now().as_secs() + 3 * 86_400);
}

/// The presence record is one item per group: a process gone for good must not stay in
/// it forever (each Lambda environment is a member of its own).
#[tokio::test]
async fn members_long_gone_are_forgotten_from_the_presence_record() {
    let (client, table) = fresh_table().await;
    let clock = ManualClock::starting_now();
    let store = DynamoStore::new(client.clone(), table.clone(), Arc::new(clock.clone()));
    let minute = std::time::Duration::from_secs(60);
    store.attend("notion", "gone", minute).await.unwrap();
    store.attend("notion", "stays", minute).await.unwrap();
    let members = || async {
        let item = client
            .get_item()
            .table_name(&table)
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S("presence#notion".into()),
            )
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .unwrap_or_default();
        let mut names: Vec<String> = item.into_keys().filter(|k| k.starts_with("m_")).collect();
        names.sort();
        names
    };
    assert_eq!(members().await, ["m_gone", "m_stays"]);
    // Expired, but not long enough to be forgotten.
    clock.advance(minute + minute / 2);
    assert_eq!(
        store.attend("notion", "stays", minute).await.unwrap(),
        ["stays"]
    );
    assert_eq!(members().await, ["m_gone", "m_stays"]);
    clock.advance(minute);
    store.attend("notion", "stays", minute).await.unwrap();
    assert_eq!(members().await, ["m_stays"]);
}
