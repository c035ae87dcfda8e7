use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::property::PropertyValue;

/// A page (a row of a data source).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Page {
    pub id: String,
    #[serde(default)]
    pub url: String,
    pub created_time: String,
    pub last_edited_time: String,
    #[serde(default)]
    pub in_trash: bool,
    /// Who made it: a person, or a bot (this integration's, for pages it wrote).
    #[serde(default)]
    pub created_by: Option<super::property::UserRef>,
    pub parent: Parent,
    #[serde(default)]
    pub properties: BTreeMap<String, PageProperty>,
}

/// A property of a page as returned: its id (which webhooks name) and its value.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PageProperty {
    pub id: String,
    #[serde(flatten)]
    pub value: PropertyValue,
}

/// Where a page, database or data source lives.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Parent {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_source_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_id: Option<String>,
}

impl Page {
    /// The value of the property named `name`, if the page has it.
    pub fn property(&self, name: &str) -> Option<&PropertyValue> {
        self.properties.get(name).map(|p| &p.value)
    }

    /// The value of the property whose id is `id` (ids as webhooks send them).
    pub fn property_by_id(&self, id: &str) -> Option<(&str, &PropertyValue)> {
        self.properties
            .iter()
            .find(|(_, p)| p.id == id)
            .map(|(name, p)| (name.as_str(), &p.value))
    }
}

/// `POST /v1/pages` into a data source.
#[derive(Debug, Clone, PartialEq)]
pub struct CreatePage {
    pub data_source_id: String,
    /// Keyed by property name (or id).
    pub properties: BTreeMap<String, PropertyValue>,
}

impl CreatePage {
    pub fn to_body(&self) -> Value {
        json!({
            "parent": {"type": "data_source_id", "data_source_id": self.data_source_id},
            "properties": properties_body(&self.properties),
        })
    }
}

/// `PATCH /v1/pages/{id}`: only the listed properties change.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UpdatePage {
    pub properties: BTreeMap<String, PropertyValue>,
    pub in_trash: Option<bool>,
}

impl UpdatePage {
    pub fn to_body(&self) -> Value {
        let mut body = Map::new();
        if !self.properties.is_empty() {
            body.insert("properties".into(), properties_body(&self.properties));
        }
        if let Some(in_trash) = self.in_trash {
            body.insert("in_trash".into(), Value::Bool(in_trash));
        }
        Value::Object(body)
    }
}

fn properties_body(properties: &BTreeMap<String, PropertyValue>) -> Value {
    Value::Object(
        properties
            .iter()
            .map(|(k, v)| (k.clone(), v.to_request()))
            .collect(),
    )
}
