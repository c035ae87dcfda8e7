//! The Notion webhook receiver: answer Notion's handshake, verify each delivery, drop
//! what we do not handle, and put each event in the inbox once. Notion pauses a
//! subscription whose deliveries keep failing, so everything correctly signed is
//! answered 200 unless it could not be stored.

use std::sync::Arc;

use crm_domain::{NotionId, notion_signature};
use crm_settings::{CachedSecrets, SecretsSource};
use crm_store::{Inserted, NewInboxItem, Store};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tracing::Instrument;

/// Inbox `kind` of a Notion event.
pub const EVENT_KIND: &str = "notion_event";

/// Event types the worker acts on.
pub const HANDLED: &[&str] = &["page.properties_updated", "page.created"];

/// Notion deliveries are small; anything larger is not one.
const MAX_BODY_BYTES: usize = 256 * 1024;

pub struct NotionWebhook<S, P> {
    pub store: S,
    pub secrets: Arc<CachedSecrets<P>>,
    /// Only events about pages of the Deals data source are kept.
    pub deals_data_source: NotionId,
}

pub fn inbox_id(event_id: &str) -> String {
    format!("event:{event_id}")
}

impl<S: Store, P: SecretsSource> NotionWebhook<S, P> {
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let span = tracing::info_span!("notion_webhook", event_id = tracing::field::Empty);
        let (status, body) = self.answer(&request).instrument(span).await;
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Body::Text(body.to_string()))
            .unwrap_or_else(|_| Response::new(Body::Empty))
    }

    async fn answer(&self, request: &Request) -> (StatusCode, Value) {
        if request.method() != Method::POST {
            return (
                StatusCode::METHOD_NOT_ALLOWED,
                json!({"error": "method_not_allowed"}),
            );
        }
        let body: &[u8] = request.body().as_ref();
        if body.len() > MAX_BODY_BYTES {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"error": "payload_too_large"}),
            );
        }
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        if let Some(token) = parsed.as_ref().and_then(handshake_token) {
            return self.handshake(token).await;
        }
        let secrets = match self.secrets.get().await {
            Ok(s) => s,
            Err(err) => {
                tracing::error!(error = %err, "could not read secrets; Notion will retry");
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({"error": "unavailable"}),
                );
            }
        };
        let Some(token) = secrets.notion_webhook_token.as_ref() else {
            tracing::error!(
                "a webhook event arrived but no verification token is stored: resend the token from the subscription's page in Notion"
            );
            return (StatusCode::UNAUTHORIZED, json!({"error": "unauthorized"}));
        };
        let signature = request
            .headers()
            .get(notion_signature::HEADER)
            .and_then(|v| v.to_str().ok());
        if !notion_signature::verify(token.expose_secret(), body, signature) {
            tracing::warn!("webhook signature refused");
            return (StatusCode::UNAUTHORIZED, json!({"error": "unauthorized"}));
        }
        let Some(event) = parsed else {
            return (StatusCode::BAD_REQUEST, json!({"error": "malformed_json"}));
        };
        let (Some(id), Some(kind)) = (
            event.get("id").and_then(Value::as_str),
            event.get("type").and_then(Value::as_str),
        ) else {
            return (StatusCode::BAD_REQUEST, json!({"error": "not_an_event"}));
        };
        tracing::Span::current().record("event_id", id);
        if !HANDLED.contains(&kind) {
            tracing::debug!(kind, "event type not handled");
            return (StatusCode::OK, json!({"status": "ignored"}));
        }
        let data_source = event
            .pointer("/data/parent/data_source_id")
            .and_then(Value::as_str)
            .and_then(|id| NotionId::parse(id).ok());
        if data_source.as_ref() != Some(&self.deals_data_source) {
            return (StatusCode::OK, json!({"status": "ignored"}));
        }
        let item = NewInboxItem {
            id: inbox_id(id),
            kind: EVENT_KIND.to_owned(),
            payload: String::from_utf8_lossy(body).into_owned(),
        };
        match self.store.inbox_insert(&item).await {
            Ok(Inserted::New) => {
                tracing::info!(kind, "event accepted");
                (StatusCode::OK, json!({"status": "accepted"}))
            }
            Ok(Inserted::Duplicate) => (StatusCode::OK, json!({"status": "duplicate"})),
            Err(err) => {
                tracing::error!(error = %err, "could not store the event; Notion will retry");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"error": "unavailable"}),
                )
            }
        }
    }

    /// Stores the verification token where the functions read it, and says where —
    /// never the token itself.
    async fn handshake(&self, token: &str) -> (StatusCode, Value) {
        match self.secrets.source().save_webhook_token(token).await {
            Ok(Some(place)) => {
                self.secrets.invalidate().await;
                tracing::info!(
                    "Notion verification token stored in {place}; copy it from there into Notion's Verify dialog"
                );
            }
            Ok(None) => tracing::warn!(
                "a verification token is already stored and was kept; for a new subscription, empty notion_webhook_token in the secret and click Resend token in Notion"
            ),
            Err(err) => {
                tracing::error!(error = %err, "could not store the Notion verification token")
            }
        }
        (StatusCode::OK, json!({"status": "ok"}))
    }
}

/// A handshake is a body with `verification_token` and no `type`.
fn handshake_token(body: &Value) -> Option<&str> {
    if body.get("type").is_some() {
        return None;
    }
    body.get("verification_token").and_then(Value::as_str)
}
