//! Query filters and sorts, evaluated the way Notion's filter reference describes.
//!
//! Whether text comparisons ignore case, Notion does not document (the filter reference
//! says only that `equals` "matches the provided string"), so it is a switch,
//! [`TextCase`], and the product's tests pass in both settings.

use std::cmp::Ordering;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use crate::error::ApiError;
use crate::ids;
use crate::model::{DataSource, PageRec, plain};
use crate::values::parse_date;

#[derive(Debug)]
pub enum Compiled {
    And(Vec<Compiled>),
    Or(Vec<Compiled>),
    Property {
        id: String,
        kind: String,
        cond: Cond,
    },
    Timestamp {
        created: bool,
        cond: DateCond,
    },
}

#[derive(Debug)]
pub enum Cond {
    Text(String, Option<String>),
    Choice(String, Vec<String>),
    Number(String, Option<f64>),
    Checkbox(bool, bool),
    Date(DateCond),
    Relation(String, Option<String>),
}

#[derive(Debug)]
pub struct DateCond {
    op: String,
    arg: Option<DateArg>,
}

#[derive(Debug, Clone, Copy)]
struct DateArg {
    at: DateTime<Utc>,
    date_only: bool,
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::validation(message)
}

/// Checks and compiles a filter; `depth` counts compound levels (Notion allows two).
pub fn compile(filter: &Value, ds: &DataSource, depth: usize) -> Result<Compiled, ApiError> {
    let obj = filter
        .as_object()
        .ok_or_else(|| bad("body failed validation: body.filter should be an object."))?;
    for (key, make) in [("and", Compiled::And as fn(_) -> _), ("or", Compiled::Or)] {
        if let Some(list) = obj.get(key) {
            if depth >= 2 {
                return Err(bad(
                    "body failed validation: body.filter compound filters may be nested at most two levels deep.",
                ));
            }
            let items = list
                .as_array()
                .ok_or_else(|| bad(format!("body.filter.{key} should be an array.")))?;
            let compiled = items
                .iter()
                .map(|f| compile(f, ds, depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(make(compiled));
        }
    }
    if let Some(ts) = obj.get("timestamp").and_then(Value::as_str) {
        let created = match ts {
            "created_time" => true,
            "last_edited_time" => false,
            other => {
                return Err(bad(format!(
                    "body.filter.timestamp should be `created_time` or `last_edited_time`, instead was `{other}`."
                )));
            }
        };
        let cond = obj.get(ts).ok_or_else(|| {
            bad(format!(
                "body.filter.{ts} should be defined, instead was `undefined`."
            ))
        })?;
        return Ok(Compiled::Timestamp {
            created,
            cond: date_cond(cond)?,
        });
    }
    let key = obj
        .get("property")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("body failed validation: body.filter.property should be defined, instead was `undefined`."))?;
    let schema = ds
        .property(key)
        .ok_or_else(|| bad(format!("Could not find property with name or id: {key}")))?;
    let kind = schema.kind.as_str();
    let condition = obj.get(kind).ok_or_else(|| {
        let given: Vec<&str> = obj.keys().map(String::as_str).filter(|k| *k != "property").collect();
        bad(format!(
            "body failed validation: filter for property {key} of type `{kind}` must use the `{kind}` key, got {given:?}."
        ))
    })?;
    let (op, arg) = single_op(condition, kind)?;
    let cond = match kind {
        "title" | "rich_text" | "email" | "phone_number" | "url" => {
            let arg = text_arg(
                &op,
                arg,
                kind,
                &[
                    "equals",
                    "does_not_equal",
                    "contains",
                    "does_not_contain",
                    "starts_with",
                    "ends_with",
                ],
            )?;
            Cond::Text(op, arg)
        }
        "select" | "status" => match op.as_str() {
            "equals" | "does_not_equal" => {
                let names = match arg {
                    Value::String(s) => vec![s.clone()],
                    Value::Array(a) => a
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect(),
                    _ => return Err(bad(format!("body.filter.{kind}.{op} should be a string."))),
                };
                Cond::Choice(op, names)
            }
            "is_empty" | "is_not_empty" => Cond::Choice(op, Vec::new()),
            _ => return Err(unknown_op(kind, &op)),
        },
        "number" => match op.as_str() {
            "equals"
            | "does_not_equal"
            | "greater_than"
            | "less_than"
            | "greater_than_or_equal_to"
            | "less_than_or_equal_to" => {
                let n = arg
                    .as_f64()
                    .ok_or_else(|| bad(format!("body.filter.number.{op} should be a number.")))?;
                Cond::Number(op, Some(n))
            }
            "is_empty" | "is_not_empty" => Cond::Number(op, None),
            _ => return Err(unknown_op(kind, &op)),
        },
        "checkbox" => {
            let b = arg
                .as_bool()
                .ok_or_else(|| bad(format!("body.filter.checkbox.{op} should be a boolean.")))?;
            match op.as_str() {
                "equals" => Cond::Checkbox(true, b),
                "does_not_equal" => Cond::Checkbox(false, b),
                _ => return Err(unknown_op(kind, &op)),
            }
        }
        "date" | "created_time" | "last_edited_time" => Cond::Date(date_cond(condition)?),
        "relation" => match op.as_str() {
            "contains" | "does_not_contain" => {
                let id = arg.as_str().and_then(ids::normalize).ok_or_else(|| {
                    bad(format!("body.filter.relation.{op} should be a valid uuid."))
                })?;
                Cond::Relation(op, Some(id))
            }
            "is_empty" | "is_not_empty" => Cond::Relation(op, None),
            _ => return Err(unknown_op(kind, &op)),
        },
        other => {
            return Err(bad(format!(
                "Filtering on properties of type {other} is not supported."
            )));
        }
    };
    Ok(Compiled::Property {
        id: schema.id.clone(),
        kind: kind.to_owned(),
        cond,
    })
}

fn unknown_op(kind: &str, op: &str) -> ApiError {
    bad(format!(
        "body failed validation: `{op}` is not a valid {kind} filter condition."
    ))
}

fn single_op<'a>(condition: &'a Value, kind: &str) -> Result<(String, &'a Value), ApiError> {
    let obj = condition
        .as_object()
        .ok_or_else(|| bad(format!("body.filter.{kind} should be an object.")))?;
    if obj.len() != 1 {
        return Err(bad(format!(
            "body.filter.{kind} should have exactly one condition, instead had {}.",
            obj.len()
        )));
    }
    let (op, arg) = obj.iter().next().ok_or_else(|| bad("empty condition"))?;
    Ok((op.clone(), arg))
}

