//! The CRM workspace (Contacts, Deals, Activities with the README's default property
//! names), created through the same code as `POST /v1/databases`.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ids;
use crate::model::User;
use crate::state::State;

/// Whether Deals.Stage is a `status` or a `select` property (users have both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StageKind {
    #[default]
    Status,
    Select,
}

/// Ids of what [`seed_crm`] created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeededWorkspace {
    pub root_page_id: String,
    pub contacts_database_id: String,
    pub contacts_data_source_id: String,
    pub deals_database_id: String,
    pub deals_data_source_id: String,
    pub activities_database_id: String,
    pub activities_data_source_id: String,
    /// The integration's bot user: authors of changes made through the API.
    pub bot_user_id: String,
    /// People who can own deals and edit pages "in the app".
    pub people: Vec<(String, String)>,
}

const STAGES: &[&str] = &[
    "lead",
    "qualified",
    "proposal",
    "negotiation",
    "won",
    "lost",
];

fn select(options: &[&str]) -> Value {
    json!({"options": options.iter().map(|n| json!({"name": n})).collect::<Vec<_>>()})
}

pub fn seed_crm(state: &mut State, stage: StageKind) -> SeededWorkspace {
    let root = ids::new_id();
    state.workspace_pages.insert(root.clone(), "CRM".into());
    for name in ["Dana Lee", "Sam Ortiz"] {
        state.users.push(User {
            id: ids::new_id(),
            name: name.into(),
            bot: false,
            email: Some(format!(
                "{}@example.com",
                name.split(' ').next().unwrap_or("x").to_lowercase()
            )),
        });
    }
    let mut create = |title: &str, properties: Value| {
        let body = json!({
            "parent": {"type": "page_id", "page_id": root},
            "title": [{"type": "text", "text": {"content": title}}],
            "initial_data_source": {"properties": properties},
        });
        // The seed schema is fixed and valid: a failure here is a bug in the emulator.
        let db = crate::schema::create_database(state, &body)
            .unwrap_or_else(|e| panic!("seeding {title}: {}", e.message));
        let ds = state.databases[&db].data_sources[0].clone();
        (db, ds)
    };
    let (contacts_db, contacts_ds) = create(
        "Contacts",
        json!({
            "Name": {"title": {}},
            "Email": {"email": {}},
            "Company": {"rich_text": {}},
            "Phone": {"phone_number": {}},
            "Status": {"select": select(&["new lead", "contacted", "qualified", "customer", "lost"])},
            "Source": {"select": select(&["website"])},
            "Last Contacted": {"date": {}},
            "Notes": {"rich_text": {}},
        }),
    );
    let stage_kind = match stage {
        StageKind::Status => "status",
        StageKind::Select => "select",
    };
    let (deals_db, deals_ds) = create(
        "Deals",
        json!({
            "Deal Name": {"title": {}},
            "Stage": {stage_kind: select(STAGES)},
            "Value": {"number": {"format": "dollar"}},
            "Contact": {"relation": {"data_source_id": contacts_ds, "type": "single_property", "single_property": {}}},
            "Owner": {"people": {}},
            "Close Date": {"date": {}},
        }),
    );
    let (activities_db, activities_ds) = create(
        "Activities",
        json!({
            "Title": {"title": {}},
            "Type": {"select": select(&["form submission", "call", "email", "meeting", "note"])},
            "Date": {"date": {}},
            "Contact": {"relation": {"data_source_id": contacts_ds, "type": "single_property", "single_property": {}}},
            "Deal": {"relation": {"data_source_id": deals_ds, "type": "single_property", "single_property": {}}},
            "Details": {"rich_text": {}},
            "Submission ID": {"rich_text": {}},
        }),
    );
    SeededWorkspace {
        root_page_id: root,
        contacts_database_id: contacts_db,
        contacts_data_source_id: contacts_ds,
        deals_database_id: deals_db,
        deals_data_source_id: deals_ds,
        activities_database_id: activities_db,
        activities_data_source_id: activities_ds,
        bot_user_id: state.bot_id.clone(),
        people: state
            .users
            .iter()
            .filter(|u| !u.bot)
            .map(|u| (u.id.clone(), u.name.clone()))
            .collect(),
    }
}
