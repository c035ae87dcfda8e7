//! The behavioural suite every store adapter must pass. Each test file provides a
//! `fresh()` that builds an empty store on a [`ManualClock`], then expands
//! [`store_suite!`] to run every case against it.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use crm_domain::{Clock, ManualClock, Timestamp};
use crm_store::{
    Begin, Claimed, Claims, InboxStatus, Inserted, LeaseOutcome, NewInboxItem, Present, PutOutcome,
    Store, StoreError, Unfinished,
};
use futures::future::join_all;

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

#[macro_export]
macro_rules! store_suite {
    ($fresh:path) => {
        $crate::store_suite!(@cases $fresh;
            concurrent_put_if_absent_has_exactly_one_winner_per_key,
            put_if_absent_can_be_claimed_again_after_expiry,
            lease_is_exclusive_until_released_or_expired,
            concurrent_lease_takers_get_one_lease,
            idempotency_moves_from_in_progress_to_completed,
            expired_in_progress_claim_is_claimable_and_old_owner_loses,
            failed_work_is_claimable_again,
            completed_record_is_claimable_after_retention,
            concurrent_begin_has_one_claimant,
            a_claim_is_owned_busy_or_done,
            cache_only_moves_forward,
            inbox_item_is_inserted_once_and_kept_until_done,
            concurrent_inbox_inserts_store_one_item,
            inbox_lists_open_items_oldest_first,
            inbox_updates_on_missing_items_say_so,
            a_parked_item_stays_open_for_a_person_and_can_still_finish,
            a_waiting_item_keeps_its_time_and_its_attempts_until_it_runs,
            presence_lists_who_is_here_until_they_leave_or_expire,
            each_present_member_is_seen_with_its_latest_note,
            concurrent_attendances_each_count_and_none_is_lost,
            a_batch_takes_each_key_once_until_closed,
            concurrent_adds_and_a_close_lose_no_entry,
            a_count_starts_again_in_each_window,
            concurrent_counts_are_each_counted,
        );
    };
    (@cases $fresh:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let (store, clock) = $fresh().await;
                $crate::suite::$case(store, clock).await;
            }
        )*
    };
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4())
}

pub async fn concurrent_put_if_absent_has_exactly_one_winner_per_key<S: Store + 'static>(
    store: Arc<S>,
    _clock: ManualClock,
) {
    for round in 0..20 {
        let key = unique(&format!("event-{round}"));
        let attempts = (0..50).map(|_| {
            let store = Arc::clone(&store);
            let key = key.clone();
            tokio::spawn(async move { store.put_if_absent(&key, HOUR).await })
        });
        let outcomes: Vec<PutOutcome> = join_all(attempts)
            .await
            .into_iter()
            .map(|r| r.expect("task").expect("put_if_absent"))
            .collect();
        let winners = outcomes
            .iter()
            .filter(|o| **o == PutOutcome::Inserted)
            .count();
        assert_eq!(winners, 1, "key {key}: {winners} of 50 concurrent puts won");
    }
}

pub async fn put_if_absent_can_be_claimed_again_after_expiry<S: Store>(
    store: Arc<S>,
    clock: ManualClock,
) {
    let key = unique("event");
    assert_eq!(
        store.put_if_absent(&key, MINUTE).await.unwrap(),
        PutOutcome::Inserted
    );
    assert_eq!(
        store.put_if_absent(&key, MINUTE).await.unwrap(),
        PutOutcome::Exists
    );
    clock.advance(Duration::from_secs(59));
    assert_eq!(
        store.put_if_absent(&key, MINUTE).await.unwrap(),
        PutOutcome::Exists,
        "a mark is live until its expiry"
    );
    clock.advance(Duration::from_secs(2));
    assert_eq!(
        store.put_if_absent(&key, MINUTE).await.unwrap(),
        PutOutcome::Inserted,
        "an expired mark counts as absent"
    );
    assert_eq!(
        store.put_if_absent(&key, MINUTE).await.unwrap(),
        PutOutcome::Exists
    );
}

