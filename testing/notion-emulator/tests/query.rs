//! Every filter operator and sort, against expectations worked out by hand for four
//! rows (A, B, C, D, created in that order).

mod common;

use chrono::{TimeZone, Utc};
use common::{Api, title};
use crm_notion_emulator::{DEFAULT_TOKEN, Emulator, StageKind};
use serde_json::{Value, json};

struct Fixture {
    _emulator: Emulator,
    api: Api,
    ds: String,
    /// Page id → row letter.
    names: Vec<(String, &'static str)>,
    c1: String,
    c2: String,
}

impl Fixture {
    async fn new() -> Self {
        let emulator = Emulator::start(0, DEFAULT_TOKEN).await.unwrap();
        let ws = emulator.seed_crm(StageKind::Status);
        let api = Api::new(&emulator);
        let contact = |name: &str| json!({"parent": {"data_source_id": ws.contacts_data_source_id}, "properties": {"Name": title(name)}});
        let c1 = api.ok("POST", "/v1/pages", Some(contact("C1"))).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let c2 = api.ok("POST", "/v1/pages", Some(contact("C2"))).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let db = api
            .ok(
                "POST",
                "/v1/databases",
                Some(json!({
                    "parent": {"type": "page_id", "page_id": ws.root_page_id},
                    "title": [{"text": {"content": "Everything"}}],
                    "initial_data_source": {"properties": {
                        "Name": {"title": {}},
                        "Notes": {"rich_text": {}},
                        "Email": {"email": {}},
                        "Phone": {"phone_number": {}},
                        "Site": {"url": {}},
                        "Tier": {"select": {"options": [{"name": "gold"}, {"name": "silver"}]}},
                        "Stage": {"status": {"options": [{"name": "lead"}, {"name": "won"}, {"name": "lost"}]}},
                        "Score": {"number": {}},
                        "Active": {"checkbox": {}},
                        "Due": {"date": {}},
                        "Link": {"relation": {"data_source_id": ws.contacts_data_source_id, "single_property": {}}},
                    }},
                })),
            )
            .await;
        let ds = db["data_sources"][0]["id"].as_str().unwrap().to_owned();
        let text = |s: &str| json!({"rich_text": [{"text": {"content": s}}]});
        let rows = [
            (
                "A",
                json!({"Name": title("Alpha"), "Notes": text("hello world"), "Email": {"email": "a@x.com"}, "Phone": {"phone_number": "+1 555"}, "Site": {"url": "https://a.com"}, "Tier": {"select": {"name": "gold"}}, "Stage": {"status": {"name": "lead"}}, "Score": {"number": 10}, "Active": {"checkbox": true}, "Due": {"date": {"start": "2026-01-10"}}, "Link": {"relation": [{"id": c1}]}}),
            ),
            (
                "B",
                json!({"Name": title("Beta"), "Email": {"email": "b@y.org"}, "Tier": {"select": {"name": "silver"}}, "Stage": {"status": {"name": "won"}}, "Score": {"number": 20}, "Due": {"date": {"start": "2026-01-15T12:00:00.000Z"}}}),
            ),
            (
                "C",
                json!({"Name": title("Gamma"), "Notes": text("world peace"), "Phone": {"phone_number": "+44 20"}, "Site": {"url": "https://c.org"}, "Stage": {"status": {"name": "lost"}}, "Link": {"relation": [{"id": c1}, {"id": c2}]}}),
            ),
            (
                "D",
                json!({"Name": title("Delta"), "Notes": text("Hello"), "Email": {"email": "d@x.com"}, "Tier": {"select": {"name": "gold"}}, "Stage": {"status": {"name": "lead"}}, "Score": {"number": 30}, "Active": {"checkbox": true}, "Due": {"date": {"start": "2026-02-01"}}, "Link": {"relation": [{"id": c2}]}}),
            ),
        ];
        let mut names = Vec::new();
        for (day, (name, props)) in rows.into_iter().enumerate() {
            let page = api
                .ok(
                    "POST",
                    "/v1/pages",
                    Some(json!({"parent": {"data_source_id": ds}, "properties": props})),
                )
                .await;
            let id = page["id"].as_str().unwrap().to_owned();
            let at = Utc
                .with_ymd_and_hms(2026, 1, day as u32 + 1, 10, 0, 0)
                .unwrap();
            assert!(emulator.set_page_times(&id, Some(at), Some(at)));
            names.push((id, name));
        }
        Self {
            _emulator: emulator,
            api,
            ds,
            names,
            c1,
            c2,
        }
    }

