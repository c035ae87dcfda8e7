//! The HTML a site owner pastes into a page: a form posting straight to the intake,
//! with the honeypot, the timing and per-view id the checks use, the captcha widget
//! when the form has one, and `utm_*` carried over from the page's address.

use super::config::{CaptchaProvider, FormConfig};
use super::page::escape;
use super::screen::{FILL_TIME_FIELD, SUBMISSION_ID_FIELD};

/// How the form is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Send {
    /// A plain post: works without JavaScript; the browser ends on the thank-you page.
    Plain,
    /// `fetch()` with JSON: the page stays, and the answer is shown in the form.
    Fetch,
}

/// The form's URL: `{intake_base}/lead/form/{name}`.
pub fn action(intake_base: &str, form: &FormConfig) -> String {
    format!(
        "{}/lead/form/{}",
        intake_base.trim_end_matches('/'),
        form.name
    )
}

pub fn snippet(form: &FormConfig, intake_base: &str, send: Send) -> String {
    let f = &form.fields;
    let input = |label: &str, name: &str, attrs: &str| {
        format!(
            "  <p><label>{label}<br><input name=\"{}\" {attrs}></label></p>\n",
            escape(name)
        )
    };
    let mut html = format!(
        "<form action=\"{}\" method=\"POST\" accept-charset=\"UTF-8\" data-crm-form=\"{}\">\n",
        escape(&action(intake_base, form)),
        escape(&form.name),
    );
    html += &input(
        "Email",
        &f.email,
        "type=\"email\" required autocomplete=\"email\"",
    );
    html += &input("Name", &f.name, "autocomplete=\"name\"");
    html += &input("Company", &f.company, "autocomplete=\"organization\"");
    html += &input("Phone", &f.phone, "type=\"tel\" autocomplete=\"tel\"");
    html += &format!(
        "  <p><label>Message<br><textarea name=\"{}\" rows=\"4\"></textarea></label></p>\n",
        escape(&f.message)
    );
    if let Some(honeypot) = &form.honeypot {
        // Off-screen rather than display:none, which some bots check for.
        html += &format!(
            "  <div style=\"position:absolute;left:-10000px\" aria-hidden=\"true\"><label>Leave this empty \
             <input name=\"{}\" tabindex=\"-1\" autocomplete=\"off\"></label></div>\n",
            escape(honeypot)
        );
    }
    html += &format!(
        "  <input type=\"hidden\" name=\"{SUBMISSION_ID_FIELD}\"><input type=\"hidden\" name=\"{FILL_TIME_FIELD}\">\n"
    );
    if let Some(captcha) = &form.captcha {
        let (class, script) = match captcha.provider {
            CaptchaProvider::Turnstile => (
                "cf-turnstile",
                "https://challenges.cloudflare.com/turnstile/v0/api.js",
            ),
            CaptchaProvider::Hcaptcha => ("h-captcha", "https://js.hcaptcha.com/1/api.js"),
        };
        html += &format!(
            "  <div class=\"{class}\" data-sitekey=\"{}\"></div>\n  <script src=\"{script}\" async defer></script>\n",
            escape(&captcha.site_key)
        );
    }
    html += "  <button type=\"submit\">Send</button>\n";
    if send == Send::Fetch {
        html += "  <p role=\"status\" data-crm-answer></p>\n";
    }
    html += "</form>\n";
    html += &script(send);
    html
}

/// Fills the id and the timing, copies `utm_*` from the address and, for `fetch()`,
/// sends JSON and shows the answer. Plain ES5: it runs in any browser a visitor has.
fn script(send: Send) -> String {
    let common = format!(
        "(function () {{\n\
         \x20 var f = document.currentScript.previousElementSibling, t = Date.now();\n\
         \x20 f.elements['{SUBMISSION_ID_FIELD}'].value = window.crypto && crypto.randomUUID ? crypto.randomUUID() : t + '-' + Math.random().toString(36).slice(2);\n\
         \x20 new URLSearchParams(location.search).forEach(function (v, k) {{\n\
         \x20   if (k.indexOf('utm_') !== 0 || f.elements[k]) return;\n\
         \x20   var i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i);\n\
         \x20 }});\n\
         \x20 f.addEventListener('submit', function (e) {{\n\
         \x20   f.elements['{FILL_TIME_FIELD}'].value = String(Date.now() - t);\n"
    );
    let fetch = match send {
        Send::Plain => String::new(),
        Send::Fetch => "\
         \x20   e.preventDefault();\n\
         \x20   var out = f.querySelector('[data-crm-answer]'), data = {};\n\
         \x20   new FormData(f).forEach(function (v, k) { data[k] = data[k] ? data[k] + ', ' + v : v; });\n\
         \x20   fetch(f.action, {method: 'POST', headers: {'Content-Type': 'application/json', 'Accept': 'application/json'}, body: JSON.stringify(data)})\n\
         \x20     .then(function (r) { return r.json(); })\n\
         \x20     .then(function (a) {\n\
         \x20       out.dataset.status = a.status || a.error;\n\
         \x20       out.textContent = a.status ? 'Thank you! We got your message.' : (a.message || 'Something went wrong (' + a.error + ').');\n\
         \x20     })\n\
         \x20     .catch(function () { out.dataset.status = 'network'; out.textContent = 'Could not send the form: please try again.'; });\n"
            .to_owned(),
    };
    format!("<script>\n{common}{fetch}  }});\n}})();\n</script>\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::browser_form::config::parse_forms;

    fn form(extra: &str) -> FormConfig {
        let json = format!(r#"{{"contact": {{"origins": ["https://a.com"]{extra}}}}}"#);
        parse_forms(&json).unwrap().remove("contact").unwrap()
    }

    #[test]
    fn the_snippet_posts_to_the_forms_route_with_its_checks() {
        let html = snippet(&form(""), "https://api.example.com/", Send::Plain);
        assert!(html.contains("action=\"https://api.example.com/lead/form/contact\""));
        assert!(html.contains("name=\"email\" type=\"email\" required"));
        assert!(html.contains("name=\"_gotcha\" tabindex=\"-1\""));
        assert!(html.contains("name=\"submission_id\""));
        assert!(html.contains("name=\"_crm_fill_ms\""));
        assert!(!html.contains("cf-turnstile") && !html.contains("fetch("));
    }

    #[test]
    fn the_snippet_uses_the_forms_names_and_widget() {
        let html = snippet(
            &form(
                r#", "fields": {"email": "e\"x"}, "honeypot": "", "captcha": {"provider": "turnstile", "site_key": "0x4A"}"#,
            ),
            "https://api.example.com",
            Send::Fetch,
        );
        assert!(html.contains("name=\"e&quot;x\""));
        assert!(!html.contains("Leave this empty"));
        assert!(html.contains("class=\"cf-turnstile\" data-sitekey=\"0x4A\""));
        assert!(html.contains("challenges.cloudflare.com/turnstile/v0/api.js"));
        assert!(html.contains("fetch(f.action"));
        assert!(html.contains("data-crm-answer"));
    }
}
