//! The demo site `make local` serves on a second port: a page with the browser form's
//! snippet, posted from another origin exactly as a real site's page would post to the
//! deployed intake (origin check, CORS, the spam checks), and its thank-you page.

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use crm_domain::browser_form::FormConfig;
use crm_domain::browser_form::snippet::{Send, snippet};

/// The name of the browser form the demo page posts to.
pub const FORM: &str = "demo";

/// The `browser_forms` entry of the local config for a demo site at `origin`.
pub fn form_toml(origin: &str) -> String {
    format!(
        "[browser_forms.{FORM}]\norigins = [\"{origin}\"]\nthank_you = \"{origin}/thanks.html\"\n\
         # A person takes longer than a second to fill a form; a script does not.\n\
         min_fill_seconds = 1\n"
    )
}

/// The demo site's pages for `form`, whose snippet posts to `intake_base`.
pub fn router(form: &FormConfig, intake_base: &str) -> Router {
    let index = index(form, intake_base);
    Router::new()
        .route("/", get(move || async move { Html(index) }))
        .route("/thanks.html", get(|| async { Html(THANKS) }))
}

fn index(form: &FormConfig, intake_base: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>A site with a contact form</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#222}}
section{{border:1px solid #ddd;border-radius:8px;padding:0 1rem 1rem;margin:1.5rem 0}}input,textarea{{width:100%;box-sizing:border-box}}</style>
</head><body>
<h1>A site with a contact form</h1>
<p>This page is served from another origin than the intake, as your own site would be. Each
form below is what <code>crm form-snippet {name}</code> prints: send one, and watch the lead reach
the Notion emulator (the console shows the worker at it).</p>
<section id="plain"><h2>A plain form</h2><p>Works without JavaScript: the browser ends on the thank-you page.</p>
{plain}</section>
<section id="fetch"><h2>The same form with <code>fetch()</code></h2><p>The page stays; the answer is shown under the button.</p>
{fetch}</section>
</body></html>
"#,
        name = form.name,
        plain = snippet(form, intake_base, Send::Plain),
        fetch = snippet(form, intake_base, Send::Fetch),
    )
}

const THANKS: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Thank you</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}</style></head>
<body><h1 id="thanks">Thank you!</h1><p>We got your message. (This is the form's <code>thank_you</code> page.)</p>
<p><a href="/">Back to the form</a></p></body></html>
"#;