    fn name(&self, id: &str) -> &'static str {
        self.names
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, n)| *n)
            .unwrap_or("?")
    }

    async fn rows(&self, body: Value) -> String {
        let (status, result) = self.api.query(&self.ds, body.clone()).await;
        assert_eq!(status, 200, "{body}: {result}");
        result["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| self.name(p["id"].as_str().unwrap()))
            .collect()
    }

    async fn filter(&self, filter: Value) -> String {
        self.rows(json!({"filter": filter})).await
    }
}

fn p(property: &str, kind: &str, op: &str, arg: Value) -> Value {
    json!({"property": property, kind: {op: arg}})
}

#[tokio::test]
async fn text_filters_on_title_rich_text_email_phone_and_url() {
    let f = Fixture::new().await;
    let cases = [
        (p("Name", "title", "equals", json!("Beta")), "B"),
        (p("Name", "title", "does_not_equal", json!("Beta")), "ACD"),
        (p("Name", "title", "contains", json!("ta")), "BD"),
        (p("Name", "title", "does_not_contain", json!("ta")), "AC"),
        (p("Name", "title", "starts_with", json!("G")), "C"),
        (p("Name", "title", "ends_with", json!("ma")), "C"),
        (p("Name", "title", "ends_with", json!("a")), "ABCD"),
        (p("Notes", "rich_text", "contains", json!("world")), "AC"),
        (p("Notes", "rich_text", "starts_with", json!("Hello")), "D"),
        (p("Notes", "rich_text", "equals", json!("Hello")), "D"),
        (p("Notes", "rich_text", "is_empty", json!(true)), "B"),
        (p("Notes", "rich_text", "is_not_empty", json!(true)), "ACD"),
        (p("Email", "email", "equals", json!("a@x.com")), "A"),
        (p("Email", "email", "equals", json!("A@X.COM")), ""),
        (
            p("Email", "email", "does_not_equal", json!("a@x.com")),
            "BCD",
        ),
        (p("Email", "email", "ends_with", json!("@x.com")), "AD"),
        (p("Email", "email", "is_empty", json!(true)), "C"),
        (p("Email", "email", "is_not_empty", json!(true)), "ABD"),
        (p("Phone", "phone_number", "contains", json!("555")), "A"),
        (p("Phone", "phone_number", "is_empty", json!(true)), "BD"),
        (p("Site", "url", "starts_with", json!("https://c")), "C"),
        (p("Site", "url", "is_not_empty", json!(true)), "AC"),
    ];
    for (filter, want) in cases {
        assert_eq!(f.filter(filter.clone()).await, want, "{filter}");
    }
}

