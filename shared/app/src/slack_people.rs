//! Notion people as Slack users, so that a deal's owner is mentioned and told in person.
//!
//! A people property holds Notion user objects; a person's email is in `person.email`
//! only when the integration has the capability "read user information including email
//! addresses" (Notion's capabilities guide: without it, user objects omit the email).
//! The email is looked up in Slack (`users.lookupByEmail`) and the answer kept in the
//! store for a while, found or not, so a busy day does not ask Slack again for every
//! deal. A person without an email, or without a Slack account, is named in plain text.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crm_domain::ContactEmail;
use crm_domain::deal::Owner;
use crm_notion::PropertyValue;
use crm_slack::{SlackClient, SlackError};
use crm_store::{CacheRead, CacheWrite, StoreError};
use secrecy::SecretString;

use crate::inbox::keys;

/// How long a person found in Slack is remembered.
const FOUND_FOR: Duration = Duration::from_secs(24 * 3600);
/// How long "not in Slack" is remembered: they may join.
const NOT_FOUND_FOR: Duration = Duration::from_secs(6 * 3600);

/// Said once per process: the integration cannot see people's emails.
static SAID_EMAILS_HIDDEN: AtomicBool = AtomicBool::new(false);

/// A Notion person: their name and, when Notion reveals it, their email. `Debug` never
/// shows the full address.
#[derive(Clone, PartialEq, Eq)]
pub struct Person {
    pub name: String,
    pub email: Option<ContactEmail>,
}

impl std::fmt::Debug for Person {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Person")
            .field("name", &self.name)
            .field("email", &self.email)
            .finish()
    }
}

/// The people of a people property, named ones only.
pub fn people_of(value: &PropertyValue) -> Vec<Person> {
    let PropertyValue::People { people } = value else {
        return Vec::new();
    };
    people
        .iter()
        .filter_map(|user| {
            let name = user.name.clone()?;
            let email = user
                .person
                .as_ref()
                .and_then(|p| p.get("email"))
                .and_then(|e| e.as_str())
                .and_then(|e| ContactEmail::parse(e).ok());
            Some(Person { name, email })
        })
        .collect()
}

/// Why a person could not be looked up in Slack.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error(transparent)]
    Slack(#[from] SlackError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl LookupError {
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Slack(e) => e.is_retryable(),
            Self::Store(e) => e.is_retryable(),
        }
    }
}

/// Looks people up in Slack with the bot token, through the store's memory of earlier
/// answers.
pub struct Directory<'a, S> {
    pub store: &'a S,
    pub slack: &'a SlackClient,
    pub token: &'a SecretString,
    /// Now, in Unix millis.
    pub now_ms: i64,
}

impl<S: CacheRead + CacheWrite> Directory<'_, S> {
    /// Each person as an owner: with their Slack id when Slack knows their email.
    pub async fn owners(&self, people: &[Person]) -> Result<Vec<Owner>, LookupError> {
        let mut owners = Vec::with_capacity(people.len());
        for person in people {
            let slack_user = match &person.email {
                Some(email) => self.slack_user(email).await?,
                None => {
                    if !SAID_EMAILS_HIDDEN.swap(true, Ordering::Relaxed) {
                        tracing::warn!(
                            "Notion does not show the deal owners' emails, so they are named, not mentioned, in Slack; give the integration the capability \"read user information including email addresses\""
                        );
                    }
                    None
                }
            };
            owners.push(Owner {
                name: person.name.clone(),
                slack_user,
            });
        }
        Ok(owners)
    }

    /// The Slack user with this email, remembered for a while either way.
    pub async fn slack_user(&self, email: &ContactEmail) -> Result<Option<String>, LookupError> {
        let key = keys::slack_user(email);
        if let Some(known) = self.store.cache_get(&key).await? {
            let kept_for = if known.value.is_empty() {
                NOT_FOUND_FOR
            } else {
                FOUND_FOR
            };
            if self.now_ms - known.version < kept_for.as_millis() as i64 {
                return Ok(Some(known.value).filter(|id| !id.is_empty()));
            }
        }
        let found = self
            .slack
            .lookup_user_by_email(self.token, email.as_str())
            .await?;
        if found.is_none() {
            tracing::warn!(email = %email.redacted(), "a deal owner has no Slack account with their Notion email; named, not mentioned");
        }
        self.store
            .cache_put(&key, found.as_deref().unwrap_or_default(), self.now_ms)
            .await?;
        Ok(found)
    }
}