pub async fn lease_is_exclusive_until_released_or_expired<S: Store>(
    store: Arc<S>,
    clock: ManualClock,
) {
    let name = unique("email");
    let ttl = Duration::from_secs(30);
    assert_eq!(
        store.take_lease(&name, "a", ttl).await.unwrap(),
        LeaseOutcome::Acquired
    );
    let until = clock.now().plus(ttl);
    assert_eq!(
        store.take_lease(&name, "b", ttl).await.unwrap(),
        LeaseOutcome::Held {
            until: Timestamp::from_secs(until.as_secs())
        }
    );
    assert!(
        !store.renew_lease(&name, "b", ttl).await.unwrap(),
        "b does not hold it"
    );
    assert!(
        !store.release_lease(&name, "b").await.unwrap(),
        "b cannot release a's lease"
    );
    assert!(matches!(
        store.take_lease(&name, "b", ttl).await.unwrap(),
        LeaseOutcome::Held { .. }
    ));

    // Renewing moves the expiry: 20 s + 20 s is past the first expiry, still held.
    clock.advance(Duration::from_secs(20));
    assert!(store.renew_lease(&name, "a", ttl).await.unwrap());
    clock.advance(Duration::from_secs(20));
    assert!(matches!(
        store.take_lease(&name, "b", ttl).await.unwrap(),
        LeaseOutcome::Held { .. }
    ));

    assert!(store.release_lease(&name, "a").await.unwrap());
    assert_eq!(
        store.take_lease(&name, "b", ttl).await.unwrap(),
        LeaseOutcome::Acquired
    );

    // b never releases (crashed): after expiry a can take it, and b's renewal fails.
    clock.advance(Duration::from_secs(31));
    assert_eq!(
        store.take_lease(&name, "a", ttl).await.unwrap(),
        LeaseOutcome::Acquired
    );
    assert!(!store.renew_lease(&name, "b", ttl).await.unwrap());
    assert!(!store.release_lease(&name, "b").await.unwrap());
    assert!(store.renew_lease(&name, "a", ttl).await.unwrap());
}

pub async fn concurrent_lease_takers_get_one_lease<S: Store + 'static>(
    store: Arc<S>,
    _clock: ManualClock,
) {
    for round in 0..5 {
        let name = unique(&format!("email-{round}"));
        let takers = (0..50).map(|i| {
            let store = Arc::clone(&store);
            let name = name.clone();
            tokio::spawn(async move {
                store
                    .take_lease(&name, &format!("worker-{i}"), MINUTE)
                    .await
            })
        });
        let acquired = join_all(takers)
            .await
            .into_iter()
            .map(|r| r.expect("task").expect("take_lease"))
            .filter(|o| *o == LeaseOutcome::Acquired)
            .count();
        assert_eq!(
            acquired, 1,
            "lease {name}: {acquired} of 50 takers acquired it"
        );
    }
}

pub async fn idempotency_moves_from_in_progress_to_completed<S: Store>(
    store: Arc<S>,
    clock: ManualClock,
) {
    let key = unique("lead");
    assert_eq!(
        store.begin(&key, "a", MINUTE, DAY).await.unwrap(),
        Begin::Claimed
    );
    assert_eq!(
        store.begin(&key, "b", MINUTE, DAY).await.unwrap(),
        Begin::InProgress {
            until: Timestamp::from_secs(clock.now().plus(MINUTE).as_secs())
        }
    );
    store
        .complete(&key, "a", Some("page-123"), DAY)
        .await
        .unwrap();
    assert_eq!(
        store.begin(&key, "b", MINUTE, DAY).await.unwrap(),
        Begin::Completed {
            result: Some("page-123".into())
        }
    );
    // Long after the lease, a completed record stays completed (until its retention).
    clock.advance(HOUR);
    assert!(matches!(
        store.begin(&key, "b", MINUTE, DAY).await.unwrap(),
        Begin::Completed { .. }
    ));
    let err = store.complete(&key, "a", None, DAY).await.unwrap_err();
    assert!(matches!(err, StoreError::ClaimLost { .. }), "{err:?}");

    let other = unique("lead");
    assert_eq!(
        store.begin(&other, "a", MINUTE, DAY).await.unwrap(),
        Begin::Claimed
    );
    store.complete(&other, "a", None, DAY).await.unwrap();
    assert_eq!(
        store.begin(&other, "b", MINUTE, DAY).await.unwrap(),
        Begin::Completed { result: None }
    );
}

