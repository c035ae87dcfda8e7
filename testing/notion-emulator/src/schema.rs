//! Creating databases and their first data source, with Notion's schema rules.

use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::ids;
use crate::model::{DataSource, Database, PropSchema, plain, to_minute};
use crate::state::State;

const KINDS: &[&str] = &[
    "title",
    "rich_text",
    "email",
    "phone_number",
    "url",
    "select",
    "status",
    "multi_select",
    "number",
    "date",
    "relation",
    "people",
    "checkbox",
    "created_time",
    "last_edited_time",
];

const COLORS: &[&str] = &[
    "blue", "green", "yellow", "orange", "red", "purple", "pink", "brown", "gray",
];

/// `POST /v1/databases`: returns the new database's id.
pub fn create_database(state: &mut State, body: &Value) -> Result<String, ApiError> {
    let parent = body.get("parent").ok_or_else(|| {
        ApiError::validation("body.parent should be defined, instead was `undefined`.")
    })?;
    let page_id = parent
        .get("page_id")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ApiError::validation(
                "body.parent.page_id should be defined (databases are created under a page).",
            )
        })?;
    let page_id = ids::normalize(page_id)
        .ok_or_else(|| ApiError::validation("body.parent.page_id should be a valid uuid."))?;
    if !state.workspace_pages.contains_key(&page_id) && state.page(&page_id).is_none() {
        return Err(ApiError::not_found("page", &page_id));
    }
    let title = body.get("title").map(plain).unwrap_or_default();
    let properties = body
        .get("initial_data_source")
        .and_then(|d| d.get("properties"))
        .or_else(|| body.get("properties"))
        .and_then(Value::as_object)
        .ok_or_else(|| {
            ApiError::validation(
                "body.initial_data_source.properties should be defined, instead was `undefined`.",
            )
        })?;
    let schema = properties
        .iter()
        .map(|(name, config)| property_schema(state, name, config))
        .collect::<Result<Vec<_>, _>>()?;
    let titles = schema.iter().filter(|p| p.kind == "title").count();
    if titles != 1 {
        return Err(ApiError::validation(format!(
            "A data source must have exactly one title property, found {titles}."
        )));
    }
    let now = to_minute(state.now());
    let db_id = ids::new_id();
    let ds_id = ids::new_id();
    state.data_sources.insert(
        ds_id.clone(),
        DataSource {
            id: ds_id.clone(),
            database_id: db_id.clone(),
            title: title.clone(),
            properties: schema,
            created: now,
            edited: now,
        },
    );
    state.databases.insert(
        db_id.clone(),
        Database {
            id: db_id.clone(),
            title,
            parent_page_id: page_id,
            data_sources: vec![ds_id],
            created: now,
        },
    );
    Ok(db_id)
}

fn property_schema(state: &State, name: &str, config: &Value) -> Result<PropSchema, ApiError> {
    let obj = config.as_object().ok_or_else(|| {
        ApiError::validation(format!("body.properties.{name} should be an object."))
    })?;
    let kind = match obj.get("type").and_then(Value::as_str) {
        Some(t) => t.to_owned(),
        None => obj
            .keys()
            .find(|k| KINDS.contains(&k.as_str()))
            .cloned()
            .ok_or_else(|| {
                ApiError::validation(format!(
                    "body.properties.{name} has no known property type."
                ))
            })?,
    };
    if !KINDS.contains(&kind.as_str()) {
        return Err(ApiError::validation(format!(
            "Property type {kind} of {name} is not supported by this emulator."
        )));
    }
    let given = obj.get(&kind).cloned().unwrap_or_else(|| json!({}));
    let config = match kind.as_str() {
        "select" | "multi_select" => json!({"options": options(&given, &[])}),
        "status" => {
            let defaults = ["Not started", "In progress", "Done"];
            json!({"options": options(&given, &defaults), "groups": []})
        }
        "number" => json!({"format": given.get("format").cloned().unwrap_or(json!("number"))}),
        "relation" => {
            let target = given
                .get("data_source_id")
                .and_then(Value::as_str)
                .and_then(ids::normalize)
                .ok_or_else(|| {
                    ApiError::validation(format!(
                        "body.properties.{name}.relation.data_source_id should be a valid uuid."
                    ))
                })?;
            let ds = state
                .data_sources
                .get(&target)
                .ok_or_else(|| ApiError::not_found("data_source", &target))?;
            json!({
                "data_source_id": ds.id,
                "database_id": ds.database_id,
                "type": "single_property",
                "single_property": {},
            })
        }
        _ => Value::Object(Map::new()),
    };
    let id = if kind == "title" {
        "title".to_owned()
    } else {
        ids::new_property_id()
    };
    Ok(PropSchema {
        id,
        name: name.to_owned(),
        kind,
        config,
    })
}

fn options(given: &Value, defaults: &[&str]) -> Vec<Value> {
    let listed: Vec<Value> = given
        .get("options")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let names: Vec<(String, Option<String>)> = if listed.is_empty() {
        defaults.iter().map(|n| ((*n).to_owned(), None)).collect()
    } else {
        listed
            .iter()
            .filter_map(|o| {
                let name = o.get("name").and_then(Value::as_str)?;
                Some((
                    name.to_owned(),
                    o.get("color").and_then(Value::as_str).map(str::to_owned),
                ))
            })
            .collect()
    };
    names
        .into_iter()
        .enumerate()
        .map(|(i, (name, color))| {
            json!({
                "id": ids::new_property_id(),
                "name": name,
                "color": color.unwrap_or_else(|| COLORS[i % COLORS.len()].to_owned()),
            })
        })
        .collect()
}
