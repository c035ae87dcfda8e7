use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::rich_text::{RichText, plain_text, rich_text};

/// A page property value, tagged by Notion's `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PropertyValue {
    Title {
        title: Vec<RichText>,
    },
    RichText {
        rich_text: Vec<RichText>,
    },
    Email {
        email: Option<String>,
    },
    PhoneNumber {
        phone_number: Option<String>,
    },
    Url {
        url: Option<String>,
    },
    Select {
        select: Option<SelectValue>,
    },
    Status {
        status: Option<SelectValue>,
    },
    MultiSelect {
        multi_select: Vec<SelectValue>,
    },
    Number {
        number: Option<f64>,
    },
    Date {
        date: Option<DateValue>,
    },
    Relation {
        relation: Vec<PageRef>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        has_more: Option<bool>,
    },
    People {
        people: Vec<UserRef>,
    },
    Checkbox {
        checkbox: bool,
    },
    /// Formulas, rollups, files and the other types this project never writes.
    #[serde(other)]
    Unsupported,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SelectValue {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DateValue {
    /// ISO 8601 date (`2026-11-24`) or date-time with offset.
    pub start: String,
    #[serde(default)]
    pub end: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageRef {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRef {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<Value>,
    /// A bot's details; the integration's own bot user (`GET /v1/users/me`) names its
    /// workspace and the workspace's limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot: Option<Value>,
}

impl UserRef {
    /// The largest file the workspace takes, from the bot user's `workspace_limits`:
    /// 5 MiB on Notion's Free plan, 5 GiB on paid plans ("Working with files and media").
    pub fn max_file_upload_bytes(&self) -> Option<u64> {
        self.bot.as_ref()?["workspace_limits"]["max_file_upload_size_in_bytes"].as_u64()
    }

    /// Whether the workspace is on Notion's Free plan, as far as its limits tell.
    pub fn on_free_plan(&self) -> Option<bool> {
        self.max_file_upload_bytes().map(|b| b <= 5 << 20)
    }
}

impl PropertyValue {
    pub fn title(text: &str) -> Self {
        Self::Title {
            title: rich_text(text),
        }
    }

    /// Rich text, split to Notion's limits.
    pub fn rich_text(text: &str) -> Self {
        Self::RichText {
            rich_text: rich_text(text),
        }
    }

    pub fn email(email: impl Into<String>) -> Self {
        Self::Email {
            email: Some(email.into()),
        }
    }

    pub fn phone(phone: impl Into<String>) -> Self {
        Self::PhoneNumber {
            phone_number: Some(phone.into()),
        }
    }

    pub fn select(name: impl Into<String>) -> Self {
        Self::Select {
            select: Some(SelectValue {
                name: Some(name.into()),
                ..SelectValue::default()
            }),
        }
    }

    pub fn status(name: impl Into<String>) -> Self {
        Self::Status {
            status: Some(SelectValue {
                name: Some(name.into()),
                ..SelectValue::default()
            }),
        }
    }

    pub fn number(n: f64) -> Self {
        Self::Number { number: Some(n) }
    }

    /// A date (`2026-11-24`) or date-time (`2026-11-24T09:00:00+01:00`).
    pub fn date(start: impl Into<String>) -> Self {
        Self::Date {
            date: Some(DateValue {
                start: start.into(),
                end: None,
                time_zone: None,
            }),
        }
    }

    pub fn relation(page_ids: impl IntoIterator<Item = String>) -> Self {
        Self::Relation {
            relation: page_ids.into_iter().map(|id| PageRef { id }).collect(),
            has_more: None,
        }
    }

    /// People, by user id.
    pub fn people(user_ids: impl IntoIterator<Item = String>) -> Self {
        Self::People {
            people: user_ids
                .into_iter()
                .map(|id| UserRef {
                    id,
                    object: Some("user".into()),
                    name: None,
                    person: None,
                    bot: None,
                })
                .collect(),
        }
    }

    pub fn checkbox(checked: bool) -> Self {
        Self::Checkbox { checkbox: checked }
    }

    /// The value as a request expects it: without the `type` tag and read-only fields.
    pub fn to_request(&self) -> Value {
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut value {
            map.remove("type");
            map.remove("has_more");
        }
        value
    }

    /// Text of a title, rich-text, email, phone, url, select or status value, if any;
    /// what "is this field empty" means for a person reading the page.
    pub fn as_text(&self) -> Option<String> {
        let text = match self {
            Self::Title { title: t } | Self::RichText { rich_text: t } => plain_text(t),
            Self::Email { email: v }
            | Self::PhoneNumber { phone_number: v }
            | Self::Url { url: v } => v.clone()?,
            Self::Select { select: v } | Self::Status { status: v } => v.as_ref()?.name.clone()?,
            _ => return None,
        };
        (!text.is_empty()).then_some(text)
    }

    /// Whether a person would see this field as blank.
    pub fn is_empty(&self) -> bool {
        match self {
            Self::Number { number } => number.is_none(),
            Self::Date { date } => date.is_none(),
            Self::Relation { relation, .. } => relation.is_empty(),
            Self::People { people } => people.is_empty(),
            Self::MultiSelect { multi_select } => multi_select.is_empty(),
            Self::Checkbox { checkbox } => !checkbox,
            Self::Unsupported => true,
            _ => self.as_text().is_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_carry_no_type_tag() {
        assert_eq!(
            PropertyValue::email("ann@example.com").to_request(),
            json!({"email": "ann@example.com"})
        );
        assert_eq!(
            PropertyValue::select("new lead").to_request(),
            json!({"select": {"name": "new lead"}})
        );
        assert_eq!(
            PropertyValue::title("Ann").to_request(),
            json!({"title": [{"type": "text", "text": {"content": "Ann"}}]})
        );
        assert_eq!(
            PropertyValue::relation(["p1".to_owned()]).to_request(),
            json!({"relation": [{"id": "p1"}]})
        );
        assert_eq!(
            PropertyValue::date("2026-11-24").to_request(),
            json!({"date": {"start": "2026-11-24", "end": null}})
        );
    }

    #[test]
    fn unknown_property_types_are_read_as_unsupported() {
        let v: PropertyValue = serde_json::from_value(
            json!({"type": "formula", "formula": {"type": "number", "number": 3}}),
        )
        .unwrap();
        assert_eq!(v, PropertyValue::Unsupported);
        assert!(v.is_empty());
    }

    #[test]
    fn emptiness_is_what_a_person_sees() {
        assert!(PropertyValue::RichText { rich_text: vec![] }.is_empty());
        assert!(PropertyValue::Email { email: None }.is_empty());
        assert!(PropertyValue::Select { select: None }.is_empty());
        assert!(!PropertyValue::rich_text("Acme").is_empty());
        assert_eq!(
            PropertyValue::select("won").as_text().as_deref(),
            Some("won")
        );
    }
}
