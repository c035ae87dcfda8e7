//! Finding the contact for an email address, whatever case it was typed in.
//!
//! Leads are written with the canonical (lowercase) address, but a person may type a
//! contact by hand as `Ann@Example.COM`. Notion does not document whether the email
//! filter's `equals` ignores case; if it does not, `equals "ann@example.com"` misses that
//! contact and a second one would be created. So, beside the query for the address, the
//! worker keeps an index in the store — the same `email:` cache entries a lead writes,
//! canonical address → page — of every contact Notion holds:
//!
//! * the first lookup with no index reads every contact once (all cursors);
//! * after that, a lookup at most every [`CATCH_UP_EVERY_MS`] widens the one query it
//!   makes anyway to "this address, or any contact edited since the last catch-up", so
//!   a contact typed or fixed by hand is indexed within that interval at no extra call;
//! * every other lookup asks for the address alone, as before.
//!
//! Where Notion does fold case, the address query alone finds the contact; where it does
//! not, the index does. The matches are compared without case here in both cases.
//!
//! The worker writes several leads at once, and they would all find the index missing
//! or due at the same moment and read the same contacts side by side, spending Notion's
//! budget on copies of one answer. So one lookup of a process builds or catches up the
//! index at a time ([`IndexGate`]). While the index is being built, the others wait for
//! it, then look in the fresh index for their own address before asking Notion for the
//! address alone; while it is only being caught up, they ask for their address at once.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use crm_domain::ContactEmail;
use crm_notion::filter::{Condition, Date, Text, Timestamp};
use crm_notion::{Filter, NotionClient, NotionError, Page, PropertyValue, QueryRequest, Sort};
use crm_store::StoreError;

use super::WorkerStore;
use crate::inbox::keys;

/// When the index last caught up with Notion (its version, in Unix milliseconds).
/// How often a lookup widens its query to catch the index up. Bounds the extra rows a
/// burst of leads reads (each catch-up returns the contacts edited since the last).
pub const CATCH_UP_EVERY_MS: i64 = 60_000;
/// Notion rounds `last_edited_time` down to the minute and does not document how soon a
/// write shows in queries: each catch-up starts this much before the previous one.
const OVERLAP_MS: i64 = 5 * 60_000;
/// Index entries written at once (store round trips, not Notion calls).
const WRITES_AT_ONCE: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error(transparent)]
    Notion(#[from] NotionError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another lookup of this process was still building the index after this one had
    /// waited a whole call's worst case: tried again later rather than outlast the
    /// item's budget, or look without the index and miss an address in another case.
    #[error("the contacts index is still being built by another lookup")]
    IndexBusy,
}

/// Lets one lookup of a process at a time build or catch up the index.
#[derive(Debug, Default)]
pub struct IndexGate(tokio::sync::Mutex<()>);

/// Where the contacts are and how their email property is named.
pub struct Contacts<'a, S> {
    pub store: &'a S,
    pub notion: &'a NotionClient,
    pub data_source: &'a str,
    pub email_property: &'a str,
    pub gate: &'a IndexGate,
}

/// What one lookup asks Notion for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// The address only.
    Address,
    /// The address, and every contact edited since this instant (ms).
    AddressAndEditedSince(i64),
    /// Every contact with an address: the index is built.
    Everything,
}

