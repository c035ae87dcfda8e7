//! Settings: defaults, layering, and errors that name the setting.

use crm_settings::{SecretsLocation, Settings};

const CONTACTS: &str = "1c2b3a4d5e6f4a7b8c9d0e1f2a3b4c5d";
const DEALS: &str = "2c2b3a4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
const ACTIVITIES: &str = "3c2b3a4d5e6f4a7b8c9d0e1f2a3b4c5d";

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn complete_env() -> Vec<(String, String)> {
    env(&[
        ("CRM_TABLE_NAME", "crm-prod"),
        (
            "CRM_SECRET_ARN",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:crm-AbCdEf",
        ),
        ("CRM_CONTACTS_DATA_SOURCE_ID", CONTACTS),
        ("CRM_DEALS_DATA_SOURCE_ID", DEALS),
        ("CRM_ACTIVITIES_DATA_SOURCE_ID", ACTIVITIES),
        ("PATH", "/usr/bin"),
    ])
}

fn with(mut base: Vec<(String, String)>, key: &str, value: &str) -> Vec<(String, String)> {
    base.retain(|(k, _)| k != key);
    base.push((key.to_owned(), value.to_owned()));
    base
}

fn without(mut base: Vec<(String, String)>, key: &str) -> Vec<(String, String)> {
    base.retain(|(k, _)| k != key);
    base
}

#[test]
fn complete_environment_loads_with_spec_defaults() {
    let s = Settings::load(None, complete_env()).unwrap();
    assert_eq!(s.table_name, "crm-prod");
    assert!(
        matches!(s.secrets, SecretsLocation::SecretsManager { ref arn } if arn.ends_with("crm-AbCdEf"))
    );
    assert_eq!(
        s.notion.contacts.as_str(),
        "1c2b3a4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
    );
    assert_eq!(s.notion.base_url, "https://api.notion.com");
    assert_eq!(s.notion.rate_per_second, None, "found by the pacing");
    assert_eq!(s.properties.contacts.last_contacted, "Last Contacted");
    assert_eq!(s.properties.deals.name, "Deal Name");
    assert_eq!(s.properties.activities.kind, "Type");
    let stages: Vec<&str> = s.routes.iter().map(|r| r.stage.as_str()).collect();
    assert_eq!(stages, ["won", "lost", "negotiation"]);
    assert_eq!(s.routes[0].destination, "won");
    assert_eq!(s.stale.days, 30);
    assert_eq!(s.stale.open_statuses, ["new lead"]);
    assert_eq!(s.stale.timezone, chrono_tz::UTC);
    assert_eq!(s.secrets_ttl.as_secs(), 300);
    assert_eq!(s.leads.new_status, "new lead");
    assert_eq!(s.leads.activity_type, "form submission");
    assert!(!s.leads.accept_plain_signature);
}

#[test]
fn a_missing_setting_is_named() {
    let err = Settings::load(None, without(complete_env(), "CRM_TABLE_NAME")).unwrap_err();
    assert_eq!(err.problems.len(), 1, "{err}");
    assert_eq!(err.problems[0].setting, "CRM_TABLE_NAME");
    assert!(err.to_string().contains("CRM_TABLE_NAME: missing"), "{err}");

    let err =
        Settings::load(None, with(complete_env(), "CRM_DEALS_DATA_SOURCE_ID", " ")).unwrap_err();
    assert!(
        err.to_string()
            .contains("CRM_DEALS_DATA_SOURCE_ID: missing"),
        "{err}"
    );

    let err = Settings::load(None, without(complete_env(), "CRM_SECRET_ARN")).unwrap_err();
    assert!(err.mentions("CRM_SECRET_ARN"), "{err}");
}

