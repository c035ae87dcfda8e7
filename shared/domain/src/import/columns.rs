//! Which column of an export holds which contact field. Exports name their columns in
//! their own way (`Email`, `Email Address`, `E-mail 1 - Value`, `Person - Email`); a
//! header is compared after folding case, spaces and the object prefix some CRMs add
//! (`Person - `, `Contact: `), against the names the common exports use. `--map`
//! overrides any of it.

use std::fmt;

/// A contact field an import can fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    Email,
    Name,
    FirstName,
    LastName,
    Company,
    Phone,
    Status,
    Source,
    Notes,
    LastContacted,
}

/// The names `--map` takes, each with its field.
const FIELD_NAMES: &[(&str, Field)] = &[
    ("email", Field::Email),
    ("name", Field::Name),
    ("first_name", Field::FirstName),
    ("last_name", Field::LastName),
    ("company", Field::Company),
    ("phone", Field::Phone),
    ("status", Field::Status),
    ("source", Field::Source),
    ("notes", Field::Notes),
    ("last_contacted", Field::LastContacted),
];

impl Field {
    /// `email`, `first_name`, … as `--map` names them.
    pub fn parse(name: &str) -> Option<Self> {
        let name = name.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        FIELD_NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| *f)
    }

    pub fn name(self) -> &'static str {
        FIELD_NAMES
            .iter()
            .find(|(_, f)| *f == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Headers of the common exports, folded (see [`fold`]), by field. Several columns may
/// feed one field (Google's `E-mail 1 - Value`, `E-mail 2 - Value`): the first non-empty
/// one in the file's order wins.
const ALIASES: &[(Field, &[&str])] = &[
    (
        Field::Email,
        &[
            "email",
            "e-mail",
            "email address",
            "e-mail address",
            "primary email",
            "work email",
            "email - work",
            "email - home",
            "email - other",
            "e-mail 1 - value",
            "e-mail 2 - value",
            "e-mail 3 - value",
        ],
    ),
    (
        Field::Name,
        &["name", "full name", "contact name", "display name"],
    ),
    (Field::FirstName, &["first name", "firstname", "given name"]),
    (
        Field::LastName,
        &["last name", "lastname", "family name", "surname"],
    ),
    (
        Field::Company,
        &[
            "company",
            "company name",
            "organization",
            "organisation",
            "organization name",
            "organization - name",
            "organization 1 - name",
            "associated company",
            "account name",
        ],
    ),
    (
        Field::Phone,
        &[
            "phone",
            "phone number",
            "telephone",
            "mobile",
            "mobile phone",
            "mobile phone number",
            "work phone",
            "phone - work",
            "phone - mobile",
            "phone - home",
            "phone - other",
            "phone 1 - value",
            "phone 2 - value",
        ],
    ),
    (Field::Status, &["status", "lead status"]),
    (
        Field::Source,
        &["source", "lead source", "original source", "contact source"],
    ),
    (Field::Notes, &["notes", "note", "description", "comments"]),
    (
        Field::LastContacted,
        &[
            "last contacted",
            "last contact",
            "last activity date",
            "last activity",
            "last engagement date",
        ],
    ),
];

/// Object prefixes some CRMs put before every column of an export.
const PREFIXES: &[&str] = &["person - ", "contact - ", "contact: ", "lead - "];

/// A header as compared: lower case, trimmed, inner spaces collapsed, a byte-order mark
/// and an object prefix dropped.
pub fn fold(header: &str) -> String {
    let lower = header
        .trim_start_matches('\u{feff}')
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    PREFIXES
        .iter()
        .find_map(|p| lower.strip_prefix(p))
        .map(str::to_owned)
        .unwrap_or(lower)
}

/// Which columns feed which field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// `(column index, field)`, in the file's column order.
    pub columns: Vec<(usize, Field)>,
    /// Headers no field takes (reported, so a user can `--map` them).
    pub unused: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error(
        "no column holds the email (headers: {headers}); name it with --map \"<column>=email\""
    )]
    NoEmail { headers: String },
    #[error("--map names the column {0:?}, which the file does not have")]
    UnknownColumn(String),
    #[error("--map entry {0:?}: expected \"<column>=<field>\" with a field among {fields}", fields = FIELD_NAMES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "))]
    BadEntry(String),
}

