//! The CRM workspace (Contacts, Deals, Activities from the product's schema table, at its
//! default property names), created through the same code as `POST /v1/databases`.

use crm_domain::schema::{SCHEMA, Source, create_properties};
use serde::{Deserialize, Serialize};
use serde_json::json;

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
    // The product's own schema table, at its default names: what `crm setup` creates.
    let mut created: Vec<(Source, String, String)> = Vec::new();
    for ds in SCHEMA {
        let named = ds.properties.iter().map(|p| (*p, p.name));
        let made = |to| created.iter().find(|c| c.0 == to).map(|c| c.2.clone());
        let properties = create_properties(named, stage == StageKind::Status, made);
        let body = json!({
            "parent": {"type": "page_id", "page_id": root},
            "title": [{"type": "text", "text": {"content": ds.title}}],
            "initial_data_source": {"properties": properties},
        });
        // The seed schema is fixed and valid: a failure here is a bug in the emulator.
        let db = crate::schema::create_database(state, &body)
            .unwrap_or_else(|e| panic!("seeding {}: {}", ds.title, e.message));
        let data_source = state.databases[&db].data_sources[0].clone();
        created.push((ds.source, db, data_source));
    }
    let mut ids = |source: Source| {
        let at = created
            .iter()
            .position(|c| c.0 == source)
            .unwrap_or_else(|| unreachable!("every source is seeded"));
        let (_, db, ds) = created.swap_remove(at);
        (db, ds)
    };
    let (contacts_db, contacts_ds) = ids(Source::Contacts);
    let (deals_db, deals_ds) = ids(Source::Deals);
    let (activities_db, activities_ds) = ids(Source::Activities);
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
