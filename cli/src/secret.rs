//! `crm secret set`: fills the deployed secret field by field. Each value is asked for
//! without echo (or read from standard input when it is not a terminal), checked the
//! way the functions read it, and merged into the secret's JSON with the same
//! compare-and-set the webhook's handshake uses, so no other field and no edit made
//! meanwhile is lost. No value is ever printed.

use std::error::Error;
use std::io::{BufRead, IsTerminal, Write};

use clap::{Args, Subcommand};
use crm_settings::{FORM_PROVIDERS, Secrets, SecretsManagerSource};
use serde_json::Value;

use crate::stack::StackArg;

#[derive(Args)]
pub struct SecretArgs {
    #[command(subcommand)]
    command: SecretCommand,
}

#[derive(Subcommand)]
enum SecretCommand {
    /// Set fields of the deployed secret (without FIELD: the Notion token, the own
    /// form secret and the ops Slack webhook). FIELD is one of:
    /// notion_token, form_secrets.PROVIDER, slack_webhooks.NAME, slack_bot_token,
    /// captcha_secrets.NAME, notion_webhook_token.
    Set {
        fields: Vec<String>,
        /// The secret's ARN (else the stack's SecretArn output, else CRM_SECRET_ARN).
        #[arg(long, conflicts_with = "stack")]
        arn: Option<String>,
        #[command(flatten)]
        stack: StackArg,
    },
}

/// What `set` asks for when given no field: what a first deploy needs.
const FIRST: &[&str] = &["notion_token", "form_secrets.own", "slack_webhooks.ops"];

