//! `crm serve` with no config: the whole product on 127.0.0.1 against the built-in
//! Notion emulator, Slack printed to the console.

mod common;

use std::time::Duration;

use common::LocalProduct;
use serde_json::{Value, json};

#[tokio::test]
async fn a_lead_and_a_won_deal_go_through_the_local_product() {
    let product = LocalProduct::start("serve");
    let info = &product.info;
    let intake = info["intake"].as_str().unwrap().to_owned();
    let notion = info["notion"].as_str().unwrap().to_owned();
    let secret = info["form_secret"].as_str().unwrap().to_owned();
    let ws = &info["workspace"];
    let http = crm_http::client();

    // The demo data: the digest has stale leads to name (whether the 09:00 schedule ran
    // it at start or this asks for it), five of them: stale by date, or never contacted
    // and created long ago.
    let _ = http.post(product.url("digest")).send().await.unwrap();
    let digest = product.wait_for_line("the digest", |l| l.starts_with("[slack:digest]"));
    assert!(
        digest.starts_with("[slack:digest] 5 leads not contacted in over 30 days"),
        "{digest}"
    );

    let lead =
        json!({"email": "Local@Example.com", "name": "Local Lead", "message": "Hi from a form"});
    assert_eq!(common::send_signed(&intake, &secret, &lead).await, 202);
    // The console says it in one line a person reads, and prints no metric document
    // (the functions' lines for CloudWatch).
    let skipped = std::cell::RefCell::new(Vec::new());
    let said = product.wait_for_line("the lead's line", |l| {
        skipped.borrow_mut().push(l.to_owned());
        l.starts_with("lead ")
    });
    assert!(
        said.starts_with("lead l***@example.com (own:") && said.ends_with("): in Notion"),
        "{said}"
    );
    let skipped = skipped.into_inner();
    assert!(
        skipped.iter().all(|l| !l.contains("CloudWatchMetrics")),
        "{skipped:#?}"
    );

    let contacts_url = format!(
        "{notion}/__admin/data_sources/{}/pages",
        ws["contacts_data_source_id"].as_str().unwrap()
    );
    let local = crm_testkit::eventually("the contact written", Duration::from_secs(20), || async {
        let pages: Vec<Value> = http
            .get(&contacts_url)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let local = pages
            .iter()
            .filter(|p| p["properties"]["Email"]["email"] == "Local@Example.com")
            .count();
        (local > 0).then_some(local)
    })
    .await;
    assert_eq!(local, 1, "one contact for the lead");

    let deals = ws["deals_data_source_id"].as_str().unwrap();
    // A deal made by a person in `stage`, then moved by them to `to`.
    let product = &product;
    let moved = |properties: Value, to: &'static str| {
        let (http, notion) = (http.clone(), notion.clone());
        async move {
            let deal: Value = http
                .post(format!("{notion}/__admin/data_sources/{deals}/pages"))
                .json(&json!({ "properties": properties }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            // Moved once Notion has told of its creation and the worker has handled it,
            // as a person would move it later.
            product.settled("the creation handled").await;
            http.patch(format!(
                "{notion}/__admin/pages/{}",
                deal["id"].as_str().unwrap()
            ))
            .json(&json!({"properties": {"Stage": {"status": {"name": to}}}}))
            .send()
            .await
            .unwrap();
        }
    };
    let name = |n: &str| json!({"title": [{"text": {"content": n}}]});
    moved(
        json!({"Deal Name": name("Local deal"), "Stage": {"status": {"name": "lead"}}}),
        "won",
    )
    .await;
    let posted = product.wait_for_line("Slack message", |l| l.starts_with("[slack:won]"));
    assert!(posted.contains("Lead → Won: Local deal"), "{posted}");

    // A deal Dana owns reaches negotiation: the channel post mentions her (the local
    // Slack knows her by her Notion email) and she is told by DM.
    let dana = ws["people"][0][0].as_str().unwrap();
    moved(
        json!({
            "Deal Name": name("Dana's deal"),
            "Stage": {"status": {"name": "proposal"}},
            "Owner": {"people": [{"id": dana}]},
        }),
        "negotiation",
    )
    .await;
    // The channel first, then the DM.
    let channel = product.wait_for_line("the negotiation post", |l| {
        l.starts_with("[slack:negotiation]")
    });
    // As a person reads it in Slack: the mention by handle, the link by its label.
    assert!(channel.contains("(@dana)"), "{channel}");
    assert!(
        !channel.contains("&lt;") && !channel.contains("<http"),
        "{channel}"
    );
    let dm = product.wait_for_line("a DM to Dana", |l| l.starts_with("[slack:dm @dana]"));
    assert!(dm.contains("Proposal → Negotiation: Dana"), "{dm}");
}

/// A port in use stops the start with a sentence that names the port and the flag.
#[test]
fn a_port_in_use_is_named_with_the_flag_that_changes_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let data = std::env::temp_dir().join(format!("crm-port-in-use-{}", std::process::id()));
    for (flag, args) in [
        ("--port", vec!["--port", port.as_str()]),
        (
            "--demo-port",
            vec!["--port", "0", "--demo-port", port.as_str()],
        ),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_crm"))
            .arg("serve")
            .args(&args)
            .arg("--data")
            .arg(&data)
            .env_remove("CRM_CONFIG_FILE")
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{said}");
        assert!(
            said.contains(&format!("port {port} is in use")) && said.contains(flag),
            "{flag}: {said}"
        );
    }
    let _ = std::fs::remove_dir_all(&data);
}

