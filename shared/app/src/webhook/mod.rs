//! The Notion webhook receiver: answer Notion's handshake, verify each delivery, drop
//! what we do not handle, and put each event in the inbox once. Notion pauses a
//! subscription whose deliveries keep failing, so everything correctly signed is
//! answered 200 unless it could not be stored.

mod error;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use crm_domain::{Clock, NotionId, notion_signature};
use crm_notion::WebhookEvent;
use crm_settings::{CachedSecrets, SecretsWriter};
use crm_store::{CacheWrite, Inserted};

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tracing::Instrument;

/// Event types the worker acts on.
pub const HANDLED: &[&str] = &["page.properties_updated", "page.created"];

/// Notion deliveries are small; anything larger is not one.
const MAX_BODY_BYTES: usize = 256 * 1024;

use crate::deals::{self, FIRST_DATA_SOURCE_VERSION, Mismatch, Relevance};
use crate::inbox::keys;
pub use error::WebhookError;

/// Opens the window in which a verification handshake is accepted, for `minutes`
/// (what `crm webhook listen` does). Without it, anyone who finds the URL could plant a
/// token of their own before Notion's and then sign forged events with it.
pub async fn open_handshake_window<S: CacheWrite>(
    store: &S,
    clock: &dyn Clock,
    minutes: u64,
) -> Result<i64, crm_store::StoreError> {
    let until = clock
        .now()
        .as_millis()
        .saturating_add(i64::try_from(minutes.saturating_mul(60_000)).unwrap_or(i64::MAX));
    store.cache_put(keys::HANDSHAKE_WINDOW, "", until).await?;
    Ok(until)
}

pub struct NotionWebhook<S, P> {
    store: S,
    secrets: Arc<CachedSecrets<P>>,
    clock: Arc<dyn Clock>,
    /// Only events about pages of the Deals data source are kept.
    deals_data_source: NotionId,
    /// See [`NotionWebhook::knowing`].
    own_sources: Vec<NotionId>,
    /// The database that holds the Deals data source, once the worker has read it:
    /// events of subscriptions on API versions before data sources name only it.
    deals_database: OnceLock<NotionId>,
    /// Each operator-facing warning is logged once per process, not once per event.
    /// This integration's bot user, once the worker has read and cached it.
    bot: OnceLock<String>,
    warned_old_version: AtomicBool,
    warned_mismatch: AtomicBool,
    /// When each cause of a refusal was last logged: a subscription whose deliveries
    /// all fail (a lost token) would otherwise log one line per delivery, thousands an
    /// hour, and bury the one that says what to do.
    said: std::sync::Mutex<std::collections::HashMap<&'static str, i64>>,
}

/// How often one cause of refusal is logged at its level (its count is a metric).
const SAY_AGAIN_AFTER_MS: i64 = 10 * 60_000;

pub use crate::inbox::event_id as inbox_id;

crm_store::port!(
    /// What the webhook receiver keeps: the event in the inbox; it reads whether the
    /// handshake window is open, and the bot user the worker cached.
    pub WebhookStore: InboxWrite, CacheRead
);

