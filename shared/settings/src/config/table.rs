//! The table of settings: each setting's name, default and parser, written once. The
//! structs below are generated from it, and so are the list of known names (which
//! catches a misspelt variable) and the defaults.
//!
//! A setting `stale_days` is `stale_days` in the TOML file and `CRM_STALE_DAYS` in the
//! environment.

use std::time::Duration;

use chrono_tz::Tz;
use crm_domain::NotionId;
use crm_domain::schema::{self, Property, Source};

use super::load::Values;
use super::parse::{
    activity_log, boolean, burst, burst_seconds, burst_threshold, captcha_timeout, concurrency,
    days, forms, http_url, list, minutes, notion_id, probabilities, rate_ceiling, routes,
    secrets_ttl, stage_days, table_name, text, timezone,
};

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub name: &'static str,
    /// `None`: required.
    pub default: Option<&'static str>,
}

/// A group of settings: `name: Type = ("setting", default, parser)` per field.
macro_rules! settings_group {
    (
        $(#[$meta:meta])*
        pub struct $group:ident {
            $( $(#[$fmeta:meta])* pub $field:ident: $ty:ty = ($name:expr, $default:expr, $parse:expr), )*
        }
    ) => {
        $(#[$meta])*
        pub struct $group { $( $(#[$fmeta])* pub $field: $ty, )* }

        impl $group {
            pub(super) const TABLE: &'static [Spec] =
                &[$(Spec { name: $name, default: $default },)*];

            /// Parses every field, recording each problem before giving up.
            pub(super) fn parse(values: &mut Values<'_>) -> Option<Self> {
                $( let $field = values.parse($name, $parse); )*
                Some(Self { $( $field: $field?, )* })
            }
        }
    };
}

/// A group of property names, one per property of the schema table in `crm-domain`,
/// which holds each property's setting and default name.
macro_rules! property_group {
    (
        $(#[$meta:meta])*
        pub struct $group:ident {
            $( $(#[$fmeta:meta])* pub $field:ident = $property:path, )*
        }
    ) => {
        settings_group! {
            $(#[$meta])*
            pub struct $group {
                $( $(#[$fmeta])* pub $field: String =
                    ($property.setting, Some($property.name), text), )*
            }
        }

        impl $group {
            fn defaults() -> Self {
                Self { $( $field: $property.name.to_owned(), )* }
            }

            /// Each property of the schema with the name this workspace gives it.
            fn named(&self) -> Vec<(Property, &str)> {
                vec![$( ($property, self.$field.as_str()), )*]
            }
        }
    };
}

settings_group! {
    /// What does not belong to one part.
    #[derive(Debug, Clone)]
    pub struct Basics {
        pub table_name: String = ("table_name", None, table_name),
        /// The deployment's name (the CloudFormation stack): every metric carries it, so
        /// two stacks in one account and region never set off each other's alarms.
        pub stack: String = ("stack", Some("local"), text),
        pub secrets_ttl: Duration = ("secrets_ttl_seconds", Some("300"), secrets_ttl),
        /// Stages announced in Slack, each with its destination.
        pub routes: Vec<super::StageRoute> =
            ("slack_routes", Some("won,lost,negotiation"), routes),
    }
}

settings_group! {
    /// Slack with a bot token (`slack_bot_token` in the secret): where its Web API is,
    /// and whom it tells personally.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SlackSettings {
        pub api_base: String = ("slack_api_base", Some("https://slack.com/api"), http_url),
        /// Stages whose announcement is also sent to each owner of the deal as a direct
        /// message ("ping the deal owner"); needs a bot token.
        pub dm_stages: Vec<String> = ("slack_dm_stages", Some("negotiation"), list),
        /// More messages than this for one destination within the window are posted as
        /// one summary (0: every message on its own, at once).
        pub burst_threshold: u32 = ("slack_burst_threshold", Some("5"), burst_threshold),
        /// The longest a burst is gathered, from its first message.
        pub burst_window: Duration = ("slack_burst_window_seconds", Some("60"), burst_seconds),
        /// How long a message waits for others to the same destination: a burst ends
        /// when none came for this long.
        pub burst_hold: Duration = ("slack_burst_hold_seconds", Some("10"), burst_seconds),
    }
}

settings_group! {
    #[derive(Debug, Clone, PartialEq)]
    pub struct NotionSettings {
        pub base_url: String = ("notion_base_url", Some("https://api.notion.com"), http_url),
        /// The most requests per second each process sends: `None` (`auto`) lets the
        /// pacing find whatever Notion allows (its budget depends on the workspace's
        /// plan); a number caps it, to leave room for other integrations.
        pub rate_per_second: Option<f64> =
            ("notion_rate_per_second", Some("auto"), rate_ceiling),
        /// Requests that may go out at once before pacing starts.
        pub burst: u32 = ("notion_burst", Some("3"), burst),
        /// Items the worker writes at the same time, for different contacts and deals.
        pub concurrency: u32 = ("worker_concurrency", Some("8"), concurrency),
        pub contacts: NotionId = ("contacts_data_source_id", None, notion_id),
        pub deals: NotionId = ("deals_data_source_id", None, notion_id),
        pub activities: NotionId = ("activities_data_source_id", None, notion_id),
    }
}

settings_group! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct StaleSettings {
        pub days: u32 = ("stale_days", Some("30"), days),
        pub open_statuses: Vec<String> = ("stale_statuses", Some("new lead"), list),
        pub timezone: Tz = ("timezone", Some("UTC"), timezone),
        /// The Slack destination of the daily digest.
        pub destination: String = ("stale_destination", Some("digest"), text),
    }
}

settings_group! {
    /// How leads are written.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct LeadSettings {
        /// Status of a contact created from a lead.
        pub new_status: String = ("new_lead_status", Some("new lead"), text),
        /// Type of the Activity logged for each submission.
        pub activity_type: String = ("activity_form_type", Some("form submission"), text),
        /// Accept the older plain signature (bare hex HMAC of the body) on `POST /lead`.
        pub accept_plain_signature: bool =
            ("accept_plain_signature", Some("false"), boolean),
        /// Where each submission is written: an Activity page, or its contact's Notes.
        pub activity_log: super::ActivityLog = ("activity_log", Some("page"), activity_log),
    }
}

settings_group! {
    /// Browser forms: a site's own HTML form posting straight to `/lead/form/{name}`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct FormSettings {
        /// Form name → its settings (origins, thank-you URL, field names, spam checks),
        /// as JSON (a table in the TOML file); `{}`: no browser forms.
        pub forms: std::collections::BTreeMap<String, crm_domain::browser_form::FormConfig> =
            ("browser_forms", Some("{}"), forms),
        /// How long intake waits for a captcha provider before keeping the lead unverified.
        pub captcha_timeout: Duration = ("captcha_timeout_ms", Some("3000"), captcha_timeout),
        pub turnstile_verify_url: String = (
            "turnstile_verify_url",
            Some("https://challenges.cloudflare.com/turnstile/v0/siteverify"),
            http_url
        ),
        pub hcaptcha_verify_url: String =
            ("hcaptcha_verify_url", Some("https://api.hcaptcha.com/siteverify"), http_url),
    }
}

settings_group! {
    /// The weekly pipeline report: how it weighs open deals, when a deal rots, and where
    /// it goes.
    #[derive(Debug, Clone, PartialEq)]
    pub struct ReportSettings {
        /// The chance of winning a deal in each open stage, for the weighted forecast
        /// (`stage=probability`, 0 to 1; a stage left out counts 0).
        pub probabilities: std::collections::BTreeMap<String, f64> = (
            "report_stage_probabilities",
            Some("lead=0.1,qualified=0.25,proposal=0.5,negotiation=0.75"),
            probabilities
        ),
        /// Days a deal may stay in each stage before it rots (`stage=days`; a stage left
        /// out never rots).
        pub rot_days: std::collections::BTreeMap<String, u32> = (
            "report_rotting_days",
            Some("lead=14,qualified=21,proposal=14,negotiation=10"),
            stage_days
        ),
        /// The Slack destination of the report: a key of the secret's `slack_webhooks`,
        /// or the bot's channel of that name.
        pub destination: String = ("report_destination", Some("report"), text),
    }
}

settings_group! {
    /// The redrive of work that did not finish, and who hears about it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct RedriveSettings {
        /// Work this many days old is no longer retried: it is parked and reported.
        pub give_up_days: u32 = ("redrive_give_up_days", Some("7"), days),
        /// Work not done this long after it arrived is reported, once per backlog.
        pub report_after_minutes: u32 =
            ("ops_report_after_minutes", Some("60"), minutes),
        /// Where that goes: a key of the secret's `slack_webhooks` (left out: logs only).
        pub ops_destination: String = ("ops_destination", Some("ops"), text),
    }
}

property_group! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ContactProperties {
        pub name = schema::contacts::NAME,
        pub email = schema::contacts::EMAIL,
        pub company = schema::contacts::COMPANY,
        pub phone = schema::contacts::PHONE,
        pub status = schema::contacts::STATUS,
        pub source = schema::contacts::SOURCE,
        pub last_contacted = schema::contacts::LAST_CONTACTED,
        pub notes = schema::contacts::NOTES,
        pub owner = schema::contacts::OWNER,
    }
}

property_group! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct DealProperties {
        pub name = schema::deals::NAME,
        pub stage = schema::deals::STAGE,
        pub value = schema::deals::VALUE,
        pub contact = schema::deals::CONTACT,
        pub owner = schema::deals::OWNER,
        pub close_date = schema::deals::CLOSE_DATE,
        pub stage_since = schema::deals::STAGE_SINCE,
    }
}

property_group! {
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ActivityProperties {
        pub title = schema::activities::TITLE,
        pub kind = schema::activities::TYPE,
        pub date = schema::activities::DATE,
        pub contact = schema::activities::CONTACT,
        pub deal = schema::activities::DEAL,
        pub details = schema::activities::DETAILS,
        /// Holds the submission an Activity logs, so a retry finds it by an exact match.
        pub submission = schema::activities::SUBMISSION,
    }
}

/// Names of the Notion properties, as the user's workspace spells them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyNames {
    pub contacts: ContactProperties,
    pub deals: DealProperties,
    pub activities: ActivityProperties,
}

impl PropertyNames {
    /// The schema table's names, used when none are configured.
    pub fn defaults() -> Self {
        Self {
            contacts: ContactProperties::defaults(),
            deals: DealProperties::defaults(),
            activities: ActivityProperties::defaults(),
        }
    }

    /// Each property of `source` in the schema table, with the name configured for it.
    pub fn of(&self, source: Source) -> Vec<(Property, &str)> {
        match source {
            Source::Contacts => self.contacts.named(),
            Source::Deals => self.deals.named(),
            Source::Activities => self.activities.named(),
        }
    }

    pub(super) fn parse(values: &mut Values<'_>) -> Option<Self> {
        let contacts = ContactProperties::parse(values);
        let deals = DealProperties::parse(values);
        let activities = ActivityProperties::parse(values);
        Some(Self {
            contacts: contacts?,
            deals: deals?,
            activities: activities?,
        })
    }
}

/// The secret's ARN: optional, since a local TOML file may hold the secrets inline.
pub const SECRET_ARN: Spec = Spec {
    name: "secret_arn",
    default: None,
};

/// Every row of the table.
pub fn all() -> impl Iterator<Item = Spec> {
    [
        Basics::TABLE,
        NotionSettings::TABLE,
        SlackSettings::TABLE,
        StaleSettings::TABLE,
        LeadSettings::TABLE,
        FormSettings::TABLE,
        RedriveSettings::TABLE,
        ReportSettings::TABLE,
        ContactProperties::TABLE,
        DealProperties::TABLE,
        ActivityProperties::TABLE,
        &[SECRET_ARN],
    ]
    .into_iter()
    .flatten()
    .copied()
}