impl<S: WorkerStore> Contacts<'_, S> {
    /// The oldest live contact whose address is `email` in any case.
    pub async fn find(
        &self,
        email: &ContactEmail,
        now_ms: i64,
    ) -> Result<Option<Page>, LookupError> {
        let building = match self.scope(now_ms).await? {
            Scope::Address => return self.query(email, Scope::Address, now_ms).await,
            // A catch-up is upkeep: while another lookup runs one, this one asks for its
            // address alone rather than wait.
            Scope::AddressAndEditedSince(_) => match self.gate.0.try_lock() {
                Ok(guard) => guard,
                Err(_) => return self.query(email, Scope::Address, now_ms).await,
            },
            // Without an index, an address typed in another case would be missed: wait
            // for the lookup that builds it.
            Scope::Everything => {
                match tokio::time::timeout(self.notion.worst_call(), self.gate.0.lock()).await {
                    Ok(guard) => guard,
                    Err(_) => return Err(LookupError::IndexBusy),
                }
            }
        };
        match self.scope(now_ms).await? {
            // Another lookup caught the index up while this one waited: the address may
            // be in it now, in a case the address query would miss.
            Scope::Address => {
                drop(building);
                if let Some(page) = self.cached(email).await? {
                    return Ok(Some(page));
                }
                self.query(email, Scope::Address, now_ms).await
            }
            scope => self.query(email, scope, now_ms).await,
        }
    }

    /// What this lookup should ask for, given when the index last caught up.
    async fn scope(&self, now_ms: i64) -> Result<Scope, LookupError> {
        let watermark = self
            .store
            .cache_get(keys::CONTACTS_INDEX)
            .await?
            .map(|e| e.version);
        Ok(match watermark {
            None => Scope::Everything,
            Some(last) if now_ms - last >= CATCH_UP_EVERY_MS => {
                Scope::AddressAndEditedSince(last - OVERLAP_MS)
            }
            Some(_) => Scope::Address,
        })
    }

    /// The live page the index holds for `email`, if any. An entry whose page is gone
    /// or in the trash is dropped, so the next lookup asks Notion again.
    pub async fn cached(&self, email: &ContactEmail) -> Result<Option<Page>, LookupError> {
        let key = keys::email(email);
        let Some(entry) = self.store.cache_get(&key).await? else {
            return Ok(None);
        };
        match self.notion.retrieve_page(&entry.value, &[]).await {
            Ok(page) if !page.in_trash => return Ok(Some(page)),
            Ok(_) => tracing::info!("cached contact is in the trash; looking again"),
            Err(e) if e.is_not_found() => tracing::info!("cached contact is gone; looking again"),
            Err(e) => return Err(e.into()),
        }
        self.store.cache_delete(&key).await?;
        Ok(None)
    }

    async fn query(
        &self,
        email: &ContactEmail,
        scope: Scope,
        now_ms: i64,
    ) -> Result<Option<Page>, LookupError> {
        let request = QueryRequest {
            filter: Some(self.filter(email, scope)),
            sorts: Sort::oldest_first(),
            page_size: Some(100),
            ..QueryRequest::default()
        };
        let (pages, complete) = self.notion.query_all(self.data_source, &request).await?;
        if !complete {
            tracing::warn!(
                "Notion capped the contacts query at its row limit; contacts beyond it are found by address only"
            );
        }
        let mut oldest: BTreeMap<String, &Page> = BTreeMap::new();
        for page in pages.iter().filter(|p| !p.in_trash) {
            if let Some(address) = self.address(page) {
                oldest.entry(keys::email(&address)).or_insert(page);
            }
        }
        let found = oldest.get(&keys::email(email)).map(|p| (*p).clone());
        if scope != Scope::Address {
            self.index(&oldest, now_ms).await?;
            self.store
                .cache_put(keys::CONTACTS_INDEX, "", now_ms)
                .await?;
            tracing::info!(
                contacts = oldest.len(),
                full = scope == Scope::Everything,
                "contacts index caught up"
            );
        }
        Ok(found)
    }

    fn filter(&self, email: &ContactEmail, scope: Scope) -> Filter {
        let property = |text| Filter::property(self.email_property, Condition::Email(text));
        // The canonical address, and as it was typed when that differs (`Émile@Exämple.com`
        // written by a lead before, or by a person): `equals` finds either spelling.
        let canonical = property(Text::Equals(email.as_str().to_owned()));
        let address = if email.typed() == email.as_str() {
            canonical
        } else {
            Filter::or([canonical, property(Text::Equals(email.typed().to_owned()))])
        };
        match scope {
            Scope::Address => address,
            Scope::AddressAndEditedSince(since) => Filter::or([
                address,
                Filter::timestamp(Timestamp::LastEditedTime, Date::OnOrAfter(iso(since))),
            ]),
            Scope::Everything => property(Text::IsNotEmpty(true)),
        }
    }

    /// The page's address, canonical; `None` when it has none that parses.
    fn address(&self, page: &Page) -> Option<ContactEmail> {
        let text = page
            .property(self.email_property)
            .and_then(PropertyValue::as_text)?;
        ContactEmail::parse(&text).ok()
    }

    /// Records the pages under their addresses where no entry exists yet: an entry a
    /// lead wrote (or an older contact) keeps its page.
    async fn index(&self, pages: &BTreeMap<String, &Page>, now_ms: i64) -> Result<(), LookupError> {
        let entries: Vec<(&String, &str)> = pages.iter().map(|(k, p)| (k, p.id.as_str())).collect();
        for chunk in entries.chunks(WRITES_AT_ONCE) {
            let writes = chunk.iter().map(|(key, page_id)| async move {
                if self.store.cache_get(key).await?.is_none() {
                    self.store.cache_put(key, page_id, now_ms).await?;
                }
                Ok::<(), StoreError>(())
            });
            for result in futures::future::join_all(writes).await {
                result?;
            }
        }
        Ok(())
    }
}

fn iso(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}