#[tokio::test]
async fn select_status_number_checkbox_and_relation_filters() {
    let f = Fixture::new().await;
    let cases = [
        (p("Tier", "select", "equals", json!("gold")), "AD"),
        (p("Tier", "select", "does_not_equal", json!("gold")), "BC"),
        (p("Tier", "select", "is_empty", json!(true)), "C"),
        (p("Tier", "select", "is_not_empty", json!(true)), "ABD"),
        (p("Stage", "status", "equals", json!("lead")), "AD"),
        (p("Stage", "status", "does_not_equal", json!("lead")), "BC"),
        (p("Stage", "status", "equals", json!(["won", "lost"])), "BC"),
        (p("Score", "number", "equals", json!(20)), "B"),
        (p("Score", "number", "does_not_equal", json!(20)), "ACD"),
        (p("Score", "number", "greater_than", json!(10)), "BD"),
        (p("Score", "number", "less_than", json!(20)), "A"),
        (
            p("Score", "number", "greater_than_or_equal_to", json!(20)),
            "BD",
        ),
        (
            p("Score", "number", "less_than_or_equal_to", json!(20)),
            "AB",
        ),
        (p("Score", "number", "is_empty", json!(true)), "C"),
        (p("Score", "number", "is_not_empty", json!(true)), "ABD"),
        (p("Active", "checkbox", "equals", json!(true)), "AD"),
        (p("Active", "checkbox", "does_not_equal", json!(true)), "BC"),
        (p("Link", "relation", "contains", json!(f.c1)), "AC"),
        (
            p("Link", "relation", "contains", json!(f.c2.replace('-', ""))),
            "CD",
        ),
        (p("Link", "relation", "does_not_contain", json!(f.c1)), "BD"),
        (p("Link", "relation", "is_empty", json!(true)), "B"),
        (p("Link", "relation", "is_not_empty", json!(true)), "ACD"),
    ];
    for (filter, want) in cases {
        assert_eq!(f.filter(filter.clone()).await, want, "{filter}");
    }
}

#[tokio::test]
async fn date_and_timestamp_filters() {
    let f = Fixture::new().await;
    let ts = |which: &str, op: &str, arg: &str| json!({"timestamp": which, which: {op: arg}});
    let cases = [
        // Dates: A 2026-01-10, B 2026-01-15T12:00Z, C none, D 2026-02-01.
        (p("Due", "date", "equals", json!("2026-01-15")), "B"),
        (p("Due", "date", "before", json!("2026-01-15")), "A"),
        (p("Due", "date", "after", json!("2026-01-15")), "D"),
        (p("Due", "date", "on_or_before", json!("2026-01-15")), "AB"),
        (p("Due", "date", "on_or_after", json!("2026-01-15")), "BD"),
        (p("Due", "date", "is_empty", json!(true)), "C"),
        (p("Due", "date", "is_not_empty", json!(true)), "ABD"),
        (
            p("Due", "date", "before", json!("2026-01-15T12:00:00Z")),
            "A",
        ),
        (
            p("Due", "date", "on_or_before", json!("2026-01-15T12:00:00Z")),
            "AB",
        ),
        (
            p("Due", "date", "after", json!("2026-01-15T11:00:00Z")),
            "BD",
        ),
        (
            p("Due", "date", "equals", json!("2026-01-15T12:00:00+00:00")),
            "B",
        ),
        // Created and edited: day 1 to 4 of January, 10:00 UTC.
        (ts("created_time", "before", "2026-01-03"), "AB"),
        (ts("created_time", "on_or_after", "2026-01-03"), "CD"),
        (ts("created_time", "equals", "2026-01-02"), "B"),
        (ts("last_edited_time", "after", "2026-01-03"), "D"),
        (
            ts("last_edited_time", "on_or_before", "2026-01-01T10:00:00Z"),
            "A",
        ),
    ];
    for (filter, want) in cases {
        assert_eq!(f.filter(filter.clone()).await, want, "{filter}");
    }
}

#[tokio::test]
async fn compound_filters_nest_two_levels() {
    let f = Fixture::new().await;
    let gold = p("Tier", "select", "equals", json!("gold"));
    let cases = [
        (
            json!({"and": [gold, p("Score", "number", "greater_than", json!(10))]}),
            "D",
        ),
        (
            json!({"or": [p("Stage", "status", "equals", json!("won")), p("Stage", "status", "equals", json!("lost"))]}),
            "BC",
        ),
        (
            json!({"and": [
                {"or": [p("Tier", "select", "equals", json!("gold")), p("Tier", "select", "equals", json!("silver"))]},
                p("Active", "checkbox", "equals", json!(false)),
            ]}),
            "B",
        ),
        (json!({"or": []}), ""),
        (json!({"and": []}), "ABCD"),
    ];
    for (filter, want) in cases {
        assert_eq!(f.filter(filter.clone()).await, want, "{filter}");
    }
}

