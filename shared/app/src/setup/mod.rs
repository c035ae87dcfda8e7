//! `crm setup`: create the three data sources with the CRM schema, or check existing
//! ones and name every mismatch with its fix. Names come from the settings, so a
//! workspace with its own column names is checked against those.

use std::collections::BTreeMap;

use crm_domain::NotionId;
use crm_notion::{CreateDatabase, DataSource, NotionClient, NotionError};
use crm_settings::PropertyNames;
use serde_json::{Value, json};

/// The ids to put in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub contacts: String,
    pub deals: String,
    pub activities: String,
}

/// One difference between a data source and the schema the automations need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub data_source: &'static str,
    pub property: String,
    pub problem: String,
    pub fix: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} › {}: {}. Fix: {}",
            self.data_source, self.property, self.problem, self.fix
        )
    }
}

const CONTACT_STATUSES: &[&str] = &["new lead", "contacted", "qualified", "customer", "lost"];
const STAGES: &[&str] = &[
    "lead",
    "qualified",
    "proposal",
    "negotiation",
    "won",
    "lost",
];
const ACTIVITY_TYPES: &[&str] = &["form submission", "call", "email", "meeting", "note"];

fn options(names: &[&str]) -> Value {
    json!({"options": names.iter().map(|n| json!({"name": n})).collect::<Vec<_>>()})
}

/// What each data source must have: property name → accepted types.
struct Expected {
    label: &'static str,
    properties: Vec<(String, &'static [&'static str])>,
}

fn expected(names: &PropertyNames) -> [Expected; 3] {
    let c = &names.contacts;
    let d = &names.deals;
    let a = &names.activities;
    [
        Expected {
            label: "Contacts",
            properties: vec![
                (c.name.clone(), &["title"]),
                (c.email.clone(), &["email"]),
                (c.company.clone(), &["rich_text"]),
                (c.phone.clone(), &["phone_number"]),
                (c.status.clone(), &["select"]),
                (c.source.clone(), &["select"]),
                (c.last_contacted.clone(), &["date"]),
                (c.notes.clone(), &["rich_text"]),
            ],
        },
        Expected {
            label: "Deals",
            properties: vec![
                (d.name.clone(), &["title"]),
                (d.stage.clone(), &["select", "status"]),
                (d.value.clone(), &["number"]),
                (d.contact.clone(), &["relation"]),
                (d.owner.clone(), &["people"]),
                (d.close_date.clone(), &["date"]),
            ],
        },
        Expected {
            label: "Activities",
            properties: vec![
                (a.title.clone(), &["title"]),
                (a.kind.clone(), &["select"]),
                (a.date.clone(), &["date"]),
                (a.contact.clone(), &["relation"]),
                (a.deal.clone(), &["relation"]),
                (a.details.clone(), &["rich_text"]),
                (a.submission.clone(), &["rich_text"]),
            ],
        },
    ]
}

/// Creates Contacts, then Deals and Activities (whose relations point at it), under the
/// page `parent_page_id`, which must be shared with the integration.
pub async fn create(
    notion: &NotionClient,
    parent_page_id: &str,
    names: &PropertyNames,
) -> Result<Created, NotionError> {
    let c = &names.contacts;
    let contacts = notion
        .create_database(&CreateDatabase {
            parent_page_id: parent_page_id.to_owned(),
            title: "Contacts".into(),
            properties: BTreeMap::from([
                (c.name.clone(), json!({"title": {}})),
                (c.email.clone(), json!({"email": {}})),
                (c.company.clone(), json!({"rich_text": {}})),
                (c.phone.clone(), json!({"phone_number": {}})),
                (
                    c.status.clone(),
                    json!({"select": options(CONTACT_STATUSES)}),
                ),
                (c.source.clone(), json!({"select": options(&["website"])})),
                (c.last_contacted.clone(), json!({"date": {}})),
                (c.notes.clone(), json!({"rich_text": {}})),
            ]),
        })
        .await?;
    let contacts_ds = first_source(&contacts.data_sources)?;
    let relation = |ds: &str| json!({"relation": {"data_source_id": ds, "type": "single_property", "single_property": {}}});
    let d = &names.deals;
    let deals = notion
        .create_database(&CreateDatabase {
            parent_page_id: parent_page_id.to_owned(),
            title: "Deals".into(),
            properties: BTreeMap::from([
                (d.name.clone(), json!({"title": {}})),
                (d.stage.clone(), json!({"select": options(STAGES)})),
                (d.value.clone(), json!({"number": {"format": "dollar"}})),
                (d.contact.clone(), relation(&contacts_ds)),
                (d.owner.clone(), json!({"people": {}})),
                (d.close_date.clone(), json!({"date": {}})),
            ]),
        })
        .await?;
    let deals_ds = first_source(&deals.data_sources)?;
    let a = &names.activities;
    let activities = notion
        .create_database(&CreateDatabase {
            parent_page_id: parent_page_id.to_owned(),
            title: "Activities".into(),
            properties: BTreeMap::from([
                (a.title.clone(), json!({"title": {}})),
                (a.kind.clone(), json!({"select": options(ACTIVITY_TYPES)})),
                (a.date.clone(), json!({"date": {}})),
                (a.contact.clone(), relation(&contacts_ds)),
                (a.deal.clone(), relation(&deals_ds)),
                (a.details.clone(), json!({"rich_text": {}})),
                (a.submission.clone(), json!({"rich_text": {}})),
            ]),
        })
        .await?;
    Ok(Created {
        contacts: contacts_ds,
        deals: deals_ds,
        activities: first_source(&activities.data_sources)?,
    })
}

