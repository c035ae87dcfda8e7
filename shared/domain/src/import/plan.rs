//! An export's rows as contacts to write: each row read through the mapping, checked
//! (an invalid email is a reject with its line and reason; the rest go on), and rows for
//! one person (the same canonical email, whatever its case or spaces) merged into one,
//! the later non-empty value winning per field.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::columns::{Field, Mapping};
use super::dates::{DateOrder, read_date};
use crate::email::ContactEmail;
use crate::lead::{MAX_PHONE_LEN, MAX_SOURCE_LEN, cut};

/// One data row of the file: its line number (the header is line 1) and its cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub line: u64,
    pub cells: Vec<String>,
}

/// What a row says about a contact, besides the email.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactFields {
    pub name: Option<String>,
    pub company: Option<String>,
    pub phone: Option<String>,
    pub status: Option<String>,
    pub source: Option<String>,
    pub notes: Option<String>,
    pub last_contacted: Option<NaiveDate>,
}

impl ContactFields {
    /// `later`'s non-empty values over these.
    fn merge(&mut self, later: ContactFields) {
        fn over<T>(mine: &mut Option<T>, theirs: Option<T>) {
            if theirs.is_some() {
                *mine = theirs;
            }
        }
        over(&mut self.name, later.name);
        over(&mut self.company, later.company);
        over(&mut self.phone, later.phone);
        over(&mut self.status, later.status);
        over(&mut self.source, later.source);
        over(&mut self.notes, later.notes);
        over(&mut self.last_contacted, later.last_contacted);
    }
}

/// One person to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub email: ContactEmail,
    pub fields: ContactFields,
    /// Every line that named this person, first to last.
    pub lines: Vec<u64>,
}

/// A row that cannot be imported, and why in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub line: u64,
    pub reason: String,
}

/// The file, read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// In the order each person first appears.
    pub contacts: Vec<Contact>,
    pub rejects: Vec<Reject>,
    /// Rows folded into an earlier row for the same person.
    pub merged: usize,
    /// Rows with no value at all (skipped, not rejected).
    pub blank: usize,
    /// Dates in a date column that could not be read (left out of the contact).
    pub unreadable_dates: usize,
}

/// The rows as contacts; slashed dates read in `dates` (see `dates::file_order`).
pub fn plan(
    mapping: &Mapping,
    rows: impl IntoIterator<Item = Row>,
    dates: Option<DateOrder>,
) -> Plan {
    let mut out = Plan::default();
    let mut by_email: HashMap<String, usize> = HashMap::new();
    for row in rows {
        if row.cells.iter().all(|c| c.trim().is_empty()) {
            out.blank += 1;
            continue;
        }
        let value = |field: Field| first_value(&mapping.columns, &row.cells, field);
        let Some(raw) = value(Field::Email) else {
            out.rejects.push(Reject {
                line: row.line,
                reason: "no email".into(),
            });
            continue;
        };
        // The first address is the contact's; the others go into its notes.
        let all = addresses(&raw);
        let email = match ContactEmail::parse(all[0]) {
            Ok(email) => email,
            Err(e) => {
                out.rejects.push(Reject {
                    line: row.line,
                    reason: e.to_string(),
                });
                continue;
            }
        };
        let others = (all.len() > 1).then(|| format!("Other addresses: {}", all[1..].join(", ")));
        let name = value(Field::Name).or_else(|| {
            let parts: Vec<String> = [value(Field::FirstName), value(Field::LastName)]
                .into_iter()
                .flatten()
                .collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        });
        let last_contacted = date_counted(
            value(Field::LastContacted),
            dates,
            &mut out.unreadable_dates,
        );
        let notes = match (value(Field::Notes), others) {
            (Some(notes), Some(others)) => Some(format!("{notes}\n{others}")),
            (notes, others) => notes.or(others),
        };
        let fields = ContactFields {
            name,
            company: value(Field::Company),
            phone: value(Field::Phone).map(|p| cut(p, MAX_PHONE_LEN)),
            status: value(Field::Status),
            // A select option cannot hold a comma.
            source: value(Field::Source).map(|s| cut(s.replace(',', " "), MAX_SOURCE_LEN)),
            notes,
            last_contacted,
        };
        match by_email.get(email.as_str()) {
            Some(&index) => {
                let earlier = &mut out.contacts[index];
                earlier.fields.merge(fields);
                earlier.lines.push(row.line);
                out.merged += 1;
            }
            None => {
                by_email.insert(email.as_str().to_owned(), out.contacts.len());
                out.contacts.push(Contact {
                    email,
                    fields,
                    lines: vec![row.line],
                });
            }
        }
    }
    out
}

/// The first non-empty cell, trimmed, of the columns that feed `field` (Google's
/// `E-mail 1 - Value` before `E-mail 2 - Value`).
pub fn first_value<F: PartialEq>(
    columns: &[(usize, F)],
    cells: &[String],
    field: F,
) -> Option<String> {
    columns
        .iter()
        .filter(|(_, f)| *f == field)
        .filter_map(|(i, _)| cells.get(*i))
        .map(|c| c.trim())
        .find(|c| !c.is_empty())
        .map(str::to_owned)
}

/// Keeps each contact's status only when it is one of `options` (the Status property's,
/// in their own spelling, whatever the row's case): another CRM's statuses (`OPEN`,
/// `IN_PROGRESS`) would otherwise become new options of the Status select. Returns how
/// many were dropped (those contacts get the import's default).
pub fn fit_statuses(contacts: &mut [Contact], options: &[String]) -> usize {
    let mut dropped = 0;
    for contact in contacts {
        if let Some(status) = contact.fields.status.take() {
            match options
                .iter()
                .find(|o| o.eq_ignore_ascii_case(status.trim()))
            {
                Some(option) => contact.fields.status = Some(option.clone()),
                None => dropped += 1,
            }
        }
    }
    dropped
}

