//! A Free workspace crossing its block limit in the middle of a stream of new leads,
//! repeat leads and stage changes (README, "Set up Notion"; `worker/creates.rs`): no
//! lead is lost or parked, repeat leads still update their contacts, deal alerts keep
//! flowing, ops hears once with the fixes, Notion is not asked to create again and
//! again, and once the workspace is upgraded everything waiting is written once with no
//! command run by hand. In both shapes Notion's refusal may take: with
//! `additional_data.block_limit`, and as a bare 403. The redrive's runs and pauses are
//! on the test clock.

mod common;

use std::collections::BTreeSet;

use common::deals::Deals;
use common::text;
use crm_notion_emulator::{BlockLimit, BlockRefusal};
use crm_store::InboxStatus;
use crm_store::prelude::*;
use serde_json::Value;

fn last_contacted(contact: &Value) -> Option<String> {
    contact["properties"]["Last Contacted"]["date"]["start"]
        .as_str()
        .map(str::to_owned)
}

fn contact<'a>(contacts: &'a [Value], email: &str) -> &'a Value {
    contacts
        .iter()
        .find(|c| text(c, "Email") == email)
        .unwrap_or_else(|| panic!("no contact for {email}"))
}

async fn crossing_the_block_limit_loses_nothing_and_tells_ops_once(refusal: BlockRefusal) {
    let d = Deals::with_webhooks(&["won", "lost", "negotiation", "ops"]).await;
    d.subscribe().await;
    let acme = d.new_deal("Acme");
    let globex = d.new_deal("Globex");
    d.delivered(2).await;
    assert!(d.drain().await.is_empty());
    d.h.stale_contact("known@example.com");

    // Three blocks left: the first new lead's contact and Activity, then the second's
    // contact reaches the limit (that write succeeds; the grace is over at once) and
    // its Activity is refused.
    let used = d.h.emulator.blocks_used();
    d.h.emulator
        .set_block_limit(Some(BlockLimit::free(used + 3, refusal)));

    let mut leads = Vec::new();
    let mut new_addresses = Vec::new();
    for step in 0..12 {
        let id = format!("new-{step}");
        let email = format!("lead{step}@example.com");
        d.h.accept(&id, &email).await;
        leads.push(id);
        new_addresses.push(email);
        if step % 4 == 2 {
            let id = format!("repeat-{step}");
            d.h.accept(&id, "known@example.com").await;
            leads.push(id);
        }
        if step == 5 {
            d.move_to(&acme, "won");
            d.delivered(3).await;
        }
        if step == 8 {
            d.move_to(&globex, "negotiation");
            d.delivered(4).await;
        }
        d.h.five_minutes_pass().await;
    }

    // An hour in: nothing lost, nothing parked, everything not written waits.
    let open = d.h.store.inbox_list_open(100).await.unwrap();
    assert!(
        open.iter().all(|i| i.status != InboxStatus::Parked),
        "nothing parked: {open:#?}"
    );
    let waiting: BTreeSet<String> = open.iter().map(|i| i.id.clone()).collect();
    let done = leads.len() - waiting.len();
    assert!(
        done == 1 && waiting.len() >= 10,
        "one lead written before the limit, the others wait: {waiting:?}"
    );
    // Repeat leads update their contact all the same: no block needed.
    let contacts = d.h.contacts();
    let known = last_contacted(contact(&contacts, "known@example.com"));
    assert_ne!(known.as_deref(), Some("2020-01-01"), "Last Contacted moved");
    // Deal alerts need no block either.
    assert_eq!(d.texts("won").len(), 1, "{:?}", d.texts("won"));
    assert!(d.texts("won")[0].contains("Lead → Won: Acme"));
    assert_eq!(d.texts("negotiation").len(), 1);

    let ops = d.texts("ops");
    assert_eq!(ops.len(), 1, "one message for ops: {ops:#?}");
    for said in [
        "block limit",
        "safely in the inbox",
        "upgrade",
        "personal access token",
    ] {
        assert!(ops[0].contains(said), "{said:?} in {}", ops[0]);
    }
    if refusal == BlockRefusal::Bare {
        assert!(
            ops[0].contains("Insert content"),
            "both causes named: {}",
            ops[0]
        );
    }
    // Creates are held, not tried lead by lead: the first refusals, then a probe every
    // fifteen minutes.
    let refused_creates =
        d.h.emulator
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path == "/v1/pages" && r.status == 403)
            .count();
    assert!(
        (1..=8).contains(&refused_creates),
        "{refused_creates} creates refused"
    );

    // The redrive says so in its counts, which the stack's alarm watches.
    assert!(d.h.redrive.run(None).await.unwrap().creates_held);

    // The workspace is upgraded. Nobody runs anything.
    d.h.emulator.set_block_limit(None);
    assert!(
        d.h.redrive_until_done(12).await,
        "still open: {:?}",
        d.h.open_ids().await
    );

    let contacts = d.h.contacts();
    let emails: Vec<String> = contacts.iter().map(|c| text(c, "Email")).collect();
    let unique: BTreeSet<&String> = emails.iter().collect();
    assert_eq!(emails.len(), unique.len(), "one contact per address");
    for email in &new_addresses {
        assert!(unique.contains(email), "{email} is in Notion");
    }
    let per_lead = d.h.activities_per_submission(&leads);
    assert!(
        per_lead.iter().all(|n| *n == 1),
        "one Activity each: {per_lead:?}"
    );
    assert!(!d.h.redrive.run(None).await.unwrap().creates_held);
    let ops = d.texts("ops");
    assert_eq!(ops.len(), 2, "the limit, then the backlog's end: {ops:#?}");
    assert!(ops[1].starts_with("✅"), "{}", ops[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_block_limit_notion_names_holds_creates_and_drains_after_an_upgrade() {
    crossing_the_block_limit_loses_nothing_and_tells_ops_once(BlockRefusal::Documented).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bare_403_on_creates_is_held_the_same_way_and_names_both_causes() {
    crossing_the_block_limit_loses_nothing_and_tells_ops_once(BlockRefusal::Bare).await;
}