#[test]
fn a_malformed_setting_is_named_with_what_was_expected() {
    let cases = [
        ("CRM_STALE_DAYS", "thirty", "whole number of days"),
        ("CRM_STALE_DAYS", "0", "from 1 to 3650"),
        ("CRM_TIMEZONE", "Mars/Olympus", "IANA time zone"),
        ("CRM_CONTACTS_DATA_SOURCE_ID", "not-an-id", "Notion id"),
        ("CRM_NOTION_RATE_PER_SECOND", "-1", "requests per second"),
        ("CRM_NOTION_BASE_URL", "api.notion.com", "http(s) URL"),
        ("CRM_TABLE_NAME", "a b", "DynamoDB table name"),
        ("CRM_SECRET_ARN", "my-secret", "Secrets Manager ARN"),
        ("CRM_SLACK_ROUTES", "won,won", "routed twice"),
        ("CRM_SECRETS_TTL_SECONDS", "forever", "whole seconds"),
        ("CRM_ACCEPT_PLAIN_SIGNATURE", "maybe", "true or false"),
    ];
    for (name, value, expected) in cases {
        let err = Settings::load(None, with(complete_env(), name, value)).unwrap_err();
        assert_eq!(err.problems.len(), 1, "{name}={value}: {err}");
        assert_eq!(err.problems[0].setting, name, "{err}");
        assert!(
            err.problems[0].reason.contains(expected),
            "{name}={value}: {err}"
        );
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let env = with(
        with(
            without(complete_env(), "CRM_TABLE_NAME"),
            "CRM_STALE_DAYS",
            "x",
        ),
        "CRM_TIMEZONE",
        "Nowhere",
    );
    let err = Settings::load(None, env).unwrap_err();
    for name in ["CRM_TABLE_NAME", "CRM_STALE_DAYS", "CRM_TIMEZONE"] {
        assert!(err.mentions(name), "{name} not in {err}");
    }
    assert_eq!(err.problems.len(), 3);
}

#[test]
fn a_misspelt_variable_is_an_error_not_silently_ignored() {
    let err = Settings::load(None, with(complete_env(), "CRM_STALE_DAY", "10")).unwrap_err();
    assert!(
        err.to_string().contains("CRM_STALE_DAY: unknown setting"),
        "{err}"
    );
}

#[test]
fn routes_accept_custom_destinations_and_normalise_stage_case() {
    let s = Settings::load(
        None,
        with(
            complete_env(),
            "CRM_SLACK_ROUTES",
            "Won=sales, lost , proposal=pipeline",
        ),
    )
    .unwrap();
    let routes: Vec<(&str, &str)> = s
        .routes
        .iter()
        .map(|r| (r.stage.as_str(), r.destination.as_str()))
        .collect();
    assert_eq!(
        routes,
        [("won", "sales"), ("lost", "lost"), ("proposal", "pipeline")]
    );
}

const LOCAL_TOML: &str = r#"
table_name = "crm-local"
contacts_data_source_id = "1c2b3a4d5e6f4a7b8c9d0e1f2a3b4c5d"
deals_data_source_id = "2c2b3a4d5e6f4a7b8c9d0e1f2a3b4c5d"
activities_data_source_id = "3c2b3a4d5e6f4a7b8c9d0e1f2a3b4c5d"
stale_days = 14
stale_statuses = ["new lead", "contacted"]
timezone = "Europe/Berlin"

[secrets]
notion_token = "ntn_local_token_value"
form_secrets = { own = "local-form-secret" }
slack_webhooks = { won = "http://127.0.0.1:9/won" }
"#;

#[test]
fn toml_file_is_layered_under_the_environment() {
    let s = Settings::load(
        Some(("crm.toml", LOCAL_TOML)),
        env(&[("CRM_STALE_DAYS", "7"), ("HOME", "/root")]),
    )
    .unwrap();
    assert_eq!(s.table_name, "crm-local");
    assert_eq!(s.stale.days, 7, "the environment overrides the file");
    assert_eq!(s.stale.open_statuses, ["new lead", "contacted"]);
    assert_eq!(s.stale.timezone, chrono_tz::Europe::Berlin);
    let SecretsLocation::Inline(secrets) = &s.secrets else {
        panic!("expected inline secrets, got {:?}", s.secrets);
    };
    assert!(secrets.form_secrets.contains_key("own"));
    let debug = format!("{s:?}");
    for value in [
        "ntn_local_token_value",
        "local-form-secret",
        "127.0.0.1:9/won",
    ] {
        assert!(!debug.contains(value), "{value} leaked into Debug: {debug}");
    }
}

#[test]
fn toml_problems_name_the_key_and_the_file() {
    let toml = LOCAL_TOML.replace(
        "stale_days = 14",
        "stale_days = \"soon\"\ncolour = \"blue\"",
    );
    let err = Settings::load(Some(("crm.toml", &toml)), Vec::new()).unwrap_err();
    assert!(err.mentions("stale_days in crm.toml"), "{err}");
    assert!(err.mentions("colour in crm.toml"), "{err}");

    let toml = LOCAL_TOML.replace(
        "notion_token = \"ntn_local_token_value\"",
        "notion_token = 5",
    );
    let err = Settings::load(Some(("crm.toml", &toml)), Vec::new()).unwrap_err();
    assert!(err.mentions("secrets.notion_token in crm.toml"), "{err}");

    // An unknown entry stops the start, and says so (not "ignored"), with the field meant.
    let toml = LOCAL_TOML.replace(
        "notion_token = \"ntn_local_token_value\"",
        "notion_token = \"ntn_local_token_value\"\nslack_webhook = \"https://hooks.slack.com/x\"",
    );
    let err = Settings::load(Some(("crm.toml", &toml)), Vec::new()).unwrap_err();
    let said = err.to_string();
    assert!(err.mentions("secrets.slack_webhook in crm.toml"), "{said}");
    assert!(
        said.contains("did you mean slack_webhooks?")
            && said.contains("does not start")
            && !said.contains("ignored"),
        "{said}"
    );

    let err = Settings::load(Some(("crm.toml", "table_name = ")), Vec::new()).unwrap_err();
    assert!(
        err.to_string().contains("crm.toml: not valid TOML"),
        "{err}"
    );
}

#[test]
fn a_config_file_that_cannot_be_read_is_named() {
    let err =
        Settings::from_file_and_env(std::path::Path::new("/nonexistent/crm.toml"), Vec::new())
            .unwrap_err();
    assert!(err.to_string().contains("CRM_CONFIG_FILE"), "{err}");
    assert!(err.to_string().contains("/nonexistent/crm.toml"), "{err}");
}

#[test]
fn every_bad_property_name_is_reported_not_only_the_first() {
    let env = with(
        with(complete_env(), "CRM_CONTACTS_EMAIL_PROPERTY", " "),
        "CRM_ACTIVITIES_SUBMISSION_PROPERTY",
        "",
    );
    let env = with(env, "CRM_NOTION_BURST", "0");
    let err = Settings::load(None, env).unwrap_err();
    for name in [
        "CRM_CONTACTS_EMAIL_PROPERTY",
        "CRM_ACTIVITIES_SUBMISSION_PROPERTY",
        "CRM_NOTION_BURST",
    ] {
        assert!(err.mentions(name), "{name} not in {err}");
    }
    assert_eq!(err.problems.len(), 3, "{err}");
}

#[test]
fn lower_case_variables_are_not_settings() {
    let err = Settings::load(None, with(complete_env(), "CRM_stale_days", "10")).unwrap_err();
    assert!(
        err.to_string().contains("CRM_stale_days: unknown setting"),
        "{err}"
    );
}

#[test]
fn default_property_names_are_the_schema_tables() {
    use crm_domain::schema::SCHEMA;
    let names = crm_settings::PropertyNames::defaults();
    for ds in SCHEMA {
        let configured = names.of(ds.source);
        assert_eq!(configured.len(), ds.properties.len(), "{}", ds.title);
        for (property, name) in configured {
            assert_eq!(property.name, name);
            assert!(
                crm_settings::setting_names()
                    .contains(&format!("CRM_{}", property.setting.to_ascii_uppercase())),
                "{} is not a setting",
                property.setting
            );
        }
    }
}

#[test]
fn browser_forms_come_as_json_or_as_toml_tables_and_mistakes_name_the_form() {
    let s = Settings::load(None, complete_env()).unwrap();
    assert!(s.forms.forms.is_empty(), "no browser forms by default");
    assert_eq!(s.forms.captcha_timeout, std::time::Duration::from_secs(3));

    let json = r#"{"contact": {"origins": ["https://www.example.com"], "min_fill_seconds": 2}}"#;
    let s = Settings::load(None, with(complete_env(), "CRM_BROWSER_FORMS", json)).unwrap();
    assert_eq!(
        s.forms.forms["contact"].origins,
        ["https://www.example.com"]
    );
    assert_eq!(s.forms.forms["contact"].min_fill_seconds, 2);

    let toml = format!(
        "{LOCAL_TOML}\n[browser_forms.contact]\norigins = [\"https://www.example.com\"]\nthank_you = \"https://www.example.com/thanks\"\n[browser_forms.contact.captcha]\nprovider = \"turnstile\"\nsite_key = \"0x4AAA\"\n"
    );
    let s = Settings::load(Some(("crm.toml", &toml)), Vec::new()).unwrap();
    let form = &s.forms.forms["contact"];
    assert_eq!(
        form.thank_you.as_deref(),
        Some("https://www.example.com/thanks")
    );
    assert_eq!(form.captcha.as_ref().unwrap().site_key, "0x4AAA");

    let bad = r#"{"contact": {"origins": ["www.example.com"]}}"#;
    let err = Settings::load(None, with(complete_env(), "CRM_BROWSER_FORMS", bad)).unwrap_err();
    assert!(err.mentions("CRM_BROWSER_FORMS"), "{err}");
    assert!(
        err.to_string().contains("form \"contact\": origins"),
        "{err}"
    );
    let err = Settings::load(
        None,
        with(complete_env(), "CRM_CAPTCHA_TIMEOUT_MS", "60000"),
    )
    .unwrap_err();
    assert!(err.mentions("CRM_CAPTCHA_TIMEOUT_MS"), "{err}");
}

/// A config a program builds is checked as a file's is, its secrets kept as given, and
/// the environment still has the last word.
#[test]
fn a_built_in_config_is_checked_like_a_file_and_env_is_layered_over_it() {
    let settings = || {
        vec![
            ("table_name", "local".to_owned()),
            ("contacts_data_source_id", CONTACTS.to_owned()),
            ("deals_data_source_id", DEALS.to_owned()),
            ("activities_data_source_id", ACTIVITIES.to_owned()),
            ("stale_days", "10".to_owned()),
        ]
    };
    let secrets = crm_settings::Secrets {
        notion_token: Some("ntn_local".to_owned().into()),
        ..Default::default()
    };
    let s = Settings::built_in(
        "(built-in)",
        settings(),
        secrets.clone(),
        env(&[("CRM_STALE_DAYS", "12")]),
    )
    .unwrap();
    assert_eq!(s.table_name, "local");
    assert_eq!(s.stale.days, 12, "the environment wins");
    let SecretsLocation::Inline(kept) = &s.secrets else {
        panic!("{:?}", s.secrets)
    };
    assert!(kept.notion_token.is_some());

    let mut wrong = settings();
    wrong.push(("stale_dayz", "3".to_owned()));
    let err = Settings::built_in("(built-in)", wrong, secrets, Vec::new()).unwrap_err();
    assert!(err.mentions("stale_dayz in (built-in)"), "{err}");
}

/// The weekly report's weights and rot limits: per stage, with defaults for the
/// schema's open stages, and a wrong entry named with its setting.
#[test]
fn the_reports_stage_weights_and_limits_are_read_per_stage() {
    let s = Settings::load(None, complete_env()).unwrap();
    assert_eq!(s.report.probabilities.get("proposal"), Some(&0.5));
    assert_eq!(s.report.rot_days.get("negotiation"), Some(&10));
    assert_eq!(s.report.destination, "report");
    let s = Settings::load(
        None,
        with(
            complete_env(),
            "CRM_REPORT_STAGE_PROBABILITIES",
            "Lead=0.2, demo=0.4",
        ),
    )
    .unwrap();
    assert_eq!(
        s.report.probabilities.into_iter().collect::<Vec<_>>(),
        [("demo".to_owned(), 0.4), ("lead".to_owned(), 0.2)]
    );
    for (name, value) in [
        ("CRM_REPORT_STAGE_PROBABILITIES", "lead=1.5"),
        ("CRM_REPORT_STAGE_PROBABILITIES", "lead"),
        ("CRM_REPORT_ROTTING_DAYS", "lead=0"),
        ("CRM_REPORT_ROTTING_DAYS", "lead=3,lead=4"),
    ] {
        let err = Settings::load(None, with(complete_env(), name, value)).unwrap_err();
        assert!(err.mentions(name), "{value}: {err}");
    }
}
