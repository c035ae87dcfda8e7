//! Dates as exports write them: ISO (`2026-11-02`, with or without a time), and the
//! slashed `M/D/YYYY` of US exports (Salesforce, HubSpot in the US) or `D/M/YYYY` of
//! most others (`D.M.YYYY` too), with or without a time after a space. Which of the two
//! a column holds is decided from the column's own values: a first part over 12
//! (`15/08/2025`) says day first, a second part over 12 (`8/15/2025`) month first; a
//! column with neither cannot tell, and the import asks which (`--dates mdy|dmy`)
//! rather than guess a date wrong.

use std::fmt;

use chrono::NaiveDate;

use super::plan::Row;

/// The order of a slashed date's parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateOrder {
    /// `M/D/YYYY`.
    MonthFirst,
    /// `D/M/YYYY`.
    DayFirst,
}

impl DateOrder {
    /// `mdy` or `dmy`, as `--dates` takes it.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "mdy" | "m/d/y" => Some(Self::MonthFirst),
            "dmy" | "d/m/y" => Some(Self::DayFirst),
            _ => None,
        }
    }
}

/// A date column whose slashed dates could be either order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateColumnError {
    /// Every slashed date reads both ways (`3/4/2026`).
    Undecided { column: String, example: String },
    /// Some values are month first and others day first.
    Mixed {
        column: String,
        month_first: String,
        day_first: String,
    },
}

impl fmt::Display for DateColumnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Undecided { column, example } => write!(
                f,
                "the dates of column {column:?} can be read month first or day first ({example:?}): say which with --dates mdy or --dates dmy"
            ),
            Self::Mixed {
                column,
                month_first,
                day_first,
            } => write!(
                f,
                "column {column:?} holds dates month first ({month_first:?}) and day first ({day_first:?}): make them one order, or say which with --dates mdy or --dates dmy (the others are left out)"
            ),
        }
    }
}

impl std::error::Error for DateColumnError {}

/// The parts of a slashed (or dotted) date, and the year: `None` when it is not one.
fn slashed(text: &str) -> Option<(u32, u32, i32)> {
    let day = text.split_whitespace().next()?;
    let separator = if day.contains('/') { '/' } else { '.' };
    let mut parts = day.split(separator);
    let (a, b, y) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || a.len() > 2 || b.len() > 2 {
        return None;
    }
    let year: i32 = match y.len() {
        4 => y.parse().ok()?,
        2 => 2000 + y.parse::<i32>().ok()?,
        _ => return None,
    };
    Some((a.parse().ok()?, b.parse().ok()?, year))
}

/// How a column's slashed dates are to be read: `given` when said, else what the values
/// say; `Ok(None)` when the column holds none.
pub fn column_order<'a>(
    column: &str,
    values: impl IntoIterator<Item = &'a str>,
    given: Option<DateOrder>,
) -> Result<Option<DateOrder>, DateColumnError> {
    let (mut month_first, mut day_first, mut either) = (None, None, None);
    for value in values {
        let Some((a, b, _)) = slashed(value.trim()) else {
            continue;
        };
        if a > 12 && b <= 12 {
            day_first.get_or_insert_with(|| value.trim().to_owned());
        } else if b > 12 && a <= 12 {
            month_first.get_or_insert_with(|| value.trim().to_owned());
        } else if a <= 12 && b <= 12 {
            either.get_or_insert_with(|| value.trim().to_owned());
        }
    }
    if given.is_some() {
        return Ok(given);
    }
    match (month_first, day_first, either) {
        (Some(month_first), Some(day_first), _) => Err(DateColumnError::Mixed {
            column: column.to_owned(),
            month_first,
            day_first,
        }),
        (Some(_), None, _) => Ok(Some(DateOrder::MonthFirst)),
        (None, Some(_), _) => Ok(Some(DateOrder::DayFirst)),
        (None, None, Some(example)) => Err(DateColumnError::Undecided {
            column: column.to_owned(),
            example,
        }),
        (None, None, None) => Ok(None),
    }
}

