//! The header rows of common exports, written from the vendors' documented export
//! columns (HubSpot contacts; Pipedrive people; Google Contacts, current and legacy;
//! Mailchimp audience; a plain spreadsheet), each map without `--map`.

use crm_domain::import::plan::Row;
use crm_domain::import::{Field, detect, plan};

fn read(name: &str) -> (Vec<String>, Vec<String>) {
    let path = format!(
        "{}/tests/fixtures/exports/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    // The fixtures quote nothing with a comma in it, so a split reads them.
    let split = |l: &str| {
        l.split(',')
            .map(|c| c.trim_matches('"').to_owned())
            .collect::<Vec<_>>()
    };
    (split(lines.next().unwrap()), split(lines.next().unwrap()))
}

/// The one row of `name`, as the contact it becomes.
fn contact(name: &str) -> (Vec<Field>, crm_domain::import::Contact) {
    let (headers, cells) = read(name);
    let mapping = detect(&headers, &[]).unwrap_or_else(|e| panic!("{name}: {e}"));
    let fields = mapping.columns.iter().map(|(_, f)| *f).collect();
    let mut p = plan(&mapping, [Row { line: 2, cells }], None);
    assert!(p.rejects.is_empty(), "{name}: {:?}", p.rejects);
    (fields, p.contacts.remove(0))
}

#[test]
fn hubspot() {
    let (_, c) = contact("hubspot.csv");
    assert_eq!(c.email.as_str(), "ann.lee@example.com");
    assert_eq!(c.fields.name.as_deref(), Some("Ann Lee"));
    assert_eq!(c.fields.company.as_deref(), Some("Acme Inc"));
    assert_eq!(c.fields.phone.as_deref(), Some("+1 555 0100"));
    assert_eq!(
        c.fields.last_contacted.map(|d| d.to_string()).as_deref(),
        Some("2026-10-01")
    );
}

#[test]
fn pipedrive() {
    let (_, c) = contact("pipedrive.csv");
    assert_eq!(
        c.email.as_str(),
        "bo@example.org",
        "the first address present"
    );
    assert_eq!(c.fields.name.as_deref(), Some("Bo Diaz"));
    assert_eq!(c.fields.company.as_deref(), Some("Globex"));
    assert_eq!(c.fields.phone.as_deref(), Some("+34 600 000 000"));
    assert_eq!(
        c.fields.last_contacted.map(|d| d.to_string()).as_deref(),
        Some("2026-09-14")
    );
}

#[test]
fn google_contacts() {
    let (fields, c) = contact("google-contacts.csv");
    assert_eq!(
        c.email.as_str(),
        "cy@example.net",
        "E-mail 1 before E-mail 2; never a label"
    );
    assert_eq!(c.fields.name.as_deref(), Some("Cy Young"));
    assert_eq!(c.fields.company.as_deref(), Some("Initech"));
    assert_eq!(c.fields.phone.as_deref(), Some("+44 7700 900000"));
    assert_eq!(c.fields.notes.as_deref(), Some("Met at a fair"));
    assert_eq!(fields.iter().filter(|f| **f == Field::Email).count(), 2);
}

#[test]
fn google_contacts_legacy() {
    let (_, c) = contact("google-contacts-legacy.csv");
    assert_eq!(c.email.as_str(), "dee@example.com");
    assert_eq!(c.fields.name.as_deref(), Some("Dee Park"));
    assert_eq!(c.fields.company.as_deref(), Some("Umbrella"));
    assert_eq!(c.fields.phone.as_deref(), Some("+1 555 0199"));
    assert_eq!(c.fields.notes.as_deref(), Some("Old friend"));
}

#[test]
fn mailchimp() {
    let (_, c) = contact("mailchimp.csv");
    assert_eq!(c.email.as_str(), "eve@example.com");
    assert_eq!(c.fields.name.as_deref(), Some("Eve Stone"));
    assert_eq!(c.fields.company.as_deref(), Some("Hooli"));
    assert_eq!(c.fields.phone.as_deref(), Some("+1 555 0142"));
}

#[test]
fn plain_spreadsheet() {
    let (_, c) = contact("plain.csv");
    assert_eq!(c.email.as_str(), "fay@example.com");
    assert_eq!(c.fields.name.as_deref(), Some("Fay Wu"));
    assert_eq!(c.fields.company.as_deref(), Some("Wu & Co"));
    assert_eq!(c.fields.notes.as_deref(), Some("Asked about pricing"));
}
