//! The CRM's Notion data model, written once: the three data sources, each property's
//! default name, the setting that renames it, and its type.
//!
//! `crm setup` creates and checks data sources from this table, the Notion emulator
//! seeds its workspace from it, and the settings take their default property names from
//! it (docs/design.md, "The CRM schema").

use serde_json::{Value, json};

/// One of the three data sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    Contacts,
    Deals,
    Activities,
}

/// A property's Notion type, with what creating it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Title,
    Email,
    RichText,
    PhoneNumber,
    Date,
    /// A number shown as dollars.
    Number,
    People,
    Select(&'static [&'static str]),
    /// Deals' stage: a `select` or a `status` property (workspaces have either; the
    /// worker reads the type from the schema).
    Stage(&'static [&'static str]),
    /// A relation to another of the three data sources.
    Relation(Source),
}

impl Kind {
    /// The Notion property types that satisfy this kind.
    pub fn accepted_types(self) -> &'static [&'static str] {
        match self {
            Self::Title => &["title"],
            Self::Email => &["email"],
            Self::RichText => &["rich_text"],
            Self::PhoneNumber => &["phone_number"],
            Self::Date => &["date"],
            Self::Number => &["number"],
            Self::People => &["people"],
            Self::Select(_) => &["select"],
            Self::Stage(_) => &["select", "status"],
            Self::Relation(_) => &["relation"],
        }
    }

    /// The options a select (or stage) is created with.
    pub fn options(self) -> &'static [&'static str] {
        match self {
            Self::Select(options) | Self::Stage(options) => options,
            _ => &[],
        }
    }

    /// The property's configuration for `POST /v1/databases`. A stage is created as a
    /// `select` unless `stage_as_status`; a relation needs its target's data source id.
    pub fn create_config(self, stage_as_status: bool, relation_target: &str) -> Value {
        let options = || json!({"options": self.options().iter().map(|n| json!({"name": n})).collect::<Vec<_>>()});
        match self {
            Self::Title => json!({"title": {}}),
            Self::Email => json!({"email": {}}),
            Self::RichText => json!({"rich_text": {}}),
            Self::PhoneNumber => json!({"phone_number": {}}),
            Self::Date => json!({"date": {}}),
            Self::Number => json!({"number": {"format": "dollar"}}),
            Self::People => json!({"people": {}}),
            Self::Select(_) => json!({"select": options()}),
            Self::Stage(_) if stage_as_status => json!({"status": options()}),
            Self::Stage(_) => json!({"select": options()}),
            Self::Relation(_) => json!({"relation": {
                "data_source_id": relation_target,
                "type": "single_property",
                "single_property": {},
            }}),
        }
    }
}

/// The properties of one data source for `POST /v1/databases`: each property under the
/// name given with it, a stage as a `status` or a `select`, and each relation pointing
/// at the data source `made` says was created for its target (created before it: see
/// [`SCHEMA`]'s order).
pub fn create_properties<'a>(
    named: impl IntoIterator<Item = (Property, &'a str)>,
    stage_as_status: bool,
    made: impl Fn(Source) -> Option<String>,
) -> serde_json::Map<String, Value> {
    named
        .into_iter()
        .map(|(property, name)| {
            let target = match property.kind {
                Kind::Relation(to) => made(to).unwrap_or_default(),
                _ => String::new(),
            };
            let config = property.kind.create_config(stage_as_status, &target);
            (name.to_owned(), config)
        })
        .collect()
}

/// One property of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Property {
    /// The name used when the setting does not rename it.
    pub name: &'static str,
    /// The setting that renames it: `contacts_email_property` in the TOML file,
    /// `CRM_CONTACTS_EMAIL_PROPERTY` in the environment.
    pub setting: &'static str,
    pub kind: Kind,
    /// `Some` when a data source without it still works (`crm setup` creates it, and its
    /// check only notes it): what the product does without it.
    pub without: Option<&'static str>,
}

impl Property {
    pub fn is_optional(&self) -> bool {
        self.without.is_some()
    }
}

/// One data source of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataSource {
    pub source: Source,
    /// The database's title when `crm setup` creates it.
    pub title: &'static str,
    pub properties: &'static [Property],
}

const fn property(name: &'static str, setting: &'static str, kind: Kind) -> Property {
    Property {
        name,
        setting,
        kind,
        without: None,
    }
}

const fn optional(
    name: &'static str,
    setting: &'static str,
    kind: Kind,
    without: &'static str,
) -> Property {
    Property {
        without: Some(without),
        ..property(name, setting, kind)
    }
}

pub const CONTACT_STATUSES: &[&str] = &["new lead", "contacted", "qualified", "customer", "lost"];
pub const STAGES: &[&str] = &[
    "lead",
    "qualified",
    "proposal",
    "negotiation",
    "won",
    "lost",
];
pub const ACTIVITY_TYPES: &[&str] = &["form submission", "call", "email", "meeting", "note"];

/// Contacts' properties.
pub mod contacts {
    use super::{CONTACT_STATUSES, Kind, Property, optional, property};

