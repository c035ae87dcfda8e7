//! Configuration and secrets, loaded once per cold start.
//!
//! * [`Settings`]: every non-secret setting, from `CRM_*` environment variables (set by
//!   `template.yaml` parameters) layered over a TOML file for local runs. Validation
//!   happens at load, so a function with a bad setting fails at start with one error
//!   naming every bad setting, instead of failing later on the first lead.
//! * [`Secrets`]: every token and signing secret, from one Secrets Manager secret (JSON)
//!   or, locally, the TOML file's `[secrets]` table. [`CachedSecrets`] re-reads it after
//!   a TTL so a rotated token takes effect without a redeploy. No secret value can reach
//!   `Debug`, `Display` or an error message.

mod aws;
mod config;
mod secrets;

pub use aws::sdk_config;
pub use config::{
    ActivityLog, ActivityProperties, ConfigError, ContactProperties, DealProperties, ENV_PREFIX,
    FormSettings, LeadSettings, MAX_CAPTCHA_TIMEOUT_MS, NotionSettings, Problem, PropertyNames,
    RedriveSettings, ReportSettings, SecretsLocation, Settings, SlackSettings, StageRoute,
    StaleSettings, required_setting_names, setting_names,
};
pub use secrets::{
    CachedSecrets, FORM_PROVIDERS, MAX_WEBHOOK_CANDIDATES, MemorySecrets, MissingSecret, Secrets,
    SecretsError, SecretsFormatError, SecretsManagerSource, SecretsSource, SecretsWriter, offer_in,
    pin_in,
};
/// The IAM actions on the secret each side of [`SecretsSource`] / [`SecretsWriter`] needs.
pub mod secret_actions {
    pub use crate::secrets::{READ_ACTIONS as READ, WRITE_ACTIONS as WRITE};
}
