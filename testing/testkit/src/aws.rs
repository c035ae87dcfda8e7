//! Fixtures in the local AWS servers `make test` starts: a secret in moto_server's
//! Secrets Manager, a table in DynamoDB Local, each named anew so tests never share one.

use serde_json::Value;

/// A new secret holding `document` (JSON, or anything a test needs refused); its ARN.
pub async fn new_secret(prefix: &str, document: &str) -> String {
    crate::require_local_aws();
    let aws = crm_settings::sdk_config().await;
    aws_sdk_secretsmanager::Client::new(&aws)
        .create_secret()
        .name(format!("{prefix}-{}", uuid::Uuid::new_v4().simple()))
        .secret_string(document)
        .send()
        .await
        .expect("create a secret in moto_server")
        .arn()
        .expect("an ARN")
        .to_owned()
}

/// Writes a new version of the secret, as an operator rotating a token would.
pub async fn rotate_secret(arn: &str, document: &Value) {
    let aws = crm_settings::sdk_config().await;
    aws_sdk_secretsmanager::Client::new(&aws)
        .put_secret_value()
        .secret_id(arn)
        .secret_string(document.to_string())
        .send()
        .await
        .expect("rotate the secret");
}

/// A new table with the product's schema (as `template.yaml` makes it); its client and
/// name.
pub async fn new_table(prefix: &str) -> (aws_sdk_dynamodb::Client, String) {
    crate::require_local_aws();
    let aws = crm_settings::sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&aws);
    let table = format!("{prefix}-{}", uuid::Uuid::new_v4().simple());
    crm_store::DynamoStore::create_table(&client, &table)
        .await
        .expect("create a table in DynamoDB Local");
    (client, table)
}
