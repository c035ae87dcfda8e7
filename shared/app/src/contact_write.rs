//! What writing to a contact means, in one place for form leads and imports: a new
//! contact's properties; for an existing one, only the fields that are empty (never
//! overwriting what a person entered) and Last Contacted moved forward, never back.

use std::collections::BTreeMap;

use crm_notion::{Page, PropertyValue};
use crm_settings::ContactProperties;

/// The values a write brings. `None` leaves a field as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct ContactValues<'a> {
    pub email: &'a str,
    pub name: Option<&'a str>,
    pub company: Option<&'a str>,
    pub phone: Option<&'a str>,
    /// Set on a new contact only: a person's later status is theirs.
    pub status: Option<&'a str>,
    pub source: Option<&'a str>,
    pub notes: Option<&'a str>,
    /// `YYYY-MM-DD`.
    pub last_contacted: Option<&'a str>,
}

/// The properties of a new contact.
pub fn new_contact(
    v: &ContactValues<'_>,
    p: &ContactProperties,
) -> BTreeMap<String, PropertyValue> {
    let mut properties = BTreeMap::from([(p.email.clone(), PropertyValue::email(v.email))]);
    let mut put = |name: &String, value: Option<PropertyValue>| {
        if let Some(value) = value {
            properties.insert(name.clone(), value);
        }
    };
    put(&p.name, v.name.map(PropertyValue::title));
    put(&p.status, v.status.map(PropertyValue::select));
    put(&p.source, v.source.map(PropertyValue::select));
    put(&p.last_contacted, v.last_contacted.map(PropertyValue::date));
    put(&p.company, v.company.map(PropertyValue::rich_text));
    put(&p.phone, v.phone.map(PropertyValue::phone));
    put(&p.notes, v.notes.map(PropertyValue::rich_text));
    properties
}

/// The changes `v` makes to `contact`: each of its fields that is empty on the page,
/// and Last Contacted when `v`'s is later. Empty when there is nothing to write.
pub fn fill_empty(
    contact: &Page,
    v: &ContactValues<'_>,
    p: &ContactProperties,
) -> BTreeMap<String, PropertyValue> {
    let mut changes = BTreeMap::new();
    if let Some(day) = v.last_contacted {
        let last = match contact.property(&p.last_contacted) {
            Some(PropertyValue::Date { date: Some(d) }) => d.start.get(..10).map(str::to_owned),
            _ => None,
        };
        if last.is_none_or(|l| l.as_str() < day) {
            changes.insert(p.last_contacted.clone(), PropertyValue::date(day));
        }
    }
    let empty = |name: &str| contact.property(name).is_none_or(PropertyValue::is_empty);
    let mut fill = |name: &String, value: Option<PropertyValue>| {
        if let Some(value) = value.filter(|_| empty(name)) {
            changes.insert(name.clone(), value);
        }
    };
    fill(&p.name, v.name.map(PropertyValue::title));
    fill(&p.company, v.company.map(PropertyValue::rich_text));
    fill(&p.phone, v.phone.map(PropertyValue::phone));
    fill(&p.source, v.source.map(PropertyValue::select));
    fill(&p.notes, v.notes.map(PropertyValue::rich_text));
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props() -> ContactProperties {
        crm_settings::PropertyNames::defaults().contacts
    }

    fn page(properties: serde_json::Value) -> Page {
        serde_json::from_value(json!({
            "object": "page", "id": "p1",
            "created_time": "2026-01-01T00:00:00.000Z", "last_edited_time": "2026-01-01T00:00:00.000Z",
            "parent": {"type": "data_source_id", "data_source_id": "d1"},
            "properties": properties,
        }))
        .unwrap()
    }

    #[test]
    fn only_empty_fields_are_filled_and_the_date_only_moves_forward() {
        let p = props();
        let contact = page(json!({
            "Name": {"id": "title", "type": "title", "title": [{"type": "text", "text": {"content": "Ann Lee"}, "plain_text": "Ann Lee"}]},
            "Company": {"id": "c", "type": "rich_text", "rich_text": []},
            "Last Contacted": {"id": "l", "type": "date", "date": {"start": "2026-10-01"}},
        }));
        let v = ContactValues {
            email: "ann@example.com",
            name: Some("Ann L."),
            company: Some("Acme"),
            last_contacted: Some("2026-09-01"),
            ..ContactValues::default()
        };
        let changes = fill_empty(&contact, &v, &p);
        assert_eq!(
            changes.keys().collect::<Vec<_>>(),
            ["Company"],
            "{changes:?}"
        );
        let later = ContactValues {
            last_contacted: Some("2026-11-01"),
            ..v
        };
        assert!(fill_empty(&contact, &later, &p).contains_key("Last Contacted"));
    }

    #[test]
    fn a_new_contact_has_what_was_given() {
        let p = props();
        let v = ContactValues {
            email: "bo@example.com",
            status: Some("new lead"),
            notes: Some("met at a fair"),
            ..ContactValues::default()
        };
        let created = new_contact(&v, &p);
        assert_eq!(
            created.keys().collect::<Vec<_>>(),
            ["Email", "Notes", "Status"]
        );
    }
}
