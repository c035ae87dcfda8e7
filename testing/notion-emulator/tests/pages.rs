//! Pages, databases and data sources shaped like Notion's.

mod common;

use common::{Api, title};
use crm_notion_emulator::{DEFAULT_TOKEN, Emulator, StageKind};
use serde_json::json;

#[tokio::test]
async fn pages_look_like_notions_and_ids_work_with_or_without_dashes() {
    let emulator = Emulator::start(0, DEFAULT_TOKEN).await.unwrap();
    let ws = emulator.seed_crm(StageKind::Status);
    // An id whose JSON form holds escapes (`E:m;` sent as `E%3Am%3B`).
    assert!(emulator.set_property_id(&ws.contacts_data_source_id, "Email", "E%3Am%3B"));
    let api = Api::new(&emulator);
    let ds_undashed = ws.contacts_data_source_id.replace('-', "");
    let page = api
        .ok(
            "POST",
            "/v1/pages",
            Some(json!({
                "parent": {"type": "data_source_id", "data_source_id": ds_undashed},
                "properties": {
                    "Name": title("Ann Lee"),
                    "Email": {"email": "ann@example.com"},
                    "Status": {"select": {"name": "new lead"}},
                    "Source": {"select": {"name": "newsletter"}},
                    "Last Contacted": {"date": {"start": "2026-11-24"}},
                }
            })),
        )
        .await;
    assert_eq!(page["object"], "page");
    let id = page["id"].as_str().unwrap();
    assert_eq!(id.len(), 36);
    assert!(
        page["url"]
            .as_str()
            .unwrap()
            .ends_with(&id.replace('-', ""))
    );
    assert!(page["url"].as_str().unwrap().contains("Ann-Lee"));
    assert!(
        page["created_time"].as_str().unwrap().ends_with(":00.000Z"),
        "minute precision"
    );
    assert_eq!(page["in_trash"], false);
    assert_eq!(page["parent"]["type"], "data_source_id");
    assert_eq!(page["parent"]["data_source_id"], ws.contacts_data_source_id);
    assert_eq!(page["parent"]["database_id"], ws.contacts_database_id);
    let props = &page["properties"];
    assert_eq!(props["Name"]["id"], "title");
    assert_eq!(props["Name"]["type"], "title");
    assert_eq!(props["Name"]["title"][0]["plain_text"], "Ann Lee");
    assert_eq!(props["Email"]["email"], "ann@example.com");
    assert_eq!(props["Company"]["rich_text"], json!([]));
    assert_eq!(props["Phone"]["phone_number"], json!(null));
    assert_eq!(props["Status"]["select"]["name"], "new lead");
    assert_eq!(props["Last Contacted"]["date"]["start"], "2026-11-24");
    // A new select option is created on write, as Notion does.
    assert_eq!(props["Source"]["select"]["name"], "newsletter");
    let schema = api
        .ok("GET", &format!("/v1/data_sources/{ds_undashed}"), None)
        .await;
    let options: Vec<&str> = schema["properties"]["Source"]["select"]["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(options, ["website", "newsletter"]);
    // Property ids are URL-encoded strings; the same in pages and schemas.
    let email_id = props["Email"]["id"].as_str().unwrap();
    assert_eq!(schema["properties"]["Email"]["id"], email_id);
    assert!(
        email_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '%')
    );

    let undashed = id.replace('-', "");
    let fetched = api.ok("GET", &format!("/v1/pages/{undashed}"), None).await;
    assert_eq!(fetched["id"], id);

    // filter_properties: the id decoded once, then encoded once by the query encoder
    // (`%3A` on the wire for `:`), as the official SDK sends it, selects by id.
    let page_path = format!("/v1/pages/{id}");
    let decoded = decode(email_id);
    let only = api
        .get_with(&page_path, &[("filter_properties", decoded.as_str())])
        .await;
    assert_eq!(
        only["properties"].as_object().unwrap().len(),
        1,
        "{decoded}"
    );
    assert_eq!(only["properties"]["Email"]["email"], "ann@example.com");
    // The id as JSON names it, handed to the encoder, is encoded twice on the wire
    // (`%253A`): Notion finds no such property and answers 400.
    assert_eq!(email_id, "E%3Am%3B");
    let (status, body) = api
        .get_status(&page_path, &[("filter_properties", email_id)])
        .await;
    common::assert_error(status, &body, 400, "validation_error");

    // Update: only listed properties change; trash hides the page from queries.
    let updated = api
        .ok(
            "PATCH",
            &format!("/v1/pages/{id}"),
            Some(
                json!({"properties": {"Company": {"rich_text": [{"text": {"content": "Acme"}}]}}}),
            ),
        )
        .await;
    assert_eq!(
        updated["properties"]["Company"]["rich_text"][0]["plain_text"],
        "Acme"
    );
    assert_eq!(updated["properties"]["Email"]["email"], "ann@example.com");
    // API 2026-03-11 dropped `archived` as an alias of `in_trash`.
    let (s, b) = api
        .call(
            "PATCH",
            &format!("/v1/pages/{id}"),
            Some(json!({"archived": true})),
        )
        .await;
    common::assert_error(s, &b, 400, "validation_error");
    api.ok(
        "PATCH",
        &format!("/v1/pages/{id}"),
        Some(json!({"in_trash": true})),
    )
    .await;
    let (_, list) = api.query(&ws.contacts_data_source_id, json!({})).await;
    assert_eq!(list["results"], json!([]));
    let trashed = api.ok("GET", &format!("/v1/pages/{id}"), None).await;
    assert_eq!(trashed["in_trash"], true);
    let (s, b) = api
        .call(
            "PATCH",
            &format!("/v1/pages/{id}"),
            Some(json!({"properties": {"Email": {"email": "x@y.z"}}})),
        )
        .await;
    common::assert_error(s, &b, 400, "validation_error");
}