pub async fn expired_in_progress_claim_is_claimable_and_old_owner_loses<S: Store>(
    store: Arc<S>,
    clock: ManualClock,
) {
    let key = unique("lead");
    assert_eq!(
        store.begin(&key, "a", MINUTE, DAY).await.unwrap(),
        Begin::Claimed
    );
    clock.advance(Duration::from_secs(61));
    assert_eq!(
        store.begin(&key, "b", MINUTE, DAY).await.unwrap(),
        Begin::Reclaimed,
        "a crashed owner's claim is free once its lease has passed"
    );
    let err = store.complete(&key, "a", None, DAY).await.unwrap_err();
    assert!(matches!(err, StoreError::ClaimLost { .. }), "{err:?}");
    let err = store.fail(&key, "a", "late").await.unwrap_err();
    assert!(matches!(err, StoreError::ClaimLost { .. }), "{err:?}");
    store.complete(&key, "b", None, DAY).await.unwrap();
    assert!(matches!(
        store.begin(&key, "c", MINUTE, DAY).await.unwrap(),
        Begin::Completed { .. }
    ));
}

pub async fn failed_work_is_claimable_again<S: Store>(store: Arc<S>, _clock: ManualClock) {
    let key = unique("lead");
    assert_eq!(
        store.begin(&key, "a", MINUTE, DAY).await.unwrap(),
        Begin::Claimed
    );
    store.fail(&key, "a", "notion answered 503").await.unwrap();
    assert_eq!(
        store.begin(&key, "b", MINUTE, DAY).await.unwrap(),
        Begin::Reclaimed,
        "failed work is handed back at once, without waiting for the lease"
    );
    assert!(matches!(
        store.begin(&key, "c", MINUTE, DAY).await.unwrap(),
        Begin::InProgress { .. }
    ));
}

pub async fn completed_record_is_claimable_after_retention<S: Store>(
    store: Arc<S>,
    clock: ManualClock,
) {
    let key = unique("lead");
    assert_eq!(
        store.begin(&key, "a", MINUTE, HOUR).await.unwrap(),
        Begin::Claimed
    );
    store.complete(&key, "a", None, HOUR).await.unwrap();
    clock.advance(HOUR + Duration::from_secs(1));
    assert_eq!(
        store.begin(&key, "b", MINUTE, HOUR).await.unwrap(),
        Begin::Claimed,
        "past its retention the record counts as absent: new work, not a resumption"
    );
}

pub async fn concurrent_begin_has_one_claimant<S: Store + 'static>(
    store: Arc<S>,
    _clock: ManualClock,
) {
    for round in 0..5 {
        let key = unique(&format!("lead-{round}"));
        let claimants = (0..50).map(|i| {
            let store = Arc::clone(&store);
            let key = key.clone();
            tokio::spawn(async move { store.begin(&key, &format!("w{i}"), MINUTE, DAY).await })
        });
        let claimed = join_all(claimants)
            .await
            .into_iter()
            .map(|r| r.expect("task").expect("begin"))
            .filter(Begin::is_claimed)
            .count();
        assert_eq!(claimed, 1, "{key}: {claimed} of 50 claimed it");
    }
}

pub async fn cache_only_moves_forward<S: Store>(store: Arc<S>, _clock: ManualClock) {
    let key = unique("deal-stage");
    assert_eq!(store.cache_get(&key).await.unwrap(), None);
    assert!(store.cache_put(&key, "proposal", 1_000).await.unwrap());
    assert!(
        !store.cache_put(&key, "lead", 500).await.unwrap(),
        "an older event must not overwrite a newer one"
    );
    let entry = store.cache_get(&key).await.unwrap().unwrap();
    assert_eq!((entry.value.as_str(), entry.version), ("proposal", 1_000));
    assert!(
        store.cache_put(&key, "proposal", 1_000).await.unwrap(),
        "redelivery is a no-op"
    );
    assert!(store.cache_put(&key, "won", 2_000).await.unwrap());
    let entry = store.cache_get(&key).await.unwrap().unwrap();
    assert_eq!((entry.value.as_str(), entry.version), ("won", 2_000));
    store.cache_delete(&key).await.unwrap();
    assert_eq!(store.cache_get(&key).await.unwrap(), None);
    store.cache_delete(&key).await.unwrap();
}

