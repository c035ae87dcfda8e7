//! Query filters and sorts, serialised exactly as Notion's filter reference writes them.

use serde::Serialize;

/// A query filter: a property condition, a timestamp condition, or `and`/`or` of them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Filter {
    And {
        and: Vec<Filter>,
    },
    Or {
        or: Vec<Filter>,
    },
    Property {
        property: String,
        #[serde(flatten)]
        condition: Condition,
    },
    Timestamp {
        timestamp: Timestamp,
        #[serde(flatten)]
        condition: TimestampCondition,
    },
}

/// The condition, keyed by the property's type as Notion requires.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    Title(Text),
    RichText(Text),
    Email(Text),
    PhoneNumber(Text),
    Url(Text),
    Select(Choice),
    Status(Choice),
    Number(Number),
    Checkbox(Checkbox),
    Date(Date),
    Relation(Relation),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Text {
    Equals(String),
    DoesNotEqual(String),
    Contains(String),
    DoesNotContain(String),
    StartsWith(String),
    EndsWith(String),
    IsEmpty(bool),
    IsNotEmpty(bool),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    Equals(String),
    /// Any of several options (Notion accepts a list for `equals`).
    #[serde(rename = "equals")]
    EqualsAny(Vec<String>),
    DoesNotEqual(String),
    IsEmpty(bool),
    IsNotEmpty(bool),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Number {
    Equals(f64),
    DoesNotEqual(f64),
    GreaterThan(f64),
    LessThan(f64),
    GreaterThanOrEqualTo(f64),
    LessThanOrEqualTo(f64),
    IsEmpty(bool),
    IsNotEmpty(bool),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Checkbox {
    Equals(bool),
    DoesNotEqual(bool),
}

/// Dates are ISO 8601 dates or date-times.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Date {
    Equals(String),
    Before(String),
    After(String),
    OnOrBefore(String),
    OnOrAfter(String),
    IsEmpty(bool),
    IsNotEmpty(bool),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    Contains(String),
    DoesNotContain(String),
    IsEmpty(bool),
    IsNotEmpty(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Timestamp {
    CreatedTime,
    LastEditedTime,
}

/// A condition on a page timestamp; serialised under the timestamp's own name.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimestampCondition {
    CreatedTime(Date),
    LastEditedTime(Date),
}

impl Filter {
    pub fn property(name: impl Into<String>, condition: Condition) -> Self {
        Self::Property {
            property: name.into(),
            condition,
        }
    }

    pub fn timestamp(timestamp: Timestamp, date: Date) -> Self {
        let condition = match timestamp {
            Timestamp::CreatedTime => TimestampCondition::CreatedTime(date),
            Timestamp::LastEditedTime => TimestampCondition::LastEditedTime(date),
        };
        Self::Timestamp {
            timestamp,
            condition,
        }
    }

    pub fn and(filters: impl IntoIterator<Item = Filter>) -> Self {
        Self::And {
            and: filters.into_iter().collect(),
        }
    }

    pub fn or(filters: impl IntoIterator<Item = Filter>) -> Self {
        Self::Or {
            or: filters.into_iter().collect(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Ascending,
    Descending,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Sort {
    Property {
        property: String,
        direction: Direction,
    },
    Timestamp {
        timestamp: Timestamp,
        direction: Direction,
    },
}

impl Sort {
    /// Oldest page first: of several pages for one thing (two contacts with one
    /// address), the project keeps the oldest.
    pub fn oldest_first() -> Vec<Sort> {
        vec![Sort::Timestamp {
            timestamp: Timestamp::CreatedTime,
            direction: Direction::Ascending,
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_serialise_like_the_reference() {
        let stale = Filter::and([
            Filter::property(
                "Status",
                Condition::Select(Choice::Equals("new lead".into())),
            ),
            Filter::or([
                Filter::property(
                    "Last Contacted",
                    Condition::Date(Date::Before("2026-10-25".into())),
                ),
                Filter::property("Last Contacted", Condition::Date(Date::IsEmpty(true))),
            ]),
        ]);
        assert_eq!(
            serde_json::to_value(&stale).unwrap(),
            json!({"and": [
                {"property": "Status", "select": {"equals": "new lead"}},
                {"or": [
                    {"property": "Last Contacted", "date": {"before": "2026-10-25"}},
                    {"property": "Last Contacted", "date": {"is_empty": true}}
                ]}
            ]})
        );
        assert_eq!(
            serde_json::to_value(Filter::timestamp(
                Timestamp::CreatedTime,
                Date::OnOrBefore("2026-01-01".into())
            ))
            .unwrap(),
            json!({"timestamp": "created_time", "created_time": {"on_or_before": "2026-01-01"}})
        );
        assert_eq!(
            serde_json::to_value(Filter::property(
                "Email",
                Condition::Email(Text::Equals("ann@example.com".into()))
            ))
            .unwrap(),
            json!({"property": "Email", "email": {"equals": "ann@example.com"}})
        );
        assert_eq!(
            serde_json::to_value(vec![
                Sort::Property {
                    property: "Last Contacted".into(),
                    direction: Direction::Ascending
                },
                Sort::Timestamp {
                    timestamp: Timestamp::CreatedTime,
                    direction: Direction::Descending
                },
            ])
            .unwrap(),
            json!([
                {"property": "Last Contacted", "direction": "ascending"},
                {"timestamp": "created_time", "direction": "descending"}
            ])
        );
    }
}
