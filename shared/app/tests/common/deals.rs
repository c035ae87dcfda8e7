//! Deals in a subscribed workspace: the emulator delivers webhooks to the real
//! handler served on 127.0.0.1, and Slack messages land in a local receiver.

use std::sync::Arc;
use std::time::Duration;

use crm_app::webhook::NotionWebhook;
use crm_domain::notion_signature;
use crm_notion_emulator::DEFAULT_TOKEN;
use crm_slack::receiver::SlackReceiver;
use crm_store::{DynamoStore, SqliteStore, Store};
use serde_json::{Value, json};

use super::{Harness, serve_function};

pub type Webhook<S> = NotionWebhook<S, super::TestSecrets>;

pub struct Deals<S: Store + Clone = SqliteStore> {
    pub h: Arc<Harness<S>>,
    pub slack: SlackReceiver,
    pub webhook: Arc<Webhook<S>>,
    pub url: String,
}

/// A Slack receiver and the secret that routes each of `names` to it.
pub async fn slack_and_secret(names: &[&str]) -> (SlackReceiver, Value) {
    let slack = SlackReceiver::start(0, false).await.unwrap();
    let hooks: serde_json::Map<String, Value> = names
        .iter()
        .map(|n| ((*n).to_owned(), json!(slack.url(n))))
        .collect();
    // The functions share one secret: forms can post leads to this workspace too.
    let mut secret = super::default_secret();
    secret["notion_webhook_token"] = json!("");
    secret["slack_webhooks"] = json!(hooks);
    (slack, secret)
}

pub const ROUTED: &[&str] = &["won", "lost", "negotiation"];

impl Deals {
    /// A subscribed workspace: the handshake stored the token in the secret.
    pub async fn new() -> Self {
        Self::with_webhooks(ROUTED).await
    }

    pub async fn with_webhooks(names: &[&str]) -> Self {
        let (slack, secret) = slack_and_secret(names).await;
        Self::assemble(Harness::with_secrets(secret).await, slack).await
    }

    /// Webhooks for `names`, and the local workspace's bot token: every other route
    /// goes to the channel of its name.
    pub async fn with_bot(names: &[&str]) -> Self {
        let (slack, mut secret) = slack_and_secret(names).await;
        secret["slack_bot_token"] = json!(crm_slack::receiver::LOCAL_BOT_TOKEN);
        Self::assemble(Harness::with_secrets(secret).await, slack).await
    }
}

impl Deals<DynamoStore> {
    /// On DynamoDB Local: for what its conditional writes must hold under concurrency.
    pub async fn dynamo() -> Self {
        Self::dynamo_with_webhooks(ROUTED).await
    }

    pub async fn dynamo_with_webhooks(names: &[&str]) -> Self {
        let (slack, secret) = slack_and_secret(names).await;
        Self::assemble(Harness::dynamo_with_secrets(secret).await, slack).await
    }

    /// [`Deals::with_bot`] on DynamoDB Local.
    pub async fn dynamo_with_bot(names: &[&str]) -> Self {
        let (slack, mut secret) = slack_and_secret(names).await;
        secret["slack_bot_token"] = json!(crm_slack::receiver::LOCAL_BOT_TOKEN);
        Self::assemble(Harness::dynamo_with_secrets(secret).await, slack).await
    }

    /// On DynamoDB Local behind `endpoint` (a proxy that can throttle).
    pub async fn dynamo_through(endpoint: &str, names: &[&str]) -> Self {
        let (slack, secret) = slack_and_secret(names).await;
        Self::assemble(Harness::dynamo_through(secret, endpoint).await, slack).await
    }
}

