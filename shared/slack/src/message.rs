use serde::Serialize;
use serde_json::Value;

/// A message: Block Kit blocks, and the plain text Slack shows in notifications and
/// where blocks cannot be rendered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlackMessage {
    pub text: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<Value>,
}
