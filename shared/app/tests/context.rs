//! The cold-start context, built from settings against moto (secrets) and DynamoDB Local.

use std::sync::Arc;
use std::time::Duration;

use crm_app::Context;
use crm_domain::ManualClock;
use crm_settings::Settings;
use crm_store::PutOutcome;
use crm_store::prelude::*;
use secrecy::ExposeSecret;

#[tokio::test]
async fn context_reads_the_secret_by_arn_and_uses_the_configured_table() {
    let (_, table) = crm_testkit::aws::new_table("crm-test").await;
    let arn = crm_testkit::aws::new_secret(
        "crm-test",
        r#"{"notion_token":"ntn_context_test","form_secrets":{"own":"s3"}}"#,
    )
    .await;
    let env = crm_testkit::function_env(
        &table,
        &arn,
        [
            "1c2b3a4d5e6f4a7b8c9d0e1f2a3b4c5d",
            "2c2b3a4d5e6f4a7b8c9d0e1f2a3b4c5d",
            "3c2b3a4d5e6f4a7b8c9d0e1f2a3b4c5d",
        ],
    );
    let settings = Settings::load(None, env).unwrap();
    let ctx = Context::build(settings, Arc::new(ManualClock::starting_now()))
        .await
        .unwrap();

    let secrets = ctx.secrets.get().await.unwrap();
    assert_eq!(
        secrets.notion_token().unwrap().expose_secret(),
        "ntn_context_test"
    );
    assert_eq!(ctx.store.table(), table);
    assert_eq!(
        ctx.store
            .put_if_absent("evt", Duration::from_secs(60))
            .await
            .unwrap(),
        PutOutcome::Inserted
    );
    assert!(!format!("{ctx:?}").contains("ntn_context_test"));
}
