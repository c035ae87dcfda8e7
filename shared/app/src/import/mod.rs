//! `crm import`: the contacts of an export written to Notion — each person once, an
//! existing contact only filled where it is empty — through the one Notion client at its
//! pace, several at a time, resumable.
//!
//! The Contacts data source is read once, every cursor, into an index by canonical email.
//! Each person is then one unit of work under a claim in the store
//! (`import:{run}:{email}`, `run` being the file's digest): a claim done is skipped
//! when the same command runs again, and one a killed run left half-way is taken over
//! once its lease runs out and, having maybe created the contact already, looks for it
//! before creating anything. So Ctrl-C or a crash, then the same command, ends as one
//! run would have, with no duplicate. See `docs/design.md`, "Import".

mod deals;
mod outcome;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crm_domain::ContactEmail;
use crm_domain::import::Contact;
use crm_notion::filter::{Condition, Text};
use crm_notion::{
    CreatePage, Filter, NotionClient, NotionError, Page, PropertyValue, QueryRequest, Sort,
    UpdatePage,
};
use crm_settings::{ActivityProperties, ContactProperties};
use crm_store::{Claimed, Claims};
use futures::StreamExt;

use crate::contact_write::{self, ContactValues};

pub use deals::{DealTarget, DealWorld, Matched};
pub use outcome::{Outcome, Report};

crm_store::port!(
    /// What an import keeps: a claim per person, and its part of Notion's budget.
    pub ImportStore: Idempotency, Presence
);

/// How an import writes.
#[derive(Debug, Clone)]
pub struct ImportSettings {
    pub contacts: String,
    pub properties: ContactProperties,
    /// Status of a contact the import creates.
    pub status: String,
    /// Source of a contact the import creates, unless its row names one.
    pub source: String,
    /// People written at the same time (Notion's pace still holds).
    pub concurrency: usize,
    /// How long a claim is held: longer than one person's writes can take.
    pub lease: Duration,
    /// How long a finished person is remembered, so a rerun skips it.
    pub retention: Duration,
    /// Log an Activity per imported person (`--activity`).
    pub activity: Option<ImportActivity>,
}

/// The Activity an import logs for each person: "Imported from contacts.csv".
#[derive(Debug, Clone)]
pub struct ImportActivity {
    pub activities: String,
    pub properties: ActivityProperties,
    /// Its Type (an option of the Activities' Type select).
    pub kind: String,
    /// The file's name, as the Activity says it.
    pub file: String,
    /// The day of the import, `YYYY-MM-DD`.
    pub day: String,
}

/// Every contact already in Notion, by canonical email; `complete` is false when
/// Notion's 10,000-row cap cut the listing short.
#[derive(Debug, Default)]
pub struct Existing {
    pub by_email: HashMap<String, Page>,
    pub complete: bool,
    /// The options of the Contacts' Status property.
    pub statuses: Vec<String>,
}

/// What the report knows a person or a deal by.
pub(super) trait Unit {
    /// Its claim's key within a run (a person's address, a deal's key).
    fn key(&self) -> String;
    /// How it may be shown (an address redacted).
    fn shown(&self) -> String;
    /// The file's lines it came from.
    fn lines(&self) -> &[u64];
}

impl Unit for Contact {
    fn key(&self) -> String {
        self.email.as_str().to_owned()
    }
    fn shown(&self) -> String {
        self.email.redacted()
    }
    fn lines(&self) -> &[u64] {
        &self.lines
    }
}

pub struct Importer<S> {
    pub store: S,
    pub notion: NotionClient,
    pub settings: ImportSettings,
}

impl<S: ImportStore> Importer<S> {
    /// Reads every contact once. Of two with one address the oldest is kept, as the
    /// worker keeps it.
    pub async fn existing(&self) -> Result<Existing, NotionError> {
        let request = QueryRequest {
            page_size: Some(100),
            sorts: Sort::oldest_first(),
            ..QueryRequest::default()
        };
        let (pages, complete) = self
            .notion
            .query_all(&self.settings.contacts, &request)
            .await?;
        let mut by_email = HashMap::new();
        for page in pages.into_iter().filter(|p| !p.in_trash) {
            let email = page
                .property(&self.settings.properties.email)
                .and_then(PropertyValue::as_text)
                .and_then(|e| crm_domain::ContactEmail::parse(&e).ok());
            if let Some(email) = email {
                by_email.entry(email.as_str().to_owned()).or_insert(page);
            }
        }
        let schema = self
            .notion
            .retrieve_data_source(&self.settings.contacts)
            .await?;
        let statuses = schema
            .properties
            .get(&self.settings.properties.status)
            .map(|p| p.options().into_iter().map(|o| o.name).collect())
            .unwrap_or_default();
        Ok(Existing {
            by_email,
            complete,
            statuses,
        })
    }