fn text_arg(op: &str, arg: &Value, kind: &str, ops: &[&str]) -> Result<Option<String>, ApiError> {
    match op {
        "is_empty" | "is_not_empty" => Ok(None),
        _ if ops.contains(&op) => arg
            .as_str()
            .map(|s| Some(s.to_owned()))
            .ok_or_else(|| bad(format!("body.filter.{kind}.{op} should be a string."))),
        _ => Err(unknown_op(kind, op)),
    }
}

fn date_cond(condition: &Value) -> Result<DateCond, ApiError> {
    let (op, arg) = single_op(condition, "date")?;
    let arg = match op.as_str() {
        "equals" | "before" | "after" | "on_or_before" | "on_or_after" => {
            let s = arg
                .as_str()
                .ok_or_else(|| bad(format!("body.filter.date.{op} should be a string.")))?;
            let at = parse_date(s).ok_or_else(|| {
                bad(format!("body.filter.date.{op} should be a valid ISO 8601 date string, instead was `\"{s}\"`."))
            })?;
            Some(DateArg {
                at,
                date_only: s.len() == 10,
            })
        }
        "is_empty" | "is_not_empty" => None,
        _ => return Err(unknown_op("date", &op)),
    };
    Ok(DateCond { op, arg })
}

/// Whether `page` passes the compiled filter.
/// How text filters compare: one of Notion's undocumented behaviours, so a switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextCase {
    /// `Ann@Example.com` does not equal `ann@example.com`.
    #[default]
    Sensitive,
    /// Text filters ignore case.
    Insensitive,
}

