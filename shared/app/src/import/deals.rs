//! `crm import --deals`: deals from an export, each once (by name and contact), at
//! Notion's pace, resumable — the same claims and rules as contacts (see the module
//! above). A deal's contact is found by email among the Contacts, its owner among the
//! workspace's people, its stage among the Stage property's options (a select or a
//! status, read from the schema); what cannot be matched is said, never guessed.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicBool;

use crm_domain::ContactEmail;
use crm_domain::import::deals::{Deal, deal_key, match_stage};
use crm_notion::filter::{Condition, Text};
use crm_notion::{
    CreatePage, Filter, NotionError, Page, PropertyValue, QueryRequest, Sort, UpdatePage, UserRef,
};
use crm_settings::DealProperties;

use super::{ImportStore, Importer, Outcome, Report};

/// What deals are matched against, read once.
#[derive(Debug, Default)]
pub struct DealWorld {
    /// Deals already in Notion by `Deal::key` (name folded, `|`, the contact's email).
    pub deals: HashMap<String, Page>,
    /// Contact page id by canonical email.
    pub contacts: HashMap<String, String>,
    /// Whether Notion listed every deal and contact (not past its 10,000-row cap). When
    /// not, a deal or contact missing above may still be there: it is looked up one by
    /// one, as the contacts' import does, rather than made again or refused.
    pub complete: bool,
    /// The Stage property's options, and whether it is a status (else a select).
    pub stages: Vec<String>,
    pub stage_is_status: bool,
    /// The Value property's number format (`dollar`, `euro`, …), when it has one.
    pub value_format: Option<String>,
    /// People by lower-case email and by lower-case name; empty when the integration
    /// may not list users.
    pub people: HashMap<String, String>,
}

/// Where deals go.
#[derive(Debug, Clone)]
pub struct DealTarget {
    pub deals: String,
    pub properties: DealProperties,
    /// `--stage`: the export's stages (folded) and the Stage option each becomes.
    pub stage_map: Vec<(String, String)>,
}

/// A deal matched with the workspace: its contact's page, its Stage option, its owner.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matched {
    pub contact: Option<String>,
    pub stage: Option<String>,
    pub owner: Option<String>,
}

impl<S: ImportStore> Importer<S> {
    /// Reads the deals, contacts, Stage options and people once.
    pub async fn deal_world(
        &self,
        target: &DealTarget,
    ) -> Result<(DealWorld, Vec<String>), NotionError> {
        let mut notes = Vec::new();
        let existing = self.existing().await?;
        let contacts: HashMap<String, String> = existing
            .by_email
            .iter()
            .map(|(email, page)| (email.clone(), page.id.clone()))
            .collect();
        let by_id: HashMap<&str, &str> = contacts
            .iter()
            .map(|(e, id)| (id.as_str(), e.as_str()))
            .collect();
        let p = &target.properties;
        let request = QueryRequest {
            page_size: Some(100),
            sorts: Sort::oldest_first(),
            ..QueryRequest::default()
        };
        let (pages, deals_complete) = self.notion.query_all(&target.deals, &request).await?;
        let mut deals = HashMap::new();
        for page in pages.into_iter().filter(|p| !p.in_trash) {
            let Some(name) = page.property(&p.name).and_then(PropertyValue::as_text) else {
                continue;
            };
            let contact = first_contact(&page, &p.contact).and_then(|id| by_id.get(id).copied());
            deals.entry(deal_key(&name, contact)).or_insert(page);
        }
        let schema = self.notion.retrieve_data_source(&target.deals).await?;
        let stage = schema.properties.get(&p.stage);
        let stages = stage
            .map(|s| s.options().into_iter().map(|o| o.name).collect())
            .unwrap_or_default();
        let stage_is_status = stage.is_some_and(|s| s.kind == "status");
        let value_format = schema
            .properties
            .get(&p.value)
            .and_then(|v| v.number_format())
            .map(str::to_owned);
        let people = match self.notion.list_users().await {
            Ok(users) => people_index(&users),
            Err(e) if e.status() == Some(403) => {
                notes.push("the integration may not list the workspace's people (no user information capability): owners are left empty".to_owned());
                HashMap::new()
            }
            Err(e) => return Err(e),
        };
        Ok((
            DealWorld {
                deals,
                contacts,
                complete: existing.complete && deals_complete,
                stages,
                stage_is_status,
                value_format,
                people,
            },
            notes,
        ))
    }