    /// Writes every contact of `contacts`, `concurrency` at a time; `seen` hears each
    /// outcome as it happens (the progress bar). Once `stop` is set, no one more is
    /// started and those under way finish, so a stopped run leaves no claim held.
    pub async fn run(
        &self,
        run: &str,
        contacts: &[Contact],
        existing: &Existing,
        stop: &AtomicBool,
        seen: impl Fn(&Contact, &Outcome),
    ) -> Report {
        self.each(contacts, stop, |c| self.one(run, c, existing), seen)
            .await
    }

    /// The one loop of both imports: `one` for each unit, `concurrency` at a time, none
    /// started once `stop` is set; each outcome heard by `seen` and counted.
    pub(super) async fn each<'a, U, Fut>(
        &self,
        units: &'a [U],
        stop: &AtomicBool,
        one: impl Fn(&'a U) -> Fut,
        seen: impl Fn(&U, &Outcome),
    ) -> Report
    where
        U: Unit,
        Fut: std::future::Future<Output = Outcome>,
    {
        let mut report = Report::default();
        let mut writes = futures::stream::iter(units)
            .take_while(|_| std::future::ready(!stop.load(Ordering::SeqCst)))
            .map(|unit| {
                let written = one(unit);
                async move { (unit, written.await) }
            })
            .buffer_unordered(self.settings.concurrency.max(1));
        while let Some((unit, outcome)) = writes.next().await {
            seen(unit, &outcome);
            report.add(&unit.key(), &unit.shown(), unit.lines(), outcome);
        }
        report
    }

    async fn one(&self, run: &str, contact: &Contact, existing: &Existing) -> Outcome {
        let key = crate::inbox::keys::import_contact(run, &contact.email);
        let key = key.as_str();
        self.claimed(key, |resumed| async move {
            // A run killed after its create may have made the contact: look before
            // creating.
            let look_first = resumed || !existing.complete;
            let known = existing.by_email.get(contact.email.as_str());
            let (outcome, page_id) = self.write(contact, known, look_first).await?;
            if let Some(activity) = &self.settings.activity {
                self.log_activity(activity, key, contact, &page_id, resumed)
                    .await?;
            }
            Ok(outcome)
        })
        .await
    }

    /// One unit of an import under its claim (the one protocol for contacts and deals):
    /// done before → what it recorded; held by another run → busy; else `work` (told
    /// whether it takes over a stopped attempt), its outcome recorded. A failure a retry
    /// may fix hands the claim back; one Notion gives for the row itself is a reject.
    pub(super) async fn claimed<F, Fut>(&self, key: &str, work: F) -> Outcome
    where
        F: FnOnce(bool) -> Fut,
        Fut: std::future::Future<Output = Result<Outcome, NotionError>>,
    {
        let s = &self.settings;
        let claim = match self.store.claim(key, s.lease, s.retention).await {
            Err(e) => return Outcome::Failed(format!("store unavailable: {e}")),
            Ok(Claimed::Done { result }) => return Outcome::earlier(result.as_deref()),
            Ok(Claimed::Busy) => return Outcome::Busy,
            Ok(Claimed::Owned(claim)) => claim,
        };
        let outcome = match work(claim.resumed()).await {
            Ok(outcome) => outcome,
            // Not the row's fault: a pause, an outage, or Notion refusing the
            // integration (the Free block limit, a capability, the token), fixed outside
            // the file: the same command runs it again. A bare 403 says nothing of
            // which, and the reason names both causes a create can meet.
            Err(e) if e.is_retryable() || e.is_token_refused() => {
                let reason = match crate::worker::creates::holds_creates(&e) {
                    Some(why) if !e.is_block_limit() => format!("{e}: {}", why.in_short()),
                    _ => e.to_string(),
                };
                claim.fail(&reason).await;
                return Outcome::Failed(reason);
            }
            Err(e) => Outcome::Rejected(e.to_string()),
        };
        claim.complete(Some(&outcome.record())).await;
        outcome
    }

