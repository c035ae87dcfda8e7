//! Secrets against moto_server's Secrets Manager. `make test` starts it and sets
//! `AWS_ENDPOINT_URL_SECRETS_MANAGER`.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_secretsmanager::Client;
use crm_domain::ManualClock;
use crm_settings::{
    CachedSecrets, Secrets, SecretsError, SecretsManagerSource, SecretsSource, SecretsWriter,
};
use secrecy::ExposeSecret;

const NOTION_TOKEN: &str = "ntn_4f9a1c77e2b0d35a8e6c";
const WEBHOOK_TOKEN: &str = "secret_whk_0d9e8f7a6b5c";
const FORM_SECRET: &str = "form-signing-7Hq2Lw9Xz";
const TALLY_SECRET: &str = "tally-signing-Pp31Zk";
const SLACK_URL: &str = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXX";

async fn client() -> Client {
    crm_testkit::local_endpoint("AWS_ENDPOINT_URL_SECRETS_MANAGER")
        .unwrap_or_else(|why| panic!("{why}"));
    Client::new(&crm_settings::sdk_config().await)
}

fn document(notion_token: &str) -> String {
    serde_json::json!({
        "notion_token": notion_token,
        "notion_webhook_token": WEBHOOK_TOKEN,
        "form_secrets": { "own": FORM_SECRET, "tally": TALLY_SECRET, "typeform": "" },
        "slack_webhooks": { "won": SLACK_URL },
    })
    .to_string()
}

/// Creates a uniquely named secret and returns its ARN.
async fn create_secret(_client: &Client, value: &str) -> String {
    crm_testkit::aws::new_secret("crm-test", value).await
}

#[tokio::test]
async fn loads_the_secret_by_arn_typed() {
    let client = client().await;
    let arn = create_secret(&client, &document(NOTION_TOKEN)).await;
    let secrets = SecretsManagerSource::new(client, &arn)
        .fetch()
        .await
        .unwrap();
    assert_eq!(
        secrets.notion_token().unwrap().expose_secret(),
        NOTION_TOKEN
    );
    assert_eq!(
        secrets
            .notion_webhook_token
            .as_ref()
            .unwrap()
            .expose_secret(),
        WEBHOOK_TOKEN
    );
    assert_eq!(secrets.form_secrets["own"].expose_secret(), FORM_SECRET);
    assert_eq!(secrets.form_secrets["tally"].expose_secret(), TALLY_SECRET);
    assert!(
        !secrets.form_secrets.contains_key("typeform"),
        "an empty secret counts as not configured"
    );
    assert_eq!(secrets.slack_webhooks["won"].expose_secret(), SLACK_URL);
}

#[tokio::test]
async fn cached_within_ttl_and_rotation_is_seen_after_it() {
    let client = client().await;
    let arn = create_secret(&client, &document("ntn_before_rotation")).await;
    let clock = ManualClock::starting_now();
    let cache = CachedSecrets::new(
        SecretsManagerSource::new(client.clone(), &arn),
        Duration::from_secs(300),
        Arc::new(clock.clone()),
    );
    let first = cache.get().await.unwrap();
    assert_eq!(
        first.notion_token().unwrap().expose_secret(),
        "ntn_before_rotation"
    );

    client
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(document("ntn_after_rotation"))
        .send()
        .await
        .expect("rotate");

    clock.advance(Duration::from_secs(299));
    let cached = cache.get().await.unwrap();
    assert_eq!(
        cached.notion_token().unwrap().expose_secret(),
        "ntn_before_rotation",
        "within the TTL the cached value is served without a fetch"
    );
    assert!(Arc::ptr_eq(&first, &cached));

    clock.advance(Duration::from_secs(2));
    let rotated = cache.get().await.unwrap();
    assert_eq!(
        rotated.notion_token().unwrap().expose_secret(),
        "ntn_after_rotation"
    );

    client
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(document("ntn_second_rotation"))
        .send()
        .await
        .expect("rotate again");
    cache.invalidate().await;
    assert_eq!(
        cache
            .get()
            .await
            .unwrap()
            .notion_token()
            .unwrap()
            .expose_secret(),
        "ntn_second_rotation"
    );
}

