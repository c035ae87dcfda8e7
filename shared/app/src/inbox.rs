//! The inbox's vocabulary, in one place: the kinds of work it holds, how an item is read
//! into the work it stands for, and every key the handlers build in the store.
//!
//! The HTTP functions write items ([`lead_item`], [`event_item`]); the worker reads one
//! back with [`Work::parse`] and dispatches on the result, as a command is parsed once
//! and then executed. Every store key is built only here ([`keys`]), so no two places
//! can spell one differently, and no two kinds of record can collide.

use crm_domain::{ContactEmail, Lead};
use crm_notion::WebhookEvent;
use crm_store::{InboxItem, NewInboxItem};
use sha2::{Digest, Sha256};

/// What an inbox item holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A form submission, as [`Lead`].
    Lead,
    /// A Notion webhook delivery, as received.
    NotionEvent,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lead => "lead",
            Self::NotionEvent => "notion_event",
        }
    }

    pub fn parse(kind: &str) -> Option<Self> {
        match kind {
            "lead" => Some(Self::Lead),
            "notion_event" => Some(Self::NotionEvent),
            _ => None,
        }
    }
}

/// An inbox item read into the work it stands for.
#[derive(Debug)]
pub enum Work {
    Lead {
        lead: Box<Lead>,
        /// Its key: the submission within its provider (`own:42`, or a derived
        /// `own:42~…` when another lead had used the id).
        submission: String,
    },
    Event(Box<WebhookEvent>),
}

impl Work {
    /// Reads an item. The reason for an unreadable one names where it fails, never the
    /// values it holds.
    pub fn parse(item: &InboxItem) -> Result<Self, String> {
        let unreadable = |what: &str, e: serde_json::Error| {
            format!("unreadable {what}: {}", crm_domain::redact::serde_error(&e))
        };
        match Kind::parse(&item.kind) {
            Some(Kind::Lead) => {
                let lead = serde_json::from_str(&item.payload)
                    .map_err(|e| unreadable("lead payload", e))?;
                let submission = item
                    .id
                    .strip_prefix(LEAD_PREFIX)
                    .unwrap_or(&item.id)
                    .to_owned();
                Ok(Self::Lead {
                    lead: Box::new(lead),
                    submission,
                })
            }
            Some(Kind::NotionEvent) => serde_json::from_str(&item.payload)
                .map(|e| Self::Event(Box::new(e)))
                .map_err(|e| unreadable("event", e)),
            None => Err(format!("an inbox item of unknown kind {:?}", item.kind)),
        }
    }
}

const LEAD_PREFIX: &str = "lead:";

/// The inbox id of a lead: `lead:` and its key (see [`Lead::dedupe_key`]).
pub fn lead_id(key: &str) -> String {
    format!("{LEAD_PREFIX}{key}")
}

/// The inbox id of a Notion event: `event:` and the event's id.
pub fn event_id(event_id: &str) -> String {
    format!("event:{event_id}")
}

/// The inbox item for a lead kept under `key`.
pub fn lead_item(key: &str, lead: &Lead) -> Result<NewInboxItem, serde_json::Error> {
    Ok(NewInboxItem {
        id: lead_id(key),
        kind: Kind::Lead.as_str().to_owned(),
        payload: serde_json::to_string(lead)?,
    })
}

/// The inbox item for a Notion event, its body kept as received.
pub fn event_item(event_id_: &str, body: &[u8]) -> NewInboxItem {
    NewInboxItem {
        id: event_id(event_id_),
        kind: Kind::NotionEvent.as_str().to_owned(),
        payload: String::from_utf8_lossy(body).into_owned(),
    }
}

/// Store keys of the work the handlers do once, and of what they remember.
pub mod keys {
    use super::*;

    /// The claim on writing one submission to Notion (the same text as its inbox id).
    pub fn lead_claim(submission: &str) -> String {
        lead_id(submission)
    }

