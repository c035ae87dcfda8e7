use serde::Deserialize;

/// A webhook delivery from Notion (an "event"). Only ids are sent: the page's current
/// values must be read through the API, since the payload may be stale and events may
/// arrive late, twice, merged or out of order.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WebhookEvent {
    pub id: String,
    /// When the change happened (ISO 8601, milliseconds): the order of events.
    pub timestamp: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub authors: Vec<EventAuthor>,
    pub entity: EventEntity,
    #[serde(default)]
    pub data: EventData,
    #[serde(default)]
    pub attempt_number: Option<u32>,
    #[serde(default)]
    pub workspace_id: Option<String>,
    #[serde(default)]
    pub subscription_id: Option<String>,
    #[serde(default)]
    pub integration_id: Option<String>,
    #[serde(default)]
    pub api_version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EventAuthor {
    pub id: String,
    /// `person`, `bot` or `agent`.
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EventEntity {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
pub struct EventData {
    #[serde(default)]
    pub parent: Option<EventParent>,
    /// URL-encoded property ids, exactly as page responses name them.
    #[serde(default)]
    pub updated_properties: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EventParent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub data_source_id: Option<String>,
}

impl WebhookEvent {
    /// True when every author is the integration `bot_id`: our own writes echoing back.
    pub fn is_only_by(&self, bot_id: &str) -> bool {
        !self.authors.is_empty() && self.authors.iter().all(|a| a.id == bot_id)
    }
}