    async fn write(
        &self,
        contact: &Contact,
        known: Option<&Page>,
        look_first: bool,
    ) -> Result<(Outcome, String), NotionError> {
        let p = &self.settings.properties;
        let found = match known {
            Some(page) => Some(page.clone()),
            None if look_first => self.find(&contact.email).await?,
            None => None,
        };
        let f = &contact.fields;
        let day = f.last_contacted.map(|d| d.format("%Y-%m-%d").to_string());
        let values = ContactValues {
            email: contact.email.typed(),
            name: f.name.as_deref(),
            company: f.company.as_deref(),
            phone: f.phone.as_deref(),
            status: Some(f.status.as_deref().unwrap_or(&self.settings.status)),
            // The import's own source names where a new contact came from; an existing
            // contact keeps its story, unless the row itself says where it came from.
            source: match (&found, f.source.as_deref()) {
                (None, source) => Some(source.unwrap_or(&self.settings.source)),
                (Some(_), source) => source,
            },
            notes: f.notes.as_deref(),
            last_contacted: day.as_deref(),
        };
        match found {
            Some(page) => {
                let changes = contact_write::fill_empty(&page, &values, p);
                if changes.is_empty() {
                    return Ok((Outcome::Unchanged, page.id));
                }
                let update = UpdatePage {
                    properties: changes,
                    in_trash: None,
                };
                self.notion.update_page(&page.id, &update).await?;
                Ok((Outcome::Updated, page.id))
            }
            None => {
                let create = CreatePage {
                    data_source_id: self.settings.contacts.clone(),
                    properties: contact_write::new_contact(&values, p),
                };
                let created = self.notion.create_page(&create).await?;
                Ok((Outcome::Created, created.id))
            }
        }
    }

    /// Logs "Imported from FILE" on the contact, once: its Submission ID is the person's
    /// claim, so an attempt taking over a stopped one finds what that one logged.
    async fn log_activity(
        &self,
        a: &ImportActivity,
        key: &str,
        contact: &Contact,
        contact_id: &str,
        resumed: bool,
    ) -> Result<(), NotionError> {
        let p = &a.properties;
        if resumed {
            let request = QueryRequest {
                filter: Some(Filter::property(
                    &p.submission,
                    Condition::RichText(Text::Equals(key.to_owned())),
                )),
                page_size: Some(10),
                ..QueryRequest::default()
            };
            let (found, _) = self.notion.query_all(&a.activities, &request).await?;
            let same = |page: &Page| {
                page.property(&p.submission)
                    .and_then(PropertyValue::as_text)
                    .as_deref()
                    == Some(key)
            };
            if found.iter().any(|page| !page.in_trash && same(page)) {
                return Ok(());
            }
        }
        let lines: Vec<String> = contact.lines.iter().map(u64::to_string).collect();
        let word = if lines.len() == 1 { "line" } else { "lines" };
        let details = format!("Imported from {} ({word} {})", a.file, lines.join(", "));
        let name = contact
            .fields
            .name
            .as_deref()
            .unwrap_or(contact.email.local_part());
        let create = CreatePage {
            data_source_id: a.activities.clone(),
            properties: std::collections::BTreeMap::from([
                (
                    p.title.clone(),
                    PropertyValue::title(&format!("Imported: {name}")),
                ),
                (p.kind.clone(), PropertyValue::select(&a.kind)),
                (p.date.clone(), PropertyValue::date(&a.day)),
                (
                    p.contact.clone(),
                    PropertyValue::relation([contact_id.to_owned()]),
                ),
                (p.details.clone(), PropertyValue::rich_text(&details)),
                (p.submission.clone(), PropertyValue::rich_text(key)),
            ]),
        };
        self.notion.create_page(&create).await?;
        Ok(())
    }

    /// The contact with this address, asked of Notion (it is written in canonical form,
    /// so an exact match finds what an earlier run made).
    async fn find(&self, email: &ContactEmail) -> Result<Option<Page>, NotionError> {
        let request = QueryRequest {
            filter: Some(Filter::property(
                &self.settings.properties.email,
                Condition::Email(Text::Equals(email.as_str().to_owned())),
            )),
            page_size: Some(10),
            sorts: Sort::oldest_first(),
            ..QueryRequest::default()
        };
        let (pages, _) = self
            .notion
            .query_all(&self.settings.contacts, &request)
            .await?;
        Ok(pages.into_iter().find(|p| !p.in_trash))
    }
}
