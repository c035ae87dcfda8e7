//! Deals from an export (`crm import --deals`): which column is which deal field, and
//! the rows as deals to write — one per deal name and contact, the later non-empty value
//! winning; a row without a name, or with a value or a contact address that cannot be
//! read, is a reject with its line.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::columns::fold;
use super::dates::DateOrder;
use super::plan::{Reject, Row, date_counted, first_value};
use crate::email::ContactEmail;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DealField {
    Name,
    Stage,
    Value,
    /// The owner's email (or name), matched with the workspace's people.
    Owner,
    /// The contact's email, matched with the Contacts.
    Contact,
    CloseDate,
    /// Won, lost or open (Pipedrive's `Deal - Status`): a won or lost deal is in that
    /// stage whatever its stage column says (Pipedrive keeps the stage it was won in).
    Status,
    /// The currency of the value (Pipedrive's `Deal - Currency`, HubSpot's `Currency`).
    Currency,
}

impl DealField {
    /// The field as the import's summary names it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Stage => "stage",
            Self::Value => "value",
            Self::Owner => "owner",
            Self::Contact => "contact",
            Self::CloseDate => "close_date",
            Self::Status => "status",
            Self::Currency => "currency",
        }
    }
}

const ALIASES: &[(DealField, &[&str])] = &[
    (
        DealField::Name,
        &[
            "deal name",
            "deal",
            "title",
            "deal title",
            "name",
            "opportunity name",
        ],
    ),
    (DealField::Stage, &["stage", "deal stage", "pipeline stage"]),
    (
        DealField::Value,
        &["value", "amount", "deal value", "deal amount"],
    ),
    (
        DealField::Owner,
        &[
            "owner",
            "deal owner",
            "owner email",
            "deal owner email",
            "owner name",
        ],
    ),
    (
        DealField::Contact,
        &[
            "contact email",
            "email",
            "person email",
            "contact person email",
            "associated contact email",
            "email - work",
            "email - home",
            "email - other",
        ],
    ),
    (DealField::Status, &["status", "deal status"]),
    (
        DealField::Currency,
        &["currency", "deal currency", "currency code"],
    ),
    (
        DealField::CloseDate,
        &[
            "close date",
            "expected close date",
            "closed date",
            "won time",
            "close time",
        ],
    ),
];

/// `(column, field)` for a deals export: the common names, with a `Deal - ` prefix
/// folded too (a `Person - ` one already is). `None` when no column names the deal.
pub fn detect(headers: &[String]) -> Option<Vec<(usize, DealField)>> {
    let mut columns = Vec::new();
    for (index, header) in headers.iter().enumerate() {
        let folded = fold(header);
        let folded = folded.strip_prefix("deal - ").unwrap_or(&folded);
        if let Some((field, _)) = ALIASES.iter().find(|(_, names)| names.contains(&folded)) {
            columns.push((index, *field));
        }
    }
    columns
        .iter()
        .any(|(_, f)| *f == DealField::Name)
        .then_some(columns)
}

/// The headers that say a file holds deals, not contacts: a column named for the deal
/// (`Deal - Title`, `Deal Name`, `Opportunity Name`), or a stage beside an amount. Empty
/// when none does.
pub fn telling_deal_headers(headers: &[String]) -> Vec<String> {
    let folded: Vec<String> = headers.iter().map(|h| fold(h)).collect();
    let named: Vec<String> = headers
        .iter()
        .zip(&folded)
        .filter(|(_, f)| {
            f.starts_with("deal ") || f.starts_with("deal - ") || f.starts_with("opportunity")
        })
        .map(|(h, _)| h.trim().to_owned())
        .collect();
    if !named.is_empty() {
        return named;
    }
    let stage = folded
        .iter()
        .position(|f| ["stage", "pipeline stage"].contains(&f.as_str()));
    let amount = folded
        .iter()
        .position(|f| ["amount", "value"].contains(&f.as_str()));
    match (stage, amount) {
        (Some(s), Some(a)) => vec![headers[s].trim().to_owned(), headers[a].trim().to_owned()],
        _ => Vec::new(),
    }
}