impl<S: WebhookStore, P: SecretsWriter> NotionWebhook<S, P> {
    pub fn new(
        store: S,
        secrets: Arc<CachedSecrets<P>>,
        clock: Arc<dyn Clock>,
        deals_data_source: NotionId,
    ) -> Self {
        Self {
            store,
            secrets,
            clock,
            deals_data_source,
            own_sources: Vec::new(),
            deals_database: OnceLock::new(),
            bot: OnceLock::new(),
            warned_old_version: AtomicBool::new(false),
            warned_mismatch: AtomicBool::new(false),
            said: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// The product's other data sources (Contacts, Activities): events for the pages it
    /// writes there are expected, and ignored without a warning.
    pub fn knowing(mut self, own: impl IntoIterator<Item = NotionId>) -> Self {
        self.own_sources = own.into_iter().collect();
        self
    }

    /// Whether `cause` was not logged in the last [`SAY_AGAIN_AFTER_MS`] (and now is).
    fn first_in_a_while(&self, cause: &'static str) -> bool {
        let now = self.clock.now().as_millis();
        let mut said = self.said.lock().unwrap_or_else(|p| p.into_inner());
        match said.get(cause) {
            Some(last) if now.saturating_sub(*last) < SAY_AGAIN_AFTER_MS => false,
            _ => {
                said.insert(cause, now);
                true
            }
        }
    }

    pub fn secrets(&self) -> &Arc<CachedSecrets<P>> {
        &self.secrets
    }

    pub async fn handle(&self, request: Request) -> Response<Body> {
        let span = tracing::info_span!("notion_webhook", event_id = tracing::field::Empty);
        let answered = self.answer(&request).instrument(span.clone()).await;
        let (status, body) = match answered {
            Ok(word) => (StatusCode::OK, json!({"status": word})),
            Err(err) => {
                err.count();
                if self.first_in_a_while(err.cause()) {
                    span.in_scope(|| err.log());
                } else {
                    span.in_scope(|| {
                        tracing::debug!(cause = err.cause(), "delivery refused again")
                    });
                }
                (err.status(), err.body())
            }
        };
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Body::Text(body.to_string()))
            .unwrap_or_else(|_| Response::new(Body::Empty))
    }

    /// The delivery's outcome: a word for the 200 answer, or why it was refused.
    async fn answer(&self, request: &Request) -> Result<&'static str, WebhookError> {
        if request.method() != Method::POST {
            return Err(WebhookError::MethodNotAllowed);
        }
        let body: &[u8] = request.body().as_ref();
        if body.len() > MAX_BODY_BYTES {
            return Err(WebhookError::TooLarge);
        }
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        if let Some(token) = parsed.as_ref().and_then(handshake_token) {
            // Notion sends JSON as JSON. A page on another site can post JSON text as
            // `text/plain` without asking first (no CORS preflight): never a handshake.
            if !is_json(request) {
                return Err(WebhookError::HandshakeNotJson);
            }
            return self.handshake(token).await;
        }
        let signature = request
            .headers()
            .get(notion_signature::HEADER)
            .and_then(|v| v.to_str().ok());
        self.verify(body, signature).await?;
        let envelope = parsed.ok_or(WebhookError::MalformedJson)?;
        let (Some(id), Some(kind)) = (
            envelope.get("id").and_then(Value::as_str),
            envelope.get("type").and_then(Value::as_str),
        ) else {
            return Err(WebhookError::NotAnEvent);
        };
        tracing::Span::current().record("event_id", id);
        if !HANDLED.contains(&kind) {
            tracing::debug!(kind, "event type not handled");
            return Ok("ignored");
        }
        // A page event the worker will act on: read it whole, as the worker will.
        let event = serde_json::from_value::<WebhookEvent>(envelope.clone())
            .map_err(|_| WebhookError::NotAnEvent)?;
        if deals::is_before_data_sources(event.api_version.as_deref())
            && !self.warned_old_version.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                api_version = event.api_version.as_deref().unwrap_or_default(),
                "this Notion webhook subscription sends events in an API version before {FIRST_DATA_SOURCE_VERSION}: they name the Deals database, not its data source. They are handled, but recreate the subscription with API version 2026-03-11 (docs/deploy.md, 'Connect Notion')"
            );
        }
        // Only the older shape names no data source; the newer needs no store read.
        let older_shape = event
            .data
            .parent
            .as_ref()
            .is_some_and(|p| p.data_source_id.is_none());
        let deals_database = match older_shape {
            true => self.deals_database().await,
            false => None,
        };
        match deals::classify(
            event.data.parent.as_ref(),
            &self.deals_data_source,
            deals_database.as_ref(),
        ) {
            Relevance::Deals | Relevance::Undecided => {}
            Relevance::Other(mismatch) => {
                self.warn_mismatch(&mismatch);
                return Ok("ignored");
            }
        }
        // The product's own edits (a deal's Stage Since, a contact it filled) need no
        // work: dropped here once the bot is known, else by the worker.
        if let Some(bot) = self.bot().await
            && event.is_only_by(bot)
        {
            tracing::debug!("our own change");
            return Ok("ignored");
        }
        let item = crate::inbox::event_item(id, body);
        match self
            .store
            .inbox_insert(&item)
            .await
            .map_err(WebhookError::Store)?
        {
            Inserted::New => {
                tracing::info!(kind, "event accepted");
                Ok("accepted")
            }
            Inserted::Duplicate => Ok("duplicate"),
        }
    }

    /// The Deals database id: learnt once from the schema the worker cached.
    async fn deals_database(&self) -> Option<NotionId> {
        if let Some(known) = self.deals_database.get() {
            return Some(known.clone());
        }
        let learnt = deals::known_deals_database(&self.store).await?;
        Some(self.deals_database.get_or_init(|| learnt).clone())
    }

    /// The integration's bot user id, as the worker cached it (`None` until it has).
    async fn bot(&self) -> Option<&str> {
        if self.bot.get().is_none() {
            let cached = self.store.cache_get(keys::NOTION_BOT_USER).await.ok()??;
            let _ = self.bot.set(cached.value);
        }
        self.bot.get().map(String::as_str)
    }

    /// Says once per process why page events are being dropped: most often a
    /// misconfiguration that would otherwise look like "Slack never hears anything".
    fn warn_mismatch(&self, mismatch: &Mismatch) {
        if let Mismatch::Elsewhere {
            data_source: Some(ds),
            ..
        } = mismatch
            && NotionId::parse(ds).is_ok_and(|ds| self.own_sources.contains(&ds))
        {
            tracing::debug!(
                "an event for a page of the product's own Contacts or Activities; ignored"
            );
            return;
        }
        if self.warned_mismatch.swap(true, Ordering::Relaxed) {
            tracing::debug!(?mismatch, "page event not about Deals; ignored");
            return;
        }
        match mismatch {
            Mismatch::ConfiguredDatabaseId { data_source } => tracing::warn!(
                configured = %self.deals_data_source,
                data_source = %data_source,
                "CRM_DEALS_DATA_SOURCE_ID holds the Deals database id, not its data source id: set it to {data_source}; until then every deal event is ignored"
            ),
            Mismatch::Elsewhere { kind, id, .. } => tracing::warn!(
                parent_type = %kind,
                parent_id = %id,
                deals_data_source = %self.deals_data_source,
                "page events arrive for a parent that is neither the Deals data source nor its database; they are acknowledged and ignored. If deal changes never reach Slack, check CRM_DEALS_DATA_SOURCE_ID (crm setup --check prints the ids)"
            ),
        }
    }

    /// Whether `body` is signed with the pinned token — or, while none is pinned, with
    /// one a handshake offered, which is then pinned: Notion's first signed event proves
    /// which offer was its own, and a token someone else planted in the window is never
    /// pinned, since they cannot sign what Notion sends.
    async fn verify(&self, body: &[u8], signature: Option<&str>) -> Result<(), WebhookError> {
        let secrets = self.secrets.get().await.map_err(WebhookError::Secrets)?;
        let signed_with = |t: &secrecy::SecretString| {
            notion_signature::verify(t.expose_secret(), body, signature)
        };
        if let Some(token) = &secrets.notion_webhook_token {
            return signed_with(token)
                .then_some(())
                .ok_or(WebhookError::BadSignature);
        }
        if secrets.notion_webhook_candidates.is_empty() {
            return Err(WebhookError::NoToken);
        }
        let proven = secrets
            .notion_webhook_candidates
            .iter()
            .find(|t| signed_with(t))
            .ok_or(WebhookError::BadSignature)?;
        match self
            .secrets
            .source()
            .pin_webhook_token(proven.expose_secret())
            .await
        {
            Ok(Some(place)) => {
                self.secrets.invalidate().await;
                tracing::info!(
                    target: crate::place::OPERATOR,
                    offered = secrets.notion_webhook_candidates.len(),
                    "the first signed event proved which offered token is Notion's: pinned in {place}, the other offers forgotten"
                );
            }
            Ok(None) => {
                // Pinned meanwhile (another delivery proved it first).
                self.secrets.invalidate().await;
            }
            // The event is Notion's all the same; the next one pins it.
            Err(err) => tracing::error!(error = %err, "could not pin the proven webhook token"),
        }
        Ok(())
    }

    /// Keeps the verification token a handshake offers, beside any other offered in the
    /// window, and says where — never the token itself. Only while the operator has the
    /// window open: the handshake carries no proof that it comes from Notion, so it
    /// verifies nothing until a signed event proves it ([`verify`](Self::verify)).
    async fn handshake(&self, token: &str) -> Result<&'static str, WebhookError> {
        let now = self.clock.now().as_millis();
        let window = self
            .store
            .cache_get(keys::HANDSHAKE_WINDOW)
            .await
            .map_err(WebhookError::Store)?;
        if window.is_none_or(|w| now >= w.version) {
            return Err(WebhookError::HandshakeClosed);
        }
        match self.secrets.source().offer_webhook_token(token).await {
            Ok(Some(place)) => {
                self.secrets.invalidate().await;
                tracing::info!(
                    target: crate::place::OPERATOR,
                    "Notion verification token kept in {place}; copy it from there into Notion's Verify dialog (with several there, the newest is the one Notion just sent); Notion's first signed event pins it"
                );
            }
            Ok(None) => tracing::warn!(
                "a verification token is already pinned (or five were offered) and was kept; for a new subscription, empty notion_webhook_token in the secret and click Resend token in Notion"
            ),
            // Notion shows the token in its dialog too, and can send it again.
            Err(err) => {
                tracing::error!(error = %err, "could not store the Notion verification token")
            }
        }
        Ok("ok")
    }
}

/// Whether the request says its body is JSON (`application/json`, any parameters).
fn is_json(request: &Request) -> bool {
    request
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

/// A handshake is a body with `verification_token` and no `type`.
fn handshake_token(body: &Value) -> Option<&str> {
    if body.get("type").is_some() {
        return None;
    }
    body.get("verification_token").and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_domain::SystemClock;
    use crm_store::{CacheRead, SqliteStore};

    /// A number from the command line meets the clock: it saturates, never wraps into
    /// a window that closed long ago (or a panic).
    #[tokio::test]
    async fn the_handshake_window_saturates_at_the_clocks_end() {
        let store = SqliteStore::in_memory(Arc::new(SystemClock)).unwrap();
        let until = open_handshake_window(&store, &SystemClock, u64::MAX)
            .await
            .unwrap();
        assert_eq!(until, i64::MAX);
        let stored = store
            .cache_get(keys::HANDSHAKE_WINDOW)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.version, i64::MAX);
    }
}
