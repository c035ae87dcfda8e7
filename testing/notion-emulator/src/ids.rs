//! Ids the way Notion writes them.

/// A new object id (dashed UUID).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Accepts an id with or without dashes, any case; `None` when it is not one.
pub fn normalize(id: &str) -> Option<String> {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let h = hex.to_ascii_lowercase();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// A property id like Notion's: four characters, some of which need URL encoding, sent
/// URL-encoded (`%3AUPp`). Using such characters on purpose makes sure no consumer
/// double-encodes or decodes them.
pub fn new_property_id() -> String {
    const CHARS: &[u8] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:;@[]^`{|}~";
    let mut out = String::new();
    for _ in 0..4 {
        let c = CHARS[fastrand::usize(..CHARS.len())] as char;
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else {
            out.push_str(&format!("%{:02X}", c as u8));
        }
    }
    out
}

/// Decodes `%XX` escapes (and `+` as a space, as in query strings).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `key` names the property with id `id`: Notion accepts the id as it sends it
/// (URL-encoded) and decoded, which is what the official SDK sends in query strings.
pub fn is_property_id(id: &str, key: &str) -> bool {
    key == id || percent_decode(id) == key
}

/// Notion's page URL: title slug, then the undashed id.
pub fn page_url(title: &str, id: &str) -> String {
    let slug: String = title
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let undashed = id.replace('-', "");
    if slug.is_empty() {
        format!("https://www.notion.so/{undashed}")
    } else {
        format!("https://www.notion.so/{slug}-{undashed}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_normalise_with_or_without_dashes() {
        let id = "1C2B3A4D5E6F4A7B8C9D0E1F2A3B4C5D";
        assert_eq!(
            normalize(id).as_deref(),
            Some("1c2b3a4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d")
        );
        assert_eq!(
            normalize("1c2b3a4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"),
            normalize(id)
        );
        assert_eq!(normalize("nope"), None);
    }

    #[test]
    fn property_ids_are_url_encoded() {
        for _ in 0..200 {
            let id = new_property_id();
            assert!(
                id.chars().all(|c| c.is_ascii_alphanumeric() || c == '%'),
                "{id}"
            );
        }
    }
}
