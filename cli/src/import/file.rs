//! An export file as headers and rows: UTF-8 (with or without a byte-order mark) or
//! Windows-1252 (what Excel saves on Windows), `,` or `;` between fields (`;` where the
//! decimal separator is a comma).

use crm_domain::import::formula::restored;
use crm_domain::import::{Reject, Row, by_shape};

/// The file, read.
pub struct Table {
    pub headers: Vec<String>,
    /// The rows of the header's shape.
    pub rows: Vec<Row>,
    /// Rows of another shape, each with its reason (see `crm_domain::import::shape`).
    pub misshapen: Vec<Reject>,
    /// Rows of a report's footer, skipped.
    pub footer: usize,
    /// Every row as read, by line, for the rejects file.
    pub all: Vec<Row>,
    /// What the bytes were read as, for the summary.
    pub encoding: &'static str,
    pub separator: char,
}

pub fn read(bytes: &[u8]) -> Result<Table, String> {
    let (text, encoding) = decode(bytes);
    let separator = sniff(&text);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(separator as u8)
        .flexible(true)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("cannot read the header row: {e}"))?
        .iter()
        .map(|h| restored(h).to_owned())
        .collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("cannot read the file: {e}"))?;
        // The header is line 1; a quoted value may span lines, so the record says where
        // it starts.
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        rows.push(Row {
            line,
            // A quote the rejects file put before a formula comes off again.
            cells: record.iter().map(|c| restored(c).to_owned()).collect(),
        });
    }
    let shaped = by_shape(headers.len(), rows.clone());
    Ok(Table {
        headers,
        rows: shaped.rows,
        misshapen: shaped.rejects,
        footer: shaped.footer,
        all: rows,
        encoding,
        separator,
    })
}

/// UTF-8 when the bytes are UTF-8 (a byte-order mark dropped), else Windows-1252, which
/// decodes any byte.
fn decode(bytes: &[u8]) -> (String, &'static str) {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => (text.to_owned(), "UTF-8"),
        Err(_) => {
            let (text, _, _) = encoding_rs::WINDOWS_1252.decode(bytes);
            (text.into_owned(), "Windows-1252")
        }
    }
}

/// `;` when the header row has more of them than commas (outside quotes), else `,`.
fn sniff(text: &str) -> char {
    let header = text.lines().next().unwrap_or_default();
    let (mut commas, mut semicolons, mut quoted) = (0, 0, false);
    for c in header.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => commas += 1,
            ';' if !quoted => semicolons += 1,
            _ => {}
        }
    }
    if semicolons > commas { ';' } else { ',' }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_with_a_bom_and_commas() {
        let t = read("\u{feff}Email,Name\nann@example.com,\"Lee, Ann\"\n".as_bytes()).unwrap();
        assert_eq!(t.headers, ["Email", "Name"]);
        assert_eq!(t.rows[0].cells, ["ann@example.com", "Lee, Ann"]);
        assert_eq!(t.rows[0].line, 2);
        assert_eq!((t.encoding, t.separator), ("UTF-8", ','));
    }

    #[test]
    fn windows_1252_with_semicolons() {
        let bytes = b"E-Mail;Firma\nj\xfcrgen@example.de;M\xfcller GmbH\n";
        let t = read(bytes).unwrap();
        assert_eq!(t.rows[0].cells, ["jürgen@example.de", "Müller GmbH"]);
        assert_eq!((t.encoding, t.separator), ("Windows-1252", ';'));
    }

    #[test]
    fn a_value_over_several_lines_keeps_the_next_rows_line_numbers() {
        let t = read(b"email,notes\na@b.co,\"one\ntwo\"\nc@d.co,x\n").unwrap();
        assert_eq!(t.rows[1].line, 4);
    }
}