fn lead(id: &str) -> NewInboxItem {
    NewInboxItem {
        id: id.to_owned(),
        kind: "lead".into(),
        payload: format!(r#"{{"email":"{id}@example.com","message":"hi"}}"#),
    }
}

pub async fn inbox_item_is_inserted_once_and_kept_until_done<S: Store>(
    store: Arc<S>,
    clock: ManualClock,
) {
    let id = unique("sub");
    let received = clock.now();
    assert_eq!(store.inbox_insert(&lead(&id)).await.unwrap(), Inserted::New);
    assert_eq!(
        store.inbox_insert(&lead(&id)).await.unwrap(),
        Inserted::Duplicate
    );

    let item = store.inbox_get(&id).await.unwrap().unwrap();
    assert_eq!(item.status, InboxStatus::Pending);
    assert_eq!(item.payload, lead(&id).payload);
    assert_eq!(item.kind, "lead");
    assert_eq!(item.attempts, 0);
    assert_eq!(item.received_at, received);

    clock.advance(Duration::from_secs(5));
    store
        .inbox_mark_failed(
            &id,
            "notion answered 503 after 4 attempts",
            Unfinished::Retry,
        )
        .await
        .unwrap();
    let item = store.inbox_get(&id).await.unwrap().unwrap();
    assert_eq!(item.status, InboxStatus::Failed);
    assert_eq!(item.attempts, 1);
    assert_eq!(
        item.last_error.as_deref(),
        Some("notion answered 503 after 4 attempts")
    );
    assert!(
        store
            .inbox_list_open(100)
            .await
            .unwrap()
            .iter()
            .any(|i| i.id == id)
    );

    // A failed item is never replaced by a late duplicate, however much time passes.
    clock.advance(DAY * 30);
    assert_eq!(
        store.inbox_insert(&lead(&id)).await.unwrap(),
        Inserted::Duplicate
    );
    assert_eq!(store.inbox_get(&id).await.unwrap().unwrap().attempts, 1);

    store.inbox_mark_done(&id, DAY).await.unwrap();
    let item = store.inbox_get(&id).await.unwrap().unwrap();
    assert_eq!(item.status, InboxStatus::Done);
    assert!(
        !store
            .inbox_list_open(100)
            .await
            .unwrap()
            .iter()
            .any(|i| i.id == id)
    );

    // A failure reported late (another attempt already finished) does not reopen it.
    store
        .inbox_mark_failed(&id, "late", Unfinished::Retry)
        .await
        .unwrap();
    assert_eq!(
        store.inbox_get(&id).await.unwrap().unwrap().status,
        InboxStatus::Done
    );

    assert_eq!(
        store.inbox_insert(&lead(&id)).await.unwrap(),
        Inserted::Duplicate
    );
    clock.advance(DAY + Duration::from_secs(1));
    assert_eq!(
        store.inbox_insert(&lead(&id)).await.unwrap(),
        Inserted::New,
        "after the retention window the id is new again"
    );
}

pub async fn concurrent_inbox_inserts_store_one_item<S: Store + 'static>(
    store: Arc<S>,
    _clock: ManualClock,
) {
    let id = unique("sub");
    let inserts = (0..50).map(|_| {
        let store = Arc::clone(&store);
        let id = id.clone();
        tokio::spawn(async move { store.inbox_insert(&lead(&id)).await })
    });
    let new = join_all(inserts)
        .await
        .into_iter()
        .map(|r| r.expect("task").expect("insert"))
        .filter(|o| *o == Inserted::New)
        .count();
    assert_eq!(new, 1);
}

pub async fn inbox_lists_open_items_oldest_first<S: Store>(store: Arc<S>, clock: ManualClock) {
    let ids: Vec<String> = (0..5).map(|i| unique(&format!("sub{i}"))).collect();
    for id in &ids {
        store.inbox_insert(&lead(id)).await.unwrap();
        clock.advance(Duration::from_millis(10));
    }
    store.inbox_mark_done(&ids[1], DAY).await.unwrap();
    store
        .inbox_mark_failed(&ids[3], "slack down", Unfinished::Retry)
        .await
        .unwrap();
    let open: Vec<String> = store
        .inbox_list_open(100)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(
        open,
        vec![
            ids[0].clone(),
            ids[2].clone(),
            ids[3].clone(),
            ids[4].clone()
        ]
    );
    let first_two: Vec<String> = store
        .inbox_list_open(2)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(first_two, vec![ids[0].clone(), ids[2].clone()]);
}