/// The stages of the default pipelines of the CRMs people leave (Pipedrive, HubSpot by
/// its labels and its internal names, Salesforce), folded, with the stage of this
/// product's Deals schema each is: used when the Stage property has no option of the
/// export's own name.
const STAGE_SYNONYMS: &[(&str, &str)] = &[
    // Pipedrive.
    ("lead in", "lead"),
    ("contact made", "qualified"),
    ("prospect qualified", "qualified"),
    ("needs defined", "qualified"),
    ("demo scheduled", "proposal"),
    ("proposal made", "proposal"),
    ("negotiations started", "negotiation"),
    // HubSpot.
    ("appointment scheduled", "qualified"),
    ("appointmentscheduled", "qualified"),
    ("qualified to buy", "qualified"),
    ("qualifiedtobuy", "qualified"),
    ("presentation scheduled", "proposal"),
    ("presentationscheduled", "proposal"),
    ("decision maker bought-in", "negotiation"),
    ("decisionmakerboughtin", "negotiation"),
    ("contract sent", "negotiation"),
    ("contractsent", "negotiation"),
    ("closed won", "won"),
    ("closedwon", "won"),
    ("closed lost", "lost"),
    ("closedlost", "lost"),
    // Salesforce.
    ("prospecting", "lead"),
    ("qualification", "qualified"),
    ("needs analysis", "qualified"),
    ("value proposition", "proposal"),
    ("proposal/price quote", "proposal"),
    ("negotiation/review", "negotiation"),
];

/// `--stage "Contact Made=qualified,Demo Scheduled=proposal"`: the export's stage (any
/// case) and the Stage option it becomes.
pub fn parse_stage_map(text: &str) -> Result<Vec<(String, String)>, String> {
    text.split(',')
        .filter(|pair| !pair.trim().is_empty())
        .map(|pair| {
            let (from, to) = pair.split_once('=').ok_or_else(|| {
                format!("{pair:?}: write it as \"<the export's stage>=<a Stage option>\"")
            })?;
            let (from, to) = (fold(from), to.trim().to_owned());
            if from.is_empty() || to.is_empty() {
                return Err(format!("{pair:?}: both sides of = are needed"));
            }
            Ok((from, to))
        })
        .collect()
}

/// The Stage option an export's stage becomes, among `options` (Notion's, any case): as
/// `--stage` says, else the option of its own name, else the default pipelines' stage
/// it is. `None` when none is an option.
pub fn match_stage(raw: &str, options: &[String], given: &[(String, String)]) -> Option<String> {
    let folded = fold(raw);
    let option = |name: &str| {
        options
            .iter()
            .find(|o| o.trim().eq_ignore_ascii_case(name.trim()))
            .cloned()
    };
    if let Some((_, to)) = given.iter().find(|(from, _)| *from == folded) {
        return option(to);
    }
    option(raw).or_else(|| {
        STAGE_SYNONYMS
            .iter()
            .find(|(from, _)| *from == folded)
            .and_then(|(_, to)| option(to))
    })
}

/// Currencies as exports write them (a code, or a symbol), by Notion's number format.
const CURRENCIES: &[(&str, Option<char>, &str)] = &[
    ("USD", Some('$'), "dollar"),
    ("EUR", Some('€'), "euro"),
    ("GBP", Some('£'), "pound"),
    ("JPY", Some('¥'), "yen"),
    ("INR", Some('₹'), "rupee"),
    ("CHF", None, "franc"),
    ("CAD", None, "canadian_dollar"),
    ("AUD", None, "australian_dollar"),
];

/// The currency an amount (or a currency column) is written in — a code before or
/// after the number, or a symbol — as Notion's number formats name it; `None` when it
/// says none.
pub fn amount_currency(text: &str) -> Option<&'static str> {
    let text = text.trim();
    let upper = text.to_ascii_uppercase();
    // A code says more than a symbol: `AUD $100` is in Australian dollars.
    let by_code = CURRENCIES
        .iter()
        .find(|(code, _, _)| upper.starts_with(code) || upper.ends_with(code));
    by_code
        .or_else(|| {
            CURRENCIES
                .iter()
                .find(|(_, symbol, _)| symbol.is_some_and(|s| text.contains(s)))
        })
        .map(|(_, _, format)| *format)
}

