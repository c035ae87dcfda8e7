//! Non-secret settings.
//!
//! Every setting has one name: the environment variable `CRM_<NAME>`, or `<name>` in
//! lower case as a top-level key of the local TOML file. Sources are layered: built-in
//! defaults, then the TOML file, then the environment, so one variable can override a
//! file for a single run.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use crm_domain::NotionId;

use crate::secrets::{Secrets, SecretsFormatError};

pub const ENV_PREFIX: &str = "CRM_";

/// Variables with the prefix that are not settings (they say where settings are).
const META_VARIABLES: &[&str] = &["CONFIG_FILE"];

/// Every configuration problem found, each naming its setting. Reported together so a
/// first deploy needs one fix-and-retry, not one per setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {}", join(.problems))]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

impl ConfigError {
    fn single(setting: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            problems: vec![Problem {
                setting: setting.into(),
                reason: reason.into(),
            }],
        }
    }

    /// Whether one of the problems is about `setting` (its environment variable name).
    pub fn mentions(&self, setting: &str) -> bool {
        self.problems.iter().any(|p| p.setting.starts_with(setting))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where the user fixes it: `CRM_STALE_DAYS`, or `stale_days in crm.toml`.
    pub setting: String,
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.setting, self.reason)
    }
}

fn join(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Where the secrets come from.
#[derive(Debug, Clone)]
pub enum SecretsLocation {
    /// A Secrets Manager secret, by ARN (in AWS: the only way).
    SecretsManager { arn: String },
    /// The `[secrets]` table of the local TOML file.
    Inline(Box<Secrets>),
}

#[derive(Debug, Clone)]
pub struct NotionSettings {
    pub base_url: String,
    /// Sustained requests per second; Notion allows an average of 3.
    pub rate_per_second: f64,
    /// Requests that may go out at once before pacing starts.
    pub burst: u32,
    pub contacts: NotionId,
    pub deals: NotionId,
    pub activities: NotionId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactProperties {
    pub name: String,
    pub email: String,
    pub company: String,
    pub phone: String,
    pub status: String,
    pub source: String,
    pub last_contacted: String,
    pub notes: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DealProperties {
    pub name: String,
    pub stage: String,
    pub value: String,
    pub contact: String,
    pub owner: String,
    pub close_date: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityProperties {
    pub title: String,
    pub kind: String,
    pub date: String,
    pub contact: String,
    pub deal: String,
    pub details: String,
    /// Holds the submission an Activity logs, so a retry finds it by an exact match.
    pub submission: String,
}

/// Names of the Notion properties, as the user's workspace spells them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyNames {
    pub contacts: ContactProperties,
    pub deals: DealProperties,
    pub activities: ActivityProperties,
}

/// A deal stage that is announced in Slack, and the name of the Slack webhook (a key of
/// the secret's `slack_webhooks`) it goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageRoute {
    pub stage: String,
    pub destination: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleSettings {
    pub days: u32,
    pub open_statuses: Vec<String>,
    pub timezone: Tz,
    /// The Slack destination of the daily digest.
    pub destination: String,
}

/// How leads are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadSettings {
    /// Status of a contact created from a lead.
    pub new_status: String,
    /// Type of the Activity logged for each submission.
    pub activity_type: String,
    /// Accept the older plain signature (bare hex HMAC of the body) on `POST /lead`.
    pub accept_plain_signature: bool,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub table_name: String,
    pub secrets: SecretsLocation,
    pub secrets_ttl: Duration,
    pub notion: NotionSettings,
    pub properties: PropertyNames,
    pub routes: Vec<StageRoute>,
    pub stale: StaleSettings,
    pub leads: LeadSettings,
}

/// One raw value and where it came from, for error messages.
#[derive(Debug, Clone)]
struct Raw {
    value: String,
    origin: Origin,
}

#[derive(Debug, Clone)]
enum Origin {
    Default,
    File(String),
    Env,
}

impl Raw {
    fn location(&self, name: &str) -> String {
        match &self.origin {
            Origin::Env | Origin::Default => format!("{ENV_PREFIX}{name}"),
            Origin::File(file) => format!("{} in {file}", name.to_ascii_lowercase()),
        }
    }
}

/// Defaults: the README's property names and the documented behaviour.
const DEFAULTS: &[(&str, &str)] = &[
    ("NOTION_BASE_URL", "https://api.notion.com"),
    ("NOTION_RATE_PER_SECOND", "3"),
    ("NOTION_BURST", "3"),
    ("SECRETS_TTL_SECONDS", "300"),
    ("CONTACTS_NAME_PROPERTY", "Name"),
    ("CONTACTS_EMAIL_PROPERTY", "Email"),
    ("CONTACTS_COMPANY_PROPERTY", "Company"),
    ("CONTACTS_PHONE_PROPERTY", "Phone"),
    ("CONTACTS_STATUS_PROPERTY", "Status"),
    ("CONTACTS_SOURCE_PROPERTY", "Source"),
    ("CONTACTS_LAST_CONTACTED_PROPERTY", "Last Contacted"),
    ("CONTACTS_NOTES_PROPERTY", "Notes"),
    ("DEALS_NAME_PROPERTY", "Deal Name"),
    ("DEALS_STAGE_PROPERTY", "Stage"),
    ("DEALS_VALUE_PROPERTY", "Value"),
    ("DEALS_CONTACT_PROPERTY", "Contact"),
    ("DEALS_OWNER_PROPERTY", "Owner"),
    ("DEALS_CLOSE_DATE_PROPERTY", "Close Date"),
    ("ACTIVITIES_TITLE_PROPERTY", "Title"),
    ("ACTIVITIES_TYPE_PROPERTY", "Type"),
    ("ACTIVITIES_DATE_PROPERTY", "Date"),
    ("ACTIVITIES_CONTACT_PROPERTY", "Contact"),
    ("ACTIVITIES_DEAL_PROPERTY", "Deal"),
    ("ACTIVITIES_DETAILS_PROPERTY", "Details"),
    ("ACTIVITIES_SUBMISSION_PROPERTY", "Submission ID"),
    ("SLACK_ROUTES", "won,lost,negotiation"),
    ("STALE_DAYS", "30"),
    ("STALE_STATUSES", "new lead"),
    ("STALE_DESTINATION", "digest"),
    ("TIMEZONE", "UTC"),
    ("NEW_LEAD_STATUS", "new lead"),
    ("ACTIVITY_FORM_TYPE", "form submission"),
    ("ACCEPT_PLAIN_SIGNATURE", "false"),
];

/// Settings without a default.
const REQUIRED: &[&str] = &[
    "TABLE_NAME",
    "CONTACTS_DATA_SOURCE_ID",
    "DEALS_DATA_SOURCE_ID",
    "ACTIVITIES_DATA_SOURCE_ID",
];

/// Optional settings without a default.
const OPTIONAL: &[&str] = &["SECRET_ARN"];

/// Every setting that has a default, at its default.
fn defaults() -> BTreeMap<String, Raw> {
    DEFAULTS
        .iter()
        .map(|(k, v)| {
            (
                (*k).to_owned(),
                Raw {
                    value: (*v).to_owned(),
                    origin: Origin::Default,
                },
            )
        })
        .collect()
}

/// The property names used when none are configured (listed in the README).
pub fn default_property_names() -> PropertyNames {
    let raw = defaults();
    let mut parser = Parser {
        raw: &raw,
        problems: Vec::new(),
    };
    // Every property name has a default, so this cannot come back empty.
    parser
        .properties()
        .unwrap_or_else(|| unreachable!("property names all have defaults"))
}

/// Every setting's environment variable name (`CRM_…`).
pub fn setting_names() -> Vec<String> {
    DEFAULTS
        .iter()
        .map(|(n, _)| *n)
        .chain(REQUIRED.iter().copied())
        .chain(OPTIONAL.iter().copied())
        .map(|n| format!("{ENV_PREFIX}{n}"))
        .collect()
}

/// The settings that have no default.
pub fn required_setting_names() -> Vec<String> {
    REQUIRED
        .iter()
        .map(|n| format!("{ENV_PREFIX}{n}"))
        .collect()
}

fn is_known(name: &str) -> bool {
    DEFAULTS.iter().any(|(n, _)| *n == name) || REQUIRED.contains(&name) || OPTIONAL.contains(&name)
}

impl Settings {
    /// Loads from the process environment, over the TOML file named by
    /// `CRM_CONFIG_FILE` when that is set.
    pub fn from_env() -> Result<Self, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        let file = env
            .iter()
            .find(|(k, _)| k == "CRM_CONFIG_FILE")
            .map(|(_, v)| PathBuf::from(v));
        match file {
            Some(path) => Self::from_file_and_env(&path, env),
            None => Self::load(None, env),
        }
    }

    /// Loads the TOML file at `path`, with `env` layered over it.
    pub fn from_file_and_env(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::single(
                format!("{ENV_PREFIX}CONFIG_FILE"),
                format!("cannot read {name}: {e}"),
            )
        })?;
        Self::load(Some((&name, &text)), env)
    }

    /// Loads from an optional TOML document (`(file name, contents)`) and environment
    /// variables; variables without the `CRM_` prefix are ignored.
    pub fn load(
        file: Option<(&str, &str)>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut raw = defaults();
        let mut problems = Vec::new();
        let mut inline_secrets = None;

        if let Some((file_name, text)) = file {
            let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
                ConfigError::single(file_name, format!("not valid TOML: {}", e.message()))
            })?;
            for (key, value) in table {
                if key == "secrets" {
                    inline_secrets = Some((file_name.to_owned(), value));
                    continue;
                }
                let name = key.to_ascii_uppercase();
                let setting = format!("{key} in {file_name}");
                if !is_known(&name) {
                    problems.push(Problem {
                        setting,
                        reason: "unknown setting".into(),
                    });
                    continue;
                }
                match toml_scalar(&value) {
                    Some(value) => {
                        raw.insert(
                            name,
                            Raw {
                                value,
                                origin: Origin::File(file_name.to_owned()),
                            },
                        );
                    }
                    None => problems.push(Problem {
                        setting,
                        reason: "expected a string, number, boolean or list of strings".into(),
                    }),
                }
            }
        }

        for (key, value) in env {
            let Some(name) = key.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if META_VARIABLES.contains(&name) {
                continue;
            }
            if !is_known(name) {
                // A misspelt variable would otherwise be silently ignored and its
                // default used: the classic "why is my setting not applied".
                problems.push(Problem {
                    setting: key.clone(),
                    reason: "unknown setting".into(),
                });
                continue;
            }
            raw.insert(
                name.to_owned(),
                Raw {
                    value,
                    origin: Origin::Env,
                },
            );
        }

        let mut p = Parser {
            raw: &raw,
            problems,
        };
        let settings = p.settings(inline_secrets);
        if p.problems.is_empty() {
            // `settings` is complete whenever no problem was recorded.
            settings.ok_or_else(|| ConfigError::single("configuration", "incomplete"))
        } else {
            Err(ConfigError {
                problems: p.problems,
            })
        }
    }
}

