//! The store suite against the embedded SQLite adapter.

mod suite;

use std::sync::Arc;

use crm_domain::ManualClock;
use crm_store::SqliteStore;

async fn fresh() -> (Arc<SqliteStore>, ManualClock) {
    let clock = ManualClock::starting_now();
    let store = SqliteStore::in_memory(Arc::new(clock.clone())).expect("open in-memory store");
    (Arc::new(store), clock)
}

store_suite!(fresh);

#[tokio::test]
async fn a_file_store_keeps_items_across_reopen() {
    use crm_store::NewInboxItem;
    use crm_store::prelude::*;
    let dir = std::env::temp_dir().join(format!("crm-store-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("crm.sqlite");
    let clock = ManualClock::starting_now();
    {
        let store = SqliteStore::open(&path, Arc::new(clock.clone())).unwrap();
        let item = NewInboxItem {
            id: "sub-1".into(),
            kind: "lead".into(),
            payload: "{}".into(),
        };
        store.inbox_insert(&item).await.unwrap();
    }
    let store = SqliteStore::open(&path, Arc::new(clock)).unwrap();
    let open = store.inbox_list_open(10).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].id, "sub-1");
    std::fs::remove_dir_all(&dir).unwrap();
}
