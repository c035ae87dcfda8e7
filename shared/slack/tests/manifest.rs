//! The Slack app manifest (`slack/app-manifest.yaml`) asks for every scope the Web API
//! methods this client calls need, as Slack's method pages list them: an app made from
//! it works the first time.

/// Each method the client may call, with the bot scopes Slack requires for it.
const NEEDS: &[(&str, &[&str])] = &[
    ("chat.postMessage", &["chat:write"]),
    ("users.lookupByEmail", &["users:read.email"]),
    ("conversations.open", &["im:write"]),
    ("files.getUploadURLExternal", &["files:write"]),
    ("files.completeUploadExternal", &["files:write"]),
];

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn the_manifest_grants_what_every_method_called_needs() {
    let manifest = read("../../slack/app-manifest.yaml");
    let scopes: Vec<&str> = manifest
        .split_once("    bot:\n")
        .unwrap()
        .1
        .lines()
        .map_while(|l| l.trim().strip_prefix("- "))
        .collect();
    let client = read("src/web_api.rs") + &read("src/files.rs");
    let mut called = 0;
    for (method, needs) in NEEDS {
        if !client.contains(&format!("\"{method}\"")) {
            continue;
        }
        called += 1;
        for scope in *needs {
            assert!(
                scopes.contains(scope),
                "{method} needs {scope}; the manifest asks for {scopes:?}"
            );
        }
    }
    assert_eq!(called, NEEDS.len(), "every method in the table is called");
    // Incoming webhooks are how every route posts without a bot token.
    assert!(scopes.contains(&"incoming-webhook"), "{scopes:?}");
}