fn toml_scalar(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        toml::Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map(|v| v.join(",")),
        _ => None,
    }
}

/// Parses each setting, recording every problem instead of stopping at the first.
struct Parser<'a> {
    raw: &'a BTreeMap<String, Raw>,
    problems: Vec<Problem>,
}

impl Parser<'_> {
    fn problem(&mut self, name: &str, reason: impl Into<String>) {
        let setting = match self.raw.get(name) {
            Some(raw) => raw.location(name),
            None => format!("{ENV_PREFIX}{name}"),
        };
        self.problems.push(Problem {
            setting,
            reason: reason.into(),
        });
    }

    /// The trimmed value, or a "missing" problem when absent or blank.
    fn required(&mut self, name: &str) -> Option<String> {
        match self.raw.get(name).map(|r| r.value.trim().to_owned()) {
            Some(v) if !v.is_empty() => Some(v),
            _ => {
                self.problem(name, "missing (required)");
                None
            }
        }
    }

    fn optional(&self, name: &str) -> Option<String> {
        self.raw
            .get(name)
            .map(|r| r.value.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn parse<T>(&mut self, name: &str, f: impl FnOnce(&str) -> Result<T, String>) -> Option<T> {
        let value = self.required(name)?;
        match f(&value) {
            Ok(v) => Some(v),
            Err(reason) => {
                self.problem(name, reason);
                None
            }
        }
    }

    fn notion_id(&mut self, name: &str) -> Option<NotionId> {
        self.parse(name, |v| {
            NotionId::parse(v).map_err(|e| format!("{e} (got {v:?})"))
        })
    }

    fn list(&mut self, name: &str) -> Option<Vec<String>> {
        self.parse(name, |v| {
            let items: Vec<String> = v
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
            if items.is_empty() {
                Err("expected a comma-separated list with at least one entry".into())
            } else {
                Ok(items)
            }
        })
    }

    fn settings(&mut self, inline_secrets: Option<(String, toml::Value)>) -> Option<Settings> {
        let table_name = self.parse("TABLE_NAME", |v| {
            let ok = (3..=255).contains(&v.len())
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
            if ok {
                Ok(v.to_owned())
            } else {
                Err(format!(
                    "expected a DynamoDB table name (3-255 of a-z, A-Z, 0-9, _ - .), got {v:?}"
                ))
            }
        });
        let secrets = self.secrets(inline_secrets);
        let secrets_ttl = self.parse("SECRETS_TTL_SECONDS", |v| match v.parse::<u64>() {
            Ok(s) if s <= 86_400 => Ok(Duration::from_secs(s)),
            _ => Err(format!("expected whole seconds from 0 to 86400, got {v:?}")),
        });
        let notion = self.notion();
        let properties = self.properties();
        let routes = self.routes();
        let stale = self.stale();
        let leads = self.leads();
        Some(Settings {
            table_name: table_name?,
            secrets: secrets?,
            secrets_ttl: secrets_ttl?,
            notion: notion?,
            properties: properties?,
            routes: routes?,
            stale: stale?,
            leads: leads?,
        })
    }

    fn leads(&mut self) -> Option<LeadSettings> {
        let new_status = self.required("NEW_LEAD_STATUS");
        let activity_type = self.required("ACTIVITY_FORM_TYPE");
        let accept_plain_signature = self.parse("ACCEPT_PLAIN_SIGNATURE", |v| {
            match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Ok(true),
                "false" | "0" | "no" => Ok(false),
                _ => Err(format!("expected true or false, got {v:?}")),
            }
        });
        Some(LeadSettings {
            new_status: new_status?,
            activity_type: activity_type?,
            accept_plain_signature: accept_plain_signature?,
        })
    }

    fn secrets(&mut self, inline: Option<(String, toml::Value)>) -> Option<SecretsLocation> {
        if let Some(arn) = self.optional("SECRET_ARN") {
            if !arn.starts_with("arn:") {
                self.problem(
                    "SECRET_ARN",
                    format!(
                        "expected a Secrets Manager ARN (arn:aws:secretsmanager:…), got {arn:?}"
                    ),
                );
                return None;
            }
            return Some(SecretsLocation::SecretsManager { arn });
        }
        match inline {
            Some((file, value)) => match Secrets::from_toml(&value) {
                Ok(secrets) => Some(SecretsLocation::Inline(Box::new(secrets))),
                Err(SecretsFormatError { field, reason }) => {
                    self.problems.push(Problem {
                        setting: format!("secrets.{field} in {file}"),
                        reason,
                    });
                    None
                }
            },
            None => {
                self.problems.push(Problem {
                    setting: format!("{ENV_PREFIX}SECRET_ARN"),
                    reason: "missing (required unless the config file has a [secrets] table)"
                        .into(),
                });
                None
            }
        }
    }

    fn notion(&mut self) -> Option<NotionSettings> {
        let base_url = self.parse("NOTION_BASE_URL", |v| {
            if v.starts_with("https://") || v.starts_with("http://") {
                Ok(v.trim_end_matches('/').to_owned())
            } else {
                Err(format!("expected an http(s) URL, got {v:?}"))
            }
        });
        let rate = self.parse("NOTION_RATE_PER_SECOND", |v| match v.parse::<f64>() {
            Ok(r) if r.is_finite() && r > 0.0 && r <= 100.0 => Ok(r),
            _ => Err(format!(
                "expected requests per second above 0 and at most 100, got {v:?}"
            )),
        });
        let burst = self.parse("NOTION_BURST", |v| match v.parse::<u32>() {
            Ok(b) if (1..=100).contains(&b) => Ok(b),
            _ => Err(format!("expected a whole number from 1 to 100, got {v:?}")),
        });
        let contacts = self.notion_id("CONTACTS_DATA_SOURCE_ID");
        let deals = self.notion_id("DEALS_DATA_SOURCE_ID");
        let activities = self.notion_id("ACTIVITIES_DATA_SOURCE_ID");
        Some(NotionSettings {
            base_url: base_url?,
            rate_per_second: rate?,
            burst: burst?,
            contacts: contacts?,
            deals: deals?,
            activities: activities?,
        })
    }

    fn properties(&mut self) -> Option<PropertyNames> {
        let mut p = |name: &str| self.required(name);
        let contacts = ContactProperties {
            name: p("CONTACTS_NAME_PROPERTY")?,
            email: p("CONTACTS_EMAIL_PROPERTY")?,
            company: p("CONTACTS_COMPANY_PROPERTY")?,
            phone: p("CONTACTS_PHONE_PROPERTY")?,
            status: p("CONTACTS_STATUS_PROPERTY")?,
            source: p("CONTACTS_SOURCE_PROPERTY")?,
            last_contacted: p("CONTACTS_LAST_CONTACTED_PROPERTY")?,
            notes: p("CONTACTS_NOTES_PROPERTY")?,
        };
        let deals = DealProperties {
            name: p("DEALS_NAME_PROPERTY")?,
            stage: p("DEALS_STAGE_PROPERTY")?,
            value: p("DEALS_VALUE_PROPERTY")?,
            contact: p("DEALS_CONTACT_PROPERTY")?,
            owner: p("DEALS_OWNER_PROPERTY")?,
            close_date: p("DEALS_CLOSE_DATE_PROPERTY")?,
        };
        let activities = ActivityProperties {
            title: p("ACTIVITIES_TITLE_PROPERTY")?,
            kind: p("ACTIVITIES_TYPE_PROPERTY")?,
            date: p("ACTIVITIES_DATE_PROPERTY")?,
            contact: p("ACTIVITIES_CONTACT_PROPERTY")?,
            deal: p("ACTIVITIES_DEAL_PROPERTY")?,
            details: p("ACTIVITIES_DETAILS_PROPERTY")?,
            submission: p("ACTIVITIES_SUBMISSION_PROPERTY")?,
        };
        Some(PropertyNames {
            contacts,
            deals,
            activities,
        })
    }

    /// `won,lost=alerts,negotiation`: a stage, optionally `=destination` (defaults to the
    /// stage's own name).
    fn routes(&mut self) -> Option<Vec<StageRoute>> {
        self.parse("SLACK_ROUTES", |v| {
            let mut routes: Vec<StageRoute> = Vec::new();
            for entry in v.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                let (stage, destination) = match entry.split_once('=') {
                    Some((s, d)) => (s.trim(), d.trim()),
                    None => (entry, entry),
                };
                if stage.is_empty() || destination.is_empty() {
                    return Err(format!(
                        "entry {entry:?}: expected stage or stage=destination"
                    ));
                }
                let stage = stage.to_lowercase();
                if routes.iter().any(|r| r.stage == stage) {
                    return Err(format!("stage {stage:?} is routed twice"));
                }
                routes.push(StageRoute {
                    stage,
                    destination: destination.to_owned(),
                });
            }
            Ok(routes)
        })
    }

    fn stale(&mut self) -> Option<StaleSettings> {
        let days = self.parse("STALE_DAYS", |v| match v.parse::<u32>() {
            Ok(d) if (1..=3650).contains(&d) => Ok(d),
            _ => Err(format!(
                "expected a whole number of days from 1 to 3650, got {v:?}"
            )),
        });
        let open_statuses = self.list("STALE_STATUSES");
        let timezone = self.parse("TIMEZONE", |v| {
            v.parse::<Tz>().map_err(|_| {
                format!("expected an IANA time zone such as Europe/Berlin or America/New_York, got {v:?}")
            })
        });
        let destination = self.required("STALE_DESTINATION");
        Some(StaleSettings {
            days: days?,
            open_statuses: open_statuses?,
            timezone: timezone?,
            destination: destination?,
        })
    }
}