impl<S: Store + Clone + Send + Sync + 'static> Deals<S> {
    pub async fn assemble(mut h: Harness<S>, slack: SlackReceiver) -> Self {
        h.use_slack_api(&slack.api_url());
        let h = Arc::new(h);
        let webhook = Arc::new(h.ports.webhook());
        // The operator's `crm webhook listen` before creating the subscription.
        crm_app::webhook::open_handshake_window(&h.store, &h.clock, 10)
            .await
            .unwrap();
        let handler = Arc::clone(&webhook);
        let url = serve_function(move |req| {
            let handler = Arc::clone(&handler);
            async move { handler.handle(req).await }
        })
        .await;
        Self {
            h,
            slack,
            webhook,
            url,
        }
    }

    pub async fn subscribe(&self) -> String {
        self.h.emulator.subscribe(&self.url).await
    }

    /// Waits until the emulator has delivered `n` events of people's changes that were
    /// answered 200. (The worker's own edits — a deal's `Stage Since` — are delivered
    /// too, and ignored by the webhook.)
    pub async fn delivered(&self, n: usize) {
        let what = format!("{n} deliveries answered 200");
        crm_testkit::eventually(&what, Duration::from_secs(5), || async {
            let ok = self
                .h
                .emulator
                .deliveries()
                .iter()
                .filter(|d| d.status == Some(200) && !d.by_bot)
                .count();
            (ok >= n).then_some(())
        })
        .await;
    }

    /// The id of the last event delivered about a person's change.
    pub fn last_event(&self) -> String {
        self.h
            .emulator
            .deliveries()
            .iter()
            .rev()
            .find(|d| !d.by_bot)
            .expect("an event was delivered")
            .event_id
            .clone()
    }

    /// Runs the worker over every open inbox item, as the stream would.
    pub async fn drain(&self) -> Vec<String> {
        let open = self.h.open_ids().await;
        if open.is_empty() {
            return Vec::new();
        }
        self.h.run_worker(&open).await
    }

    pub fn new_deal(&self, name: &str) -> String {
        let (dana, _) = &self.h.ws.people[0];
        self.new_deal_owned_by(name, &[dana])
    }

    /// A deal owned by the seeded people with these ids.
    pub fn new_deal_owned_by(&self, name: &str, owners: &[&str]) -> String {
        let people: Vec<Value> = owners.iter().map(|id| json!({"id": id})).collect();
        self.h
            .emulator
            .create_page_as_person(
                json!({
                    "Deal Name": {"title": [{"text": {"content": name}}]},
                    "Value": {"number": 12000},
                    "Owner": {"people": people},
                    "Stage": {"status": {"name": "lead"}},
                }),
                &self.h.ws.deals_data_source_id,
            )
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub fn move_to(&self, deal: &str, stage: &str) {
        self.h
            .emulator
            .update_page_as_person(deal, json!({"Stage": {"status": {"name": stage}}}))
            .unwrap();
    }

    /// Posts a body straight to the webhook handler with a signature header.
    pub async fn post(&self, body: &str, signature: &str) -> (u16, Value) {
        let request = super::api_gateway_request(
            "/",
            &[
                ("content-type", "application/json".into()),
                ("x-notion-signature", signature.to_owned()),
            ],
            body.as_bytes(),
            false,
        );
        super::read(self.webhook.handle(request).await)
    }

    /// Answers Notion's handshake with a token of our choosing, without a subscription
    /// in the emulator (so no delivery is sent but the ones a test posts).
    pub async fn handshake(&self) -> String {
        let token = "secret_fixture_token".to_owned();
        let body = json!({"verification_token": token}).to_string();
        let request = super::api_gateway_request(
            "/",
            &[("content-type", "application/json".into())],
            body.as_bytes(),
            false,
        );
        let (status, _) = super::read(self.webhook.handle(request).await);
        assert_eq!(status, 200);
        token
    }

    /// A checked-in event, with the ids of this workspace: about `deal`, its Stage
    /// updated, under `database` (Deals' own unless given).
    pub async fn fixture_event(&self, name: &str, deal: &str, database: Option<&str>) -> Value {
        let mut event: Value = serde_json::from_str(&super::fixture(name)).unwrap();
        let notion = self
            .h
            .worker
            .notion
            .with_token(secrecy::SecretString::from(DEFAULT_TOKEN));
        let schema = notion
            .retrieve_data_source(&self.h.ws.deals_data_source_id)
            .await
            .unwrap();
        event["id"] = json!(uuid::Uuid::new_v4().to_string());
        event["entity"]["id"] = json!(deal);
        event["authors"][0]["id"] = json!(self.h.ws.people[0].0);
        event["data"]["parent"]["id"] = json!(database.unwrap_or(&self.h.ws.deals_database_id));
        if event["data"]["parent"].get("data_source_id").is_some() {
            event["data"]["parent"]["data_source_id"] = json!(self.h.ws.deals_data_source_id);
        }
        event["data"]["updated_properties"] = json!([schema.properties["Stage"].id]);
        event
    }

    /// Posts an event signed with `token`; returns the answer.
    pub async fn post_event(&self, event: &Value, token: &str) -> (u16, Value) {
        let body = event.to_string();
        self.post(&body, &notion_signature::sign(token, body.as_bytes()))
            .await
    }

    /// Sends the one open event again `copies` times, each under an id of its own
    /// (Notion may send several events for one change), signed with `token`; then runs
    /// every open item in workers at once, and again what met another attempt. Every
    /// item ends done.
    pub async fn copies_run_at_once(&self, token: &str, copies: usize) {
        let original: Value = {
            let item = self
                .h
                .store
                .inbox_list_open(10)
                .await
                .unwrap()
                .pop()
                .unwrap();
            serde_json::from_str(&item.payload).unwrap()
        };
        for i in 0..copies {
            let mut event = original.clone();
            event["id"] = json!(format!("{}-{i}", original["id"].as_str().unwrap()));
            assert_eq!(self.post_event(&event, token).await.0, 200);
        }
        let open: Vec<String> = self
            .h
            .store
            .inbox_list_open(10)
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.id)
            .collect();
        assert_eq!(open.len(), copies + 1);
        let runs = open.iter().map(|id| {
            let (h, id) = (Arc::clone(&self.h), id.clone());
            tokio::spawn(async move { h.run_worker(&[id]).await })
        });
        let mut again = Vec::new();
        for (run, id) in futures::future::join_all(runs).await.into_iter().zip(&open) {
            if !run.unwrap().is_empty() {
                again.push(id.clone());
            }
        }
        if !again.is_empty() {
            assert!(self.h.run_worker(&again).await.is_empty());
        }
        // A record that met another attempt mid-announcement is retried, not parked.
        let left = self.h.store.inbox_list_open(10).await.unwrap();
        assert!(left.is_empty(), "{left:?}");
    }

    pub fn texts(&self, destination: &str) -> Vec<String> {
        self.slack
            .to(destination)
            .iter()
            .map(|m| m["text"].as_str().unwrap().to_owned())
            .collect()
    }
}