#[tokio::test]
async fn a_missing_secret_names_the_arn() {
    let client = client().await;
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:crm-does-not-exist-Zz9";
    let err = SecretsManagerSource::new(client, arn)
        .fetch()
        .await
        .unwrap_err();
    assert!(matches!(err, SecretsError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains(arn), "{err}");
}

#[tokio::test]
async fn a_malformed_entry_is_left_out_and_named_but_not_quoted() {
    let client = client().await;
    let bad_type = serde_json::json!({
        "notion_token": NOTION_TOKEN,
        "form_secrets": { "own": 12345, "tally": TALLY_SECRET },
    })
    .to_string();
    let arn = create_secret(&client, &bad_type).await;
    let secrets = SecretsManagerSource::new(client.clone(), &arn)
        .fetch()
        .await
        .unwrap();
    // The rest of the document still works.
    assert_eq!(
        secrets.notion_token().unwrap().expose_secret(),
        NOTION_TOKEN
    );
    assert!(secrets.form_secrets.contains_key("tally"));
    assert!(!secrets.form_secrets.contains_key("own"));
    let text = format!("{:?}", secrets.problems);
    assert!(text.contains("form_secrets.own"), "{text}");
    assert!(
        !text.contains("12345") && !text.contains(NOTION_TOKEN),
        "{text}"
    );

    // Not JSON at all: an error, and the parser must not quote the document back.
    let arn = create_secret(&client, &format!("notion_token={NOTION_TOKEN}")).await;
    let err = SecretsManagerSource::new(client.clone(), &arn)
        .fetch()
        .await
        .unwrap_err();
    let text = format!("{err} / {err:?}");
    assert!(text.contains("not valid JSON"), "{text}");
    assert!(!text.contains(NOTION_TOKEN), "{text}");

    // No Notion token yet (the deployed secret starts so): loaded; the functions that
    // need it say which entry is missing.
    let arn = create_secret(&client, r#"{"notion_token": "", "form_secrets": {}}"#).await;
    let secrets = SecretsManagerSource::new(client, &arn)
        .fetch()
        .await
        .unwrap();
    let err = secrets.notion_token().unwrap_err();
    assert!(err.to_string().contains("notion_token"), "{err}");
}

#[tokio::test]
async fn debug_output_of_loaded_secrets_shows_no_secret_value() {
    let client = client().await;
    let arn = create_secret(&client, &document(NOTION_TOKEN)).await;
    let source = SecretsManagerSource::new(client, &arn);
    let secrets = source.fetch().await.unwrap();
    let cache = CachedSecrets::new(
        source,
        Duration::from_secs(60),
        Arc::new(ManualClock::starting_now()),
    );
    let cached = cache.get().await.unwrap();
    let printed = format!("{secrets:?} {secrets:#?} {cached:?} {cache:?}");
    for value in [
        NOTION_TOKEN,
        WEBHOOK_TOKEN,
        FORM_SECRET,
        TALLY_SECRET,
        SLACK_URL,
        "hooks.slack.com",
    ] {
        assert!(!printed.contains(value), "{value} leaked: {printed}");
    }
    // What is configured stays visible, which is what an operator needs to debug.
    assert!(
        printed.contains("tally") && printed.contains("won"),
        "{printed}"
    );
}

#[test]
fn the_json_round_trip_keeps_every_secret() {
    let secrets = Secrets::from_json(&document(NOTION_TOKEN)).unwrap();
    let again = Secrets::from_json(&secrets.to_json()).unwrap();
    assert_eq!(again.notion_token().unwrap().expose_secret(), NOTION_TOKEN);
    assert_eq!(again.form_secrets["tally"].expose_secret(), TALLY_SECRET);
    assert_eq!(again.slack_webhooks["won"].expose_secret(), SLACK_URL);
}

/// Writes to the secret are compare-and-set: concurrent edits each land, none is lost,
/// and of racing handshakes exactly one token is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_to_the_secret_lose_no_edit() {
    let client = client().await;
    let arn = create_secret(
        &client,
        r#"{"notion_token": "ntn_x", "notion_webhook_token": "", "slack_webhooks": {}}"#,
    )
    .await;
    let source = Arc::new(SecretsManagerSource::new(client, &arn));
    let edits = (0..6).map(|i| {
        let source = Arc::clone(&source);
        tokio::spawn(async move {
            source
                .update(|doc| {
                    doc["slack_webhooks"][format!("route{i}")] =
                        serde_json::json!(format!("https://hooks.example/{i}"));
                    Some(())
                })
                .await
        })
    });
    let tokens = (0..4).map(|i| {
        let source = Arc::clone(&source);
        tokio::spawn(async move {
            source
                .offer_webhook_token(&format!("secret_token_{i}"))
                .await
        })
    });
    for edit in futures::future::join_all(edits).await {
        assert_eq!(edit.unwrap().unwrap(), Some(()));
    }
    let offered: usize = futures::future::join_all(tokens)
        .await
        .into_iter()
        .filter(|r| r.as_ref().unwrap().as_ref().unwrap().is_some())
        .count();
    assert_eq!(offered, 4, "every handshake's token is kept as an offer");
    let secrets = source.fetch().await.unwrap();
    assert_eq!(
        secrets.slack_webhooks.len(),
        6,
        "{:?}",
        secrets.slack_webhooks.keys()
    );
    assert_eq!(secrets.notion_webhook_candidates.len(), 4);
    assert!(
        secrets.notion_webhook_token.is_none(),
        "none pinned by a handshake"
    );
    // The one a signed event proves is pinned; the others are forgotten, and nothing
    // displaces it afterwards.
    assert!(
        source
            .pin_webhook_token("secret_token_2")
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        source
            .offer_webhook_token("secret_late")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        source
            .pin_webhook_token("secret_token_1")
            .await
            .unwrap()
            .is_none()
    );
    let secrets = source.fetch().await.unwrap();
    assert_eq!(
        secrets.notion_webhook_token.unwrap().expose_secret(),
        "secret_token_2"
    );
    assert!(secrets.notion_webhook_candidates.is_empty());
}
