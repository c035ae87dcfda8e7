//! `multipart/form-data` (RFC 7578) as a browser sends it: parts split by a boundary
//! line, each with a `Content-Disposition: form-data; name="…"` header. Only text fields
//! are taken: a part that carries a file is refused by name, since a lead has nowhere
//! to keep one. The body is at most 64 KiB, so a plain scan is enough.

use super::body::BodyError;

const CRLF: &[u8] = b"\r\n";

pub fn fields(boundary: &str, body: &[u8]) -> Result<Vec<(String, String)>, BodyError> {
    let delimiter = [b"--", boundary.as_bytes()].concat();
    // The first boundary may follow a preamble, which is ignored.
    let start = find(body, &delimiter).ok_or(BodyError::Multipart("no boundary line"))?;
    let mut rest = &body[start + delimiter.len()..];
    let next_delimiter = [CRLF, &delimiter].concat();
    let mut out = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Ok(out);
        }
        rest = rest.strip_prefix(CRLF).ok_or(BodyError::Multipart(
            "a boundary line does not end the line",
        ))?;
        let head_end = find(rest, b"\r\n\r\n").ok_or(BodyError::Multipart(
            "a part has no blank line after its headers",
        ))?;
        let head = std::str::from_utf8(&rest[..head_end]).map_err(|_| BodyError::NotUtf8)?;
        let content_start = head_end + 4;
        let content_len = find(&rest[content_start..], &next_delimiter)
            .ok_or(BodyError::Multipart("the closing boundary is missing"))?;
        let content = &rest[content_start..content_start + content_len];
        let part = disposition(head)?;
        if let Some(filename) = part.filename {
            // A file input left empty still sends a part, with an empty name and body.
            if !filename.is_empty() || !content.is_empty() {
                return Err(BodyError::FileNotAccepted(part.name));
            }
        } else {
            let value = std::str::from_utf8(content).map_err(|_| BodyError::NotUtf8)?;
            out.push((part.name, value.to_owned()));
        }
        rest = &rest[content_start + content_len + next_delimiter.len()..];
    }
}

struct Part {
    name: String,
    filename: Option<String>,
}

/// The `name` and `filename` of a part's `Content-Disposition` header.
fn disposition(head: &str) -> Result<Part, BodyError> {
    let value = head
        .split("\r\n")
        .find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-disposition")
                .then_some(v)
        })
        .ok_or(BodyError::Multipart("a part has no Content-Disposition"))?;
    let mut name = None;
    let mut filename = None;
    for param in params(value).into_iter().skip(1) {
        let Some((k, v)) = param.split_once('=') else {
            continue;
        };
        // Browsers quote the value and write a quote inside it as %22 (HTML's rule).
        let v = v.trim().trim_matches('"').replace("%22", "\"");
        match k.trim().to_ascii_lowercase().as_str() {
            "name" => name = Some(v),
            // RFC 6266: `filename*` (RFC 5987's encoded form) names the file too, and a
            // sender may give either or both. Its value does not matter here: a part
            // with a file name is a file, never a field.
            "filename" | "filename*" => filename = Some(v),
            _ => {}
        }
    }
    Ok(Part {
        name: name.ok_or(BodyError::Multipart("a part has no name"))?,
        filename,
    })
}

/// A header value's `;`-separated parts, a `;` inside double quotes kept in its part.
fn params(value: &str) -> Vec<&str> {
    let (mut parts, mut start, mut quoted) = (Vec::new(), 0, false);
    for (i, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(parts: &[&str]) -> Vec<u8> {
        let mut b = String::from("preamble\r\n");
        for p in parts {
            b.push_str("--XyZ\r\n");
            b.push_str(p);
            b.push_str("\r\n");
        }
        b.push_str("--XyZ--\r\n");
        b.into_bytes()
    }

    #[test]
    fn text_parts_become_fields() {
        let b = body(&[
            "Content-Disposition: form-data; name=\"email\"\r\n\r\nann@example.com",
            "content-disposition: form-data; name=\"message\"\r\nContent-Type: text/plain\r\n\r\nline 1\r\nline 2 --X",
        ]);
        assert_eq!(
            fields("XyZ", &b).unwrap(),
            [
                ("email".into(), "ann@example.com".into()),
                ("message".into(), "line 1\r\nline 2 --X".into()),
            ]
        );
    }

    #[test]
    fn a_file_is_refused_by_its_field_name_but_an_empty_file_input_is_not() {
        let with_file = body(&[
            "Content-Disposition: form-data; name=\"email\"\r\n\r\na@b.co",
            "Content-Disposition: form-data; name=\"cv\"; filename=\"cv.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7",
        ]);
        assert_eq!(
            fields("XyZ", &with_file),
            Err(BodyError::FileNotAccepted("cv".into()))
        );
        let empty_input = body(&[
            "Content-Disposition: form-data; name=\"email\"\r\n\r\na@b.co",
            "Content-Disposition: form-data; name=\"cv\"; filename=\"\"\r\nContent-Type: application/octet-stream\r\n\r\n",
        ]);
        assert_eq!(
            fields("XyZ", &empty_input).unwrap(),
            [("email".into(), "a@b.co".into())]
        );
    }

    /// RFC 6266's extended parameter (`filename*=UTF-8''…`, RFC 5987) names a file as
    /// much as `filename` does; and a `;` inside a quoted value does not end it.
    #[test]
    fn a_file_named_in_any_form_is_not_a_field() {
        for head in [
            "Content-Disposition: form-data; name=\"message\"; filename*=UTF-8''evil.html",
            "Content-Disposition: form-data; name=\"message\"; FILENAME*=utf-8'en'%C3%A9.html",
            "Content-Disposition: form-data; name=\"message\"; filename=\"a;b.html\"",
        ] {
            let b = body(&[
                "Content-Disposition: form-data; name=\"email\"\r\n\r\na@b.co",
                &format!("{head}\r\nContent-Type: text/html\r\n\r\n<script>x</script>"),
            ]);
            assert_eq!(
                fields("XyZ", &b),
                Err(BodyError::FileNotAccepted("message".into())),
                "{head}"
            );
        }
        let quoted = body(&["Content-Disposition: form-data; name=\"a;b\"\r\n\r\nv"]);
        assert_eq!(
            fields("XyZ", &quoted).unwrap(),
            [("a;b".into(), "v".into())]
        );
    }

    #[test]
    fn broken_bodies_are_errors_not_panics() {
        for b in [
            &b""[..],
            b"--XyZ",
            b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end",
            b"--XyZ\r\nno headers end",
            b"--XyZ\r\n\r\n\r\nx\r\n--XyZ--",
            b"--XyZgarbage",
        ] {
            assert!(
                fields("XyZ", b).is_err(),
                "{:?}",
                String::from_utf8_lossy(b)
            );
        }
    }
}
