//! `crm setup`: create the three data sources from the schema table
//! (`crm_domain::schema`), or check existing ones and name every mismatch with its fix.
//! Property names come from the settings, so a workspace with its own column names is
//! checked against those.

use std::collections::BTreeMap;

use crm_domain::NotionId;
use crm_domain::schema::{Kind, SCHEMA, Source, create_properties};
use crm_notion::{CreateDatabase, DataSource, NotionClient, NotionError};
use crm_settings::PropertyNames;
use serde_json::Value;

/// The ids to put in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub contacts: String,
    pub deals: String,
    pub activities: String,
}

impl Created {
    pub fn id(&self, source: Source) -> &str {
        match source {
            Source::Contacts => &self.contacts,
            Source::Deals => &self.deals,
            Source::Activities => &self.activities,
        }
    }
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

/// Creates the data sources in the schema table's order (each relation points at one
/// created before it) under the page `parent_page_id`, which must be shared with the
/// integration.
pub async fn create(
    notion: &NotionClient,
    parent_page_id: &str,
    names: &PropertyNames,
) -> Result<Created, NotionError> {
    let mut ids: BTreeMap<&str, String> = BTreeMap::new();
    for ds in SCHEMA {
        let made = |target| ids.get(title(target)).cloned();
        let properties = create_properties(names.of(ds.source), false, made)
            .into_iter()
            .collect();
        let database = notion
            .create_database(&CreateDatabase {
                parent_page_id: parent_page_id.to_owned(),
                title: ds.title.into(),
                properties,
            })
            .await?;
        let first = database
            .data_sources
            .first()
            .ok_or_else(|| NotionError::Decode {
                method: "POST".into(),
                path: "/v1/databases".into(),
                detail: "the new database has no data source".into(),
            })?;
        ids.insert(ds.title, first.id.clone());
    }
    let mut id = |source| ids.remove(title(source)).unwrap_or_default();
    Ok(Created {
        contacts: id(Source::Contacts),
        deals: id(Source::Deals),
        activities: id(Source::Activities),
    })
}

fn title(source: Source) -> &'static str {
    SCHEMA
        .iter()
        .find(|ds| ds.source == source)
        .map_or("", |ds| ds.title)
}

/// Checks the three data sources; an empty list means they fit.
pub async fn check(
    notion: &NotionClient,
    ids: &Created,
    names: &PropertyNames,
    open_statuses: &[String],
) -> Result<Vec<Mismatch>, NotionError> {
    Ok(examine(notion, ids, names, open_statuses).await?.0)
}

/// [`check`], and the optional properties the data sources lack, each as a line: what
/// the product does without it, and how to add it.
pub async fn examine(
    notion: &NotionClient,
    ids: &Created,
    names: &PropertyNames,
    open_statuses: &[String],
) -> Result<(Vec<Mismatch>, Vec<String>), NotionError> {
    let mut out = Vec::new();
    let mut notes = Vec::new();
    for ds in SCHEMA {
        let actual = notion.retrieve_data_source(ids.id(ds.source)).await?;
        for (property, name) in names.of(ds.source) {
            if let Some(without) = property.without
                && !actual.properties.contains_key(name)
            {
                notes.push(format!(
                    "{} › {name} is missing (optional): without it {without}. To add it: a {} property named \"{name}\".",
                    ds.title,
                    property.kind.accepted_types()[0].replace('_', " "),
                ));
                continue;
            }
            if let Some(problem) = compare(property.kind, name, &actual, ids) {
                out.push(Mismatch {
                    data_source: ds.title,
                    property: name.to_owned(),
                    ..problem
                });
            }
        }
        if ds.source == Source::Contacts {
            missing_statuses(&actual, &names.contacts.status, open_statuses, &mut out);
        }
    }
    Ok((out, notes))
}

/// What is wrong with the property `name` of `ds`, which should be of `kind`.
fn compare(kind: Kind, name: &str, ds: &DataSource, ids: &Created) -> Option<Mismatch> {
    let mismatch = |problem: String, fix: String| Mismatch {
        data_source: "",
        property: String::new(),
        problem,
        fix,
    };
    let accepted = kind.accepted_types().join(" or ");
    let Some(actual) = ds.properties.get(name) else {
        let same_name = ds.properties.keys().find(|k| k.eq_ignore_ascii_case(name));
        let fix = match same_name {
            Some(other) => format!(
                "rename {other:?} to {name:?} (names are case-sensitive), or set the property name setting to {other:?}"
            ),
            None => format!("add a {accepted} property named {name:?}"),
        };
        return Some(mismatch("missing".into(), fix));
    };
    if !kind.accepted_types().contains(&actual.kind.as_str()) {
        return Some(mismatch(
            format!("is of type {}", actual.kind),
            format!("change its type to {accepted}"),
        ));
    }
    let Kind::Relation(target) = kind else {
        return None;
    };
    let points_at = actual
        .config
        .get("relation")
        .and_then(|r| r.get("data_source_id"))
        .and_then(Value::as_str)?;
    let same = matches!(
        (NotionId::parse(points_at), NotionId::parse(ids.id(target))),
        (Ok(x), Ok(y)) if x == y
    );
    let target = title(target);
    (!same).then(|| {
        mismatch(
            format!("relates to data source {points_at}, not {target}"),
            format!("point the relation at the {target} data source"),
        )
    })
}

/// The statuses new leads get and the digest looks for must be options of Status.
fn missing_statuses(contacts: &DataSource, status: &str, open: &[String], out: &mut Vec<Mismatch>) {
    let Some(property) = contacts.properties.get(status) else {
        return;
    };
    let have: Vec<String> = property
        .options()
        .into_iter()
        .map(|o| o.name.to_lowercase())
        .collect();
    for wanted in open.iter().filter(|w| !have.contains(&w.to_lowercase())) {
        out.push(Mismatch {
            data_source: title(Source::Contacts),
            property: status.to_owned(),
            problem: format!("has no option {wanted:?}, which new leads get and the digest looks for"),
            fix: format!("add the option {wanted:?} (or set CRM_STALE_STATUSES / CRM_NEW_LEAD_STATUS to yours)"),
        });
    }
}
