//! What the fuzz targets share: the handlers built once over an in-memory store and
//! in-memory secrets, and an API Gateway / Function URL event around arbitrary input.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use arbitrary::Arbitrary;
use crm_app::intake::Intake;
use crm_app::webhook::NotionWebhook;
use crm_domain::{Clock, ManualClock, NotionId, Timestamp};
use crm_settings::{CachedSecrets, FormSettings, MemorySecrets, Secrets};
use crm_store::SqliteStore;
use crm_testkit::request::{Encoding, HttpEvent, notion_signed, own_signed};
use secrecy::SecretString;
use serde_json::json;

pub const FORM_SECRET: &str = "fuzz-form-secret";
pub const WEBHOOK_TOKEN: &str = "secret_fuzz_webhook_token";
pub const NOW_SECS: i64 = 1_780_000_000;

pub struct Handlers {
    pub runtime: tokio::runtime::Runtime,
    pub intake: Intake<SqliteStore, MemorySecrets>,
    pub webhook: NotionWebhook<SqliteStore, MemorySecrets>,
}

/// Built once per process: every input runs against the same handlers, as requests to
/// a warm function do.
pub fn handlers() -> &'static Handlers {
    static HANDLERS: OnceLock<Handlers> = OnceLock::new();
    HANDLERS.get_or_init(|| {
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(Timestamp::from_secs(NOW_SECS)));
        let store = SqliteStore::in_memory(Arc::clone(&clock)).expect("an in-memory store");
        let secret = |s: &str| SecretString::from(s.to_owned());
        let secrets = Secrets {
            notion_token: Some(secret("ntn_fuzz")),
            notion_webhook_token: Some(secret(WEBHOOK_TOKEN)),
            form_secrets: ["own", "tally", "typeform", "formspree", "webflow"]
                .into_iter()
                .map(|p| (p.to_owned(), secret(FORM_SECRET)))
                .collect(),
            ..Secrets::default()
        };
        let secrets = Arc::new(CachedSecrets::new(
            MemorySecrets::new(secrets),
            Duration::from_secs(3600),
            Arc::clone(&clock),
        ));
        // A browser form with every check that needs no network (a captcha would call
        // out; its answers are tested against a local double instead).
        let forms = FormSettings {
            forms: crm_domain::browser_form::parse_forms(
                r#"{"f": {"origins": ["https://a.com"], "min_fill_seconds": 1}}"#,
            )
            .expect("the fuzz form"),
            captcha_timeout: Duration::from_millis(100),
            turnstile_verify_url: "http://127.0.0.1:9/siteverify".into(),
            hcaptcha_verify_url: "http://127.0.0.1:9/siteverify".into(),
        };
        let deals = NotionId::parse("2c2b3a4d5e6f4a7b8c9d0e1f2a3b4c5d").expect("an id");
        Handlers {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .expect("a runtime"),
            intake: Intake {
                store: store.clone(),
                secrets: Arc::clone(&secrets),
                clock: Arc::clone(&clock),
                accept_plain_signature: true,
                forms: Arc::new(forms.forms.clone()),
                captcha: crm_app::intake::CaptchaVerifier::new(&forms).expect("a client"),
            },
            webhook: NotionWebhook::new(store, secrets, clock, deals),
        }
    })
}

/// Runs `request` through `handle` and checks what any answer must be: a status the
/// handler documents, never a panic or a 5xx for bad input.
pub fn answer_of(event: &str) -> Option<lambda_http::Request> {
    lambda_http::request::from_str(event).ok()
}

/// One HTTP request as Lambda would hand it over, from arbitrary parts.
#[derive(Debug, Arbitrary)]
pub struct HttpInput {
    pub path: u8,
    pub content_type: u8,
    pub headers: Vec<(String, String)>,
    /// Sign the body as the sender would (else only what `headers` say is sent), so
    /// inputs reach the parsers behind the signature check.
    pub sign: bool,
    pub base64: bool,
    pub body: Vec<u8>,
}

const PATHS: &[&str] = &[
    "/lead",
    "/lead/tally",
    "/lead/typeform",
    "/lead/formspree",
    "/lead/webflow",
    "/lead/form/f",
    "/lead/form/nope",
    "/lead/x",
    "/",
];
const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/json; charset=utf-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=XyZ",
    "text/plain",
    "",
];

impl HttpInput {
    /// The API Gateway HTTP API (v2) event, the shape Function URLs use too.
    pub fn event(&self) -> String {
        let path = PATHS[usize::from(self.path) % PATHS.len()];
        let mut headers = serde_json::Map::new();
        let content_type = CONTENT_TYPES[usize::from(self.content_type) % CONTENT_TYPES.len()];
        if !content_type.is_empty() {
            headers.insert("content-type".into(), json!(content_type));
        }
        for (k, v) in self.headers.iter().take(8) {
            headers.insert(k.to_lowercase(), json!(v));
        }
        if self.sign {
            // For the browser form: the page's origin, as a browser sends it.
            headers.insert("origin".into(), json!("https://a.com"));
            // The timestamp and signature; the content type stays the input's.
            for (name, value) in own_signed(FORM_SECRET, NOW_SECS, &self.body) {
                if name != "content-type" {
                    headers.insert(name.into(), json!(value));
                }
            }
            let (name, value) = notion_signed(WEBHOOK_TOKEN, &self.body);
            headers.insert(name.into(), json!(value));
        }
        let headers: Vec<(String, String)> = headers
            .into_iter()
            .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned()))
            .collect();
        let encoding = if self.base64 {
            Encoding::Base64
        } else {
            Encoding::Text
        };
        HttpEvent::post(path, self.body.clone())
            .headers(&headers)
            .encoding(encoding)
            .from_ip("192.0.2.1")
            .event()
        .to_string()
    }
}