    /// The last stage applied for a deal page, with the time of its event.
    pub fn deal_stage(page_id: &str) -> String {
        format!("deal:{page_id}")
    }

    /// Every stage transition applied to a deal page, each under its event's time.
    pub fn stage_history(page_id: &str) -> String {
        format!("stage-history:{page_id}")
    }

    /// The claim on announcing one transition: the deal, the state it moves from (the
    /// time of the last applied event) and the stage it moves to.
    pub fn announcement(page_id: &str, since_ms: i64, stage: &str) -> String {
        format!(
            "announce:{page_id}:{since_ms}:{}",
            stage.trim().to_lowercase()
        )
    }

    /// The claim on a browser form's captcha token: what it vouched for. Keyed by a
    /// hash, so the token itself is never stored.
    pub fn captcha_token(token: &str) -> String {
        use sha2::{Digest, Sha256};
        format!(
            "captcha:{}",
            hex::encode(&Sha256::digest(token.as_bytes())[..16])
        )
    }

    /// Spam a browser form answered as kept, by the key a kept submission would have:
    /// the same spam again is answered as a duplicate.
    pub fn spam(submission_key: &str) -> String {
        format!("spam:{submission_key}")
    }

    /// `crm serve --config`'s webhook tokens (the offers and the pinned one), which a
    /// deployment keeps in its secret.
    pub const LOCAL_WEBHOOK_TOKENS: &str = "local:webhook-tokens";

    /// The claim on one day's digest.
    pub fn digest(day: chrono::NaiveDate) -> String {
        format!("digest:{day}")
    }

    /// The claim on one owner's DM of their rotting deals, for a day.
    pub fn rotting_dm(day: chrono::NaiveDate, slack_user: &str) -> String {
        format!("rotting:{day}:{slack_user}")
    }

    /// The claim on telling `slack_user` that the deal `page_id` rots in the stage it
    /// entered at `since_ms`: once per stint in a stage.
    pub fn rotting_told(page_id: &str, since_ms: i64, slack_user: &str) -> String {
        format!("rotting-told:{page_id}:{since_ms}:{slack_user}")
    }

    /// The claim on one week's pipeline report (an ISO week: `2026-W50`).
    pub fn report(week: chrono::IsoWeek) -> String {
        format!("report:{}-W{:02}", week.year(), week.week())
    }

    /// The claim on sharing that week's chart.
    pub fn report_chart(week: chrono::IsoWeek) -> String {
        format!("{}:chart", report(week))
    }

    /// The lease that lets one redrive run at a time.
    pub const REDRIVE: &str = "redrive";

    /// Whether the backlog of overdue work has been reported (and not yet cleared).
    pub const OPS_BACKLOG: &str = "ops:backlog";

    /// Notion refusing to create pages, held until a probe finds it creating again.
    pub const CREATES_HELD: &str = "hold:notion-creates";

    /// The claim on telling ops about one spell of creates held (its start, millis).
    pub fn ops_creates_held(since_ms: i64) -> String {
        format!("ops:creates-held:{since_ms}")
    }

    /// The claim on telling ops one alarm (SNS's id of the message).
    pub fn ops_alarm(message_id: &str) -> String {
        format!("ops:alarm:{message_id}")
    }

    /// The claim on telling ops that one item is parked.
    pub fn ops_parked(item_id: &str) -> String {
        format!("ops:parked:{item_id}")
    }

    /// Things about one email address (its contact page, its lease), hashed so no
    /// address sits in a key: keys show up in the console, in metrics and in logs.
    pub fn email(email: &ContactEmail) -> String {
        let digest = hex::encode(Sha256::digest(email.as_str().as_bytes()));
        format!("email:{}", &digest[..32])
    }

    /// A lead's create whose answer was lost: the next attempt looks before it creates.
    pub fn unsure(submission: &str) -> String {
        format!("unsure:{submission}")
    }