#[tokio::test]
async fn the_seeded_schema_is_the_crm_schema() {
    for (kind, expected) in [(StageKind::Status, "status"), (StageKind::Select, "select")] {
        let emulator = Emulator::start(0, DEFAULT_TOKEN).await.unwrap();
        let ws = emulator.seed_crm(kind);
        let api = Api::new(&emulator);
        let deals = api
            .ok(
                "GET",
                &format!("/v1/data_sources/{}", ws.deals_data_source_id),
                None,
            )
            .await;
        assert_eq!(deals["object"], "data_source");
        assert_eq!(deals["parent"]["database_id"], ws.deals_database_id);
        assert_eq!(deals["properties"]["Stage"]["type"], expected);
        let stages: Vec<&str> = deals["properties"]["Stage"][expected]["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            stages,
            [
                "lead",
                "qualified",
                "proposal",
                "negotiation",
                "won",
                "lost"
            ]
        );
        assert_eq!(
            deals["properties"]["Contact"]["relation"]["data_source_id"],
            ws.contacts_data_source_id
        );
        assert_eq!(deals["properties"]["Owner"]["type"], "people");
        let db = api
            .ok(
                "GET",
                &format!("/v1/databases/{}", ws.deals_database_id),
                None,
            )
            .await;
        assert_eq!(db["data_sources"][0]["id"], ws.deals_data_source_id);
        assert_eq!(db["data_sources"][0]["name"], "Deals");
        let contacts = api
            .ok(
                "GET",
                &format!("/v1/data_sources/{}", ws.contacts_data_source_id),
                None,
            )
            .await;
        for (name, kind) in [
            ("Name", "title"),
            ("Email", "email"),
            ("Company", "rich_text"),
            ("Phone", "phone_number"),
            ("Status", "select"),
            ("Source", "select"),
            ("Last Contacted", "date"),
            ("Notes", "rich_text"),
        ] {
            assert_eq!(contacts["properties"][name]["type"], kind, "{name}");
        }
        let activities = api
            .ok(
                "GET",
                &format!("/v1/data_sources/{}", ws.activities_data_source_id),
                None,
            )
            .await;
        assert_eq!(
            activities["properties"]["Deal"]["relation"]["data_source_id"],
            ws.deals_data_source_id
        );
    }
}

