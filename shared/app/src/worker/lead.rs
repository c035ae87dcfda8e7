//! A lead, written to Notion: one contact per email, one Activity per submission — an
//! Activity page, or with `activity_log = "notes"` a dated entry in the contact's Notes
//! (no page: half the blocks a Free workspace counts, and one call fewer).
//!
//! Two guards make that hold whatever is delivered twice or concurrently:
//! * the submission's idempotency record: a submission done once is never redone,
//!   and a retry after a crash knows it is one (`Reclaimed`) and looks for the Activity
//!   it may already have written;
//! * a lease on the contact's email: two submissions for one person are written one
//!   after the other, so the second finds the contact the first created.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use crm_domain::Lead;
use crm_notion::filter::{Condition, Relation, Text};
use crm_notion::{
    CreatePage, Filter, MAX_PAGE_REFERENCES, MAX_RICH_TEXT_OBJECTS, NotionClient, NotionError,
    Page, PropertyValue, QueryRequest, RichText, UpdatePage, plain_text, rich_text,
};
use crm_settings::{ActivityLog, SecretsSource};
use crm_store::{Claimed, Claims, LeaseOutcome, StoreError};
use tracing::Instrument;

use super::WorkerStore;
use super::contacts_index::{Contacts, LookupError};
use super::creates::{Creates, Held, Permit, holds_creates};
use super::{Attempt, Outcome, Worker};
use crate::contact_write::{self, ContactValues};
use crate::inbox::keys;

/// Why writing a lead stopped.
#[derive(Debug, thiserror::Error)]
enum LeadFailure {
    #[error(transparent)]
    Notion(#[from] NotionError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the lease on the contact expired mid-write; another attempt owns it now")]
    LeaseLost,
    #[error(transparent)]
    IndexBusy(LookupError),
    /// Creates are held (`creates.rs`): what needs no create is done, the rest waits.
    #[error("{}", .0.reason())]
    CreatesHeld(Held),
}

impl From<LookupError> for LeadFailure {
    fn from(e: LookupError) -> Self {
        match e {
            LookupError::Notion(e) => Self::Notion(e),
            LookupError::Store(e) => Self::Store(e),
            busy @ LookupError::IndexBusy => Self::IndexBusy(busy),
        }
    }
}

impl LeadFailure {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Notion(e) => e.is_retryable(),
            Self::Store(e) => e.is_retryable(),
            Self::LeaseLost | Self::IndexBusy(_) | Self::CreatesHeld(_) => true,
        }
    }
}

/// Set when the Activities schema was found without the Submission ID property.
/// How long that finding is trusted before the property is tried again.
const SCHEMA_RECHECK_MS: i64 = 3_600_000;

/// Writes one lead. `submission` is its inbox key, not the lead's own: a lead kept under
/// a derived id (its submission id was reused by another) is its own unit of work.
pub async fn process<S: WorkerStore, P: SecretsSource>(
    worker: &Worker<S, P>,
    notion: &NotionClient,
    lead: &Lead,
    submission: &str,
) -> Attempt {
    let span =
        tracing::info_span!("lead", submission = %submission, email = %lead.email.redacted());
    Run {
        worker,
        notion,
        lead,
        submission,
        owner: uuid::Uuid::new_v4().to_string(),
    }
    .run()
    .instrument(span)
    .await
}

struct Run<'a, S, P> {
    worker: &'a Worker<S, P>,
    notion: &'a NotionClient,
    lead: &'a Lead,
    /// Which submission this is: its inbox key (`own:42`, or a derived `own:42~…`).
    submission: &'a str,
    /// This attempt's identity in the contact's lease.
    owner: String,
}

