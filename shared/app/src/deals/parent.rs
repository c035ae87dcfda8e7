//! Which page events are about Deals, told from the event's `data.parent`.
//!
//! Notion names a row's parent in two shapes, chosen by the API version the
//! subscription was created with (the `api_version` field of each event):
//! * 2025-09-03 and later: `{"id": <database>, "type": "database", "data_source_id": <ds>}`;
//! * 2022-06-28: `{"id": <database>, "type": "database"}` — no data source at all.
//!
//! So an event is about Deals when it names the Deals data source, or, in the older
//! shape, the database that holds it. That database id is learnt from the data source's
//! schema (its `parent`, see `schema.rs`), which the worker reads; until it is known, an
//! older-shape event is let through and the worker, which knows, decides.

use crm_domain::NotionId;
use crm_notion::EventParent;

/// The first API version whose page events name their data source.
pub const FIRST_DATA_SOURCE_VERSION: &str = "2025-09-03";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relevance {
    /// The Deals data source, or its database in the older shape.
    Deals,
    /// A database in the older shape while the Deals database id is not yet known.
    Undecided,
    /// Not Deals.
    Other(Mismatch),
}

/// Why an event is not about Deals, as the operator needs to hear it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// The configured "data source" id is the id of the database the event's data
    /// source sits in: the operator pasted the database id.
    ConfiguredDatabaseId { data_source: String },
    /// Another data source, database, page or workspace (`data_source`: the data source
    /// the event names, when it names one).
    Elsewhere {
        kind: String,
        id: String,
        data_source: Option<String>,
    },
}

/// Classifies a page event's parent against the configured Deals data source and, once
/// known, the database that holds it.
pub fn classify(
    parent: Option<&EventParent>,
    deals_data_source: &NotionId,
    deals_database: Option<&NotionId>,
) -> Relevance {
    let Some(parent) = parent else {
        return Relevance::Other(Mismatch::Elsewhere {
            kind: "none".into(),
            id: String::new(),
            data_source: None,
        });
    };
    let parent_id = NotionId::parse(&parent.id).ok();
    if let Some(ds) = &parent.data_source_id {
        if NotionId::parse(ds).ok().as_ref() == Some(deals_data_source) {
            return Relevance::Deals;
        }
        if parent_id.as_ref() == Some(deals_data_source) {
            return Relevance::Other(Mismatch::ConfiguredDatabaseId {
                data_source: ds.clone(),
            });
        }
    } else if parent.kind == "database" {
        match (deals_database, parent_id.as_ref()) {
            (Some(db), Some(id)) if db == id => return Relevance::Deals,
            (None, Some(_)) => return Relevance::Undecided,
            _ => {}
        }
    }
    Relevance::Other(Mismatch::Elsewhere {
        kind: parent.kind.clone(),
        id: parent.id.clone(),
        data_source: parent.data_source_id.clone(),
    })
}

/// Whether an event's payload is in a shape older than data sources.
pub fn is_before_data_sources(api_version: Option<&str>) -> bool {
    // ISO dates compare correctly as strings.
    api_version.is_some_and(|v| v < FIRST_DATA_SOURCE_VERSION)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DS: &str = "1f2a4d0e-8c5b-4e4a-9d64-7a3f2b1c0d9e";
    const DB: &str = "d9824bdc-8445-4327-be8b-5b47500af6ce";
    const OTHER: &str = "0ef2e755-4912-8096-91c1-00376a88a5ca";

    fn parent(id: &str, kind: &str, ds: Option<&str>) -> EventParent {
        EventParent {
            id: id.into(),
            kind: kind.into(),
            data_source_id: ds.map(Into::into),
        }
    }

    fn id(s: &str) -> NotionId {
        NotionId::parse(s).unwrap()
    }

    #[test]
    fn the_current_shape_names_the_data_source() {
        let p = parent(DB, "database", Some(&DS.replace('-', "")));
        assert_eq!(classify(Some(&p), &id(DS), None), Relevance::Deals);
        let other = parent(OTHER, "database", Some(OTHER));
        assert!(matches!(
            classify(Some(&other), &id(DS), Some(&id(DB))),
            Relevance::Other(Mismatch::Elsewhere { .. })
        ));
    }

    #[test]
    fn the_older_shape_names_the_database_once_it_is_known() {
        let p = parent(DB, "database", None);
        assert_eq!(classify(Some(&p), &id(DS), None), Relevance::Undecided);
        assert_eq!(classify(Some(&p), &id(DS), Some(&id(DB))), Relevance::Deals);
        let other = parent(OTHER, "database", None);
        assert!(matches!(
            classify(Some(&other), &id(DS), Some(&id(DB))),
            Relevance::Other(Mismatch::Elsewhere { .. })
        ));
        let page = parent(OTHER, "page", None);
        assert!(matches!(
            classify(Some(&page), &id(DS), None),
            Relevance::Other(_)
        ));
    }

    #[test]
    fn a_database_id_configured_as_the_data_source_is_named() {
        let p = parent(DB, "database", Some(DS));
        assert_eq!(
            classify(Some(&p), &id(DB), None),
            Relevance::Other(Mismatch::ConfiguredDatabaseId {
                data_source: DS.into()
            })
        );
    }

    #[test]
    fn versions_before_data_sources() {
        assert!(is_before_data_sources(Some("2022-06-28")));
        assert!(!is_before_data_sources(Some("2025-09-03")));
        assert!(!is_before_data_sources(Some("2026-03-11")));
        assert!(!is_before_data_sources(None));
    }
}