/// Parses `--map "E-mail=email,Organisation=company"`.
pub fn parse_overrides(text: &str) -> Result<Vec<(String, Field)>, MappingError> {
    text.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| {
            let (column, field) = entry
                .rsplit_once('=')
                .ok_or_else(|| MappingError::BadEntry(entry.to_owned()))?;
            let field =
                Field::parse(field).ok_or_else(|| MappingError::BadEntry(entry.to_owned()))?;
            Ok((column.trim().to_owned(), field))
        })
        .collect()
}

/// The mapping of `headers`: `overrides` first (by header, folded), then the common
/// exports' names.
pub fn detect(headers: &[String], overrides: &[(String, Field)]) -> Result<Mapping, MappingError> {
    let folded: Vec<String> = headers.iter().map(|h| fold(h)).collect();
    let mut chosen: Vec<Option<Field>> = vec![None; headers.len()];
    for (column, field) in overrides {
        let want = fold(column);
        let index = folded
            .iter()
            .position(|h| *h == want)
            .ok_or_else(|| MappingError::UnknownColumn(column.clone()))?;
        chosen[index] = Some(*field);
    }
    let overridden: Vec<Field> = overrides.iter().map(|(_, f)| *f).collect();
    for (index, header) in folded.iter().enumerate() {
        if chosen[index].is_some() {
            continue;
        }
        chosen[index] = ALIASES
            .iter()
            .find(|(_, names)| names.contains(&header.as_str()))
            .map(|(field, _)| *field)
            // A field given by --map is taken from that column alone.
            .filter(|f| !overridden.contains(f));
    }
    let columns: Vec<(usize, Field)> = chosen
        .iter()
        .enumerate()
        .filter_map(|(i, f)| f.map(|f| (i, f)))
        .collect();
    if !columns.iter().any(|(_, f)| *f == Field::Email) {
        return Err(MappingError::NoEmail {
            headers: headers.join(", "),
        });
    }
    let unused = chosen
        .iter()
        .zip(headers)
        .filter(|(f, h)| f.is_none() && !h.trim().is_empty())
        .map(|(_, h)| h.trim().to_owned())
        .collect();
    Ok(Mapping { columns, unused })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| (*s).to_owned()).collect()
    }

    fn fields(m: &Mapping) -> Vec<Field> {
        m.columns.iter().map(|(_, f)| *f).collect()
    }

    #[test]
    fn a_plain_file_maps_by_its_names() {
        let m = detect(
            &headers(&["\u{feff}email", "Name", "company", "phone", "notes"]),
            &[],
        )
        .unwrap();
        assert_eq!(
            fields(&m),
            [
                Field::Email,
                Field::Name,
                Field::Company,
                Field::Phone,
                Field::Notes
            ]
        );
        assert!(m.unused.is_empty());
    }

    #[test]
    fn prefixes_case_and_spaces_do_not_matter() {
        let m = detect(
            &headers(&[
                "Person - Name",
                "Person -  EMAIL",
                "Organization - Name",
                "Person - Owner",
            ]),
            &[],
        )
        .unwrap();
        assert_eq!(fields(&m), [Field::Name, Field::Email, Field::Company]);
        assert_eq!(m.unused, ["Person - Owner"]);
    }

    #[test]
    fn overrides_win_and_name_unknown_columns() {
        let o = parse_overrides("E-Mail-Adresse=email, Firma=company").unwrap();
        let m = detect(&headers(&["Firma", "E-Mail-Adresse", "Email"]), &o).unwrap();
        assert_eq!(
            fields(&m),
            [Field::Company, Field::Email],
            "the mapped column alone"
        );
        assert_eq!(
            detect(
                &headers(&["email"]),
                &parse_overrides("Nope=company").unwrap()
            ),
            Err(MappingError::UnknownColumn("Nope".into()))
        );
        assert!(matches!(
            parse_overrides("x=colour"),
            Err(MappingError::BadEntry(_))
        ));
        assert!(matches!(
            parse_overrides("x"),
            Err(MappingError::BadEntry(_))
        ));
    }

    #[test]
    fn a_file_without_an_email_column_says_how_to_name_it() {
        let err = detect(&headers(&["Name", "Mail"]), &[]).unwrap_err();
        assert!(
            err.to_string().contains("--map \"<column>=email\""),
            "{err}"
        );
        assert!(err.to_string().contains("Name, Mail"), "{err}");
    }
}