/// A field of the secret, parsed: a top-level token, or an entry of one of the maps.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Field {
    Top(&'static str),
    Entry(&'static str, String),
}

impl Field {
    fn parse(text: &str) -> Result<Self, String> {
        let name_ok = |k: &str| {
            !k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        match text.split_once('.') {
            None => ["notion_token", "slack_bot_token", "notion_webhook_token"]
                .into_iter()
                .find(|t| *t == text)
                .map(Field::Top),
            Some(("form_secrets", p)) if FORM_PROVIDERS.contains(&p) => {
                Some(Field::Entry("form_secrets", p.to_owned()))
            }
            Some(("slack_webhooks", k)) if name_ok(k) => {
                Some(Field::Entry("slack_webhooks", k.to_owned()))
            }
            Some(("captcha_secrets", k)) if name_ok(k) => {
                Some(Field::Entry("captcha_secrets", k.to_owned()))
            }
            _ => None,
        }
        .ok_or_else(|| {
            format!(
                "{text:?} is not a field of the secret; one of: notion_token, form_secrets.{{{}}}, slack_webhooks.NAME, slack_bot_token, captcha_secrets.NAME, notion_webhook_token",
                FORM_PROVIDERS.join(",")
            )
        })
    }

    fn name(&self) -> String {
        match self {
            Field::Top(t) => (*t).to_owned(),
            Field::Entry(group, key) => format!("{group}.{key}"),
        }
    }

    /// What the field is for, said before its value is asked.
    fn about(&self) -> String {
        match self {
            Field::Top("notion_token") => "the Notion integration's token (ntn_…), or a personal access token: every Notion call uses it".into(),
            Field::Top("slack_bot_token") => "a Slack app's bot token (xoxb-…): channels by name, owners mentioned and sent DMs, the weekly report's chart".into(),
            Field::Top(_) => "the Notion webhook's verification token: the handshake fills it in; set it only to move a subscription here".into(),
            Field::Entry("form_secrets", p) => format!("the signing secret of the {p} form route: without it the route refuses every post"),
            Field::Entry("slack_webhooks", name) => format!(
                "the incoming-webhook URL named {name} ({})",
                match name.as_str() {
                    "ops" => "alarms and work that needs a person",
                    "digest" => "the daily stale-lead digest",
                    "report" => "the weekly pipeline report",
                    "won" | "lost" | "negotiation" => "deals moved to that stage",
                    _ => "a route's destination, as CRM_SLACK_ROUTES names it",
                }
            ),
            Field::Entry(_, name) => format!("the captcha secret key for {name} (a provider, or a form's name)"),
        }
    }

    fn set(&self, document: &mut serde_json::Map<String, Value>, value: &str) {
        let value = Value::String(value.to_owned());
        match self {
            Field::Top(t) => {
                document.insert((*t).to_owned(), value);
            }
            Field::Entry(group, key) => {
                let entry = document
                    .entry(*group)
                    .or_insert_with(|| Value::Object(Default::default()));
                if !entry.is_object() {
                    *entry = Value::Object(Default::default());
                }
                if let Value::Object(map) = entry {
                    map.insert(key.clone(), value);
                }
            }
        }
    }

    /// Why the functions would not use `value` for this field, if they would not.
    fn refusal(&self, value: &str) -> Option<String> {
        let mut document = serde_json::Map::new();
        self.set(&mut document, value);
        let read = Secrets::from_json(&Value::Object(document).to_string()).ok()?;
        let name = self.name();
        read.problems
            .iter()
            .find(|p| p.field == name)
            .map(|p| format!("{name}: {}", p.reason))
    }
}

pub async fn run(args: SecretArgs) -> Result<(), Box<dyn Error>> {
    let SecretCommand::Set { fields, arn, stack } = args.command;
    let fields = if fields.is_empty() {
        FIRST
            .iter()
            .map(|f| Field::parse(f))
            .collect::<Result<Vec<_>, _>>()?
    } else {
        fields
            .iter()
            .map(|f| Field::parse(f))
            .collect::<Result<Vec<_>, _>>()?
    };
    let arn = match arn {
        Some(arn) => arn,
        None => stack.secret_arn().await?,
    };
    let mut input = Input::new();
    let mut values = Vec::new();
    for field in fields {
        eprintln!("{}: {}", field.name(), field.about());
        let value = input.hidden(&format!("{} (Enter keeps it as it is): ", field.name()))?;
        let value = value.trim().to_owned();
        if value.is_empty() {
            eprintln!("  {} kept as it is", field.name());
            continue;
        }
        if let Some(why) = field.refusal(&value) {
            return Err(format!("not set, nothing changed: {why}").into());
        }
        values.push((field, value));
    }
    if values.is_empty() {
        println!("nothing to set");
        return Ok(());
    }
    let aws = crm_settings::sdk_config().await;
    let source = SecretsManagerSource::new(aws_sdk_secretsmanager::Client::new(&aws), &arn);
    source
        .update(|document| {
            let Value::Object(map) = document else {
                *document = Value::Object(Default::default());
                return None;
            };
            for (field, value) in &values {
                field.set(map, value);
            }
            Some(())
        })
        .await?
        .ok_or_else(|| {
            format!("secret {arn} does not hold a JSON object; set it to {{}} first, then run this again")
        })?;
    let names: Vec<String> = values.iter().map(|(f, _)| f.name()).collect();
    println!(
        "set {} in {arn}; the functions use it within their secrets TTL (5 minutes by default)",
        names.join(", ")
    );
    Ok(())
}

/// Where values come from: the terminal without echo, or standard input line by line.
struct Input {
    lines: Option<std::io::Lines<std::io::StdinLock<'static>>>,
}

impl Input {
    fn new() -> Self {
        let stdin = std::io::stdin();
        Self {
            lines: (!stdin.is_terminal()).then(|| stdin.lock().lines()),
        }
    }

    fn hidden(&mut self, prompt: &str) -> Result<String, Box<dyn Error>> {
        if let Some(lines) = &mut self.lines {
            return Ok(lines.next().transpose()?.unwrap_or_default());
        }
        eprint!("{prompt}");
        std::io::stderr().flush()?;
        // The terminal's echo off while the value is typed (`stty`, on the terminal
        // itself), and back on whatever happens.
        let echo = |on: bool| {
            std::fs::File::open("/dev/tty").ok().and_then(|tty| {
                std::process::Command::new("stty")
                    .arg(if on { "echo" } else { "-echo" })
                    .stdin(tty)
                    .status()
                    .ok()
            })
        };
        echo(false);
        let mut line = String::new();
        let read = std::io::stdin().lock().read_line(&mut line);
        echo(true);
        eprintln!();
        read?;
        Ok(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_the_secrets_own_and_others_are_named_with_the_list() {
        assert_eq!(
            Field::parse("form_secrets.tally"),
            Ok(Field::Entry("form_secrets", "tally".into()))
        );
        assert_eq!(Field::parse("notion_token"), Ok(Field::Top("notion_token")));
        let unknown = Field::parse("form_secrets.Tally").unwrap_err();
        assert!(unknown.contains("form_secrets.{own,tally"), "{unknown}");
        assert!(Field::parse("slack_webhooks.").is_err());
        assert!(Field::parse("notion").is_err());
    }

    #[test]
    fn a_value_the_functions_would_leave_out_is_refused_by_its_field_without_the_value() {
        let field = Field::parse("slack_webhooks.won").unwrap();
        let why = field
            .refusal("hooks.slack.com/services/secret-part")
            .unwrap();
        assert!(
            why.starts_with("slack_webhooks.won: expected an https:// URL"),
            "{why}"
        );
        assert!(!why.contains("secret-part"));
        assert_eq!(
            field.refusal("https://hooks.slack.com/services/T/B/X"),
            None
        );
    }
}
