//! A Notion outage longer than the stream's retries, with leads and stage changes
//! arriving throughout: once Notion is back, the redrive finishes everything with no
//! command run by hand, and ops hears about the backlog once, not once per item. The
//! redrive's pauses run on the test clock; nothing waits them out.

mod common;

use std::collections::BTreeSet;

use common::deals::Deals;
use common::text;
use crm_notion_emulator::FaultRule;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_outage_longer_than_the_streams_retries_heals_without_a_person() {
    let d = Deals::with_webhooks(&["won", "lost", "negotiation", "ops"]).await;
    d.subscribe().await;
    let acme = d.new_deal("Acme");
    let globex = d.new_deal("Globex");
    d.delivered(2).await;
    assert!(d.drain().await.is_empty());

    // Notion answers 503 to every call for two hours of the test clock; leads and
    // stage changes keep arriving, and the redrive runs every five minutes.
    d.h.emulator.inject(FaultRule::status(None, "*", 503));
    let emails = ["ann@example.com", "bo@example.com", "cy@example.com"];
    let mut leads = Vec::new();
    for step in 0..24 {
        if step % 3 == 0 {
            let n = leads.len();
            let id = format!("outage-{n}");
            d.h.accept(&id, emails[n % emails.len()]).await;
            leads.push(id);
        }
        if step == 4 {
            d.move_to(&acme, "won");
            d.delivered(3).await;
        }
        if step == 10 {
            d.move_to(&globex, "negotiation");
            d.delivered(4).await;
        }
        d.h.five_minutes_pass().await;
    }
    assert!(d.texts("won").is_empty() && d.texts("negotiation").is_empty());
    let ops = d.texts("ops");
    assert_eq!(ops.len(), 1, "one message about the backlog: {ops:#?}");
    assert!(ops[0].starts_with("⏳"), "{}", ops[0]);
    assert!(ops[0].contains("503"), "the reason, in words: {}", ops[0]);

    // Notion is back. Nobody runs anything: the redrive's next runs finish the work.
    d.h.emulator.clear_faults();
    assert!(
        d.h.redrive_until_done(20).await,
        "still open: {:?}",
        d.h.open_ids().await
    );

    let contacts: Vec<String> = d.h.contacts().iter().map(|c| text(c, "Email")).collect();
    let unique: BTreeSet<&String> = contacts.iter().collect();
    assert_eq!(
        contacts.len(),
        emails.len(),
        "one contact per address: {contacts:?}"
    );
    assert_eq!(unique.len(), emails.len());
    assert_eq!(d.h.activities().len(), leads.len(), "one Activity per lead");
    assert!(
        d.h.activities_per_submission(&leads)
            .iter()
            .all(|n| *n == 1),
        "{:?}",
        d.h.activities_per_submission(&leads)
    );
    assert_eq!(d.texts("won").len(), 1, "{:?}", d.texts("won"));
    assert!(
        d.texts("won")[0].contains("Lead → Won: Acme"),
        "{:?}",
        d.texts("won")
    );
    assert_eq!(d.texts("negotiation").len(), 1);
    assert!(d.texts("negotiation")[0].contains("Lead → Negotiation: Globex"));
    let ops = d.texts("ops");
    assert_eq!(ops.len(), 2, "the backlog, then its end: {ops:#?}");
    assert!(ops[1].starts_with("✅"), "{}", ops[1]);
    assert!(
        d.h.emulator.requests().iter().all(|r| r.status != 400),
        "no request was refused as malformed"
    );
}