/// With `crm serve` running, `crm import`, `crm replay` and `crm form-snippet` need no
/// config and no token: they use what it left in its data folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_other_commands_work_on_the_running_local_product_with_no_config() {
    let product = LocalProduct::start("others");
    let crm = |args: &[&str]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_crm"));
        command.args(args).arg("--data").arg(&product.data);
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("CRM_")) {
            command.env_remove(key);
        }
        let out = command.output().unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), said)
    };
    let csv = product.data.join("people.csv");
    std::fs::write(&csv, "Email,Name\nbrought@example.com,Brought Along\n").unwrap();
    let (ok, said) = crm(&["import", csv.to_str().unwrap()]);
    assert!(ok && said.contains("created 1,"), "{said}");
    assert!(
        said.contains("using the running crm serve's settings"),
        "{said}"
    );
    let contacts = product.wait_for_contact("brought@example.com").await;
    assert_eq!(
        contacts
            .iter()
            .filter(|c| c["properties"]["Email"]["email"] == "brought@example.com")
            .count(),
        1
    );

    let (ok, said) = crm(&["replay"]);
    assert!(ok && said.contains("still failing"), "{said}");
    assert!(
        said.contains("replaying the inbox of the running crm serve"),
        "{said}"
    );

    let (ok, said) = crm(&["form-snippet", "demo"]);
    let intake = product.url("intake");
    assert!(
        ok && said.contains(&format!("{intake}/form/demo")),
        "{said}"
    );
}

/// What a `crm serve` killed (not stopped) left behind is not used as if it ran: the
/// command says so and how to go on.
#[test]
fn settings_left_by_a_serve_that_no_longer_runs_are_said_to_be_stale() {
    let data = std::env::temp_dir().join(format!("crm-stale-local-{}", std::process::id()));
    std::fs::create_dir_all(&data).unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    std::fs::write(data.join("serve.url"), format!("http://127.0.0.1:{port}")).unwrap();
    std::fs::write(data.join("local.toml"), "table_name = \"local\"\n").unwrap();
    let csv = data.join("people.csv");
    std::fs::write(&csv, "Email\nann@example.com\n").unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_crm"));
    command.arg("import").arg(&csv).arg("--data").arg(&data);
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("CRM_")) {
        command.env_remove(key);
    }
    let out = command.output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("no longer running") && said.contains("make local"),
        "{said}"
    );
    let _ = std::fs::remove_dir_all(&data);
}
