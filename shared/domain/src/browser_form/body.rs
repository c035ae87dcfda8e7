//! A browser form's body as `(name, value)` pairs, whatever way it was sent: a plain
//! form post (`application/x-www-form-urlencoded`), a form with `enctype=multipart/form-data`,
//! or JSON from `fetch()`.

use percent_encoding::percent_decode;
use serde_json::Value;

use super::multipart;

/// How a body is encoded, from its `Content-Type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encoding {
    UrlEncoded,
    Multipart { boundary: String },
    Json,
}

/// A body that cannot be read as a form. Each says what to change, in words a site
/// owner can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error(
        "send the form as application/x-www-form-urlencoded, multipart/form-data or application/json"
    )]
    UnsupportedType,
    #[error("the form is not UTF-8 text (add accept-charset=\"UTF-8\" to the form)")]
    NotUtf8,
    #[error("the body is not valid JSON")]
    MalformedJson,
    #[error("the JSON body must be an object of fields")]
    NotAnObject,
    #[error("field {0:?} must be text, a number or a list of them")]
    NotText(String),
    #[error("this form takes no files: leave out the file in field {0:?}")]
    FileNotAccepted(String),
    #[error("the multipart body is malformed: {0}")]
    Multipart(&'static str),
}

/// The encoding a `Content-Type` names, or `None` for anything else.
pub fn encoding(content_type: &str) -> Option<Encoding> {
    let mut parts = content_type.split(';');
    let mime = parts.next()?.trim().to_ascii_lowercase();
    match mime.as_str() {
        "application/x-www-form-urlencoded" => Some(Encoding::UrlEncoded),
        "application/json" => Some(Encoding::Json),
        m if m.starts_with("application/") && m.ends_with("+json") => Some(Encoding::Json),
        "multipart/form-data" => {
            let boundary = parts.find_map(|p| {
                let (k, v) = p.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("boundary")
                    .then(|| v.trim().trim_matches('"').to_owned())
            })?;
            // RFC 2046: 1 to 70 characters.
            (1..=70)
                .contains(&boundary.len())
                .then_some(Encoding::Multipart { boundary })
        }
        _ => None,
    }
}

/// The fields of `body`, in order; a name may repeat (checkboxes).
pub fn fields(encoding: &Encoding, body: &[u8]) -> Result<Vec<(String, String)>, BodyError> {
    match encoding {
        Encoding::UrlEncoded => url_encoded(body),
        Encoding::Multipart { boundary } => multipart::fields(boundary, body),
        Encoding::Json => json(body),
    }
}

fn url_encoded(body: &[u8]) -> Result<Vec<(String, String)>, BodyError> {
    let decode = |raw: &[u8]| -> Result<String, BodyError> {
        let plus: Vec<u8> = raw
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        percent_decode(&plus)
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| BodyError::NotUtf8)
    };
    body.split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            Ok((decode(name)?, decode(value)?))
        })
        .collect()
}

fn json(body: &[u8]) -> Result<Vec<(String, String)>, BodyError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| BodyError::MalformedJson)?;
    let Value::Object(map) = value else {
        return Err(BodyError::NotAnObject);
    };
    let mut out = Vec::with_capacity(map.len());
    for (name, value) in map {
        let text = match value {
            Value::Null => continue,
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Array(items) => {
                let texts: Option<Vec<String>> = items
                    .into_iter()
                    .map(|i| match i {
                        Value::String(s) => Some(s),
                        Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    })
                    .collect();
                texts
                    .ok_or_else(|| BodyError::NotText(name.clone()))?
                    .join(", ")
            }
            Value::Object(_) => return Err(BodyError::NotText(name)),
        };
        out.push((name, text));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_name_their_encoding() {
        assert_eq!(
            encoding("application/x-www-form-urlencoded; charset=UTF-8"),
            Some(Encoding::UrlEncoded)
        );
        assert_eq!(encoding("Application/JSON"), Some(Encoding::Json));
        assert_eq!(
            encoding("multipart/form-data; boundary=\"----abc\""),
            Some(Encoding::Multipart {
                boundary: "----abc".into()
            })
        );
        assert_eq!(encoding("multipart/form-data"), None, "no boundary");
        assert_eq!(encoding("text/plain"), None);
    }

    #[test]
    fn a_url_encoded_form_decodes_plus_and_percent() {
        let got = fields(
            &Encoding::UrlEncoded,
            b"email=ann%40example.com&name=Ann+M%C3%BCller&empty=&flag",
        )
        .unwrap();
        assert_eq!(
            got,
            [
                ("email".into(), "ann@example.com".into()),
                ("name".into(), "Ann Müller".into()),
                ("empty".into(), String::new()),
                ("flag".into(), String::new()),
            ]
        );
        assert_eq!(
            fields(&Encoding::UrlEncoded, b"name=M%FCller"),
            Err(BodyError::NotUtf8),
            "Latin-1 is refused, not garbled"
        );
    }

    #[test]
    fn json_fields_are_text_numbers_or_lists() {
        let got = fields(
            &Encoding::Json,
            br#"{"email":"a@b.co","seats":3,"topics":["a","b"],"gone":null,"ok":true}"#,
        )
        .unwrap();
        assert!(got.contains(&("seats".into(), "3".into())));
        assert!(got.contains(&("topics".into(), "a, b".into())));
        assert!(!got.iter().any(|(k, _)| k == "gone"));
        assert_eq!(
            fields(&Encoding::Json, br#"{"a":{"b":1}}"#),
            Err(BodyError::NotText("a".into()))
        );
        assert_eq!(fields(&Encoding::Json, b"[1]"), Err(BodyError::NotAnObject));
        assert_eq!(fields(&Encoding::Json, b"{"), Err(BodyError::MalformedJson));
    }
}
