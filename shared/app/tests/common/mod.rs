//! The real handlers against real local servers: DynamoDB Local (store) and the Notion
//! emulator; secrets in memory, rotated as an operator would rotate the deployed one
//! (reading them from Secrets Manager is `context.rs`'s test). Requests are built by
//! `crm_testkit::request` from the checked-in API Gateway event; stream events from what
//! the table holds.

#![allow(dead_code)]

pub mod deals;
pub mod stream;

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::dynamodb::Event;
use crm_app::Ports;
use crm_app::intake::Intake;
use crm_app::redrive::Redrive;
use crm_app::worker::Worker;
use crm_domain::{Clock, ManualClock};
use crm_notion::NotionClient;
use crm_notion_emulator::{DEFAULT_TOKEN, Emulator, SeededWorkspace, StageKind};
use crm_settings::{CachedSecrets, MemorySecrets, Secrets, Settings};
use crm_store::{DynamoStore, InboxItem, SqliteStore, Store};
use crm_testkit::request::{Encoding, HttpEvent, own_signed};
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

pub const OWN_SECRET: &str = "own-form-secret-5b1e";
pub const TALLY_SECRET: &str = "tally-secret-77a0";
pub const TYPEFORM_SECRET: &str = "typeform-secret-e41c";
pub const FORMSPREE_SECRET: &str = "formspree-secret-09fd";
pub const WEBFLOW_SECRET: &str = "webflow-client-secret-77ab";

/// Where the handlers read secrets: memory, replaced by [`Harness::rotate_secret`].
pub type TestSecrets = MemorySecrets;
pub type TestIntake<S = SqliteStore> = Intake<S, TestSecrets>;
pub type TestWorker<S = SqliteStore> = Worker<S, TestSecrets>;

/// The handlers built through the same [`Ports`] the functions use, over a store `S`:
/// SQLite in memory unless a test is about DynamoDB (its conditional writes under
/// concurrency, its stream), which builds [`Harness::dynamo`].
pub struct Harness<S: Store + Clone = SqliteStore> {
    pub emulator: Emulator,
    pub ws: SeededWorkspace,
    pub ports: Ports<S, TestSecrets>,
    pub store: S,
    pub intake: Arc<TestIntake<S>>,
    pub worker: Arc<TestWorker<S>>,
    pub redrive: Arc<Redrive<S, TestSecrets>>,
    pub clock: ManualClock,
    /// How the handlers wait for `clock`: they move it themselves, unless held.
    pub pause: crm_app::pause::ManualPause,
    /// The DynamoDB table, when the store is DynamoDB Local.
    pub table: Option<(aws_sdk_dynamodb::Client, String)>,
    seq: std::sync::atomic::AtomicU64,
}

/// The secret most tests run with: a Notion token and every form provider's secret.
/// How often the redrive runs in AWS (`template.yaml`).
pub const REDRIVE_EVERY: Duration = Duration::from_secs(5 * 60);

pub fn default_secret() -> Value {
    json!({
        "notion_token": DEFAULT_TOKEN,
        "form_secrets": {
            "own": OWN_SECRET, "tally": TALLY_SECRET,
            "typeform": TYPEFORM_SECRET, "formspree": FORMSPREE_SECRET,
            "webflow": WEBFLOW_SECRET,
        },
        "captcha_secrets": {
            "turnstile": crm_testkit::captcha::SECRET,
            "hcaptcha": crm_testkit::captcha::SECRET,
        },
    })
}

impl Harness<SqliteStore> {
    pub async fn new() -> Self {
        Self::with_secrets(default_secret()).await
    }

    pub async fn with_secrets(secret: Value) -> Self {
        let clock = ManualClock::starting_now();
        let store = SqliteStore::in_memory(Arc::new(clock.clone())).unwrap();
        Self::build(store, clock, "local", secret, None).await
    }
}

impl Harness<DynamoStore> {
    pub async fn dynamo() -> Self {
        Self::dynamo_with_secrets(default_secret()).await
    }

    pub async fn dynamo_with_secrets(secret: Value) -> Self {
        crm_testkit::require_local_aws();
        let aws = crm_settings::sdk_config().await;
        Self::dynamo_with_client(secret, aws_sdk_dynamodb::Client::new(&aws)).await
    }