fn first_source(sources: &[crm_notion::DataSourceRef]) -> Result<String, NotionError> {
    sources
        .first()
        .map(|s| s.id.clone())
        .ok_or_else(|| NotionError::Decode {
            method: "POST".into(),
            path: "/v1/databases".into(),
            detail: "the new database has no data source".into(),
        })
}

/// Checks the three data sources; an empty list means they fit.
pub async fn check(
    notion: &NotionClient,
    ids: &Created,
    names: &PropertyNames,
    open_statuses: &[String],
) -> Result<Vec<Mismatch>, NotionError> {
    let contacts = notion.retrieve_data_source(&ids.contacts).await?;
    let deals = notion.retrieve_data_source(&ids.deals).await?;
    let activities = notion.retrieve_data_source(&ids.activities).await?;
    let [ce, de, ae] = expected(names);
    let mut out = Vec::new();
    for (expected, ds) in [(&ce, &contacts), (&de, &deals), (&ae, &activities)] {
        compare(expected, ds, &mut out);
    }
    let same = |a: &str, b: &str| matches!((NotionId::parse(a), NotionId::parse(b)), (Ok(x), Ok(y)) if x == y);
    let relation_target = |ds: &DataSource, name: &str| {
        ds.properties
            .get(name)
            .and_then(|p| p.config.get("relation"))
            .and_then(|r| r.get("data_source_id"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    for (label, ds, prop, target, target_label) in [
        (
            "Deals",
            &deals,
            &names.deals.contact,
            &ids.contacts,
            "Contacts",
        ),
        (
            "Activities",
            &activities,
            &names.activities.contact,
            &ids.contacts,
            "Contacts",
        ),
        (
            "Activities",
            &activities,
            &names.activities.deal,
            &ids.deals,
            "Deals",
        ),
    ] {
        if let Some(actual) = relation_target(ds, prop)
            && !same(&actual, target)
        {
            out.push(Mismatch {
                data_source: label,
                property: prop.clone(),
                problem: format!("relates to data source {actual}, not {target_label}"),
                fix: format!("point the relation at the {target_label} data source"),
            });
        }
    }
    if let Some(status) = contacts.properties.get(&names.contacts.status) {
        let have: Vec<String> = status
            .options()
            .into_iter()
            .map(|o| o.name.to_lowercase())
            .collect();
        for wanted in open_statuses {
            if !have.contains(&wanted.to_lowercase()) {
                out.push(Mismatch {
                    data_source: "Contacts",
                    property: names.contacts.status.clone(),
                    problem: format!("has no option {wanted:?}, which new leads get and the digest looks for"),
                    fix: format!("add the option {wanted:?} (or set CRM_STALE_STATUSES / CRM_NEW_LEAD_STATUS to yours)"),
                });
            }
        }
    }
    Ok(out)
}

fn compare(expected: &Expected, ds: &DataSource, out: &mut Vec<Mismatch>) {
    for (name, kinds) in &expected.properties {
        match ds.properties.get(name) {
            None => {
                let same_name = ds.properties.keys().find(|k| k.eq_ignore_ascii_case(name));
                out.push(Mismatch {
                    data_source: expected.label,
                    property: name.clone(),
                    problem: "missing".into(),
                    fix: match same_name {
                        Some(other) => format!("rename {other:?} to {name:?} (names are case-sensitive), or set the property name setting to {other:?}"),
                        None => format!("add a {} property named {name:?}", kinds.join(" or ")),
                    },
                });
            }
            Some(p) if !kinds.contains(&p.kind.as_str()) => out.push(Mismatch {
                data_source: expected.label,
                property: name.clone(),
                problem: format!("is of type {}", p.kind),
                fix: format!("change its type to {}", kinds.join(" or ")),
            }),
            Some(_) => {}
        }
    }
}
