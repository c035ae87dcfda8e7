//! `crm form-snippet`: what a site owner pastes, from the deployed stack's settings.

use std::process::Command;

fn snippet(args: &[&str], forms: Option<&str>) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_crm"));
    cmd.arg("form-snippet")
        .args(args)
        .env_remove("CRM_CONFIG_FILE");
    match forms {
        Some(f) => cmd.env("CRM_BROWSER_FORMS", f),
        None => cmd.env_remove("CRM_BROWSER_FORMS"),
    };
    let out = cmd.output().expect("run crm form-snippet");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const FORMS: &str = r#"{"contact": {"origins": ["https://www.example.com"],
    "captcha": {"provider": "turnstile", "site_key": "0x4AAAAAAA-site"}}}"#;

#[test]
fn the_snippet_posts_to_the_stacks_intake_with_the_forms_widget() {
    let (ok, html, _) = snippet(
        &[
            "contact",
            "--intake",
            "https://abc.execute-api.eu-west-1.amazonaws.com/lead",
        ],
        Some(FORMS),
    );
    assert!(ok);
    assert!(
        html.contains(
            "action=\"https://abc.execute-api.eu-west-1.amazonaws.com/lead/form/contact\""
        )
    );
    assert!(html.contains("data-sitekey=\"0x4AAAAAAA-site\""));
    assert!(html.contains("name=\"_gotcha\""));
    let (ok, html, _) = snippet(&["contact", "--fetch"], Some(FORMS));
    assert!(ok);
    assert!(html.contains("action=\"http://127.0.0.1:3000/lead/form/contact\""));
    assert!(html.contains("fetch(f.action"));
}

#[test]
fn an_unknown_form_or_no_forms_say_what_is_configured() {
    let (ok, _, err) = snippet(&["quote"], Some(FORMS));
    assert!(!ok);
    assert!(
        err.contains("error: no browser form \"quote\" (configured: contact)"),
        "{err}"
    );
    let (ok, _, err) = snippet(&["contact"], None);
    assert!(!ok);
    assert!(err.contains("CRM_BROWSER_FORMS"), "{err}");
}
