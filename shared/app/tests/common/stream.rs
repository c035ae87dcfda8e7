//! The table's real stream on DynamoDB Local, filtered by the pattern `template.yaml`
//! deploys: what the worker's event source mapping would hand the worker.

use aws_lambda_events::event::dynamodb::Event;
use aws_sdk_dynamodbstreams::types::{AttributeValue, ShardIteratorType};
use serde_json::{Value, json};

use super::{Harness, fixture};

pub struct Stream {
    client: aws_sdk_dynamodbstreams::Client,
    iterator: Option<String>,
    pattern: Value,
}

impl Stream {
    /// Reads the table's stream from its start.
    pub async fn open(h: &Harness<crm_store::DynamoStore>) -> Self {
        let aws = crm_settings::sdk_config().await;
        let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap();
        let client = aws_sdk_dynamodbstreams::Client::from_conf(
            aws_sdk_dynamodbstreams::config::Builder::from(&aws)
                .endpoint_url(endpoint)
                .build(),
        );
        let (ddb, table) = h.table.as_ref().expect("a DynamoDB harness");
        let table = ddb.describe_table().table_name(table).send().await.unwrap();
        let arn = table
            .table()
            .unwrap()
            .latest_stream_arn()
            .unwrap()
            .to_owned();
        let described = client
            .describe_stream()
            .stream_arn(&arn)
            .send()
            .await
            .unwrap();
        let shard = described.stream_description().unwrap().shards()[0]
            .shard_id()
            .unwrap()
            .to_owned();
        let iterator = client
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(shard)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator()
            .map(str::to_owned);
        Self {
            client,
            iterator,
            pattern: template_filter(),
        }
    }

    /// The records written since the last call that pass the deployed filter, as the
    /// Lambda event the worker receives.
    pub async fn next_batch(&mut self) -> Event {
        let template: Value =
            serde_json::from_str(&fixture("dynamodb-stream-insert.json")).unwrap();
        let mut records = Vec::new();
        for _ in 0..20 {
            let Some(iterator) = self.iterator.clone() else {
                break;
            };
            let page = self
                .client
                .get_records()
                .shard_iterator(iterator)
                .send()
                .await
                .unwrap();
            self.iterator = page.next_shard_iterator().map(str::to_owned);
            for record in page.records() {
                let change = record.dynamodb().unwrap();
                let event = json!({
                    "eventName": record.event_name().unwrap().as_str(),
                    "dynamodb": {
                        "Keys": image(change.keys()),
                        "NewImage": image(change.new_image()),
                    },
                });
                if !matches(&self.pattern, &event) {
                    continue;
                }
                let mut full = template["Records"][0].clone();
                full["eventName"] = event["eventName"].clone();
                full["dynamodb"]["Keys"] = event["dynamodb"]["Keys"].clone();
                full["dynamodb"]["NewImage"] = event["dynamodb"]["NewImage"].clone();
                full["dynamodb"]["SequenceNumber"] = json!(change.sequence_number().unwrap());
                records.push(full);
            }
            if !records.is_empty() && page.records().is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        serde_json::from_value(json!({"Records": records})).unwrap()
    }
}

/// The worker's stream filter pattern, read from `template.yaml`.
fn template_filter() -> Value {
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml"))
            .unwrap();
    let line = template
        .lines()
        .find_map(|l| l.trim().strip_prefix("- Pattern: '"))
        .expect("a filter pattern in template.yaml");
    serde_json::from_str(line.trim_end_matches('\'')).unwrap()
}

/// Lambda's event-filtering rules, as far as the pattern uses them: objects match
/// field by field, a list matches any of its values, `{"prefix": …}` a string start.
fn matches(pattern: &Value, event: &Value) -> bool {
    match pattern {
        Value::Object(fields) => fields
            .iter()
            .all(|(k, p)| event.get(k).is_some_and(|e| matches(p, e))),
        Value::Array(options) => options.iter().any(|option| match option {
            Value::Object(rule) => match rule.get("prefix").and_then(Value::as_str) {
                Some(prefix) => event.as_str().is_some_and(|s| s.starts_with(prefix)),
                None => false,
            },
            literal => event == literal,
        }),
        _ => false,
    }
}

fn image(item: Option<&std::collections::HashMap<String, AttributeValue>>) -> Value {
    let mut out = serde_json::Map::new();
    for (k, v) in item.into_iter().flatten() {
        let value = match v {
            AttributeValue::S(s) => json!({"S": s}),
            AttributeValue::N(n) => json!({"N": n}),
            AttributeValue::Bool(b) => json!({"BOOL": b}),
            other => panic!("unexpected attribute {other:?}"),
        };
        out.insert(k.clone(), value);
    }
    Value::Object(out)
}
