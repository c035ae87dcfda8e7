//! Validating and storing property values written through the API, with Notion's
//! limits and error messages.

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::ids;
use crate::model::{DataSource, text_object};
use crate::state::State;

const MAX_TEXT: usize = 2000;
const MAX_ARRAY: usize = 100;
const MAX_EMAIL: usize = 200;
const MAX_PHONE: usize = 200;
const MAX_URL: usize = 2000;

fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Validates `properties` (keyed by name or id) for a page of `ds_id` and returns the
/// values to store by property id. New select options are added to the schema, as
/// Notion does.
pub fn write_properties(
    state: &mut State,
    ds_id: &str,
    properties: &Value,
) -> Result<Vec<(String, Value)>, ApiError> {
    let Some(map) = properties.as_object() else {
        return Err(ApiError::validation(
            "body failed validation: body.properties should be an object.",
        ));
    };
    let mut out = Vec::new();
    for (key, input) in map {
        let index = state
            .data_sources
            .get(ds_id)
            .and_then(|ds| ds.property_index(key))
            .ok_or_else(|| ApiError::validation(format!("{key} is not a property that exists.")))?;
        let value = write_value(state, ds_id, index, key, input)?;
        let id = state.data_sources[ds_id].properties[index].id.clone();
        out.push((id, value));
    }
    Ok(out)
}

fn write_value(
    state: &mut State,
    ds_id: &str,
    index: usize,
    key: &str,
    input: &Value,
) -> Result<Value, ApiError> {
    let kind = state.data_sources[ds_id].properties[index].kind.clone();
    let Some(obj) = input.as_object() else {
        return Err(ApiError::validation(format!(
            "body.properties.{key} should be an object, instead was `{input}`."
        )));
    };
    if let Some(t) = obj.get("type").and_then(Value::as_str)
        && t != kind
    {
        return Err(ApiError::validation(format!(
            "body.properties.{key}.type should be `{kind}`, instead was `{t}`."
        )));
    }
    let Some(value) = obj.get(&kind) else {
        return Err(ApiError::validation(format!(
            "body.properties.{key}.{kind} should be defined, instead was `undefined`."
        )));
    };
    let path = format!("body.properties.{key}.{kind}");
    match kind.as_str() {
        "title" | "rich_text" => rich_text(value, &path),
        "email" => string_or_null(value, &path, MAX_EMAIL),
        "phone_number" => string_or_null(value, &path, MAX_PHONE),
        "url" => string_or_null(value, &path, MAX_URL),
        "number" => match value {
            Value::Null => Ok(Value::Null),
            Value::Number(_) => Ok(value.clone()),
            _ => Err(ApiError::validation(format!(
                "{path} should be a number or `null`, instead was `{value}`."
            ))),
        },
        "checkbox" => match value {
            Value::Bool(_) => Ok(value.clone()),
            _ => Err(ApiError::validation(format!(
                "{path} should be a boolean, instead was `{value}`."
            ))),
        },
        "select" | "status" => {
            if value.is_null() {
                if kind == "status" {
                    return Err(ApiError::validation(format!(
                        "{path} should be defined, instead was `null`."
                    )));
                }
                return Ok(Value::Null);
            }
            option(
                state.data_sources.get_mut(ds_id),
                index,
                value,
                &path,
                kind == "select",
            )
        }
        "multi_select" => {
            let items = array(value, &path)?;
            let mut out = Vec::new();
            for item in items {
                out.push(option(
                    state.data_sources.get_mut(ds_id),
                    index,
                    item,
                    &path,
                    true,
                )?);
            }
            Ok(Value::Array(out))
        }
        "date" => date(value, &path),
        "relation" => relation(state, ds_id, index, value, &path),
        "people" => {
            let items = array(value, &path)?;
            let mut out = Vec::new();
            for item in items {
                let id = item
                    .get("id")
                    .and_then(Value::as_str)
                    .and_then(ids::normalize)
                    .ok_or_else(|| {
                        ApiError::validation(format!("{path}[].id should be a valid uuid."))
                    })?;
                out.push(json!({"id": id}));
            }
            Ok(Value::Array(out))
        }
        other => Err(ApiError::validation(format!(
            "Cannot update property {key} of type {other}."
        ))),
    }
}

fn too_long(path: &str, max: usize, got: usize) -> ApiError {
    ApiError::validation(format!(
        "{path}.length should be ≤ `{max}`, instead was `{got}`."
    ))
}

/// A JSON array of at most Notion's 100 elements.
fn array<'a>(value: &'a Value, path: &str) -> Result<&'a Vec<Value>, ApiError> {
    let items = value.as_array().ok_or_else(|| {
        ApiError::validation(format!("{path} should be an array, instead was `{value}`."))
    })?;
    if items.len() > MAX_ARRAY {
        return Err(too_long(path, MAX_ARRAY, items.len()));
    }
    Ok(items)
}