    /// The Slack user with this email (empty when Slack knows none), remembered a while.
    pub fn slack_user(email: &ContactEmail) -> String {
        format!("slack-user:{}", self::email(email))
    }

    /// The claim on one contact of one import run (by its address's hash).
    pub fn import_contact(run: &str, email: &ContactEmail) -> String {
        format!("import:{run}:{}", self::email(email))
    }

    /// The claim on one deal of one import run.
    pub fn import_deal(run: &str, deal: &str) -> String {
        format!("import-deal:{run}:{deal}")
    }

    /// A message being posted under `claim`, written before the post (see `post_once`).
    pub fn posting(claim: &str) -> String {
        format!("posting:{claim}")
    }

    /// A destination's open burst of stage changes: the number of its current batch.
    pub fn burst_pointer(destination: &str) -> String {
        format!("burst:{destination}")
    }

    /// One batch of a destination's burst.
    pub fn burst_batch(destination: &str, seq: i64) -> String {
        format!("burst:{destination}:{seq}")
    }

    /// The batches opened on one day, for the redrive to post what a worker left.
    pub fn burst_registry(day: chrono::NaiveDate) -> String {
        format!("burst-registry:{day}")
    }

    /// A batch posted.
    pub fn burst_posted(batch: &str) -> String {
        format!("posted:{batch}")
    }

    /// The batch an attempt was adding a held message to.
    pub fn burst_holding(message: &str) -> String {
        format!("holding:{message}")
    }

    /// The claim on posting one held message, or one batch's summary.
    pub fn burst_sent(message_or_batch: &str) -> String {
        format!("sent:{message_or_batch}")
    }

    /// When the webhook's handshake window ends (the entry's version, Unix ms).
    pub const HANDSHAKE_WINDOW: &str = "webhook:handshake-open-until";

    /// The Deals schema's ids and its database (see `crate::deals`).
    pub const DEALS_SCHEMA: &str = "notion:deals-schema";

    /// This integration's Notion bot user, whose own edits the worker ignores.
    pub const NOTION_BOT_USER: &str = "notion:bot-user";

    /// How far the contacts index has caught up with the Contacts data source.
    pub const CONTACTS_INDEX: &str = "notion:contacts-index";

    /// The Activities data source has no submission property (read once, remembered).
    pub const ACTIVITIES_WITHOUT_SUBMISSION: &str = "notion:activities-without-submission";