    /// DynamoDB through `endpoint` (a proxy in front of DynamoDB Local), with the SDK's
    /// retries on a test's time scale: two attempts, milliseconds apart.
    pub async fn dynamo_through(secret: Value, endpoint: &str) -> Self {
        use aws_sdk_dynamodb::config::retry::RetryConfig;
        crm_testkit::require_local_aws();
        let aws = crm_settings::sdk_config().await;
        let config = aws_sdk_dynamodb::config::Builder::from(&aws)
            .endpoint_url(endpoint)
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(2)
                    .with_initial_backoff(Duration::from_millis(10)),
            )
            .build();
        Self::dynamo_with_client(secret, aws_sdk_dynamodb::Client::from_conf(config)).await
    }

    async fn dynamo_with_client(secret: Value, ddb: aws_sdk_dynamodb::Client) -> Self {
        let table = format!("crm-test-{}", uuid::Uuid::new_v4());
        DynamoStore::create_table(&ddb, &table).await.unwrap();
        let clock = ManualClock::starting_now();
        let store = DynamoStore::new(ddb.clone(), &table, Arc::new(clock.clone()));
        Self::build(store, clock, &table.clone(), secret, Some((ddb, table))).await
    }
}

impl<S: Store + Clone> Harness<S> {
    async fn build(
        store: S,
        clock: ManualClock,
        table_name: &str,
        secret: Value,
        table: Option<(aws_sdk_dynamodb::Client, String)>,
    ) -> Self {
        // The settings name a secret; the handlers are given the secrets themselves.
        let arn = "arn:aws:secretsmanager:eu-west-1:000000000000:secret:in-memory";
        let emulator = Emulator::start(0, DEFAULT_TOKEN).await.unwrap();
        let ws = emulator.seed_crm(StageKind::Status);
        let mut env = crm_testkit::function_env(
            table_name,
            arn,
            [
                &ws.contacts_data_source_id,
                &ws.deals_data_source_id,
                &ws.activities_data_source_id,
            ],
        );
        for (name, value) in [
            ("CRM_NOTION_BASE_URL", emulator.base_url()),
            ("CRM_NOTION_BURST", "100".into()),
            ("CRM_TIMEZONE", "Europe/Berlin".into()),
            // No test reaches Slack: the Web API is a local receiver's, or nowhere.
            ("CRM_SLACK_API_BASE", "http://127.0.0.1:9/api".into()),
            // Messages are posted at once unless a test is about bursts.
            ("CRM_SLACK_BURST_THRESHOLD", "0".into()),
        ] {
            env.push((name.into(), value));
        }
        let settings = Settings::load(None, env).unwrap();
        let secrets = Arc::new(CachedSecrets::new(
            MemorySecrets::new(Secrets::from_json(&secret.to_string()).unwrap()),
            Duration::from_secs(300),
            Arc::new(clock.clone()),
        ));
        let mut ports =
            Ports::new(settings, store.clone(), secrets, Arc::new(clock.clone())).unwrap();
        // Test timings: a retry policy that gives up in a second, not twenty, so a
        // test of an outage does not wait out production's patience; and pacing above
        // what the settings allow, since the emulator has no limit unless told.
        let mut notion = crm_app::runtime::notion_config(&ports.settings);
        notion.request_timeout = Duration::from_secs(5);
        notion.retry = crm_testkit::fast_retry(4);
        notion.pacing = crm_notion::Pacing::Fixed { rate: 500.0 };
        ports.notion = NotionClient::new(notion).unwrap();
        ports.slack = test_slack(&ports.settings.slack.api_base);
        let pause = crm_app::pause::ManualPause::new(clock.clone());
        ports.pause = Arc::new(pause.clone());
        let (worker, redrive) = handlers(&ports);
        Self {
            emulator,
            ws,
            intake: Arc::new(ports.intake()),
            worker,
            redrive,
            store,
            ports,
            clock,
            pause,
            table,
            seq: std::sync::atomic::AtomicU64::new(1),
        }
    }

    /// Points the Slack client's Web API at `api_base` (a local receiver's), and builds
    /// the handlers again with it.
    pub fn use_slack_api(&mut self, api_base: &str) {
        self.ports.slack = test_slack(api_base);
        (self.worker, self.redrive) = handlers(&self.ports);
    }

    /// Holds Slack messages for bursts: more than `threshold` within `window` seconds
    /// are one summary; one waits `hold` seconds for others.
    pub fn use_bursts(&mut self, threshold: u32, window: u64, hold: u64) {
        self.ports.settings.slack.burst_threshold = threshold;
        self.ports.settings.slack.burst_window = Duration::from_secs(window);
        self.ports.settings.slack.burst_hold = Duration::from_secs(hold);
        (self.worker, self.redrive) = handlers(&self.ports);
    }