    /// Writes every deal, like [`Importer::run`] for contacts. Rows whose contact, stage
    /// or owner cannot be matched are rejected up front, with the reason (`unmatched`).
    pub async fn run_deals(
        &self,
        run: &str,
        target: &DealTarget,
        deals: &[Deal],
        world: &DealWorld,
        stop: &AtomicBool,
        seen: impl Fn(&Deal, &Outcome),
    ) -> Report {
        self.each(deals, stop, |d| self.one_deal(run, target, d, world), seen)
            .await
    }

    /// Matches `deal` with the workspace, or says why it cannot be written as it is (a
    /// contact not imported, a stage Stage has no option for, a value in another
    /// currency than Value shows): the same for a dry run and a run, and known before
    /// anything is written, so no claim is taken and a fix in Notion lets the next run
    /// write it.
    pub async fn matched(
        &self,
        target: &DealTarget,
        deal: &Deal,
        world: &DealWorld,
    ) -> Result<Matched, Outcome> {
        let contact = match &deal.contact {
            None => None,
            Some(email) => match world.contacts.get(email.as_str()) {
                Some(id) => Some(id.clone()),
                None if !world.complete => match self.find(email).await {
                    Ok(Some(page)) => Some(page.id),
                    Ok(None) => return Err(no_contact(email)),
                    Err(e) => return Err(Outcome::Failed(e.to_string())),
                },
                None => return Err(no_contact(email)),
            },
        };
        let stage = match &deal.stage {
            None => None,
            Some(stage) => match match_stage(stage, &world.stages, &target.stage_map) {
                Some(option) => Some(option),
                None => {
                    return Err(Outcome::Rejected(format!(
                        "the stage {stage:?} is not one of Stage's options ({}): name the option with --stage \"{}=<option>\"",
                        world.stages.join(", "),
                        stage.trim()
                    )));
                }
            },
        };
        if let (Some(currency), Some(format), Some(_)) =
            (deal.currency, world.value_format.as_deref(), deal.value)
            && currency != format
        {
            return Err(Outcome::Rejected(format!(
                "the value is in {currency}, and Value shows {format}: set Value's number format to {currency} in Notion (or write the values in {format}), then run again"
            )));
        }
        let owner = deal
            .owner
            .as_ref()
            .and_then(|o| world.people.get(&o.trim().to_lowercase()).cloned());
        Ok(Matched {
            contact,
            stage,
            owner,
        })
    }

    async fn one_deal(
        &self,
        run: &str,
        target: &DealTarget,
        deal: &Deal,
        world: &DealWorld,
    ) -> Outcome {
        let Matched {
            contact: contact_id,
            stage,
            owner,
        } = match self.matched(target, deal, world).await {
            Ok(matched) => matched,
            Err(outcome) => return outcome,
        };
        let key = crate::inbox::keys::import_deal(run, &deal.key());
        let p = &target.properties;
        let mut values: BTreeMap<String, PropertyValue> = BTreeMap::new();
        values.insert(p.name.clone(), PropertyValue::title(&deal.name));
        if let Some(stage) = stage {
            let v = if world.stage_is_status {
                PropertyValue::status(stage)
            } else {
                PropertyValue::select(stage)
            };
            values.insert(p.stage.clone(), v);
        }
        if let Some(value) = deal.value {
            values.insert(p.value.clone(), PropertyValue::number(value));
        }
        if let Some(id) = &contact_id {
            values.insert(p.contact.clone(), PropertyValue::relation([id.clone()]));
        }
        if let Some(id) = owner {
            values.insert(p.owner.clone(), PropertyValue::people([id]));
        }
        if let Some(day) = deal.close_date {
            values.insert(
                p.close_date.clone(),
                PropertyValue::date(day.format("%Y-%m-%d").to_string()),
            );
        }
        self.claimed(&key, |resumed| async move {
            let found = match world.deals.get(&deal.key()) {
                Some(page) => Some(page.clone()),
                // A stopped attempt may have made it; past Notion's cap, the list may
                // have missed it (or keyed it without its contact).
                None if resumed || !world.complete => {
                    self.find_deal(target, deal, contact_id.as_deref()).await?
                }
                None => None,
            };
            match found {
                Some(page) => {
                    // Only what is empty on the page: a person's later edits are theirs.
                    let changes: BTreeMap<_, _> = values
                        .into_iter()
                        .filter(|(name, _)| page.property(name).is_none_or(PropertyValue::is_empty))
                        .collect();
                    if changes.is_empty() {
                        return Ok(Outcome::Unchanged);
                    }
                    let update = UpdatePage {
                        properties: changes,
                        in_trash: None,
                    };
                    self.notion.update_page(&page.id, &update).await?;
                    Ok(Outcome::Updated)
                }
                None => {
                    let create = CreatePage {
                        data_source_id: target.deals.clone(),
                        properties: values,
                    };
                    self.notion.create_page(&create).await?;
                    Ok(Outcome::Created)
                }
            }
        })
        .await
    }