    /// The presence group of the processes spending Notion's budget.
    pub const NOTION_BUDGET: &str = "notion";
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, kind: &str, payload: &str) -> InboxItem {
        InboxItem {
            id: id.into(),
            kind: kind.into(),
            payload: payload.into(),
            status: crm_store::InboxStatus::Pending,
            attempts: 0,
            last_error: None,
            received_at: crm_domain::Timestamp::from_millis(0),
            updated_at: crm_domain::Timestamp::from_millis(0),
            not_before: None,
        }
    }

    #[test]
    fn an_item_is_read_once_into_its_work() {
        let lead = Lead::parse(
            crm_domain::LeadFields {
                email: Some("ann@example.com".into()),
                submission_id: Some("42".into()),
                ..Default::default()
            },
            "own",
            b"{}",
            0,
        )
        .unwrap();
        let stored = lead_item(&lead.derived_key(), &lead).unwrap();
        let read = Work::parse(&item(&stored.id, &stored.kind, &stored.payload)).unwrap();
        match read {
            Work::Lead {
                lead: read,
                submission,
            } => {
                assert_eq!(*read, lead);
                assert!(submission.starts_with("own:42~"), "{submission}");
            }
            other => panic!("{other:?}"),
        }
        let unknown = Work::parse(&item("x", "fax", "{}")).unwrap_err();
        assert!(unknown.contains("\"fax\""), "{unknown}");
        let unreadable = Work::parse(&item("lead:own:1", "lead", "{\"email\": 5}")).unwrap_err();
        assert!(
            unreadable.starts_with("unreadable lead payload"),
            "{unreadable}"
        );
    }

    /// Each family of keys starts with its own word: no key of one family can be read
    /// as another's.
    #[test]
    fn key_families_are_apart() {
        let email = ContactEmail::parse("ann@example.com").unwrap();
        let day = chrono::NaiveDate::from_ymd_opt(2026, 1, 2).unwrap();
        let families = [
            ("lead", keys::lead_claim("own:1")),
            ("event", event_id("e")),
            ("deal", keys::deal_stage("p")),
            ("stage-history", keys::stage_history("p")),
            ("announce", keys::announcement("p", 1, "won")),
            ("captcha", keys::captcha_token("t")),
            ("spam", keys::spam("own:1")),
            ("local", keys::LOCAL_WEBHOOK_TOKENS.to_owned()),
            ("digest", keys::digest(day)),
            ("report", keys::report(chrono::Datelike::iso_week(&day))),
            (
                "report",
                keys::report_chart(chrono::Datelike::iso_week(&day)),
            ),
            ("rotting", keys::rotting_dm(day, "U1")),
            ("rotting-told", keys::rotting_told("p", 1, "U1")),
            ("redrive", keys::REDRIVE.to_owned()),
            ("ops", keys::OPS_BACKLOG.to_owned()),
            ("ops", keys::ops_creates_held(1)),
            ("ops", keys::ops_alarm("m")),
            ("ops", keys::ops_parked("i")),
            ("hold", keys::CREATES_HELD.to_owned()),
            ("email", keys::email(&email)),
            ("unsure", keys::unsure("own:1")),
            ("slack-user", keys::slack_user(&email)),
            ("import", keys::import_contact("r", &email)),
            ("import-deal", keys::import_deal("r", "d")),
            ("posting", keys::posting("announce:p:1:won")),
            ("burst", keys::burst_pointer("sales")),
            ("burst", keys::burst_batch("sales", 1)),
            ("burst-registry", keys::burst_registry(day)),
            ("posted", keys::burst_posted("burst:sales:1")),
            ("holding", keys::burst_holding("announce:p:1:won")),
            ("sent", keys::burst_sent("burst:sales:1")),
            ("webhook", keys::HANDSHAKE_WINDOW.to_owned()),
            ("notion", keys::DEALS_SCHEMA.to_owned()),
            ("notion", keys::NOTION_BOT_USER.to_owned()),
            ("notion", keys::CONTACTS_INDEX.to_owned()),
            ("notion", keys::ACTIVITIES_WITHOUT_SUBMISSION.to_owned()),
        ];
        for (family, key) in &families {
            assert_eq!(key.split(':').next(), Some(*family), "{key}");
        }
        let mut words: Vec<&str> = families.iter().map(|(f, _)| *f).collect();
        words.dedup();
        let distinct: std::collections::BTreeSet<&str> = words.iter().copied().collect();
        assert_eq!(
            words.len(),
            distinct.len(),
            "a family's keys are listed together"
        );
        // Of one family, the shapes differ by their fixed words or their number of parts.
        let notion: std::collections::BTreeSet<&str> = [
            keys::DEALS_SCHEMA,
            keys::NOTION_BOT_USER,
            keys::CONTACTS_INDEX,
            keys::ACTIVITIES_WITHOUT_SUBMISSION,
        ]
        .into();
        assert_eq!(notion.len(), 4);
    }

    #[test]
    fn keys_never_hold_an_address() {
        let email = ContactEmail::parse("ann@example.com").unwrap();
        let key = keys::email(&email);
        assert!(key.starts_with("email:") && !key.contains("ann"), "{key}");
        assert_eq!(keys::announcement("p", 7, " Won "), "announce:p:7:won");
        assert_eq!(keys::lead_claim("own:1"), lead_id("own:1"));
        for key in [
            keys::slack_user(&email),
            keys::import_contact("run", &email),
        ] {
            assert!(!key.contains("ann") && !key.contains('@'), "{key}");
        }
    }
}