/// The order of a file's slashed dates, decided from each of its date `columns` (by
/// index into `headers`), `given` when said.
pub fn file_order(
    headers: &[String],
    columns: &[usize],
    rows: &[Row],
    given: Option<DateOrder>,
) -> Result<Option<DateOrder>, DateColumnError> {
    let mut found: Option<(DateOrder, &str)> = None;
    for &column in columns {
        let name = headers.get(column).map_or("?", |h| h.trim());
        let values = rows
            .iter()
            .filter_map(|r| r.cells.get(column))
            .map(String::as_str);
        let Some(order) = column_order(name, values, given)? else {
            continue;
        };
        match found {
            Some((earlier, other)) if earlier != order => {
                let (month_first, day_first) = match earlier {
                    DateOrder::MonthFirst => (other, name),
                    DateOrder::DayFirst => (name, other),
                };
                return Err(DateColumnError::Mixed {
                    column: format!("{month_first}\" and \"{day_first}"),
                    month_first: format!("column {month_first}"),
                    day_first: format!("column {day_first}"),
                });
            }
            _ => found = Some((order, name)),
        }
    }
    Ok(found.map(|(order, _)| order))
}

/// A date cell read: ISO, or slashed in `order`. `None` when it is neither.
pub fn read_date(text: &str, order: Option<DateOrder>) -> Option<NaiveDate> {
    let text = text.trim();
    if let Some(day) = text.get(..10)
        && let Ok(date) = NaiveDate::parse_from_str(day, "%Y-%m-%d")
    {
        return Some(date);
    }
    let (a, b, year) = slashed(text)?;
    let (month, day) = match order? {
        DateOrder::MonthFirst => (a, b),
        DateOrder::DayFirst => (b, a),
    };
    NaiveDate::from_ymd_opt(year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    #[test]
    fn a_column_says_its_order_when_one_value_can_only_be_read_one_way() {
        let us = ["3/4/2026", "8/15/2025 9:14 AM", ""];
        assert_eq!(
            column_order("Last Activity", us, None),
            Ok(Some(DateOrder::MonthFirst))
        );
        let eu = ["03/04/2026", "15/08/2025 14:30"];
        assert_eq!(
            column_order("Last Activity", eu, None),
            Ok(Some(DateOrder::DayFirst))
        );
        assert_eq!(column_order("x", ["2026-01-02", "soon"], None), Ok(None));
        let undecided = column_order("Last Activity", ["3/4/2026", "1/2/2026"], None);
        assert!(
            matches!(&undecided, Err(DateColumnError::Undecided { column, .. }) if column == "Last Activity")
        );
        assert!(undecided.unwrap_err().to_string().contains("--dates mdy"));
        assert!(matches!(
            column_order("x", ["8/15/2025", "15/8/2025"], None),
            Err(DateColumnError::Mixed { .. })
        ));
        assert_eq!(
            column_order("x", ["3/4/2026"], Some(DateOrder::DayFirst)),
            Ok(Some(DateOrder::DayFirst)),
            "a given order decides"
        );
    }

    #[test]
    fn dates_are_read_in_their_order_with_or_without_a_time() {
        let us = Some(DateOrder::MonthFirst);
        let eu = Some(DateOrder::DayFirst);
        assert_eq!(read_date("8/15/2025 9:14 AM", us), ymd(2025, 8, 15));
        assert_eq!(read_date("3/4/2026", us), ymd(2026, 3, 4));
        assert_eq!(read_date("3/4/2026", eu), ymd(2026, 4, 3));
        assert_eq!(read_date("15.08.2025", eu), ymd(2025, 8, 15));
        assert_eq!(read_date("1/2/26", us), ymd(2026, 1, 2));
        assert_eq!(read_date("2026-11-02T10:00:00Z", None), ymd(2026, 11, 2));
        assert_eq!(read_date("2026-11-02 10:00", eu), ymd(2026, 11, 2));
        assert_eq!(read_date("13/13/2026", us), None);
        assert_eq!(read_date("3/4/2026", None), None, "no order, no guess");
        assert_eq!(read_date("soon", us), None);
    }
}