    /// A worker as a process of its own, paced as the deployed settings pace it (no rate
    /// set: it finds Notion's budget), over the harness's table.
    pub fn deployed_worker(&self) -> crm_app::worker::Worker<S, TestSecrets> {
        let mut worker = self.ports.worker();
        worker.notion = self.deployed_notion();
        worker.settings.settle = self.worker.settings.settle;
        worker
    }

    /// A Notion client of its own (its own limiter), paced as deployed.
    pub fn deployed_notion(&self) -> NotionClient {
        let mut config = crm_app::runtime::notion_config(&self.ports.settings);
        assert_eq!(
            config.pacing,
            crm_notion::Pacing::Find { ceiling: None },
            "no rate set"
        );
        config.request_timeout = Duration::from_secs(5);
        NotionClient::new(config).unwrap()
    }

    /// Writes each submission into its contact's Notes instead of an Activity page.
    pub fn use_notes_log(&mut self) {
        self.ports.settings.leads.activity_log = crm_settings::ActivityLog::Notes;
        (self.worker, self.redrive) = handlers(&self.ports);
    }

    /// Configures browser forms (the `browser_forms` JSON) and, when given, points their
    /// captcha checks at a local double with `timeout`; builds the intake again.
    pub fn use_forms(
        &mut self,
        forms: &str,
        captcha: Option<(&crm_testkit::captcha::CaptchaDouble, Duration)>,
    ) {
        let settings = &mut self.ports.settings.forms;
        settings.forms = crm_domain::browser_form::parse_forms(forms).unwrap();
        if let Some((double, timeout)) = captcha {
            settings.turnstile_verify_url = double.url("turnstile");
            settings.hcaptcha_verify_url = double.url("hcaptcha");
            settings.captcha_timeout = timeout;
        }
        self.ports.forms = Arc::new(settings.forms.clone());
        self.ports.captcha = crm_app::intake::CaptchaVerifier::new(settings).unwrap();
        self.intake = Arc::new(self.ports.intake());
    }

    /// Sends a request as a browser at `ip` would, through API Gateway's HTTP API; the
    /// raw answer.
    pub async fn browser(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: &[u8],
        ip: &str,
    ) -> Response<Body> {
        let request = HttpEvent::post(path, body)
            .method(method)
            .headers(headers)
            .from_ip(ip)
            .encoding(Encoding::AsGateway)
            .request();
        self.intake.handle(request).await
    }

    /// Writes a new version of the secret, as an operator rotating a token would: the
    /// handlers see it when their cache next reads it.
    pub async fn rotate_secret(&self, secret: Value) {
        let secrets = Secrets::from_json(&secret.to_string()).unwrap();
        self.ports.secrets.source().replace(secrets);
    }

    /// POSTs `body` to `path` through the intake handler, as API Gateway would deliver it.
    pub async fn post(&self, path: &str, headers: &[(&str, String)], body: &[u8]) -> (u16, Value) {
        self.post_encoded(path, headers, body, false).await
    }

    pub async fn post_encoded(
        &self,
        path: &str,
        headers: &[(&str, String)],
        body: &[u8],
        base64: bool,
    ) -> (u16, Value) {
        let response = self
            .intake
            .handle(api_gateway_request(path, headers, body, base64))
            .await;
        read(response)
    }

    /// A lead signed with the own scheme (timestamped), as a form backend would send it.
    pub async fn post_lead(&self, lead: &Value) -> (u16, Value) {
        let body = lead.to_string();
        self.post("/lead", &self.own_headers(body.as_bytes()), body.as_bytes())
            .await
    }

    /// Posts a minimal signed lead and asserts it was accepted.
    pub async fn accept(&self, submission_id: &str, email: &str) {
        let lead = json!({"submission_id": submission_id, "email": email});
        let (status, body) = self.post_lead(&lead).await;
        assert_eq!(status, 202, "{body}");
    }

    pub fn own_headers(&self, body: &[u8]) -> Vec<(&'static str, String)> {
        own_signed(OWN_SECRET, self.clock.now().as_secs(), body)
    }

    /// The stream event DynamoDB would emit for the INSERT of these inbox items, built
    /// from what the store holds (the real stream's shape is tested in `stream.rs`).
    pub async fn stream_event(&self, inbox_ids: &[String]) -> Event {
        self.try_stream_event(inbox_ids).await.unwrap()
    }