impl TextCase {
    /// The setting named by `NOTION_EMULATOR_TEXT_CASE` (`sensitive` or `insensitive`),
    /// so a whole test run can be repeated in the other mode.
    pub fn from_env() -> Self {
        match std::env::var("NOTION_EMULATOR_TEXT_CASE").as_deref() {
            Ok("insensitive") => Self::Insensitive,
            _ => Self::Sensitive,
        }
    }
}

pub fn matches(f: &Compiled, page: &PageRec, case: TextCase) -> bool {
    match f {
        Compiled::And(items) => items.iter().all(|i| matches(i, page, case)),
        Compiled::Or(items) => items.iter().any(|i| matches(i, page, case)),
        Compiled::Timestamp { created, cond } => date_matches(
            cond,
            Some(if *created { page.created } else { page.edited }),
        ),
        Compiled::Property { id, kind, cond } => {
            let value = page.values.get(id).unwrap_or(&Value::Null);
            property_matches(kind, cond, value, page, case)
        }
    }
}

fn text_of(kind: &str, value: &Value) -> String {
    match kind {
        "title" | "rich_text" => plain(value),
        _ => value.as_str().unwrap_or_default().to_owned(),
    }
}

fn property_matches(
    kind: &str,
    cond: &Cond,
    value: &Value,
    page: &PageRec,
    case: TextCase,
) -> bool {
    match cond {
        Cond::Text(op, arg) => {
            let fold = |s: String| match case {
                TextCase::Sensitive => s,
                TextCase::Insensitive => s.to_lowercase(),
            };
            let text = fold(text_of(kind, value));
            let arg = fold(arg.clone().unwrap_or_default());
            let arg = arg.as_str();
            match op.as_str() {
                "equals" => text == arg,
                "does_not_equal" => text != arg,
                "contains" => text.contains(arg),
                "does_not_contain" => !text.contains(arg),
                "starts_with" => text.starts_with(arg),
                "ends_with" => text.ends_with(arg),
                "is_empty" => text.is_empty(),
                _ => !text.is_empty(),
            }
        }
        Cond::Choice(op, names) => {
            let name = value.get("name").and_then(Value::as_str);
            match op.as_str() {
                "equals" => name.is_some_and(|n| names.iter().any(|x| x == n)),
                "does_not_equal" => !name.is_some_and(|n| names.iter().any(|x| x == n)),
                "is_empty" => name.is_none(),
                _ => name.is_some(),
            }
        }
        Cond::Number(op, arg) => {
            let n = value.as_f64();
            let arg = arg.unwrap_or_default();
            match (op.as_str(), n) {
                ("is_empty", n) => n.is_none(),
                ("is_not_empty", n) => n.is_some(),
                ("does_not_equal", None) => true,
                (_, None) => false,
                ("equals", Some(n)) => n == arg,
                ("does_not_equal", Some(n)) => n != arg,
                ("greater_than", Some(n)) => n > arg,
                ("less_than", Some(n)) => n < arg,
                ("greater_than_or_equal_to", Some(n)) => n >= arg,
                (_, Some(n)) => n <= arg,
            }
        }
        Cond::Checkbox(eq, b) => (value.as_bool().unwrap_or(false) == *b) == *eq,
        Cond::Date(cond) => {
            let at = match kind {
                "created_time" => Some(page.created),
                "last_edited_time" => Some(page.edited),
                _ => value
                    .get("start")
                    .and_then(Value::as_str)
                    .and_then(parse_date),
            };
            date_matches(cond, at)
        }
        Cond::Relation(op, arg) => {
            let ids: Vec<&str> = value
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|r| r.get("id").and_then(Value::as_str))
                        .collect()
                })
                .unwrap_or_default();
            match op.as_str() {
                "contains" => arg.as_deref().is_some_and(|a| ids.contains(&a)),
                "does_not_contain" => !arg.as_deref().is_some_and(|a| ids.contains(&a)),
                "is_empty" => ids.is_empty(),
                _ => !ids.is_empty(),
            }
        }
    }
}

