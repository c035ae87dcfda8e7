//! The commands run against a deployed stack (moto_server for CloudFormation, Lambda and
//! Secrets Manager, DynamoDB Local for the table): `crm secret set` fills the secret
//! field by field, checked, merged, nothing echoed; `--stack` reads the settings and
//! the secret from the stack instead of `CRM_*` variables.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use crm_store::CacheRead;
use serde_json::{Value, json};

const TOKEN: &str = "ntn_test_token_value_1234";
const WON: &str = "https://hooks.slack.com/services/T000/B000/wonwonwon";

fn crm(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crm"))
        .args(args)
        .env_remove("CRM_CONFIG_FILE")
        .env_remove("CRM_SECRET_ARN")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

async fn new_secret(name: &str, document: Value) -> String {
    crm_testkit::aws::new_secret(name, &document.to_string()).await
}

async fn secret_text(arn: &str) -> String {
    let aws = crm_settings::sdk_config().await;
    aws_sdk_secretsmanager::Client::new(&aws)
        .get_secret_value()
        .secret_id(arn)
        // Named: moto answers an unnamed read with the first version once a stage moved.
        .version_stage("AWSCURRENT")
        .send()
        .await
        .unwrap()
        .secret_string()
        .unwrap()
        .to_owned()
}

/// The document the template creates, with one webhook a person added already.
fn deployed_document() -> Value {
    json!({"notion_token": "", "notion_webhook_token": "", "form_secrets": {},
           "slack_webhooks": {"digest": "https://hooks.slack.com/services/T/B/digest"}})
}

#[tokio::test]
async fn secret_set_merges_checked_fields_keeps_the_rest_and_prints_no_value() {
    crm_testkit::require_local_aws();
    let arn = new_secret("crm-secret-set", deployed_document()).await;
    // Three fields: the third left empty is kept as it is.
    let out = crm(
        &[
            "secret",
            "set",
            "notion_token",
            "slack_webhooks.won",
            "form_secrets.tally",
            "--arn",
            &arn,
        ],
        &format!("{TOKEN}\n{WON}\n\n"),
        &[],
    );
    assert!(out.status.success(), "{}", said(&out));
    let text = said(&out);
    assert!(
        text.contains("set notion_token, slack_webhooks.won in"),
        "{text}"
    );
    assert!(text.contains("form_secrets.tally kept as it is"), "{text}");
    assert!(
        text.contains("the incoming-webhook URL named won (deals moved to that stage)"),
        "each field says what it is for: {text}"
    );
    assert!(
        !text.contains(TOKEN) && !text.contains("wonwonwon"),
        "no value is printed: {text}"
    );
    let stored: Value = serde_json::from_str(&secret_text(&arn).await).unwrap();
    assert_eq!(stored["notion_token"], TOKEN);
    assert_eq!(stored["slack_webhooks"]["won"], WON);
    assert_eq!(
        stored["slack_webhooks"]["digest"], "https://hooks.slack.com/services/T/B/digest",
        "what was there is kept"
    );
    assert!(stored["form_secrets"].get("tally").is_none());

    // A value the functions would leave out is refused by its field, and nothing changes.
    let before = secret_text(&arn).await;
    let out = crm(
        &["secret", "set", "slack_webhooks.lost", "--arn", &arn],
        "hooks.slack.com/services/insecure-part\n",
        &[],
    );
    assert!(!out.status.success());
    let text = said(&out);
    assert!(
        text.contains("slack_webhooks.lost: expected an https:// URL"),
        "{text}"
    );
    assert!(!text.contains("insecure-part"), "{text}");
    assert_eq!(secret_text(&arn).await, before, "nothing changed");

    // A field that is not the secret's is named with the list.
    let out = crm(
        &["secret", "set", "form_secrets.Tally", "--arn", &arn],
        "",
        &[],
    );
    assert!(!out.status.success());
    assert!(
        said(&out).contains("is not a field of the secret"),
        "{}",
        said(&out)
    );
}

/// A stack as `make deploy` leaves it, as far as `--stack` reads it: the outputs naming
/// the secret and the worker, and the worker's `CRM_*` settings.
async fn deployed_stack(name: &str, secret_arn: &str, env: &[(String, String)]) {
    let aws = crm_settings::sdk_config().await;
    let variables: serde_json::Map<String, Value> = env
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let template = json!({
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                               "Principal": {"Service": "lambda.amazonaws.com"}}]}}},
            // moto runs no Rust bootstrap; only the function's configuration is read.
            "WorkerFunction": {"Type": "AWS::Lambda::Function", "Properties": {
                "Runtime": "python3.12", "Handler": "index.handler",
                "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Code": {"ZipFile": "def handler(event, context): pass"},
                "Environment": {"Variables": variables}}}
        },
        "Outputs": {
            "WorkerFunction": {"Value": {"Ref": "WorkerFunction"}},
            "SecretArn": {"Value": secret_arn}
        }
    });
    aws_sdk_cloudformation::Client::new(&aws)
        .create_stack()
        .stack_name(name)
        .template_body(template.to_string())
        .capabilities(aws_sdk_cloudformation::types::Capability::CapabilityIam)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn with_stack_the_commands_read_the_secret_and_the_settings_from_the_stack() {
    crm_testkit::require_local_aws();
    let stack = format!("crm-deployed-{}", std::process::id());
    let arn = new_secret("crm-stack", deployed_document()).await;
    let (ddb, table) = crm_testkit::aws::new_table("crm-stack").await;
    let id = "0123456789abcdef0123456789abcdef";
    let mut env = crm_testkit::function_env(&table, &arn, [id, id, id]);
    env.push(("CRM_NOTION_BASE_URL".into(), "http://127.0.0.1:9".into()));
    deployed_stack(&stack, &arn, &env).await;

    // The secret named by the stack's output.
    let out = crm(
        &["secret", "set", "notion_token", "--stack", &stack],
        &format!("{TOKEN}\n"),
        &[],
    );
    assert!(out.status.success(), "{}", said(&out));
    let stored: Value = serde_json::from_str(&secret_text(&arn).await).unwrap();
    assert_eq!(stored["notion_token"], TOKEN);

    // The settings of the worker, with no CRM_* variable in this shell: the handshake
    // window opens in the stack's table, and a replay reads that table's inbox.
    let out = crm(
        &["webhook", "listen", "--stack", &stack, "--minutes", "5"],
        "",
        &[],
    );
    assert!(out.status.success(), "{}", said(&out));
    let store = crm_store::DynamoStore::new(ddb, &table, Arc::new(crm_domain::SystemClock));
    let window = store
        .cache_get(crm_app::inbox::keys::HANDSHAKE_WINDOW)
        .await
        .unwrap();
    assert!(window.is_some(), "the window is open in the stack's table");
    let out = crm(&["replay", "--stack", &stack], "", &[]);
    assert!(out.status.success(), "{}", said(&out));
    assert!(
        said(&out).contains("0 done, 0 still failing"),
        "{}",
        said(&out)
    );

    // A stack that is not there is named, with where it was looked for.
    let out = crm(&["replay", "--stack", "crm-no-such-stack"], "", &[]);
    assert!(!out.status.success());
    assert!(
        said(&out).contains("cannot read stack crm-no-such-stack in us-east-1"),
        "{}",
        said(&out)
    );
}
