//! The Deals schema's property ids, read from Notion and cached in the store.
//!
//! Events and reads name properties by id (ids survive renames), and an event of a
//! subscription made before data sources names the Deals *database*, which only the
//! data source's `parent` says. Both are read once an hour at most: a re-read catches
//! a property that was replaced. A data source never moves to another database, so
//! the database id is good however old the entry is.

use crm_domain::NotionId;
use crm_notion::{NotionClient, NotionError};
use crm_settings::DealProperties;
use crm_store::{CacheRead, CacheWrite, StoreError};
use serde::{Deserialize, Serialize};

use crate::inbox::keys;

/// How long the schema's ids are trusted before being read again.
const SCHEMA_TTL_MS: i64 = 3_600_000;

/// Property ids of the Deals data source that events and reads use, and the database
/// that holds it (which events of subscriptions before data sources name instead).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DealSchema {
    pub stage: String,
    pub name: String,
    pub value: Option<String>,
    pub owner: Option<String>,
    #[serde(default)]
    pub database: Option<String>,
    /// Where the worker writes when a deal entered its stage (an optional property), by
    /// name: a page write's keys are names or ids, and only names are documented in
    /// the form every other write here uses (ids arrive URL-encoded).
    #[serde(default)]
    pub stage_since_name: Option<String>,
    /// The Value property's number format (`dollar`, `euro`, …): how amounts are shown.
    #[serde(default)]
    pub value_format: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error(transparent)]
    Notion(#[from] NotionError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the Deals data source has no property named {0:?}")]
    NoProperty(String),
}

/// The Deals schema's ids: from the store when read within the hour, else from Notion
/// (and kept).
pub async fn schema<S: CacheRead + CacheWrite>(
    store: &S,
    notion: &NotionClient,
    deals_data_source: &str,
    names: &DealProperties,
    now_ms: i64,
) -> Result<DealSchema, SchemaError> {
    if let Some(cached) = store.cache_get(keys::DEALS_SCHEMA).await?
        && now_ms - cached.version < SCHEMA_TTL_MS
        && let Ok(schema) = serde_json::from_str(&cached.value)
    {
        return Ok(schema);
    }
    let ds = notion.retrieve_data_source(deals_data_source).await?;
    let id = |name: &str| ds.properties.get(name).map(|p| p.id.clone());
    let schema = DealSchema {
        stage: id(&names.stage).ok_or_else(|| SchemaError::NoProperty(names.stage.clone()))?,
        name: id(&names.name).ok_or_else(|| SchemaError::NoProperty(names.name.clone()))?,
        value: id(&names.value),
        owner: id(&names.owner),
        database: ds.parent.database_id.clone(),
        stage_since_name: ds
            .properties
            .contains_key(&names.stage_since)
            .then(|| names.stage_since.clone()),
        value_format: ds
            .properties
            .get(&names.value)
            .and_then(|p| p.number_format())
            .map(str::to_owned),
    };
    let json = serde_json::to_string(&schema).unwrap_or_default();
    store.cache_put(keys::DEALS_SCHEMA, &json, now_ms).await?;
    Ok(schema)
}

/// The Deals database id as last read from the schema, if it has been read.
pub async fn known_deals_database<S: CacheRead>(store: &S) -> Option<NotionId> {
    let cached = store.cache_get(keys::DEALS_SCHEMA).await.ok()??;
    let schema: DealSchema = serde_json::from_str(&cached.value).ok()?;
    NotionId::parse(schema.database.as_deref()?).ok()
}