#[tokio::test]
async fn people_and_relations_resolve() {
    let emulator = Emulator::start(0, DEFAULT_TOKEN).await.unwrap();
    let ws = emulator.seed_crm(StageKind::Status);
    let api = Api::new(&emulator);
    let contact = api
        .ok("POST", "/v1/pages", Some(json!({"parent": {"data_source_id": ws.contacts_data_source_id}, "properties": {"Name": title("Ann")}})))
        .await;
    let (dana, dana_name) = ws.people[0].clone();
    let deal = api
        .ok(
            "POST",
            "/v1/pages",
            Some(
                json!({"parent": {"data_source_id": ws.deals_data_source_id}, "properties": {
                    "Deal Name": title("Acme"),
                    "Contact": {"relation": [{"id": contact["id"]}]},
                    "Owner": {"people": [{"object": "user", "id": dana}]},
                    "Value": {"number": 12000},
                }}),
            ),
        )
        .await;
    assert_eq!(deal["properties"]["Owner"]["people"][0]["name"], dana_name);
    assert_eq!(
        deal["properties"]["Contact"]["relation"][0]["id"],
        contact["id"]
    );
    assert_eq!(deal["properties"]["Contact"]["has_more"], false);
    assert_eq!(
        deal["properties"]["Stage"]["status"]["name"], "lead",
        "a status starts at its first option"
    );
    // A relation to a page of another data source is refused.
    let (s, b) = api
        .call(
            "POST",
            "/v1/pages",
            Some(
                json!({"parent": {"data_source_id": ws.deals_data_source_id}, "properties": {
                    "Contact": {"relation": [{"id": deal["id"]}]},
                }}),
            ),
        )
        .await;
    common::assert_error(s, &b, 400, "validation_error");
}

/// `%XX` → byte, for the property ids the emulator makes (ASCII only).
fn decode(id: &str) -> String {
    let mut out = String::new();
    let mut rest = id;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let byte = u8::from_str_radix(&rest[i + 1..i + 3], 16).unwrap();
        out.push(byte as char);
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    out
}

/// A page object carries at most 25 references per property (mentions in rich text,
/// related pages): the answer is cut, with `has_more` on the relation, while the page
/// keeps them all.
#[tokio::test]
async fn a_page_answer_carries_25_references_a_property_and_the_page_keeps_them_all() {
    let emulator = Emulator::start(0, DEFAULT_TOKEN).await.unwrap();
    let ws = emulator.seed_crm(StageKind::Status);
    let api = Api::new(&emulator);
    let (dana, _) = ws.people[0].clone();
    let mut notes = vec![json!({"type": "text", "text": {"content": "Met at: "}})];
    for _ in 0..30 {
        notes.push(json!({"type": "mention", "mention": {"type": "user", "user": {"id": dana}}}));
    }
    notes.push(json!({"type": "text", "text": {"content": " — all of them."}}));
    let contact = api
        .ok(
            "POST",
            "/v1/pages",
            Some(
                json!({"parent": {"data_source_id": ws.contacts_data_source_id},
                        "properties": {"Name": title("Ann"), "Notes": {"rich_text": notes}}}),
            ),
        )
        .await;
    let mut contacts = Vec::new();
    for i in 0..30 {
        let page = api
            .ok(
                "POST",
                "/v1/pages",
                Some(
                    json!({"parent": {"data_source_id": ws.contacts_data_source_id},
                            "properties": {"Name": title(&format!("P{i}"))}}),
                ),
            )
            .await;
        contacts.push(json!({"id": page["id"]}));
    }
    let deal = api
        .ok(
            "POST",
            "/v1/pages",
            Some(json!({"parent": {"data_source_id": ws.deals_data_source_id},
                        "properties": {"Deal Name": title("Acme"), "Contact": {"relation": contacts}}})),
        )
        .await;

    let read = api
        .ok(
            "GET",
            &format!("/v1/pages/{}", contact["id"].as_str().unwrap()),
            None,
        )
        .await;
    let parts = read["properties"]["Notes"]["rich_text"].as_array().unwrap();
    let mentions = parts.iter().filter(|p| p["type"] == "mention").count();
    assert_eq!(mentions, 25, "cut at 25 mentions");
    assert_eq!(parts.len(), 27, "the text around them stays");
    let related = &deal["properties"]["Contact"];
    assert_eq!(related["relation"].as_array().unwrap().len(), 25);
    assert_eq!(related["has_more"], true);

    let kept = emulator
        .pages(&ws.contacts_data_source_id)
        .into_iter()
        .find(|p| p["id"] == contact["id"])
        .unwrap();
    let all = kept["properties"]["Notes"]["rich_text"].as_array().unwrap();
    assert_eq!(all.iter().filter(|p| p["type"] == "mention").count(), 30);
}