fn string_or_null(value: &Value, path: &str, max: usize) -> Result<Value, ApiError> {
    match value {
        Value::Null => Ok(Value::Null),
        Value::String(s) if utf16_len(s) > max => Err(too_long(path, max, utf16_len(s))),
        Value::String(_) => Ok(value.clone()),
        _ => Err(ApiError::validation(format!(
            "{path} should be a string or `null`, instead was `{value}`."
        ))),
    }
}

fn rich_text(value: &Value, path: &str) -> Result<Value, ApiError> {
    let items = array(value, path)?;
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let kind = item.get("type").and_then(Value::as_str).unwrap_or("text");
        if kind != "text" {
            // Mentions and equations are stored as given.
            out.push(item.clone());
            continue;
        }
        let content = item
            .get("text")
            .and_then(|t| t.get("content"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ApiError::validation(format!(
                    "{path}[{i}].text.content should be defined, instead was `undefined`."
                ))
            })?;
        let len = utf16_len(content);
        if len > MAX_TEXT {
            return Err(too_long(
                &format!("{path}[{i}].text.content"),
                MAX_TEXT,
                len,
            ));
        }
        let link = item
            .get("text")
            .and_then(|t| t.get("link"))
            .filter(|l| !l.is_null());
        out.push(text_object(content, link));
    }
    Ok(Value::Array(out))
}

fn option(
    ds: Option<&mut DataSource>,
    index: usize,
    value: &Value,
    path: &str,
    may_create: bool,
) -> Result<Value, ApiError> {
    let ds = ds.ok_or_else(|| ApiError::validation("data source vanished"))?;
    let schema = &mut ds.properties[index];
    let name = value.get("name").and_then(Value::as_str);
    let id = value.get("id").and_then(Value::as_str);
    let options = schema.options();
    let found = options.iter().find(|o| {
        (name.is_some() && o.get("name").and_then(Value::as_str) == name)
            || (id.is_some() && o.get("id").and_then(Value::as_str) == id)
    });
    if let Some(found) = found {
        return Ok(found.clone());
    }
    let Some(name) = name else {
        return Err(ApiError::validation(format!(
            "{path}: no option with id {}.",
            id.unwrap_or("(none)")
        )));
    };
    if !may_create {
        return Err(ApiError::validation(format!(
            "Invalid status option. Status option \"{name}\" does not exist\"."
        )));
    }
    if name.contains(',') {
        return Err(ApiError::validation(format!(
            "Invalid select option, commas not allowed: {name}"
        )));
    }
    if utf16_len(name) > 100 {
        return Err(too_long(&format!("{path}.name"), 100, utf16_len(name)));
    }
    let created = json!({"id": ids::new_property_id(), "name": name, "color": "default"});
    let mut options = options;
    options.push(created.clone());
    schema.config["options"] = Value::Array(options);
    Ok(created)
}

/// A date or date-time as Notion accepts it.
pub fn parse_date(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|dt| dt.and_utc());
    }
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(dt.with_timezone(&chrono::Utc));
    }
    // A date-time without offset is UTC.
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| chrono::NaiveDateTime::parse_from_str(s, f).ok())
    .map(|dt| dt.and_utc())
}

fn date(value: &Value, path: &str) -> Result<Value, ApiError> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    let start = value.get("start").and_then(Value::as_str).ok_or_else(|| {
        ApiError::validation(format!(
            "{path}.start should be defined, instead was `undefined`."
        ))
    })?;
    if parse_date(start).is_none() {
        return Err(ApiError::validation(format!(
            "{path}.start should be a valid ISO 8601 date string, instead was `\"{start}\"`."
        )));
    }
    let end = value.get("end").cloned().unwrap_or(Value::Null);
    if let Some(e) = end.as_str()
        && parse_date(e).is_none()
    {
        return Err(ApiError::validation(format!(
            "{path}.end should be a valid ISO 8601 date string, instead was `\"{e}\"`."
        )));
    }
    // Notion answers `time_zone: null`, with the offset folded into the times.
    Ok(json!({"start": start, "end": end, "time_zone": null}))
}

fn relation(
    state: &State,
    ds_id: &str,
    index: usize,
    value: &Value,
    path: &str,
) -> Result<Value, ApiError> {
    let items = array(value, path)?;
    let target = state.data_sources[ds_id].properties[index]
        .config
        .get("data_source_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut out = Vec::new();
    for item in items {
        let id = item
            .get("id")
            .and_then(Value::as_str)
            .and_then(ids::normalize)
            .ok_or_else(|| ApiError::validation(format!("{path}[].id should be a valid uuid.")))?;
        let page = state.page(&id).ok_or_else(|| {
            ApiError::validation(format!(
                "Relation page {id} does not exist or is not shared."
            ))
        })?;
        if target.as_deref().is_some_and(|t| t != page.data_source_id) {
            return Err(ApiError::validation(format!(
                "Relation page {id} is not in the related data source."
            )));
        }
        out.push(json!({"id": id}));
    }
    Ok(Value::Array(out))
}
