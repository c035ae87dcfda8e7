//! The Notion event envelope, as the worker reads an inbox item: a parsed event or an
//! error, never a panic.

#![no_main]

use crm_app::inbox::Work;
use crm_domain::Timestamp;
use crm_store::{InboxItem, InboxStatus};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<crm_notion::WebhookEvent>(data);
    for kind in ["notion_event", "lead"] {
        let item = InboxItem {
            id: "event:fuzz".into(),
            kind: kind.into(),
            payload: String::from_utf8_lossy(data).into_owned(),
            status: InboxStatus::Pending,
            attempts: 0,
            last_error: None,
            received_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
            not_before: None,
        };
        let _ = Work::parse(&item);
    }
});