#[tokio::test]
async fn sorts_put_empty_values_last_and_break_ties_by_creation() {
    let f = Fixture::new().await;
    let sort = |s: Value| json!({"sorts": s});
    let cases = [
        (
            sort(json!([{"property": "Score", "direction": "ascending"}])),
            "ABDC",
        ),
        (
            sort(json!([{"property": "Score", "direction": "descending"}])),
            "DBAC",
        ),
        (
            sort(json!([{"property": "Name", "direction": "ascending"}])),
            "ABDC",
        ),
        (
            sort(json!([{"property": "Due", "direction": "ascending"}])),
            "ABDC",
        ),
        (
            sort(json!([{"timestamp": "created_time", "direction": "descending"}])),
            "DCBA",
        ),
        (
            sort(json!([{"timestamp": "last_edited_time", "direction": "ascending"}])),
            "ABCD",
        ),
        (
            sort(
                json!([{"property": "Tier", "direction": "ascending"}, {"property": "Score", "direction": "descending"}]),
            ),
            "DABC",
        ),
        (
            sort(json!([{"property": "Active", "direction": "descending"}])),
            "ADBC",
        ),
    ];
    for (body, want) in cases {
        assert_eq!(f.rows(body.clone()).await, want, "{body}");
    }
}

#[tokio::test]
async fn cursors_walk_every_row_once_with_opaque_tokens() {
    let f = Fixture::new().await;
    let mut seen = String::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut body =
            json!({"page_size": 3, "sorts": [{"property": "Name", "direction": "descending"}]});
        if let Some(c) = &cursor {
            body["start_cursor"] = json!(c);
        }
        let (status, result) = f.api.query(&f.ds, body).await;
        assert_eq!(status, 200);
        pages += 1;
        for r in result["results"].as_array().unwrap() {
            seen.push_str(f.name(r["id"].as_str().unwrap()));
        }
        assert_eq!(result["object"], "list");
        // Ordinary responses carry no `request_status`; only a capped one does.
        assert!(result.get("request_status").is_none(), "{result}");
        if result["has_more"] == true {
            cursor = Some(result["next_cursor"].as_str().unwrap().to_owned());
        } else {
            assert_eq!(result["next_cursor"], Value::Null);
            break;
        }
    }
    assert_eq!(seen, "CDBA");
    assert_eq!(pages, 2);
}

/// Notion does not document whether text filters ignore case: the switch decides, and
/// each setting does what it says.
#[tokio::test]
async fn text_case_is_a_switch() {
    let emulator = Emulator::start(0, DEFAULT_TOKEN).await.unwrap();
    let ws = emulator.seed_crm(StageKind::Status);
    let api = Api::new(&emulator);
    let ds = &ws.contacts_data_source_id;
    let page = json!({"parent": {"data_source_id": ds}, "properties": {
        "Name": title("Ann"), "Email": {"email": "Ann@Example.COM"}}});
    api.ok("POST", "/v1/pages", Some(page)).await;
    let equals =
        |address: &str| json!({"filter": {"property": "Email", "email": {"equals": address}}});
    for (case, lower, typed) in [
        (crm_notion_emulator::TextCase::Sensitive, 0, 1),
        (crm_notion_emulator::TextCase::Insensitive, 1, 1),
    ] {
        emulator.set_text_case(case);
        let (_, found) = api.query(ds, equals("ann@example.com")).await;
        assert_eq!(
            found["results"].as_array().unwrap().len(),
            lower,
            "{case:?}"
        );
        let (_, found) = api.query(ds, equals("Ann@Example.COM")).await;
        assert_eq!(
            found["results"].as_array().unwrap().len(),
            typed,
            "{case:?}"
        );
    }
}
