//! Non-secret settings.
//!
//! Every setting has one name, in [`table`]: the environment variable `CRM_<NAME>`, or
//! `<name>` in lower case as a top-level key of the local TOML file.

mod error;
mod load;
mod parse;
mod table;

use std::time::Duration;

pub use error::{ConfigError, Problem, SecretsLocation};
pub use load::{ENV_PREFIX, required_setting_names, setting_names};
pub use parse::MAX_CAPTCHA_TIMEOUT_MS;
pub use table::{
    ActivityProperties, ContactProperties, DealProperties, FormSettings, LeadSettings,
    NotionSettings, PropertyNames, RedriveSettings, ReportSettings, SlackSettings, StaleSettings,
};

/// Where a form submission is written: an Activity page of its own (Notion counts each
/// page against a Free workspace's 1,000 blocks), or a dated entry in its contact's
/// Notes (no block, one call fewer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivityLog {
    Page,
    Notes,
}

/// A deal stage that is announced in Slack, and the name of the Slack webhook (a key of
/// the secret's `slack_webhooks`) it goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageRoute {
    pub stage: String,
    pub destination: String,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub table_name: String,
    /// The deployment's name, a dimension of every metric.
    pub stack: String,
    pub secrets: SecretsLocation,
    pub secrets_ttl: Duration,
    pub notion: NotionSettings,
    pub properties: PropertyNames,
    pub routes: Vec<StageRoute>,
    pub slack: SlackSettings,
    pub stale: StaleSettings,
    pub leads: LeadSettings,
    pub forms: FormSettings,
    pub redrive: RedriveSettings,
    pub report: ReportSettings,
}

impl Settings {
    /// Every group parsed, so each group's problems are recorded even when an earlier
    /// one failed.
    fn parse(values: &mut load::Values<'_>, secrets: Option<SecretsLocation>) -> Option<Self> {
        let basics = table::Basics::parse(values);
        let notion = NotionSettings::parse(values);
        let properties = PropertyNames::parse(values);
        let slack = SlackSettings::parse(values);
        let stale = StaleSettings::parse(values);
        let leads = LeadSettings::parse(values);
        let forms = FormSettings::parse(values);
        let redrive = RedriveSettings::parse(values);
        let report = ReportSettings::parse(values);
        let table::Basics {
            table_name,
            stack,
            secrets_ttl,
            routes,
        } = basics?;
        Some(Self {
            table_name,
            stack,
            secrets: secrets?,
            secrets_ttl,
            notion: notion?,
            properties: properties?,
            routes,
            slack: slack?,
            stale: stale?,
            leads: leads?,
            forms: forms?,
            redrive: redrive?,
            report: report?,
        })
    }
}