/// What makes two deals one: the name (case and spaces aside), `|`, the contact's
/// canonical email (empty without one). For the file's rows and Notion's deals alike.
pub fn deal_key(name: &str, contact: Option<&str>) -> String {
    format!(
        "{}|{}",
        name.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase(),
        contact.unwrap_or_default()
    )
}

/// One deal to write.
#[derive(Debug, Clone, PartialEq)]
pub struct Deal {
    pub name: String,
    pub stage: Option<String>,
    pub value: Option<f64>,
    pub owner: Option<String>,
    pub contact: Option<ContactEmail>,
    pub close_date: Option<NaiveDate>,
    /// The currency its value was written in, as Notion's number formats name it.
    pub currency: Option<&'static str>,
    pub lines: Vec<u64>,
}

impl Deal {
    /// What makes two rows one deal: its name (case and spaces aside) and its contact.
    pub fn key(&self) -> String {
        deal_key(&self.name, self.contact.as_ref().map(ContactEmail::as_str))
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DealPlan {
    pub deals: Vec<Deal>,
    pub rejects: Vec<Reject>,
    pub merged: usize,
    pub blank: usize,
    /// Close dates that could not be read (left out of the deal), as for contacts.
    pub unreadable_dates: usize,
}

/// The rows as deals; slashed dates read in `dates` (see `dates::file_order`).
pub fn plan_deals(
    columns: &[(usize, DealField)],
    rows: impl IntoIterator<Item = Row>,
    dates: Option<DateOrder>,
) -> DealPlan {
    let mut out = DealPlan::default();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for row in rows {
        if row.cells.iter().all(|c| c.trim().is_empty()) {
            out.blank += 1;
            continue;
        }
        let value = |field: DealField| first_value(columns, &row.cells, field);
        let reject = |reason: String| Reject {
            line: row.line,
            reason,
        };
        let Some(name) = value(DealField::Name) else {
            out.rejects.push(reject("no deal name".into()));
            continue;
        };
        let amount = match value(DealField::Value).map(|v| (parse_amount(&v), v)) {
            None => None,
            Some((Some(n), _)) => Some(n),
            Some((None, raw)) => {
                out.rejects
                    .push(reject(format!("the value {raw:?} is not a number")));
                continue;
            }
        };
        let contact = match value(DealField::Contact).map(|e| ContactEmail::parse(&e)) {
            None => None,
            Some(Ok(email)) => Some(email),
            Some(Err(e)) => {
                out.rejects.push(reject(format!("the contact's {e}")));
                continue;
            }
        };
        let close_date = date_counted(
            value(DealField::CloseDate),
            dates,
            &mut out.unreadable_dates,
        );
        // Won or lost says where the deal is; an open one is where its stage says.
        let stage = match value(DealField::Status).map(|s| fold(&s)).as_deref() {
            Some(status @ ("won" | "lost")) => Some(status.to_owned()),
            _ => value(DealField::Stage),
        };
        let currency = value(DealField::Currency)
            .and_then(|c| amount_currency(&c))
            .or_else(|| value(DealField::Value).and_then(|v| amount_currency(&v)));
        let deal = Deal {
            name,
            stage,
            currency,
            value: amount,
            owner: value(DealField::Owner),
            contact,
            close_date,
            lines: vec![row.line],
        };
        match by_key.get(&deal.key()) {
            Some(&i) => {
                let earlier = &mut out.deals[i];
                earlier.stage = deal.stage.or(earlier.stage.take());
                earlier.value = deal.value.or(earlier.value);
                earlier.owner = deal.owner.or(earlier.owner.take());
                earlier.close_date = deal.close_date.or(earlier.close_date);
                earlier.lines.push(row.line);
                out.merged += 1;
            }
            None => {
                by_key.insert(deal.key(), out.deals.len());
                out.deals.push(deal);
            }
        }
    }
    out
}

/// `12000`, `$12,000.50`, `12.000,50 €`, `EUR 1 200`: the number, or `None`. The last
/// of `.` and `,` is the decimal mark when two or fewer digits follow it.
pub fn parse_amount(text: &str) -> Option<f64> {
    let mut t: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '$' | '€' | '£' | '¥' | '₹' | '\''))
        .collect();
    // A currency code before or after (`EUR 1 200`, `1200 USD`).
    let code = |s: &str| s.len() == 3 && s.chars().all(|c| c.is_ascii_uppercase());
    // `get` rather than slicing: a cell may start or end with any character, and a
    // byte index inside one would panic.
    if t.len() > 3 && t.get(..3).is_some_and(code) {
        t.drain(..3);
    } else if t.len() > 3 && t.get(t.len() - 3..).is_some_and(code) {
        t.truncate(t.len() - 3);
    }
    let ok = !t.is_empty()
        && t.chars().any(|c| c.is_ascii_digit())
        && t.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | ',' | '-'));
    if !ok {
        return None;
    }
    let normal = match t.rfind(['.', ',']) {
        Some(i) if t.len() - i - 1 <= 2 => {
            let (whole, fraction) = t.split_at(i);
            format!("{}.{}", whole.replace(['.', ','], ""), &fraction[1..])
        }
        _ => t.replace(['.', ','], ""),
    };
    normal.parse().ok().filter(|n: &f64| n.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_in_their_local_spellings() {
        assert_eq!(parse_amount("12000"), Some(12000.0));
        assert_eq!(parse_amount("$12,000.50"), Some(12000.5));
        assert_eq!(parse_amount("12.000,50 €"), Some(12000.5));
        assert_eq!(parse_amount("EUR 1 200"), Some(1200.0));
        assert_eq!(parse_amount("12,000"), Some(12000.0));
        assert_eq!(parse_amount("1200 USD"), Some(1200.0));
        assert_eq!(parse_amount("soon"), None);
        assert_eq!(parse_amount("12k"), None);
        // Multi-byte characters where a currency code would be: no number, no panic.
        assert_eq!(parse_amount("ééé100"), None);
        assert_eq!(parse_amount("100ééé"), None);
        assert_eq!(parse_amount("€€€"), None);
    }

    #[test]
    fn a_pipedrive_deals_export_maps_and_one_deal_per_name_and_contact() {
        let headers: Vec<String> = [
            "Deal - Title",
            "Deal - Value",
            "Deal - Stage",
            "Deal - Owner",
            "Person - Email",
            "Deal - Expected close date",
        ]
        .iter()
        .map(|h| (*h).to_owned())
        .collect();
        let columns = detect(&headers).unwrap();
        assert_eq!(columns.len(), 6);
        let row = |line: u64, cells: &[&str]| Row {
            line,
            cells: cells.iter().map(|c| (*c).to_owned()).collect(),
        };
        let p = plan_deals(
            &columns,
            [
                row(
                    2,
                    &[
                        "Acme renewal",
                        "12,000",
                        "proposal",
                        "dana@example.com",
                        "ann@example.com",
                        "2026-12-01",
                    ],
                ),
                row(
                    3,
                    &[
                        "ACME  renewal",
                        "",
                        "Negotiation",
                        "",
                        "Ann@Example.com",
                        "",
                    ],
                ),
                row(
                    4,
                    &["Acme renewal", "", "", "", "bo@example.com", "12/01/2026"],
                ),
                row(5, &["", "1", "", "", "", ""]),
                row(6, &["Odd", "12k?", "", "", "", ""]),
                row(7, &["Odd", "", "", "", "not-an-email", ""]),
            ],
            None,
        );
        assert_eq!(p.deals.len(), 2, "one per name and contact");
        let acme = &p.deals[0];
        assert_eq!(
            (acme.stage.as_deref(), acme.value),
            (Some("Negotiation"), Some(12000.0))
        );
        assert_eq!(acme.owner.as_deref(), Some("dana@example.com"));
        assert_eq!(acme.lines, [2, 3]);
        assert_eq!(p.merged, 1);
        assert_eq!(
            (p.deals[1].close_date, p.unreadable_dates),
            (None, 1),
            "a slashed date with no order for the file is left out and counted"
        );
        let reasons: Vec<(u64, &str)> = p
            .rejects
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        assert_eq!(reasons[0], (5, "no deal name"));
        assert!(reasons[1].1.contains("\"12k?\" is not a number"));
        assert!(reasons[2].1.starts_with("the contact's the email address"));
        assert!(
            detect(&["Email".to_owned()]).is_none(),
            "no deal name column"
        );
        assert_eq!(
            telling_deal_headers(&headers),
            [
                "Deal - Title",
                "Deal - Value",
                "Deal - Stage",
                "Deal - Owner",
                "Deal - Expected close date"
            ]
        );
    }

    #[test]
    fn stages_of_the_default_pipelines_find_the_schemas_and_given_ones_win() {
        let options: Vec<String> = crate::schema::STAGES
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        for (export, stage) in [
            ("Contact Made", "qualified"),
            ("Negotiations Started", "negotiation"),
            ("closedwon", "won"),
            ("Closed Lost", "lost"),
            ("Presentation Scheduled", "proposal"),
            ("Negotiation/Review", "negotiation"),
            ("WON", "won"),
        ] {
            assert_eq!(
                match_stage(export, &options, &[]).as_deref(),
                Some(stage),
                "{export}"
            );
        }
        assert_eq!(match_stage("Mystery", &options, &[]), None);
        let given = parse_stage_map("Mystery=Qualified, Contact Made = proposal").unwrap();
        assert_eq!(
            match_stage("mystery", &options, &given).as_deref(),
            Some("qualified")
        );
        assert_eq!(
            match_stage("Contact Made", &options, &given).as_deref(),
            Some("proposal"),
            "a given stage wins over the table"
        );
        assert_eq!(
            match_stage(
                "Mystery",
                &options,
                &parse_stage_map("Mystery=nope").unwrap()
            ),
            None
        );
        assert!(parse_stage_map("Contact Made").unwrap_err().contains("="));
        // A workspace with a stage of the export's own name keeps it.
        let own = vec!["Contact Made".to_owned(), "qualified".to_owned()];
        assert_eq!(
            match_stage("contact made", &own, &[]).as_deref(),
            Some("Contact Made")
        );
    }

    #[test]
    fn a_values_currency_is_read_from_its_symbol_code_or_column() {
        assert_eq!(amount_currency("$12,000.50"), Some("dollar"));
        assert_eq!(amount_currency("12.000,50 €"), Some("euro"));
        assert_eq!(amount_currency("EUR 1 200"), Some("euro"));
        assert_eq!(amount_currency("1200 GBP"), Some("pound"));
        assert_eq!(amount_currency("1200"), None);
        assert_eq!(
            amount_currency(" eur "),
            Some("euro"),
            "a currency column's code"
        );
        assert_eq!(
            amount_currency("AUD $100"),
            Some("australian_dollar"),
            "a code before a symbol"
        );
        let headers: Vec<String> = [
            "Deal - Title",
            "Deal - Value",
            "Deal - Currency",
            "Deal - Status",
            "Deal - Stage",
        ]
        .map(str::to_owned)
        .to_vec();
        let columns = detect(&headers).unwrap();
        let row = |cells: &[&str]| Row {
            line: 2,
            cells: cells.iter().map(|c| (*c).to_owned()).collect(),
        };
        let p = plan_deals(
            &columns,
            [
                row(&["A", "100", "EUR", "open", "Proposal Made"]),
                row(&["B", "100", "", "won", "Proposal Made"]),
                row(&["C", "100", "", "Lost", "Contact Made"]),
            ],
            None,
        );
        let got: Vec<(Option<&str>, Option<&str>)> = p
            .deals
            .iter()
            .map(|d| (d.stage.as_deref(), d.currency))
            .collect();
        assert_eq!(
            got,
            [
                (Some("Proposal Made"), Some("euro")),
                (Some("won"), None),
                (Some("lost"), None)
            ],
            "won or lost whatever the stage column says"
        );
    }

    #[test]
    fn a_contacts_export_tells_no_deal_and_a_stage_beside_an_amount_does() {
        let h = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        assert!(telling_deal_headers(&h(&["Email", "Name", "Lead Status", "Company"])).is_empty());
        assert_eq!(
            telling_deal_headers(&h(&["Name", "Stage", "Amount", "Email"])),
            ["Stage", "Amount"]
        );
        assert_eq!(
            telling_deal_headers(&h(&["Opportunity Name", "Email"])),
            ["Opportunity Name"]
        );
    }
}