impl<S: WorkerStore, P: SecretsSource> Run<'_, S, P> {
    async fn run(&self) -> Attempt {
        let store = &self.worker.store;
        let settings = &self.worker.settings;
        let key = keys::lead_claim(self.submission);
        let claim = match store.claim(&key, settings.lease, settings.retention).await {
            Err(e) => return Outcome::Retry(format!("store unavailable: {e}")).into(),
            Ok(Claimed::Done { .. }) => {
                tracing::info!("already written; nothing to do");
                return Outcome::Done.into();
            }
            Ok(Claimed::Busy) => {
                return Outcome::Retry("another attempt is writing this submission".into()).into();
            }
            Ok(Claimed::Owned(claim)) => claim,
        };
        let lease = keys::email(&self.lead.email);
        match store.take_lease(&lease, &self.owner, settings.lease).await {
            Ok(LeaseOutcome::Acquired) => {}
            Ok(LeaseOutcome::Held { .. }) => {
                claim.fail("contact busy").await;
                return Outcome::Retry(
                    "another submission for this contact is being written".into(),
                )
                .into();
            }
            Err(e) => {
                claim.fail("store unavailable").await;
                return Outcome::Retry(format!("store unavailable: {e}")).into();
            }
        }
        let resumed = claim.resumed();
        let written = self.write(&lease, resumed).await;
        if let Err(e) = store.release_lease(&lease, &self.owner).await {
            // It expires on its own; the next writer waits at most one lease.
            tracing::warn!(error = %e, "could not release the contact lease");
        }
        match written {
            Ok(activity_id) => {
                if resumed && let Err(e) = store.cache_delete(&self.unsure_key()).await {
                    tracing::warn!(error = %e, "could not clear the unanswered-create mark");
                }
                // If this is not recorded, the claim runs out and a redelivery finds the
                // Activity this attempt wrote.
                claim.complete(Some(&activity_id)).await;
                Outcome::Done.into()
            }
            Err(failure) => {
                let reason = failure.to_string();
                claim.fail(&reason).await;
                match &failure {
                    LeadFailure::CreatesHeld(held) => Outcome::Wait {
                        reason,
                        until: held.probe_at(),
                    }
                    .into(),
                    LeadFailure::Notion(e) if e.is_token_refused() => Attempt::TokenRefused(reason),
                    LeadFailure::Notion(e) if e.is_retryable() => {
                        self.worker.unfinished(self.notion, Some(e), reason).into()
                    }
                    _ if failure.is_retryable() => Outcome::Retry(reason).into(),
                    _ => Outcome::Failed(reason).into(),
                }
            }
        }
    }

    /// Finds or creates the contact, then logs the Activity; returns the Activity's id.
    ///
    /// Notion has no idempotency keys, so a create whose answer was lost (a timeout, a
    /// 5xx) may have happened. Then, and on a resumed attempt that finds nothing, the
    /// worker waits `settle` (a setting of the worker) for Notion's queries to catch up and looks once more
    /// before it creates anything; an answer still missing is retried later, never
    /// created twice in one attempt.
    async fn write(&self, lease: &str, resumed: bool) -> Result<String, LeadFailure> {
        // An earlier attempt's create went unanswered: what it made may not show yet.
        let unsure = resumed
            && self
                .worker
                .store
                .cache_get(&self.unsure_key())
                .await?
                .is_some();
        let mut found = self.find_contact().await?;
        if found.is_none() && unsure {
            found = self.settled(|| self.find_contact()).await?;
        }
        let notes = self.worker.settings.leads.activity_log == ActivityLog::Notes;
        let (contact_id, in_notes) = match found {
            Some(contact) => {
                let in_notes = notes && self.log_in_notes(&contact).await?;
                if !in_notes {
                    self.update_contact(&contact).await?;
                }
                (contact.id, in_notes)
            }
            None => {
                self.keep_lease(lease).await?;
                match self.create(&self.new_contact(notes)).await {
                    Ok(created) => {
                        tracing::info!(page_id = %created.id, "contact created");
                        (created.id, notes)
                    }
                    Err(LeadFailure::Notion(e)) if e.may_have_committed() => {
                        tracing::warn!(error = %e, "the contact may have been created; looking before anything else");
                        match self.settled(|| self.find_contact()).await? {
                            Some(contact) => {
                                let in_notes = notes && self.log_in_notes(&contact).await?;
                                (contact.id, in_notes)
                            }
                            None => return Err(self.unsure(e).await),
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        let now = self.worker.clock.now().as_millis();
        self.worker.store.cache_put(lease, &contact_id, now).await?;
        if in_notes {
            tracing::info!(page_id = %contact_id, "submission logged in the contact's Notes");
            return Ok(contact_id);
        }
        if resumed {
            let mut existing = self.find_activity(&contact_id).await?;
            if existing.is_none() && unsure {
                existing = self.settled(|| self.find_activity(&contact_id)).await?;
            }
            if let Some(existing) = existing {
                tracing::info!(page_id = %existing, "the Activity was written by an earlier attempt");
                return Ok(existing);
            }
        }
        self.keep_lease(lease).await?;
        match self.create_activity(&contact_id).await {
            Ok(id) => {
                tracing::info!(page_id = %id, "activity logged");
                Ok(id)
            }
            Err(LeadFailure::Notion(e)) if e.may_have_committed() => {
                tracing::warn!(error = %e, "the Activity may have been created; looking before anything else");
                match self.settled(|| self.find_activity(&contact_id)).await? {
                    Some(id) => Ok(id),
                    None => Err(self.unsure(e).await),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Creates a page unless creates are held (`creates.rs`); a create refused in the
    /// way that holds them starts (or prolongs) the hold, and one taken as the hold's
    /// probe lifts it.
    async fn create(&self, page: &CreatePage) -> Result<Page, LeadFailure> {
        let creates = Creates {
            store: &self.worker.store,
            clock: self.worker.clock.as_ref(),
        };
        let permit = creates.permit().await?;
        if let Permit::Wait(held) = permit {
            return Err(LeadFailure::CreatesHeld(held));
        }
        match self.notion.create_page(page).await {
            Ok(created) => {
                if let Err(e) = creates.created(permit).await {
                    // The next create's probe lifts it; until then, items wait a probe.
                    tracing::warn!(error = %e, "could not lift the hold on creates");
                }
                Ok(created)
            }
            Err(e) => match holds_creates(&e) {
                Some(why) => Err(LeadFailure::CreatesHeld(
                    creates.refused(permit, why).await?,
                )),
                None => Err(e.into()),
            },
        }
    }

    /// Marks this submission as having a create Notion did not answer, so the next
    /// attempt gives Notion's queries time before it concludes nothing was made.
    async fn unsure(&self, e: NotionError) -> LeadFailure {
        let now = self.worker.clock.now().as_millis();
        if let Err(err) = self
            .worker
            .store
            .cache_put(&self.unsure_key(), "", now)
            .await
        {
            return err.into();
        }
        e.into()
    }

    fn unsure_key(&self) -> String {
        keys::unsure(self.submission)
    }

    /// Waits for Notion's queries to catch up with a write, then looks.
    async fn settled<T, F, Fut>(&self, look: F) -> Result<Option<T>, LeadFailure>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>, LeadFailure>>,
    {
        tokio::time::sleep(self.worker.settings.settle).await;
        look().await
    }

    /// Creates the Activity, with its submission in the Submission ID property. A
    /// workspace set up before that property existed gets it without, once its schema
    /// says so (and a warning naming the fix).
    async fn create_activity(&self, contact_id: &str) -> Result<String, LeadFailure> {
        let with_property = self.has_submission_property().await?;
        match self.create(&self.activity(contact_id, with_property)).await {
            Ok(page) => Ok(page.id),
            Err(LeadFailure::Notion(e))
                if with_property
                    && e.status() == Some(400)
                    && !self.schema_has_submission().await? =>
            {
                let p = &self.worker.settings.properties.activities;
                tracing::warn!(
                    property = %p.submission,
                    "the Activities data source has no rich_text property {:?}: Activities are logged without it, and a retried lead is found by its Details; add the property (crm setup --check)",
                    p.submission
                );
                let now = self.worker.clock.now().as_millis();
                self.worker
                    .store
                    .cache_put(keys::ACTIVITIES_WITHOUT_SUBMISSION, "", now)
                    .await?;
                Ok(self.create(&self.activity(contact_id, false)).await?.id)
            }
            Err(e) => Err(e),
        }
    }

    /// Whether Activities are written with their Submission ID: yes, unless the schema
    /// was found without it within the last hour.
    async fn has_submission_property(&self) -> Result<bool, LeadFailure> {
        let now = self.worker.clock.now().as_millis();
        Ok(
            match self
                .worker
                .store
                .cache_get(keys::ACTIVITIES_WITHOUT_SUBMISSION)
                .await?
            {
                Some(seen) => now - seen.version >= SCHEMA_RECHECK_MS,
                None => true,
            },
        )
    }

    async fn schema_has_submission(&self) -> Result<bool, LeadFailure> {
        let schema = self
            .notion
            .retrieve_data_source(&self.worker.settings.activities_data_source)
            .await?;
        let name = &self.worker.settings.properties.activities.submission;
        Ok(schema
            .properties
            .get(name)
            .is_some_and(|p| p.kind == "rich_text"))
    }

    /// Renews the lease before a create: if it lapsed, another attempt may be writing
    /// the same contact, and creating now could make a second one.
    async fn keep_lease(&self, lease: &str) -> Result<(), LeadFailure> {
        let settings = &self.worker.settings;
        if self
            .worker
            .store
            .renew_lease(lease, &self.owner, settings.lease)
            .await?
        {
            Ok(())
        } else {
            Err(LeadFailure::LeaseLost)
        }
    }

    /// The contact for this email: the cached page when it still exists and is not in
    /// the trash, else the oldest contact Notion has with the address in any case.
    async fn find_contact(&self) -> Result<Option<Page>, LeadFailure> {
        let contacts = Contacts {
            store: &self.worker.store,
            notion: self.notion,
            data_source: &self.worker.settings.contacts_data_source,
            email_property: &self.worker.settings.properties.contacts.email,
            gate: &self.worker.index_gate,
        };
        if let Some(page) = contacts.cached(&self.lead.email).await? {
            return Ok(Some(page));
        }
        let now = self.worker.clock.now().as_millis();
        Ok(contacts.find(&self.lead.email, now).await?)
    }

    /// The day of the submission in the configured time zone: what "Last Contacted" means
    /// to the person reading the CRM.
    fn contacted_on(&self) -> String {
        self.received_at()
            .with_timezone(&self.worker.settings.timezone)
            .format("%Y-%m-%d")
            .to_string()
    }

    fn received_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.lead.received_at_ms).unwrap_or_else(Utc::now)
    }

    /// What this lead brings to its contact.
    fn values<'v>(&'v self, name: &'v str, day: &'v str) -> ContactValues<'v> {
        let lead = self.lead;
        ContactValues {
            // As the person typed it: the contact shows what they wrote; the canonical
            // form is what finds it (`contacts_index.rs`).
            email: lead.email.typed(),
            name: Some(name),
            company: lead.company.as_deref(),
            phone: lead.phone.as_deref(),
            status: Some(&self.worker.settings.leads.new_status),
            source: Some(&lead.source),
            notes: None,
            last_contacted: Some(day),
        }
    }

    /// The new contact, with this submission's entry in its Notes when `in_notes`.
    fn new_contact(&self, in_notes: bool) -> CreatePage {
        let (name, day) = (self.lead.display_name(), self.contacted_on());
        let entry = in_notes.then(|| self.lead.note_entry(self.submission, &day));
        let values = ContactValues {
            notes: entry.as_deref(),
            ..self.values(&name, &day)
        };
        CreatePage {
            data_source_id: self.worker.settings.contacts_data_source.clone(),
            properties: contact_write::new_contact(
                &values,
                &self.worker.settings.properties.contacts,
            ),
        }
    }

    /// Logs the submission as a dated entry at the end of the contact's Notes, with the
    /// fields it fills and Last Contacted in the same update (`activity_log = "notes"`).
    /// `true` when the entry is there (now, or already: a retry finds its bracketed
    /// submission); `false` when Notes holds as many text pieces as Notion allows in one
    /// property, and an Activity page takes the submission instead.
    async fn log_in_notes(&self, contact: &Page) -> Result<bool, LeadFailure> {
        let p = &self.worker.settings.properties.contacts;
        let existing: &[RichText] = match contact.property(&p.notes) {
            Some(PropertyValue::RichText { rich_text }) => rich_text,
            _ => &[],
        };
        if plain_text(existing).contains(&Lead::note_marker(self.submission)) {
            tracing::info!("the submission is already in the contact's Notes");
            return Ok(true);
        }
        let (name, day) = (self.lead.display_name(), self.contacted_on());
        let separator = if existing.is_empty() { "" } else { "\n" };
        let entry = rich_text(&format!(
            "{separator}{}",
            self.lead.note_entry(self.submission, &day)
        ));
        if existing.len() + entry.len() > MAX_RICH_TEXT_OBJECTS {
            tracing::warn!(
                "the contact's Notes hold as many pieces as Notion allows; the submission is logged as an Activity page"
            );
            return Ok(false);
        }
        // Notion answers at most 25 mentions a property: what was read may be cut, and
        // writing it back would drop the mentions it left out.
        let mentions = existing.iter().filter(|p| p.kind == "mention").count();
        if mentions >= MAX_PAGE_REFERENCES {
            tracing::warn!(
                "the contact's Notes hold more mentions than Notion answers in full; the submission is logged as an Activity page"
            );
            return Ok(false);
        }
        let mut changes = contact_write::fill_empty(contact, &self.values(&name, &day), p);
        // What a person wrote stays as they formatted it; the entry goes after it.
        let notes = existing
            .iter()
            .map(RichText::for_request)
            .chain(entry)
            .collect();
        changes.insert(
            p.notes.clone(),
            PropertyValue::RichText { rich_text: notes },
        );
        let update = UpdatePage {
            properties: changes,
            in_trash: None,
        };
        match self.notion.update_page(&contact.id, &update).await {
            Ok(_) => Ok(true),
            // Notes a request cannot write back as they read (a link preview, which the
            // API does not create): the submission gets its Activity page instead.
            Err(e) if e.status() == Some(400) => {
                tracing::warn!(error = %e, "the contact's Notes could not be written back; the submission is logged as an Activity page");
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Moves Last Contacted forward and fills fields that are empty; never overwrites
    /// what a person entered.
    async fn update_contact(&self, contact: &Page) -> Result<(), LeadFailure> {
        let (name, day) = (self.lead.display_name(), self.contacted_on());
        let changes = contact_write::fill_empty(
            contact,
            &self.values(&name, &day),
            &self.worker.settings.properties.contacts,
        );
        if changes.is_empty() {
            return Ok(());
        }
        let update = UpdatePage {
            properties: changes,
            in_trash: None,
        };
        self.notion.update_page(&contact.id, &update).await?;
        tracing::info!(page_id = %contact.id, "contact updated");
        Ok(())
    }

    fn activity(&self, contact_id: &str, with_submission: bool) -> CreatePage {
        let p = &self.worker.settings.properties.activities;
        let lead = self.lead;
        let when = self
            .received_at()
            .with_timezone(&self.worker.settings.timezone)
            .to_rfc3339_opts(SecondsFormat::Secs, true);
        let mut properties = BTreeMap::from([
            (
                p.title.clone(),
                PropertyValue::title(&format!("Form submission: {}", lead.display_name())),
            ),
            (
                p.kind.clone(),
                PropertyValue::select(&self.worker.settings.leads.activity_type),
            ),
            (p.date.clone(), PropertyValue::date(when)),
            (
                p.contact.clone(),
                PropertyValue::relation([contact_id.to_owned()]),
            ),
            (
                p.details.clone(),
                PropertyValue::rich_text(&lead.activity_details(self.submission)),
            ),
        ]);
        if with_submission {
            properties.insert(
                p.submission.clone(),
                PropertyValue::rich_text(self.submission),
            );
        }
        CreatePage {
            data_source_id: self.worker.settings.activities_data_source.clone(),
            properties,
        }
    }

    /// The Activity an earlier attempt wrote for this submission, if any: found by the
    /// exact Submission ID, or, where Activities lack that property, by the marker line
    /// in Details (Notion's `contains` also matches longer ids, `sub-1` in `sub-10`, so
    /// the line is compared exactly here).
    async fn find_activity(&self, contact_id: &str) -> Result<Option<String>, LeadFailure> {
        let p = &self.worker.settings.properties.activities;
        let by_property = self.has_submission_property().await?;
        let marker = Lead::submission_marker(self.submission);
        let exact = if by_property {
            Filter::property(
                &p.submission,
                Condition::RichText(Text::Equals(self.submission.to_owned())),
            )
        } else {
            Filter::property(
                &p.details,
                Condition::RichText(Text::Contains(marker.clone())),
            )
        };
        let request = QueryRequest {
            filter: Some(Filter::and([
                Filter::property(
                    &p.contact,
                    Condition::Relation(Relation::Contains(contact_id.to_owned())),
                ),
                exact,
            ])),
            page_size: Some(100),
            ..QueryRequest::default()
        };
        let (found, _) = self
            .notion
            .query_all(&self.worker.settings.activities_data_source, &request)
            .await?;
        // The same id accepted again after its retention is a new submission with an
        // Activity of its own: only one dated the day of this acceptance is this one's.
        let day = self.contacted_on();
        let text = |page: &Page, name: &str| page.property(name).and_then(PropertyValue::as_text);
        Ok(found
            .into_iter()
            .filter(|page| !page.in_trash)
            .filter(|page| match page.property(&p.date) {
                Some(PropertyValue::Date { date: Some(d) }) => d.start.get(..10) == Some(&day),
                _ => false,
            })
            .find(|page| {
                if by_property {
                    // Exactly, whatever case folding Notion's `equals` does.
                    text(page, &p.submission).as_deref() == Some(self.submission)
                } else {
                    text(page, &p.details).is_some_and(|d| d.lines().any(|line| line == marker))
                }
            })
            .map(|page| page.id))
    }
}