/// Date-only arguments compare whole UTC days; date-times compare to the millisecond.
fn date_matches(cond: &DateCond, value: Option<DateTime<Utc>>) -> bool {
    match (cond.op.as_str(), value, cond.arg) {
        ("is_empty", v, _) => v.is_none(),
        ("is_not_empty", v, _) => v.is_some(),
        (_, None, _) | (_, _, None) => false,
        (op, Some(v), Some(arg)) => {
            let (start, end) = if arg.date_only {
                (arg.at, arg.at + Duration::days(1))
            } else {
                (arg.at, arg.at + Duration::milliseconds(1))
            };
            match op {
                "equals" => v >= start && v < end,
                "before" => v < start,
                "after" => v >= end,
                "on_or_before" => v < end,
                _ => v >= start,
            }
        }
    }
}

/// One sort criterion.
#[derive(Debug)]
pub struct SortKey {
    property: Option<(String, String)>,
    created: bool,
    descending: bool,
}

pub fn compile_sorts(sorts: &Value, ds: &DataSource) -> Result<Vec<SortKey>, ApiError> {
    let Some(items) = sorts.as_array() else {
        return Err(bad(
            "body failed validation: body.sorts should be an array.",
        ));
    };
    items
        .iter()
        .map(|s| {
            let descending = match s.get("direction").and_then(Value::as_str) {
                Some("ascending") => false,
                Some("descending") => true,
                other => {
                    return Err(bad(format!(
                        "body.sorts[].direction should be `ascending` or `descending`, instead was `{}`.",
                        other.unwrap_or("undefined")
                    )));
                }
            };
            if let Some(p) = s.get("property").and_then(Value::as_str) {
                let schema = ds
                    .property(p)
                    .ok_or_else(|| bad(format!("Could not find sort property with name or id: {p}")))?;
                return Ok(SortKey {
                    property: Some((schema.id.clone(), schema.kind.clone())),
                    created: false,
                    descending,
                });
            }
            match s.get("timestamp").and_then(Value::as_str) {
                Some("created_time") => Ok(SortKey { property: None, created: true, descending }),
                Some("last_edited_time") => Ok(SortKey { property: None, created: false, descending }),
                _ => Err(bad("body.sorts[] should have `property` or `timestamp`.")),
            }
        })
        .collect()
}

#[derive(Debug, PartialEq, PartialOrd)]
enum Key {
    Num(f64),
    Text(String),
    Time(DateTime<Utc>),
}

fn sort_key(key: &SortKey, page: &PageRec) -> Option<Key> {
    let Some((id, kind)) = &key.property else {
        return Some(Key::Time(if key.created {
            page.created
        } else {
            page.edited
        }));
    };
    let value = page.values.get(id).unwrap_or(&Value::Null);
    match kind.as_str() {
        "number" => value.as_f64().map(Key::Num),
        "checkbox" => Some(Key::Num(if value.as_bool() == Some(true) {
            1.0
        } else {
            0.0
        })),
        "date" => value
            .get("start")
            .and_then(Value::as_str)
            .and_then(parse_date)
            .map(Key::Time),
        "created_time" => Some(Key::Time(page.created)),
        "last_edited_time" => Some(Key::Time(page.edited)),
        "select" | "status" => value
            .get("name")
            .and_then(Value::as_str)
            .map(|s| Key::Text(s.to_owned())),
        _ => {
            let t = text_of(kind, value);
            (!t.is_empty()).then_some(Key::Text(t))
        }
    }
}

/// Orders pages by the sort keys; empty values go last in either direction, and ties
/// keep creation order, so cursors are stable.
pub fn compare(keys: &[SortKey], a: &PageRec, b: &PageRec) -> Ordering {
    for key in keys {
        let ord = match (sort_key(key, a), sort_key(key, b)) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(x), Some(y)) => {
                let o = x.partial_cmp(&y).unwrap_or(Ordering::Equal);
                if key.descending { o.reverse() } else { o }
            }
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}