pub async fn inbox_updates_on_missing_items_say_so<S: Store>(store: Arc<S>, _clock: ManualClock) {
    let id = unique("nothing");
    assert_eq!(store.inbox_get(&id).await.unwrap(), None);
    let err = store.inbox_mark_done(&id, DAY).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let err = store
        .inbox_mark_failed(&id, "x", Unfinished::Park)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
}

pub async fn a_claim_is_owned_busy_or_done<S: Store>(store: Arc<S>, _clock: ManualClock) {
    let key = unique("claim");
    let Ok(Claimed::Owned(first)) = store.claim(&key, MINUTE, DAY).await else {
        panic!("a new key is owned");
    };
    assert!(!first.resumed());
    assert!(matches!(
        store.claim(&key, MINUTE, DAY).await,
        Ok(Claimed::Busy)
    ));
    first.fail("not now").await;
    let Ok(Claimed::Owned(again)) = store.claim(&key, MINUTE, DAY).await else {
        panic!("handed back work is owned again");
    };
    assert!(again.resumed(), "an earlier attempt held it");
    again.complete(Some("page-1")).await;
    match store.claim(&key, MINUTE, DAY).await {
        Ok(Claimed::Done { result }) => assert_eq!(result.as_deref(), Some("page-1")),
        _ => panic!("done work stays done"),
    }
}

pub async fn a_parked_item_stays_open_for_a_person_and_can_still_finish<S: Store>(
    store: Arc<S>,
    _clock: ManualClock,
) {
    let id = unique("parked");
    store.inbox_insert(&lead(&id)).await.unwrap();
    store
        .inbox_mark_failed(
            &id,
            "Notion refused the page: validation_error",
            Unfinished::Park,
        )
        .await
        .unwrap();
    let item = store.inbox_get(&id).await.unwrap().unwrap();
    assert_eq!((item.status, item.attempts), (InboxStatus::Parked, 1));
    assert_eq!(
        item.last_error.as_deref(),
        Some("Notion refused the page: validation_error")
    );
    let open = store.inbox_list_open(100).await.unwrap();
    assert!(open.iter().any(|i| i.id == id), "listed for the replay");

    // A person fixes the cause and replays it: it can fail again, or finish.
    store
        .inbox_mark_failed(&id, "Notion answered 503", Unfinished::Retry)
        .await
        .unwrap();
    assert_eq!(
        store.inbox_get(&id).await.unwrap().unwrap().status,
        InboxStatus::Failed
    );
    store.inbox_mark_done(&id, DAY).await.unwrap();
    store
        .inbox_mark_failed(&id, "late", Unfinished::Park)
        .await
        .unwrap();
    assert_eq!(
        store.inbox_get(&id).await.unwrap().unwrap().status,
        InboxStatus::Done,
        "a done item is never parked"
    );
}

pub async fn a_waiting_item_keeps_its_time_and_its_attempts_until_it_runs<S: Store>(
    store: Arc<S>,
    clock: ManualClock,
) {
    let id = unique("waiting");
    store.inbox_insert(&lead(&id)).await.unwrap();
    store
        .inbox_mark_failed(&id, "Notion answered 503", Unfinished::Retry)
        .await
        .unwrap();
    let until = clock.now().plus(Duration::from_secs(90));
    store
        .inbox_mark_failed(&id, "Notion asked for a pause", Unfinished::Wait { until })
        .await
        .unwrap();
    let item = store.inbox_get(&id).await.unwrap().unwrap();
    assert_eq!(
        (item.status, item.attempts, item.not_before),
        (InboxStatus::Failed, 1, Some(until)),
        "waiting is not a failed attempt"
    );
    let open = store.inbox_list_open(100).await.unwrap();
    let listed = open.iter().find(|i| i.id == id).expect("still open");
    assert_eq!(listed.not_before, Some(until), "the redrive sees the time");

    // Any other outcome clears it: a failure is timed by the redrive's pauses again.
    store
        .inbox_mark_failed(&id, "Notion answered 503", Unfinished::Retry)
        .await
        .unwrap();
    let item = store.inbox_get(&id).await.unwrap().unwrap();
    assert_eq!((item.attempts, item.not_before), (2, None));
    store
        .inbox_mark_failed(&id, "again", Unfinished::Wait { until })
        .await
        .unwrap();
    store.inbox_mark_done(&id, DAY).await.unwrap();
    let item = store.inbox_get(&id).await.unwrap().unwrap();
    assert_eq!((item.status, item.not_before), (InboxStatus::Done, None));
}

