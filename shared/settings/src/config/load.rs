//! Loading: built-in defaults, then the TOML file, then the environment, so one
//! variable can override a file for a single run; every problem is collected and
//! reported together.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::Settings;
use super::error::{ConfigError, Problem, SecretsLocation};
use super::parse::Parsed;
use super::table::{self, SECRET_ARN};
use crate::secrets::{Secrets, SecretsFormatError};

pub const ENV_PREFIX: &str = "CRM_";

/// The variable that names the TOML file; it says where settings are, it is not one.
const CONFIG_FILE: &str = "CRM_CONFIG_FILE";

/// The environment variable of a setting.
fn env_name(setting: &str) -> String {
    format!("{ENV_PREFIX}{}", setting.to_ascii_uppercase())
}

/// Every setting's environment variable name (`CRM_…`).
pub fn setting_names() -> Vec<String> {
    table::all().map(|s| env_name(s.name)).collect()
}

/// The settings that have no default and must be given.
pub fn required_setting_names() -> Vec<String> {
    table::all()
        .filter(|s| s.default.is_none() && s.name != SECRET_ARN.name)
        .map(|s| env_name(s.name))
        .collect()
}

/// Raw values by setting name, each with where it came from; and the problems so far.
pub(super) struct Values<'a> {
    raw: BTreeMap<&'static str, (String, Origin<'a>)>,
    problems: Vec<Problem>,
}

#[derive(Debug, Clone, Copy)]
enum Origin<'a> {
    Default,
    #[cfg_attr(not(feature = "file"), allow(dead_code))]
    File(&'a str),
    Env,
}

impl<'a> Values<'a> {
    fn location(&self, name: &str) -> String {
        match self.raw.get(name) {
            Some((_, Origin::File(file))) => format!("{name} in {file}"),
            _ => env_name(name),
        }
    }

    /// Layers one value over the defaults, or records why it cannot be. A misspelt
    /// name is an error: otherwise its default would apply silently, the classic "why is
    /// my setting not applied".
    fn layer(
        &mut self,
        name: Option<&'static str>,
        value: Option<String>,
        origin: Origin<'a>,
        setting: String,
    ) {
        let reason = match (name, value) {
            (Some(name), Some(value)) => {
                self.raw.insert(name, (value, origin));
                return;
            }
            (None, _) => "unknown setting",
            (Some(_), None) => "expected a string, number, boolean or list of strings",
        };
        self.problems.push(Problem {
            setting,
            reason: reason.into(),
        });
    }

    fn value(&self, name: &str) -> Option<&str> {
        let (value, _) = self.raw.get(name)?;
        Some(value.trim()).filter(|v| !v.is_empty())
    }

    /// The setting parsed, or `None` with the problem recorded (a blank value is missing).
    pub(super) fn parse<T>(&mut self, name: &str, f: impl FnOnce(&str) -> Parsed<T>) -> Option<T> {
        let result = match self.value(name) {
            Some(value) => f(value),
            None => Err("missing (required)".into()),
        };
        result
            .map_err(|reason| {
                let setting = self.location(name);
                self.problems.push(Problem { setting, reason });
            })
            .ok()
    }
}

fn known(name: &str) -> Option<&'static str> {
    table::all().map(|s| s.name).find(|n| *n == name)
}

#[cfg(feature = "file")]
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
        // A table is a JSON-valued setting written the TOML way (`[browser_forms.contact]`).
        toml::Value::Table(_) => serde_json::to_string(value).ok(),
        _ => None,
    }
}

