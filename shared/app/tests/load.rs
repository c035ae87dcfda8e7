//! The load run, at CI size: 2,000 signed leads sent 200 at a time, a fifth of them a
//! person already sent in another spelling (upper case, decomposed accents, fullwidth
//! digits, the domain in A-labels); the worker killed in the middle of the drain (its
//! work dropped where it stood: claims held, writes sent and unrecorded) and started
//! again once its leases ran out. The end is exact: every distinct person once in
//! Notion, every submission's Activity once, nothing left open.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Harness, text};
use crm_domain::ContactEmail;
use serde_json::json;
use unicode_normalization::UnicodeNormalization;

const LEADS: usize = 2_000;
const PEOPLE: usize = 1_600;

/// Person `p`'s address, first as they type it, then (`again`) as they type it later.
fn spelling(p: usize, again: bool) -> String {
    let local = if p.is_multiple_of(2) {
        format!("émile{p}")
    } else {
        format!("ann{p}")
    };
    let domain = if p.is_multiple_of(3) {
        "exämple.com"
    } else {
        "example.com"
    };
    if !again {
        return format!("{local}@{domain}");
    }
    let mut local: String = local.nfd().collect::<String>().to_uppercase();
    if p.is_multiple_of(5) {
        local = local
            .chars()
            .map(|c| match c {
                '0'..='9' => char::from_u32(c as u32 + 0xFEE0).unwrap(),
                c => c,
            })
            .collect();
    }
    let domain = if p.is_multiple_of(3) {
        "xn--exmple-cua.com"
    } else {
        "EXAMPLE.com"
    };
    format!("{local}@{domain}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_thousand_leads_a_killed_worker_and_a_restart_end_with_each_person_once() {
    let h = Harness::dynamo().await;
    let leads: Vec<serde_json::Value> = (0..LEADS)
        .map(|i| {
            json!({
                "submission_id": format!("load-{i}"),
                "email": spelling(i % PEOPLE, i >= PEOPLE),
                "message": format!("message {i}"),
            })
        })
        .collect();
    for chunk in leads.chunks(200) {
        let answers = futures::future::join_all(chunk.iter().map(|l| h.post_lead(l))).await;
        assert!(
            answers.iter().all(|(s, _)| *s == 202),
            "every lead accepted"
        );
    }
    let ids: Vec<String> = (0..LEADS)
        .map(|i| crm_app::intake::inbox_id(&format!("own:load-{i}")))
        .collect();

    // The worker drains stream batches of 100; it is killed once a quarter is written.
    let drain = async {
        for batch in ids.chunks(100) {
            h.run_worker(batch).await;
        }
    };
    let kill = async {
        while h.contacts().len() < PEOPLE / 4 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::select! {
        () = drain => panic!("drained before the kill"),
        () = kill => {}
    }

    // Started again once the killed attempts' leases ran out: the stream delivers what
    // it had not, the redrive finishes the rest.
    h.clock
        .advance(h.worker.settings.lease + Duration::from_secs(60));
    for batch in ids.chunks(100) {
        h.stream_tries(batch).await;
    }
    assert!(h.redrive_until_done(50).await, "nothing left open");

    let contacts = h.contacts();
    let mut people: BTreeMap<String, usize> = BTreeMap::new();
    for contact in &contacts {
        let email = ContactEmail::parse(&text(contact, "Email")).unwrap();
        *people.entry(email.as_str().to_owned()).or_default() += 1;
    }
    let twice: Vec<_> = people.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "people written twice: {twice:?}");
    assert_eq!(people.len(), PEOPLE, "every distinct person once");
    let submissions: Vec<String> = (0..LEADS).map(|i| format!("load-{i}")).collect();
    let per = h.activities_per_submission(&submissions);
    let wrong: Vec<_> = per
        .iter()
        .enumerate()
        .filter(|(_, n)| **n != 1)
        .take(5)
        .collect();
    assert!(wrong.is_empty(), "Activities not once: {wrong:?}");
}
