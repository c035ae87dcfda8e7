//! Cells a spreadsheet would run. A rejects file is opened in Excel or LibreOffice to be
//! fixed, and a cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is
//! read there as a formula (`=cmd|' /C calc'!A0`). OWASP's CSV-injection guidance: begin
//! such a cell with a single quote, so the spreadsheet shows it as text. The importer
//! takes that quote off again, so a fixed rejects file imports what the export held
//! (`+49 30 1234567` stays a phone number).

/// What begins a formula in a spreadsheet cell.
const TRIGGERS: &[char] = &['=', '+', '-', '@', '\t', '\r'];

/// The cell as a spreadsheet shows text: a quote before a formula's first character.
pub fn inert(cell: &str) -> String {
    if cell.starts_with(TRIGGERS) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

/// The cell as it was before [`inert`]: a quote that stands before a formula's first
/// character is taken off; any other text is left as it is.
pub fn restored(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(TRIGGERS) => rest,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_formula_is_shown_as_text_and_read_back_as_it_was() {
        for cell in [
            "=cmd|' /C calc'!A0",
            "+49 30 1234567",
            "-2",
            "@SUM(1,2)",
            "\tx",
            "\rx",
        ] {
            let shown = inert(cell);
            assert!(shown.starts_with('\''), "{cell:?}");
            assert_eq!(restored(&shown), cell);
        }
        for cell in ["Ann", "ann@example.com", "'quoted'", "", "1+1"] {
            assert_eq!(inert(cell), cell);
            assert_eq!(restored(cell), cell);
        }
    }
}
