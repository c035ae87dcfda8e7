//! Mapping a form's labelled fields to lead fields.

use serde_json::Value;

use crate::lead::{LeadError, LeadFields};

/// Which lead field a form field's label (or key) means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Email,
    Name,
    FirstName,
    LastName,
    Company,
    Phone,
    Message,
    Utm,
}

/// Guesses the slot from a label such as "Your email", "Company name", "utm_campaign".
/// Company is tested before name, so "Company name" is a company.
pub fn slot_for(label: &str) -> Option<Slot> {
    let l = label.trim().to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| l.contains(w));
    if l.starts_with("utm_") {
        Some(Slot::Utm)
    } else if has(&["email", "e-mail"]) {
        Some(Slot::Email)
    } else if has(&["company", "organization", "organisation", "business"]) {
        Some(Slot::Company)
    } else if has(&["phone", "mobile", "telephone"]) {
        Some(Slot::Phone)
    } else if has(&["first name", "first_name", "firstname", "given name"]) {
        Some(Slot::FirstName)
    } else if has(&[
        "last name",
        "last_name",
        "lastname",
        "surname",
        "family name",
    ]) {
        Some(Slot::LastName)
    } else if has(&["name"]) {
        Some(Slot::Name)
    } else if has(&["message", "comment", "question", "help", "details", "note"]) {
        Some(Slot::Message)
    } else {
        None
    }
}

/// A scalar as text: strings as they are, numbers written out, lists of strings joined.
/// `None` for null; an error for objects and booleans, naming the field.
pub fn text(value: &Value, field: &'static str) -> Result<Option<String>, LeadError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Array(items) => Ok(Some(
            items
                .iter()
                .filter_map(|i| match i {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join(", "),
        )),
        _ => Err(LeadError::NotText { field }),
    }
}

/// Collects labelled values into lead fields; the first value for a slot wins.
#[derive(Default)]
pub struct Collector {
    fields: LeadFields,
    first: Option<String>,
    last: Option<String>,
}

impl Collector {
    pub fn put(&mut self, slot: Slot, key: &str, value: Option<String>) {
        let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
            return;
        };
        let target = match slot {
            Slot::Email => &mut self.fields.email,
            Slot::Name => &mut self.fields.name,
            Slot::FirstName => &mut self.first,
            Slot::LastName => &mut self.last,
            Slot::Company => &mut self.fields.company,
            Slot::Phone => &mut self.fields.phone,
            Slot::Message => &mut self.fields.message,
            Slot::Utm => {
                self.fields
                    .utm
                    .entry(key.trim().to_lowercase())
                    .or_insert(value);
                return;
            }
        };
        if target.is_none() {
            *target = Some(value);
        }
    }

    pub fn finish(mut self, submission_id: Option<String>) -> LeadFields {
        if self.fields.name.is_none() {
            let joined: Vec<String> = [self.first, self.last].into_iter().flatten().collect();
            if !joined.is_empty() {
                self.fields.name = Some(joined.join(" "));
            }
        }
        self.fields.submission_id = submission_id;
        self.fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_map_to_slots() {
        assert_eq!(slot_for("Your Email"), Some(Slot::Email));
        assert_eq!(slot_for("Company name"), Some(Slot::Company));
        assert_eq!(slot_for("Full name"), Some(Slot::Name));
        assert_eq!(slot_for("First name"), Some(Slot::FirstName));
        assert_eq!(slot_for("Phone number"), Some(Slot::Phone));
        assert_eq!(slot_for("How can we help?"), Some(Slot::Message));
        assert_eq!(slot_for("utm_campaign"), Some(Slot::Utm));
        assert_eq!(slot_for("Favourite colour"), None);
    }

    #[test]
    fn first_and_last_names_join_when_no_full_name() {
        let mut c = Collector::default();
        c.put(Slot::FirstName, "f", Some("Ada".into()));
        c.put(Slot::LastName, "l", Some("Lovelace".into()));
        assert_eq!(c.finish(None).name.as_deref(), Some("Ada Lovelace"));
    }
}