pub async fn presence_lists_who_is_here_until_they_leave_or_expire<S: Store>(
    store: Arc<S>,
    clock: ManualClock,
) {
    let group = unique("notion");
    let other = unique("notion");
    let ttl = Duration::from_secs(5);
    assert_eq!(store.attend(&group, "b", ttl).await.unwrap(), ["b"]);
    assert_eq!(
        store.attend(&group, "a", ttl).await.unwrap(),
        ["a", "b"],
        "sorted"
    );
    assert_eq!(
        store.attend(&other, "c", ttl).await.unwrap(),
        ["c"],
        "groups apart"
    );
    // Attending again is no second member.
    assert_eq!(store.attend(&group, "b", ttl).await.unwrap(), ["a", "b"]);

    store.leave(&group, "b").await.unwrap();
    assert_eq!(
        store.attend(&group, "a", ttl).await.unwrap(),
        ["a"],
        "b left"
    );
    store.leave(&group, "b").await.unwrap();

    // b attends and then stops without a word: present until its time runs out.
    store.attend(&group, "b", ttl).await.unwrap();
    clock.advance(Duration::from_secs(4));
    assert_eq!(store.attend(&group, "a", ttl).await.unwrap(), ["a", "b"]);
    clock.advance(Duration::from_secs(2));
    assert_eq!(
        store.attend(&group, "a", ttl).await.unwrap(),
        ["a"],
        "b expired"
    );
    // Long gone, then back: present again.
    clock.advance(Duration::from_secs(120));
    assert_eq!(store.attend(&group, "a", ttl).await.unwrap(), ["a"]);
    assert_eq!(store.attend(&group, "b", ttl).await.unwrap(), ["a", "b"]);
}

pub async fn each_present_member_is_seen_with_its_latest_note<S: Store>(
    store: Arc<S>,
    clock: ManualClock,
) {
    let group = unique("notion");
    let ttl = Duration::from_secs(5);
    let notes = |present: Vec<Present>| -> Vec<(String, String)> {
        present.into_iter().map(|p| (p.member, p.note)).collect()
    };
    store.attend_saying(&group, "b", ttl, "3.0").await.unwrap();
    assert_eq!(
        notes(store.attend_saying(&group, "a", ttl, "2.9").await.unwrap()),
        [("a".into(), "2.9".into()), ("b".into(), "3.0".into())]
    );
    store.attend_saying(&group, "b", ttl, "10").await.unwrap();
    assert_eq!(
        notes(store.attend_saying(&group, "a", ttl, "").await.unwrap()),
        [("a".into(), String::new()), ("b".into(), "10".into())],
        "the latest note of each"
    );
    store.leave(&group, "b").await.unwrap();
    clock.advance(Duration::from_secs(1));
    store.attend(&group, "b", ttl).await.unwrap();
    assert_eq!(
        notes(store.attend_saying(&group, "a", ttl, "").await.unwrap()),
        [("a".into(), String::new()), ("b".into(), String::new())],
        "a member back with nothing to say says nothing old"
    );
}

pub async fn concurrent_attendances_each_count_and_none_is_lost<S: Store + 'static>(
    store: Arc<S>,
    _clock: ManualClock,
) {
    let group = unique("notion");
    let members: Vec<String> = (0..20).map(|i| format!("m{i:02}")).collect();
    let attending = members.iter().map(|m| {
        let (store, group, m) = (Arc::clone(&store), group.clone(), m.clone());
        tokio::spawn(async move { store.attend(&group, &m, MINUTE).await })
    });
    for (seen, m) in join_all(attending).await.into_iter().zip(&members) {
        let seen = seen.expect("task").expect("attend");
        assert!(seen.contains(m), "{m} is not among those it saw: {seen:?}");
    }
    let mut all = members.clone();
    all.sort();
    assert_eq!(store.attend(&group, "m00", MINUTE).await.unwrap(), all);
}

