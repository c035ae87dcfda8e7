//! The table `template.yaml` deploys has the shape the DynamoDB adapter relies on.

fn template() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml")).unwrap()
}

#[test]
fn the_deployed_table_matches_the_adapter() {
    let t = template();
    for needle in [
        format!("IndexName: {}", crm_store::OPEN_INBOX_INDEX),
        "AttributeName: expires_at".to_owned(),
        "StreamViewType: NEW_IMAGE".to_owned(),
        "AttributeName: open_sk".to_owned(),
        // The worker's stream filter selects inbox items that become pending by the key
        // prefix: inserted, or a done item replaced when its id is accepted again.
        r#"{"prefix": "inbox#"}"#.to_owned(),
        r#""eventName": ["INSERT", "MODIFY"]"#.to_owned(),
        r#""NewImage": {"status": {"S": ["pending"]}}"#.to_owned(),
        "ReportBatchItemFailures".to_owned(),
    ] {
        assert!(t.contains(&needle), "template.yaml lacks {needle}");
    }
}