    /// The deal an earlier, stopped attempt may have created: this name, this contact
    /// (another contact's deal of the same name is another deal).
    async fn find_deal(
        &self,
        target: &DealTarget,
        deal: &Deal,
        contact_id: Option<&str>,
    ) -> Result<Option<Page>, NotionError> {
        let p = &target.properties;
        let request = QueryRequest {
            filter: Some(Filter::property(
                &p.name,
                Condition::Title(Text::Equals(deal.name.clone())),
            )),
            page_size: Some(100),
            sorts: Sort::oldest_first(),
            ..QueryRequest::default()
        };
        let (pages, _) = self.notion.query_all(&target.deals, &request).await?;
        Ok(pages
            .into_iter()
            .filter(|page| !page.in_trash)
            .find(|page| first_contact(page, &p.contact) == contact_id))
    }
}

impl super::Unit for Deal {
    fn key(&self) -> String {
        Deal::key(self)
    }
    fn shown(&self) -> String {
        self.name.clone()
    }
    fn lines(&self) -> &[u64] {
        &self.lines
    }
}

fn no_contact(email: &ContactEmail) -> Outcome {
    Outcome::Rejected(format!(
        "no contact {} in Notion: import the contacts first",
        email.redacted()
    ))
}

/// The first page a deal's Contact relation names.
fn first_contact<'p>(page: &'p Page, property: &str) -> Option<&'p str> {
    match page.property(property) {
        Some(PropertyValue::Relation { relation, .. }) => relation.first().map(|r| r.id.as_str()),
        _ => None,
    }
}

/// People's user ids by lower-case email and by lower-case name (an export names an
/// owner either way). A name two people share names neither: that would be a guess, so
/// such an owner is counted as not found, like one the workspace does not have.
fn people_index(users: &[UserRef]) -> HashMap<String, String> {
    // People only: a bot has no `person`.
    let people: Vec<(&UserRef, &serde_json::Value)> = users
        .iter()
        .filter_map(|u| Some((u, u.person.as_ref()?)))
        .collect();
    let mut names: HashMap<String, Option<String>> = HashMap::new();
    for (user, _) in &people {
        if let Some(name) = &user.name {
            names
                .entry(name.to_lowercase())
                .and_modify(|id| *id = None)
                .or_insert_with(|| Some(user.id.clone()));
        }
    }
    let mut index: HashMap<String, String> = names
        .into_iter()
        .filter_map(|(name, id)| Some((name, id?)))
        .collect();
    for (user, person) in &people {
        if let Some(email) = person.get("email").and_then(|e| e.as_str()) {
            index.insert(email.to_lowercase(), user.id.clone());
        }
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, name: &str, email: Option<&str>) -> UserRef {
        serde_json::from_value(serde_json::json!({
            "object": "user", "id": id, "name": name, "type": "person",
            "person": email.map_or(serde_json::json!({}), |e| serde_json::json!({"email": e})),
        }))
        .unwrap()
    }

    #[test]
    fn owners_by_email_or_by_a_name_only_one_person_has() {
        let index = people_index(&[
            user("u1", "Sam Ortiz", Some("sam@example.com")),
            user("u2", "Alex Kim", Some("alex.kim@example.com")),
            user("u3", "alex kim", Some("alex.k@example.com")),
            user("u4", "No Email", None),
        ]);
        assert_eq!(index.get("sam ortiz").map(String::as_str), Some("u1"));
        assert_eq!(index.get("sam@example.com").map(String::as_str), Some("u1"));
        assert_eq!(index.get("no email").map(String::as_str), Some("u4"));
        assert_eq!(index.get("alex kim"), None, "two people have this name");
        assert_eq!(
            index.get("alex.k@example.com").map(String::as_str),
            Some("u3")
        );
    }
}
