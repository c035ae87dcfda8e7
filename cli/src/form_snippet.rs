//! `crm form-snippet <form>`: the HTML of a configured browser form, ready to paste into
//! a site (docs/leads.md shows what it prints).

use std::path::PathBuf;

use clap::Args;
use crm_domain::browser_form::snippet::{Send, snippet};
use crm_domain::browser_form::{FormConfig, parse_forms};
use crm_settings::Settings;

#[derive(Args)]
pub struct FormSnippetArgs {
    /// The form's name (a key of the `browser_forms` setting).
    form: String,
    /// The intake's URL: the stack's `IntakeUrl` output (a trailing `/lead` is dropped),
    /// or `crm serve`'s address (the running one's by default).
    #[arg(long)]
    intake: Option<String>,
    /// Send the form with `fetch()` and show the answer on the page, instead of a plain
    /// post that ends on the thank-you page.
    #[arg(long)]
    fetch: bool,
    /// The TOML config holding `browser_forms`; without one, the `CRM_BROWSER_FORMS`
    /// variable (the stack's `BrowserForms` parameter).
    #[arg(long, env = "CRM_CONFIG_FILE")]
    config: Option<PathBuf>,
    /// The data folder of a running `crm serve`, whose forms and address are used when
    /// nothing else is given.
    #[arg(long, default_value = ".crm-local")]
    data: PathBuf,
}

pub fn run(args: &FormSnippetArgs) -> Result<(), Box<dyn std::error::Error>> {
    let form = find(args)?;
    let intake = args
        .intake
        .clone()
        .or_else(|| crate::local::url(&args.data))
        .unwrap_or_else(|| "http://127.0.0.1:3000".into());
    let base = intake.trim_end_matches('/');
    let base = base.strip_suffix("/lead").unwrap_or(base);
    let send = if args.fetch { Send::Fetch } else { Send::Plain };
    print!("{}", snippet(&form, base, send));
    Ok(())
}

fn find(args: &FormSnippetArgs) -> Result<FormConfig, Box<dyn std::error::Error>> {
    let config = match &args.config {
        Some(path) => Some(path.clone()),
        None if std::env::var("CRM_BROWSER_FORMS").is_err() => crate::local::config(&args.data)?,
        None => None,
    };
    let mut forms = match &config {
        Some(path) => {
            Settings::from_file_and_env(path, std::env::vars())?
                .forms
                .forms
        }
        None => match std::env::var("CRM_BROWSER_FORMS") {
            Ok(json) => parse_forms(&json).map_err(|e| format!("CRM_BROWSER_FORMS: {e}"))?,
            Err(_) => {
                return Err("no browser forms: pass --config with a browser_forms table, or set CRM_BROWSER_FORMS to the stack's BrowserForms JSON".into());
            }
        },
    };
    let known: Vec<String> = forms.keys().cloned().collect();
    forms.remove(&args.form).ok_or_else(|| {
        format!(
            "no browser form {:?} (configured: {})",
            args.form,
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        )
        .into()
    })
}