pub async fn a_batch_takes_each_key_once_until_closed<S: Store>(store: Arc<S>, clock: ManualClock) {
    let batch = unique("burst");
    assert_eq!(store.batch_get(&batch).await.unwrap(), None);
    let first = clock.now();
    let one = store
        .batch_add(&batch, "t1", "first", DAY)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(one.entries.len(), 1);
    assert_eq!(
        (one.first_at, one.last_at, one.closed),
        (first, first, false)
    );
    clock.advance(Duration::from_secs(3));
    let two = store
        .batch_add(&batch, "t2", "second", DAY)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(two.entries.len(), 2);
    assert_eq!((two.first_at, two.last_at), (first, clock.now()));
    // The same key again (a redelivery) keeps the first entry.
    let again = store
        .batch_add(&batch, "t1", "changed", DAY)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.entries["t1"], "first");
    assert_eq!(again.entries.len(), 2);

    let closed = store.batch_close(&batch, DAY).await.unwrap();
    assert!(closed.closed);
    assert_eq!(
        closed.entries.into_iter().collect::<Vec<_>>(),
        [
            ("t1".to_owned(), "first".to_owned()),
            ("t2".to_owned(), "second".to_owned())
        ]
    );
    assert_eq!(
        store.batch_add(&batch, "t3", "late", DAY).await.unwrap(),
        None,
        "closed"
    );
    let read = store.batch_get(&batch).await.unwrap().unwrap();
    assert_eq!((read.entries.len(), read.closed), (2, true));
    assert_eq!(
        store.batch_close(&batch, DAY).await.unwrap().entries.len(),
        2,
        "again"
    );
}

/// Whatever runs at once, an entry is either in what the close returned or refused: an
/// add that was told "added" is never missing from the closed batch.
pub async fn concurrent_adds_and_a_close_lose_no_entry<S: Store + 'static>(
    store: Arc<S>,
    _clock: ManualClock,
) {
    for round in 0..5 {
        let batch = unique(&format!("burst-{round}"));
        let adds = (0..30).map(|i| {
            let (store, batch) = (Arc::clone(&store), batch.clone());
            tokio::spawn(async move {
                let key = format!("t{i:02}");
                let added = store.batch_add(&batch, &key, "x", DAY).await.unwrap();
                (key, added.is_some())
            })
        });
        let close = {
            let (store, batch) = (Arc::clone(&store), batch.clone());
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(2)).await;
                store.batch_close(&batch, DAY).await.unwrap()
            })
        };
        let added: Vec<(String, bool)> = join_all(adds)
            .await
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
        let closed = close.await.unwrap();
        for (key, was_added) in added {
            assert_eq!(
                closed.entries.contains_key(&key),
                was_added,
                "{key}: added {was_added}, in the closed batch {}",
                closed.entries.contains_key(&key)
            );
        }
    }
}

pub async fn a_count_starts_again_in_each_window<S: Store>(store: Arc<S>, clock: ManualClock) {
    let key = unique("form#contact#203.0.113.9");
    let other = unique("form#contact#203.0.113.10");
    // Start just after a window boundary, so the next minute is a new window.
    let into = clock.now().as_millis().rem_euclid(60_000);
    clock.advance(Duration::from_millis((60_000 - into) as u64 + 1));
    assert_eq!(store.count(&key, MINUTE).await.unwrap(), 1);
    assert_eq!(store.count(&key, MINUTE).await.unwrap(), 2);
    assert_eq!(store.count(&other, MINUTE).await.unwrap(), 1, "keys apart");
    clock.advance(Duration::from_secs(58));
    assert_eq!(store.count(&key, MINUTE).await.unwrap(), 3, "same window");
    clock.advance(Duration::from_secs(2));
    assert_eq!(store.count(&key, MINUTE).await.unwrap(), 1, "a new window");
}

pub async fn concurrent_counts_are_each_counted<S: Store + 'static>(
    store: Arc<S>,
    clock: ManualClock,
) {
    let key = unique("form#contact#198.51.100.7");
    // Well inside one window, so all fifty land in it.
    let into = clock.now().as_millis().rem_euclid(3_600_000);
    clock.advance(Duration::from_millis((3_600_000 - into) as u64 + 1));
    let counting = (0..50).map(|_| {
        let (store, key) = (Arc::clone(&store), key.clone());
        tokio::spawn(async move { store.count(&key, HOUR).await })
    });
    let mut seen: Vec<u64> = join_all(counting)
        .await
        .into_iter()
        .map(|r| r.expect("task").expect("count"))
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (1..=50).collect::<Vec<u64>>(), "each count seen once");
}
