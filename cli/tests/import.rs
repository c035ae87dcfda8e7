//! `crm import` as a user runs it (the real binary) against the Notion emulator: each
//! person of the file exactly once in Notion, existing contacts filled only where empty,
//! invalid rows rejected with their line, and a run stopped half-way (Ctrl-C, or killed)
//! ending, once run again, as a run left alone would.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crm_notion_emulator::{
    DEFAULT_TOKEN, Emulator, FaultAction, FaultRule, SeededWorkspace, StageKind,
};
use serde_json::{Value, json};

const PEOPLE: usize = 240;
const EXISTING: usize = 20;

struct Setup {
    emulator: Emulator,
    ws: SeededWorkspace,
    dir: PathBuf,
    config: PathBuf,
    csv: PathBuf,
}

async fn setup(name: &str) -> Setup {
    let emulator = Emulator::start(0, DEFAULT_TOKEN).await.unwrap();
    let ws = emulator.seed_crm(StageKind::Status);
    let dir = std::env::temp_dir().join(format!("crm-import-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = common::write_config(
        &dir,
        &ws,
        &emulator.base_url(),
        "notion_rate_per_second = 100\nnotion_burst = 20\n",
        "",
    );
    // People 0..EXISTING are in Notion already: a name a person typed, and every other
    // one without a company.
    for i in 0..EXISTING {
        let mut properties = json!({
            "Name": {"title": [{"text": {"content": format!("Typed Name {i}")}}]},
            "Email": {"email": format!("person{i}@example.com")},
            "Status": {"select": {"name": "customer"}},
        });
        if i % 2 == 1 {
            properties["Company"] =
                json!({"rich_text": [{"text": {"content": format!("Typed Co {i}")}}]});
        }
        emulator
            .create_page_as_person(properties, &ws.contacts_data_source_id)
            .unwrap();
    }
    let csv = dir.join("contacts.csv");
    std::fs::write(&csv, file()).unwrap();
    Setup {
        emulator,
        ws,
        dir,
        config,
        csv,
    }
}

/// HubSpot-like columns; every person once, 20 of them again further down in another
/// case and with spaces (with a phone the first row lacked), 20 rows without an address
/// and a blank line.
fn file() -> String {
    let mut out = String::from("First Name,Last Name,Email,Company Name,Phone Number\n");
    for i in 0..PEOPLE {
        out += &format!("First{i},Last{i},person{i}@example.com,Company {i},\n");
        if i % 12 == 5 {
            out += "not-an-address,X,,,\n";
        }
    }
    out += ",,,,\n";
    for i in (0..PEOPLE).step_by(12) {
        out += &format!(",, PERSON{i}@Example.COM ,,+1 555 {i:04}\n");
    }
    out
}

fn import(s: &Setup, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_crm"))
        .arg("import")
        .arg(&s.csv)
        .args(["--data"])
        .arg(s.dir.join("data"))
        .arg("--config")
        .arg(&s.config)
        .args(extra)
        .env_remove("CRM_CONFIG_FILE")
        .output()
        .expect("run crm import")
}

fn contacts(s: &Setup) -> BTreeMap<String, Vec<Value>> {
    let mut by_email: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for page in s.emulator.pages(&s.ws.contacts_data_source_id) {
        let email = page["properties"]["Email"]["email"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        by_email.entry(email).or_default().push(page);
    }
    by_email
}

fn text(page: &Value, property: &str) -> String {
    let p = &page["properties"][property];
    match p["type"].as_str() {
        Some("title") | Some("rich_text") => p[p["type"].as_str().unwrap()]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t["plain_text"].as_str().or(t["text"]["content"].as_str()))
            .collect(),
        Some("phone_number") => p["phone_number"].as_str().unwrap_or_default().to_owned(),
        _ => String::new(),
    }
}

/// What every run must end in, whatever stopped it on the way.
fn assert_end_state(s: &Setup) {
    let all = contacts(s);
    assert_eq!(all.len(), PEOPLE, "every person, and no one else");
    for (email, pages) in &all {
        assert_eq!(pages.len(), 1, "{email} is in Notion {} times", pages.len());
    }
    for i in 0..PEOPLE {
        let page = &all[&format!("person{i}@example.com")][0];
        if i < EXISTING {
            assert_eq!(
                text(page, "Name"),
                format!("Typed Name {i}"),
                "a typed name stays"
            );
            let company = if i % 2 == 1 {
                format!("Typed Co {i}")
            } else {
                format!("Company {i}")
            };
            assert_eq!(text(page, "Company"), company, "filled only where empty");
        } else {
            assert_eq!(text(page, "Name"), format!("First{i} Last{i}"));
            assert_eq!(text(page, "Company"), format!("Company {i}"));
        }
        let phone = if i % 12 == 0 {
            format!("+1 555 {i:04}")
        } else {
            String::new()
        };
        assert_eq!(
            text(page, "Phone"),
            phone,
            "the later row's value joins the earlier's"
        );
    }
}

/// With `--activity`: one "Imported from" Activity on each person's contact, whatever
/// stopped the run on the way.
fn assert_one_activity_each(s: &Setup) {
    let ids: BTreeMap<String, String> = contacts(s)
        .into_iter()
        .map(|(email, pages)| (pages[0]["id"].as_str().unwrap().to_owned(), email))
        .collect();
    let mut per_contact: BTreeMap<String, usize> = BTreeMap::new();
    for activity in s.emulator.pages(&s.ws.activities_data_source_id) {
        assert!(
            text(&activity, "Details").starts_with("Imported from contacts.csv (line"),
            "{activity}"
        );
        let contact = activity["properties"]["Contact"]["relation"][0]["id"]
            .as_str()
            .unwrap();
        *per_contact.entry(ids[contact].clone()).or_default() += 1;
    }
    assert_eq!(per_contact.len(), PEOPLE, "every person has one");
    assert!(per_contact.values().all(|n| *n == 1), "{per_contact:?}");
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_lands_each_person_once_and_a_second_run_changes_nothing() {
    let s = setup("once").await;
    let out = import(&s, &["--dry-run"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout(&out).contains(
            "dry run: 240 people to write (20 rows merged into them), 20 rows rejected, 1 blank"
        ),
        "{}",
        stdout(&out)
    );
    assert_eq!(contacts(&s).len(), EXISTING, "a dry run writes nothing");

    let out = import(&s, &[]);
    assert!(
        out.status.success(),
        "{}\n{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    let said = stdout(&out);
    assert!(said.contains("columns: First Name → first_name, Last Name → last_name, Email → email, Company Name → company, Phone Number → phone"), "{said}");
    assert!(
        said.contains("created 220, updated 10, unchanged 10, merged in file 20, rejected 20"),
        "{said}"
    );
    assert_end_state(&s);
    let rejects = std::fs::read_to_string(s.dir.join("contacts.rejects.csv")).unwrap();
    let lines: Vec<&str> = rejects.lines().collect();
    assert_eq!(
        lines[0], "\u{feff}line,reason,First Name,Last Name,Email,Company Name,Phone Number",
        "a byte-order mark first, so that Excel reads UTF-8"
    );
    assert_eq!(lines.len(), 21, "{rejects}");
    assert!(
        lines[1].starts_with("8,no email,not-an-address,X"),
        "{rejects}"
    );

    let again = import(&s, &[]);
    assert!(again.status.success());
    assert!(
        stdout(&again).contains(
            "nothing to do: all 240 people done by an earlier run of this file; rejected 20 (see"
        ),
        "{}",
        stdout(&again)
    );
    assert_end_state(&s);
    let _ = std::fs::remove_dir_all(&s.dir);
}

/// Runs the import on a slow Notion and signals it once 40 % is reported.
fn stop_at_40_percent(s: &Setup, signal: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crm"))
        .arg("import")
        .arg(&s.csv)
        .arg("--data")
        .arg(s.dir.join("data"))
        .arg("--config")
        .arg(&s.config)
        .args(["--concurrency", "4", "--lease-seconds", "2", "--activity"])
        .env_remove("CRM_CONFIG_FILE")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    for line in stderr.lines().map_while(Result::ok) {
        if line.contains("contacts (40 %)") {
            Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status()
                .unwrap();
            break;
        }
    }
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "a stopped import does not say it finished"
    );
}

async fn stopped_then_run_again(name: &str, signal: &str) {
    let s = setup(name).await;
    // 20 ms a call: the run takes long enough to be stopped in the middle.
    s.emulator
        .inject(FaultRule::new(None, "*", FaultAction::Latency { ms: 20 }));
    stop_at_40_percent(&s, signal);
    let halfway = contacts(&s).len();
    assert!(
        halfway > EXISTING && halfway < PEOPLE,
        "stopped part-way: {halfway} contacts"
    );
    s.emulator.clear_faults();
    let out = import(&s, &["--lease-seconds", "2", "--activity"]);
    assert!(
        out.status.success(),
        "{}\n{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout(&out).contains("more done by an earlier run of this file"),
        "{}",
        stdout(&out)
    );
    assert_end_state(&s);
    assert_one_activity_each(&s);
    let _ = std::fs::remove_dir_all(&s.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_stopped_with_ctrl_c_goes_on_where_it_stopped() {
    stopped_then_run_again("sigint", "-INT").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_killed_mid_write_goes_on_and_makes_no_duplicate() {
    stopped_then_run_again("sigkill", "-KILL").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_notion_refuses_is_rejected_with_its_line_and_the_rest_go_on() {
    let s = setup("refused").await;
    // The first contact created (person 20, one at a time) is refused as invalid.
    s.emulator
        .inject(FaultRule::status(Some("POST"), "/v1/pages", 400).times(1));
    let out = import(&s, &["--concurrency", "1"]);
    assert!(
        out.status.success(),
        "{}\n{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout(&out)
            .contains("created 219, updated 10, unchanged 10, merged in file 20, rejected 21"),
        "{}",
        stdout(&out)
    );
    let rejects = std::fs::read_to_string(s.dir.join("contacts.rejects.csv")).unwrap();
    let line = rejects
        .lines()
        .find(|l| l.contains("person20@example.com"))
        .unwrap_or_else(|| panic!("{rejects}"));
    // Person 20 is on line 24: header, twenty people and two address-less rows before.
    assert!(line.starts_with("24,Notion answered 400"), "{line}");
    assert_eq!(contacts(&s).len(), PEOPLE - 1);
    let _ = std::fs::remove_dir_all(&s.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deals_land_once_with_their_contact_owner_and_stage() {
    let s = setup("deals").await;
    let csv = s.dir.join("deals.csv");
    std::fs::write(
        &csv,
        "Deal - Title,Deal - Value,Deal - Stage,Deal - Owner,Person - Email,Deal - Expected close date\n\
         Acme renewal,\"$12,000\",proposal,dana@example.com,person1@example.com,2026-12-01\n\
         Beta pilot,5000,Negotiation,Sam Ortiz,person2@example.com,\n\
         ACME  renewal,,negotiation,,PERSON1@example.com,\n\
         Gamma,100,not-a-stage,,person3@example.com,\n\
         Delta,100,lead,,nobody@example.com,\n\
         Epsilon,12k,lead,,person4@example.com,\n\
         Zeta,700,won,someone-else@example.com,person5@example.com,31/12/2026\n",
    )
    .unwrap();
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_crm"))
            .arg("import")
            .arg(&csv)
            .arg("--deals")
            .arg("--data")
            .arg(s.dir.join("data"))
            .arg("--config")
            .arg(&s.config)
            .env_remove("CRM_CONFIG_FILE")
            .output()
            .unwrap()
    };
    let out = run();
    let said = stdout(&out);
    assert!(
        out.status.success(),
        "{said}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("deals: created 3, updated 0, unchanged 0, merged in file 1, rejected 3"),
        "{said}"
    );
    assert!(
        said.contains("1 deals name an owner who is not among the workspace's people"),
        "{said}"
    );
    assert!(!said.contains("could not be read"), "{said}");
    let rejects = std::fs::read_to_string(s.dir.join("deals.rejects.csv")).unwrap();
    assert!(
        rejects.contains("5,\"the stage \"\"not-a-stage\"\" is not one of Stage's options"),
        "{rejects}"
    );
    assert!(
        rejects.contains("6,no contact n***@example.com in Notion: import the contacts first"),
        "{rejects}"
    );
    assert!(
        rejects.contains("7,\"the value \"\"12k\"\" is not a number\""),
        "{rejects}"
    );

    let contact_id = |email: &str| contacts(&s)[email][0]["id"].as_str().unwrap().to_owned();
    let person = |name: &str| {
        s.ws.people
            .iter()
            .find(|(_, n)| n == name)
            .unwrap()
            .0
            .clone()
    };
    let deals: BTreeMap<String, Value> = s
        .emulator
        .pages(&s.ws.deals_data_source_id)
        .into_iter()
        .map(|d| (text(&d, "Deal Name"), d))
        .collect();
    assert_eq!(
        deals.keys().collect::<Vec<_>>(),
        ["Acme renewal", "Beta pilot", "Zeta"]
    );
    let acme = &deals["Acme renewal"]["properties"];
    assert_eq!(
        acme["Stage"]["status"]["name"], "negotiation",
        "the later row's stage"
    );
    assert_eq!(acme["Value"]["number"], 12000.0);
    assert_eq!(
        acme["Contact"]["relation"][0]["id"],
        contact_id("person1@example.com")
    );
    assert_eq!(acme["Owner"]["people"][0]["id"], person("Dana Lee"));
    assert_eq!(acme["Close Date"]["date"]["start"], "2026-12-01");
    let beta = &deals["Beta pilot"]["properties"];
    assert_eq!(
        beta["Owner"]["people"][0]["id"],
        person("Sam Ortiz"),
        "an owner by name"
    );
    assert_eq!(
        beta["Stage"]["status"]["name"], "negotiation",
        "in Notion's spelling"
    );
    let zeta = &deals["Zeta"]["properties"];
    assert_eq!(
        zeta["Owner"]["people"]
            .as_array()
            .map(Vec::len)
            .unwrap_or(0),
        0,
        "an owner Notion does not have is left empty"
    );
    assert_eq!(
        zeta["Close Date"]["date"]["start"], "2026-12-31",
        "31/12/2026 says its column is day first"
    );

    let again = run();
    assert!(again.status.success());
    assert!(
        stdout(&again).contains("nothing to do: all 3 deals done by an earlier run of this file"),
        "{}",
        stdout(&again)
    );
    assert_eq!(s.emulator.pages(&s.ws.deals_data_source_id).len(), 3);
    let _ = std::fs::remove_dir_all(&s.dir);
}

/// With the deployed settings (`CRM_*`, no config file) the import keeps its progress in
/// the stack's DynamoDB table: a second run finds every person done there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_deployed_settings_progress_is_kept_in_dynamodb() {
    crm_testkit::require_local_aws();
    let s = setup("dynamo").await;
    let (ddb, table) = crm_testkit::aws::new_table("crm-import").await;
    let arn = crm_testkit::aws::new_secret(
        "crm-import",
        &json!({"notion_token": DEFAULT_TOKEN}).to_string(),
    )
    .await;
    let mut env = crm_testkit::function_env(
        &table,
        &arn,
        [
            &s.ws.contacts_data_source_id,
            &s.ws.deals_data_source_id,
            &s.ws.activities_data_source_id,
        ],
    );
    env.push(("CRM_NOTION_BASE_URL".into(), s.emulator.base_url()));
    env.push(("CRM_NOTION_RATE_PER_SECOND".into(), "100".into()));
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_crm"))
            .arg("import")
            .arg(&s.csv)
            .env_remove("CRM_CONFIG_FILE")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap()
    };
    let out = run();
    assert!(
        out.status.success(),
        "{}\n{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_end_state(&s);
    let claims = ddb
        .scan()
        .table_name(&table)
        .filter_expression("begins_with(pk, :p)")
        .expression_attribute_values(
            ":p",
            aws_sdk_dynamodb::types::AttributeValue::S("idem#import:".into()),
        )
        .send()
        .await
        .unwrap()
        .count;
    assert_eq!(claims, PEOPLE as i32, "one claim per person, in the table");
    let again = run();
    assert!(again.status.success());
    assert!(
        stdout(&again).contains("nothing to do: all 240 people done by an earlier run"),
        "{}",
        stdout(&again)
    );
    assert_end_state(&s);
    let _ = std::fs::remove_dir_all(&s.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_notion_would_refuse_is_refused_before_anything_is_written() {
    let s = setup("source").await;
    let out = import(&s, &["--source", "fair, 2026"]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("--source \"fair, 2026\": a Notion select option has no comma"),
        "{said}"
    );
    assert_eq!(contacts(&s).len(), EXISTING, "nothing written");
    let _ = std::fs::remove_dir_all(&s.dir);
}

/// Notion refusing for the rate is waited out; a create it saved but answered 500 is
/// reported as not written (the command says to run it again), and the run again finds
/// it instead of creating it twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notion_refusals_and_a_failed_create_it_saved_lose_and_double_nothing() {
    let s = setup("faults").await;
    s.emulator
        .inject(FaultRule::rate_limited(Some("POST"), "/v1/pages", 1).times(2));
    s.emulator.inject(
        FaultRule::new(
            Some("POST"),
            "/v1/pages",
            FaultAction::CommitThen { status: 500 },
        )
        .times(1),
    );
    let first = import(&s, &["--concurrency", "1"]);
    assert!(!first.status.success());
    assert!(stdout(&first).contains("failed 1,"), "{}", stdout(&first));
    let said = String::from_utf8_lossy(&first.stderr);
    assert!(
        said.contains("1 people were not written: run the same command again"),
        "{said}"
    );
    assert!(said.contains("p***@example.com"), "named, redacted: {said}");
    assert_eq!(contacts(&s).len(), PEOPLE, "the failed create was saved");

    let again = import(&s, &["--concurrency", "1"]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_end_state(&s);
    let _ = std::fs::remove_dir_all(&s.dir);
}