/// A date cell's date; one that is there but cannot be read is counted in `unreadable`
/// (the summary says how many were left out).
pub(super) fn date_counted(
    cell: Option<String>,
    order: Option<DateOrder>,
    unreadable: &mut usize,
) -> Option<NaiveDate> {
    let text = cell?;
    let parsed = read_date(&text, order);
    if parsed.is_none() {
        *unreadable += 1;
    }
    parsed
}

/// A cell's addresses: exports put several in one (Pipedrive `a@x.com, b@y.com`, Google
/// `a@x.com ::: b@y.com`). A cell with one `@` is one address, however it is written
/// (the address's own rules then say what is wrong with it).
pub fn addresses(cell: &str) -> Vec<&str> {
    if cell.matches('@').count() < 2 {
        return vec![cell.trim()];
    }
    cell.split(":::")
        .flat_map(|part| part.split([',', ';']))
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::columns::detect;

    fn rows(lines: &[&[&str]]) -> Vec<Row> {
        lines
            .iter()
            .enumerate()
            .map(|(i, cells)| Row {
                line: i as u64 + 2,
                cells: cells.iter().map(|c| (*c).to_owned()).collect(),
            })
            .collect()
    }

    #[test]
    fn only_statuses_notion_has_are_kept_in_its_spelling() {
        let email = |e: &str| ContactEmail::parse(e).unwrap();
        let with = |status: &str| Contact {
            email: email("a@b.co"),
            fields: ContactFields {
                status: Some(status.into()),
                ..ContactFields::default()
            },
            lines: vec![2],
        };
        let mut contacts = vec![with("Customer"), with("OPEN"), with(" qualified ")];
        let options = [
            "new lead".to_owned(),
            "customer".to_owned(),
            "qualified".to_owned(),
        ];
        assert_eq!(fit_statuses(&mut contacts, &options), 1);
        let statuses: Vec<Option<&str>> = contacts
            .iter()
            .map(|c| c.fields.status.as_deref())
            .collect();
        assert_eq!(statuses, [Some("customer"), None, Some("qualified")]);
    }

    #[test]
    fn a_cell_of_several_addresses_is_the_first_and_the_others_are_noted() {
        let headers: Vec<String> = ["Person - Email", "Notes"].map(str::to_owned).to_vec();
        let mapping = detect(&headers, &[]).unwrap();
        let p = plan(
            &mapping,
            rows(&[
                &["ann@example.com, ann@home.example", "met at a fair"],
                &["bo@example.com ::: bo@private.example ::: b@x.co", ""],
                &["not an address, cy@example.com", ""],
            ]),
            None,
        );
        let notes: Vec<(&str, Option<&str>)> = p
            .contacts
            .iter()
            .map(|c| (c.email.as_str(), c.fields.notes.as_deref()))
            .collect();
        assert_eq!(
            notes,
            [
                (
                    "ann@example.com",
                    Some("met at a fair\nOther addresses: ann@home.example")
                ),
                (
                    "bo@example.com",
                    Some("Other addresses: bo@private.example, b@x.co")
                ),
            ]
        );
        assert_eq!(
            p.rejects.len(),
            1,
            "the first address decides: {:?}",
            p.rejects
        );
        assert_eq!(addresses(" a@b.co "), ["a@b.co"]);
    }

    #[test]
    fn one_person_in_many_rows_is_one_contact_with_the_latest_values() {
        let headers: Vec<String> = [
            "Email",
            "First Name",
            "Last Name",
            "Company",
            "Phone",
            "Last Activity Date",
        ]
        .iter()
        .map(|h| (*h).to_owned())
        .collect();
        let mapping = detect(&headers, &[]).unwrap();
        let p = plan(
            &mapping,
            rows(&[
                &[
                    "ann@example.com",
                    "Ann",
                    "Lee",
                    "Acme",
                    "",
                    "2026-10-01 09:30",
                ],
                &["bo@example.com", "", "", "", "", ""],
                &[" ANN@Example.com ", "", "", "Acme GmbH", "+49 30 1", "soon"],
                &["", "", "", "", "", ""],
                &["not-an-email", "X", "", "", "", ""],
                &["", "Nobody", "", "", "", ""],
            ]),
            None,
        );
        assert_eq!(p.contacts.len(), 2);
        let ann = &p.contacts[0];
        assert_eq!(ann.email.as_str(), "ann@example.com");
        assert_eq!(
            ann.fields.name.as_deref(),
            Some("Ann Lee"),
            "an empty later value keeps the earlier"
        );
        assert_eq!(
            ann.fields.company.as_deref(),
            Some("Acme GmbH"),
            "a later value wins"
        );
        assert_eq!(ann.fields.phone.as_deref(), Some("+49 30 1"));
        assert_eq!(
            ann.fields.last_contacted,
            NaiveDate::from_ymd_opt(2026, 10, 1)
        );
        assert_eq!(ann.lines, [2, 4]);
        assert_eq!((p.merged, p.blank, p.unreadable_dates), (1, 1, 1));
        let rejected: Vec<(u64, &str)> = p
            .rejects
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        assert_eq!(
            rejected,
            [
                (6, "the email address must contain exactly one @"),
                (7, "no email")
            ]
        );
    }
}