    /// [`stream_event`](Self::stream_event), for a store that may be failing.
    pub async fn try_stream_event(
        &self,
        inbox_ids: &[String],
    ) -> Result<Event, crm_store::StoreError> {
        let template: Value =
            serde_json::from_str(&fixture("dynamodb-stream-insert.json")).unwrap();
        let mut records = Vec::new();
        for id in inbox_ids {
            let Some(item) = self.store.inbox_get(id).await? else {
                continue;
            };
            let mut record = template["Records"][0].clone();
            record["dynamodb"]["Keys"] = json!({"pk": {"S": format!("inbox#{id}")}});
            record["dynamodb"]["NewImage"] = stream_image(&item);
            let seq = self.seq.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            record["dynamodb"]["SequenceNumber"] = json!(format!("{seq:028}"));
            record["eventID"] = json!(uuid::Uuid::new_v4().simple().to_string());
            records.push(record);
        }
        Ok(serde_json::from_value(json!({"Records": records})).unwrap())
    }

    /// Feeds the items to the worker as one stream batch; returns the failed sequence
    /// numbers.
    pub async fn run_worker(&self, inbox_ids: &[String]) -> Vec<String> {
        let event = self.stream_event(inbox_ids).await;
        let response = self.worker.handle_stream(event, None).await;
        response
            .batch_item_failures
            .into_iter()
            .filter_map(|f| f.item_identifier)
            .collect()
    }

    /// Each of `ids` done at its first attempt, and no record of the batch `response`
    /// answers handed back to the stream.
    pub async fn all_done_at_first_try(
        &self,
        response: &aws_lambda_events::event::streams::DynamoDbEventResponse,
        ids: &[String],
    ) {
        assert!(
            response.batch_item_failures.is_empty(),
            "{} records handed back to the stream",
            response.batch_item_failures.len()
        );
        for id in ids {
            let item = self.inbox(id).await;
            let status = crm_store::InboxStatus::Done;
            assert_eq!((item.status, item.attempts), (status, 0), "{id}");
        }
    }

    /// The stream's share of new items: a few deliveries right away, then it gives up
    /// (in AWS, 20 retries within minutes); the rest is the redrive's.
    pub async fn stream_tries(&self, ids: &[String]) {
        for _ in 0..3 {
            if self.run_worker(ids).await.is_empty() {
                return;
            }
        }
    }

    /// Five minutes of the system left to itself: the stream's tries at what is new,
    /// one redrive run (AWS runs it every five minutes), then the clock moves on.
    pub async fn five_minutes_pass(&self) {
        let new = self.pending_ids().await;
        self.stream_tries(&new).await;
        self.redrive.run(None).await.unwrap();
        self.clock.advance(REDRIVE_EVERY);
    }

    /// Runs the redrive every five minutes of the test clock until nothing is open, at
    /// most `runs` times, and says whether it got there.
    pub async fn redrive_until_done(&self, runs: usize) -> bool {
        for _ in 0..runs {
            self.redrive.run(None).await.unwrap();
            if self.open_ids().await.is_empty() {
                return true;
            }
            self.clock.advance(REDRIVE_EVERY);
        }
        false
    }

    /// How many Activities name each of the own form's `submissions` (by the marker
    /// line in Details), in their order.
    pub fn activities_per_submission(&self, submissions: &[String]) -> Vec<usize> {
        let logged: Vec<String> = self
            .activities()
            .iter()
            .map(|a| text(a, "Details"))
            .collect();
        submissions
            .iter()
            .map(|id| {
                let marker = format!("Submission: own:{id}");
                logged
                    .iter()
                    .filter(|t| t.lines().any(|l| l == marker))
                    .count()
            })
            .collect()
    }

    /// The ids of the inbox items not yet done, oldest first.
    pub async fn open_ids(&self) -> Vec<String> {
        self.store
            .inbox_list_open(100)
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.id)
            .collect()
    }

    /// A contact a person made long ago and never contacted since: stale for the digest.
    pub fn stale_contact(&self, email: &str) {
        self.emulator
            .create_page_as_person(
                json!({
                    "Name": {"title": [{"text": {"content": "Old Lead"}}]},
                    "Email": {"email": email},
                    "Status": {"select": {"name": "new lead"}},
                    "Last Contacted": {"date": {"start": "2020-01-01"}},
                }),
                &self.ws.contacts_data_source_id,
            )
            .unwrap();
    }

    /// The ids of the inbox items no attempt has touched yet: new work for the stream.
    pub async fn pending_ids(&self) -> Vec<String> {
        let open = self.store.inbox_list_open(100).await.unwrap();
        open.into_iter()
            .filter(|i| i.status == crm_store::InboxStatus::Pending)
            .map(|i| i.id)
            .collect()
    }

    pub async fn inbox(&self, id: &str) -> InboxItem {
        self.store.inbox_get(id).await.unwrap().unwrap()
    }

    pub fn contacts(&self) -> Vec<Value> {
        self.emulator.pages(&self.ws.contacts_data_source_id)
    }

    pub fn activities(&self) -> Vec<Value> {
        self.emulator.pages(&self.ws.activities_data_source_id)
    }
}