    pub const NAME: Property = property("Name", "contacts_name_property", Kind::Title);
    pub const EMAIL: Property = property("Email", "contacts_email_property", Kind::Email);
    pub const COMPANY: Property = property("Company", "contacts_company_property", Kind::RichText);
    pub const PHONE: Property = property("Phone", "contacts_phone_property", Kind::PhoneNumber);
    pub const STATUS: Property = property(
        "Status",
        "contacts_status_property",
        Kind::Select(CONTACT_STATUSES),
    );
    pub const SOURCE: Property = property(
        "Source",
        "contacts_source_property",
        Kind::Select(&["website"]),
    );
    pub const LAST_CONTACTED: Property = property(
        "Last Contacted",
        "contacts_last_contacted_property",
        Kind::Date,
    );
    pub const NOTES: Property = property("Notes", "contacts_notes_property", Kind::RichText);
    /// Who looks after the lead: with a Slack bot token, each owner gets their stale
    /// leads as a DM.
    pub const OWNER: Property = optional(
        "Owner",
        "contacts_owner_property",
        Kind::People,
        "every stale lead goes to the channel's digest; with it, each owner gets their own by DM",
    );
}

/// Deals' properties.
pub mod deals {
    use super::{Kind, Property, STAGES, Source, optional, property};

    pub const NAME: Property = property("Deal Name", "deals_name_property", Kind::Title);
    pub const STAGE: Property = property("Stage", "deals_stage_property", Kind::Stage(STAGES));
    pub const VALUE: Property = property("Value", "deals_value_property", Kind::Number);
    pub const CONTACT: Property = property(
        "Contact",
        "deals_contact_property",
        Kind::Relation(Source::Contacts),
    );
    pub const OWNER: Property = property("Owner", "deals_owner_property", Kind::People);
    pub const CLOSE_DATE: Property =
        property("Close Date", "deals_close_date_property", Kind::Date);
    /// When the deal entered its stage, as the worker saw it move; written by the
    /// product. Without it the weekly report reads the product's own records instead.
    pub const STAGE_SINCE: Property = optional(
        "Stage Since",
        "deals_stage_since_property",
        Kind::Date,
        "the weekly report reads when a deal entered its stage from the product's own records, and nobody sees it in Notion",
    );
}

/// Activities' properties.
pub mod activities {
    use super::{ACTIVITY_TYPES, Kind, Property, Source, property};

    pub const TITLE: Property = property("Title", "activities_title_property", Kind::Title);
    pub const TYPE: Property = property(
        "Type",
        "activities_type_property",
        Kind::Select(ACTIVITY_TYPES),
    );
    pub const DATE: Property = property("Date", "activities_date_property", Kind::Date);
    pub const CONTACT: Property = property(
        "Contact",
        "activities_contact_property",
        Kind::Relation(Source::Contacts),
    );
    pub const DEAL: Property = property(
        "Deal",
        "activities_deal_property",
        Kind::Relation(Source::Deals),
    );
    pub const DETAILS: Property =
        property("Details", "activities_details_property", Kind::RichText);
    /// Holds the submission an Activity logs, so a retry finds it by an exact match.
    pub const SUBMISSION: Property = property(
        "Submission ID",
        "activities_submission_property",
        Kind::RichText,
    );
}

/// The model, in the order the data sources must be created: each relation points at a
/// data source created before it.
pub const SCHEMA: [DataSource; 3] = [
    DataSource {
        source: Source::Contacts,
        title: "Contacts",
        properties: &[
            contacts::NAME,
            contacts::EMAIL,
            contacts::COMPANY,
            contacts::PHONE,
            contacts::STATUS,
            contacts::SOURCE,
            contacts::LAST_CONTACTED,
            contacts::NOTES,
            contacts::OWNER,
        ],
    },
    DataSource {
        source: Source::Deals,
        title: "Deals",
        properties: &[
            deals::NAME,
            deals::STAGE,
            deals::VALUE,
            deals::CONTACT,
            deals::OWNER,
            deals::CLOSE_DATE,
            deals::STAGE_SINCE,
        ],
    },
    DataSource {
        source: Source::Activities,
        title: "Activities",
        properties: &[
            activities::TITLE,
            activities::TYPE,
            activities::DATE,
            activities::CONTACT,
            activities::DEAL,
            activities::DETAILS,
            activities::SUBMISSION,
        ],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relations_point_backwards_so_creation_order_works() {
        for (i, ds) in SCHEMA.iter().enumerate() {
            for p in ds.properties {
                if let Kind::Relation(target) = p.kind {
                    let at = SCHEMA.iter().position(|d| d.source == target).unwrap();
                    assert!(at < i, "{} › {} points forward", ds.title, p.name);
                }
            }
        }
    }

    #[test]
    fn every_setting_is_distinct_and_names_its_data_source() {
        let mut seen = std::collections::BTreeSet::new();
        for ds in SCHEMA {
            for p in ds.properties {
                assert!(seen.insert(p.setting), "{} twice", p.setting);
                assert!(
                    p.setting.starts_with(&ds.title.to_ascii_lowercase())
                        && p.setting.ends_with("_property"),
                    "{}",
                    p.setting
                );
            }
        }
    }

    #[test]
    fn each_data_source_has_one_title() {
        for ds in SCHEMA {
            let titles = ds.properties.iter().filter(|p| p.kind == Kind::Title);
            assert_eq!(titles.count(), 1, "{}", ds.title);
        }
    }
}