impl Settings {
    /// Loads from the process environment, over the TOML file named by
    /// `CRM_CONFIG_FILE` when that is set.
    pub fn from_env() -> Result<Self, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        let file = env.iter().find(|(k, _)| k == CONFIG_FILE);
        match file.map(|(_, v)| PathBuf::from(v)) {
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
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::single(CONFIG_FILE, format!("cannot read {name}: {e}")))?;
        Self::load(Some((&name, &text)), env)
    }

    /// Loads from an optional TOML document (`(file name, contents)`) and environment
    /// variables; variables without the `CRM_` prefix are ignored.
    pub fn load(
        file: Option<(&str, &str)>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        Self::layered(env, |values| match file {
            Some((file_name, text)) => layer_file(values, file_name, text),
            None => Ok(None),
        })
    }

    /// Loads a config a program builds (`crm serve`'s built-in one): `settings` by their
    /// names, as a config file's keys, checked and parsed as the file's would be, and its
    /// secrets as values; `env` layered over it, as over a file.
    pub fn built_in(
        name: &'static str,
        settings: impl IntoIterator<Item = (&'static str, String)>,
        secrets: Secrets,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        Self::layered(env, |values| {
            for (key, value) in settings {
                let setting = format!("{key} in {name}");
                values.layer(known(key), Some(value), Origin::File(name), setting);
            }
            Ok(Some((name, Ok(secrets))))
        })
    }

    /// The defaults, then what `first` layers (a file's settings, returning its
    /// secrets), then `env`.
    fn layered<'a>(
        env: impl IntoIterator<Item = (String, String)>,
        first: impl FnOnce(&mut Values<'a>) -> Result<InlineSecrets<'a>, ConfigError>,
    ) -> Result<Self, ConfigError> {
        let mut values = Values {
            raw: table::all()
                .filter_map(|s| Some((s.name, (s.default?.to_owned(), Origin::Default))))
                .collect(),
            problems: Vec::new(),
        };
        let inline_secrets = first(&mut values)?;
        for (key, value) in env {
            let Some(name) = key.strip_prefix(ENV_PREFIX).filter(|_| key != CONFIG_FILE) else {
                continue;
            };
            // Variables are upper case; `CRM_stale_days` is as unknown as a misspelling.
            let name = known(&name.to_ascii_lowercase()).filter(|n| env_name(n) == key);
            values.layer(name, Some(value), Origin::Env, key);
        }
        let secrets = secrets(&mut values, inline_secrets);
        match Settings::parse(&mut values, secrets) {
            Some(settings) if values.problems.is_empty() => Ok(settings),
            _ => Err(ConfigError {
                problems: values.problems,
            }),
        }
    }
}

/// The file's `[secrets]` table, parsed, and the file it came from.
type InlineSecrets<'a> = Option<(&'a str, Result<Secrets, SecretsFormatError>)>;

/// Layers a TOML document's settings into `values`; returns its `[secrets]` table.
#[cfg(feature = "file")]
fn layer_file<'a>(
    values: &mut Values<'a>,
    file_name: &'a str,
    text: &str,
) -> Result<InlineSecrets<'a>, ConfigError> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        ConfigError::single(file_name, format!("not valid TOML: {}", e.message()))
    })?;
    let mut inline = None;
    for (key, value) in table {
        if key == "secrets" {
            inline = Some((file_name, Secrets::from_toml(&value)));
            continue;
        }
        let setting = format!("{key} in {file_name}");
        values.layer(
            known(&key),
            toml_scalar(&value),
            Origin::File(file_name),
            setting,
        );
    }
    Ok(inline)
}

/// Without the `file` feature (the Lambda functions, configured by their environment
/// only), a config file is refused by name rather than read: the TOML parser stays out
/// of their bootstraps.
#[cfg(not(feature = "file"))]
fn layer_file<'a>(
    _values: &mut Values<'a>,
    file_name: &'a str,
    _text: &str,
) -> Result<InlineSecrets<'a>, ConfigError> {
    Err(ConfigError::single(
        file_name,
        "config files are read by the crm binary; a function takes CRM_ variables",
    ))
}

/// The ARN when one is set; else the file's `[secrets]` table.
fn secrets(values: &mut Values<'_>, inline: InlineSecrets<'_>) -> Option<SecretsLocation> {
    if values.value(SECRET_ARN.name).is_some() {
        return values.parse(SECRET_ARN.name, |arn| {
            if arn.starts_with("arn:") {
                Ok(SecretsLocation::SecretsManager {
                    arn: arn.to_owned(),
                })
            } else {
                Err(format!(
                    "expected a Secrets Manager ARN (arn:aws:secretsmanager:…), got {arn:?}"
                ))
            }
        });
    }
    let problem = match inline {
        Some((file, parsed)) => match parsed {
            Ok(secrets) => return Some(SecretsLocation::Inline(Box::new(secrets))),
            Err(SecretsFormatError { field, reason }) => Problem {
                setting: format!("secrets.{field} in {file}"),
                reason,
            },
        },
        None => Problem {
            setting: env_name(SECRET_ARN.name),
            reason: "missing (required unless the config file has a [secrets] table)".into(),
        },
    };
    values.problems.push(problem);
    None
}