/// Serves a lambda_http handler on 127.0.0.1 the way a Lambda Function URL would invoke
/// it (HTTP API v2 events), so Notion's emulator can deliver webhooks to it. Returns the
/// URL to POST to.
pub async fn serve_function<F, Fut>(handler: F) -> String
where
    F: Fn(Request) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<Body>> + Send,
{
    use axum::http::{HeaderMap, StatusCode};
    let app = axum::Router::new().route(
        "/notion",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let handler = handler.clone();
            async move {
                let headers: Vec<(&str, String)> = headers
                    .iter()
                    .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?.to_owned())))
                    .collect();
                let response = handler(api_gateway_request("/", &headers, &body, false)).await;
                let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
                let body: &[u8] = response.body().as_ref();
                (status, body.to_vec())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/notion")
}

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

pub fn api_gateway_request(
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
    base64: bool,
) -> Request {
    let encoding = if base64 {
        Encoding::Base64
    } else {
        Encoding::Text
    };
    HttpEvent::post(path, body)
        .headers(headers)
        .encoding(encoding)
        .request()
}

pub fn read(response: Response<Body>) -> (u16, Value) {
    let status = response.status().as_u16();
    let body: &[u8] = response.body().as_ref();
    (status, serde_json::from_slice(body).unwrap_or(Value::Null))
}

/// An inbox item as a stream record's `NewImage` carries it (DynamoDB JSON).
fn stream_image(item: &InboxItem) -> Value {
    let mut image = json!({
        "pk": {"S": format!("inbox#{}", item.id)},
        "kind": {"S": item.kind},
        "payload": {"S": item.payload},
        "status": {"S": item.status.as_str()},
        "attempts": {"N": item.attempts.to_string()},
        "received_at": {"N": item.received_at.as_millis().to_string()},
        "updated_at": {"N": item.updated_at.as_millis().to_string()},
    });
    if let Some(error) = &item.last_error {
        image["last_error"] = json!({"S": error});
    }
    image
}

/// A property's plain text in an emulator page.
pub fn text(page: &Value, property: &str) -> String {
    let p = &page["properties"][property];
    match p["type"].as_str().unwrap_or_default() {
        "title" | "rich_text" => p[p["type"].as_str().unwrap()]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["plain_text"].as_str().unwrap_or_default())
            .collect(),
        "select" | "status" => p[p["type"].as_str().unwrap()]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        "date" => p["date"]["start"].as_str().unwrap_or_default().to_owned(),
        kind => p[kind].as_str().unwrap_or_default().to_owned(),
    }
}

/// Log lines written on this thread while the guard lives. Tests that read logs run on
/// a current-thread runtime, so every task they spawn logs here too.
#[derive(Clone, Default)]
pub struct Logs(Arc<std::sync::Mutex<Vec<u8>>>);

impl Logs {
    pub fn capture() -> (tracing::subscriber::DefaultGuard, Self) {
        let logs = Self::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        (tracing::subscriber::set_default(subscriber), logs)
    }

    /// Every line at `level` and above, from every crate, in the functions' JSON form.
    pub fn capture_json(level: tracing::Level) -> (tracing::subscriber::DefaultGuard, Self) {
        let logs = Self::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(level)
            .finish();
        (tracing::subscriber::set_default(subscriber), logs)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// How many lines contain `needle`.
    pub fn lines_with(&self, needle: &str) -> usize {
        self.text().lines().filter(|l| l.contains(needle)).count()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The Slack client with test timings: pacing far above Slack's, a retry policy that
/// gives up in a second.
fn test_slack(api_base: &str) -> crm_slack::SlackClient {
    crm_slack::SlackClient::new(crm_slack::SlackConfig {
        api_base: api_base.to_owned(),
        per_second: 100.0,
        request_timeout: Duration::from_secs(2),
        retry: crm_testkit::fast_retry(3),
    })
    .unwrap()
}

/// The worker and the redrive from `ports`, with the test's settle time.
fn handlers<S: Store + Clone>(
    ports: &Ports<S, TestSecrets>,
) -> (Arc<TestWorker<S>>, Arc<Redrive<S, TestSecrets>>) {
    let mut worker = ports.worker();
    let mut redrive = ports.redrive();
    // The emulator's queries lag only when a test says so, and then by less.
    worker.settings.settle = Duration::from_millis(300);
    redrive.worker.settings.settle = worker.settings.settle;
    (Arc::new(worker), Arc::new(redrive))
}
