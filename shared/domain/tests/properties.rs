//! The pure rules, over inputs no one would think to write down: canonical emails,
//! Slack escaping, import amounts, and the stale-lead rule against a naive reference.

use chrono::{Days, Offset, TimeZone, Utc};
use crm_domain::ContactEmail;
use crm_domain::import::deals::parse_amount;
use crm_domain::slack::{Piece, escape, pieces, plain_text};
use crm_domain::stale::{is_stale, last_touch};
use proptest::prelude::*;

proptest! {
    /// Canonical once is canonical: parsing the canonical form gives it back, and the
    /// case and surrounding blanks of what was typed do not matter.
    #[test]
    fn canonical_email_is_idempotent_and_case_blind(
        local in "[a-zA-Z0-9._%+-]{1,40}",
        domain in "[a-zA-Z0-9-]{1,20}(\\.[a-zA-Z]{2,8}){1,2}",
        blanks in "[ \t]{0,3}",
    ) {
        let typed = format!("{blanks}{local}@{domain}{blanks}");
        match ContactEmail::parse(&typed) {
            Ok(email) => {
                prop_assert_eq!(ContactEmail::parse(email.as_str()).unwrap(), email.clone());
                prop_assert_eq!(ContactEmail::parse(&typed.to_uppercase()).unwrap(), email.clone());
                prop_assert_eq!(ContactEmail::parse(&typed.to_lowercase()).unwrap(), email.clone());
                prop_assert_eq!(email.as_str(), email.as_str().trim().to_lowercase());
            }
            Err(_) => {
                prop_assert!(ContactEmail::parse(&typed.to_uppercase()).is_err());
            }
        }
    }

    /// Whatever is typed, parsing never panics, and what it accepts is a fixed point:
    /// its canonical form and what was typed both read back as the same contact, with
    /// the domain in A-labels.
    #[test]
    fn any_text_is_parsed_or_refused_and_accepted_forms_are_stable(typed in "\\PC{0,80}") {
        if let Ok(email) = ContactEmail::parse(&typed) {
            prop_assert_eq!(ContactEmail::parse(email.as_str()).unwrap(), email.clone());
            prop_assert_eq!(ContactEmail::parse(email.typed()).unwrap(), email.clone());
            prop_assert!(email.as_str().split_once('@').unwrap().1.is_ascii());
            prop_assert!(email.as_str().chars().count() <= 200);
        }
    }

    /// Unicode spellings of one address are one contact: composed or decomposed,
    /// fullwidth or not, the domain in Unicode or in A-labels.
    #[test]
    fn unicode_spellings_of_one_address_are_one_contact(
        local in "[a-z\u{e0}-\u{ff}]{1,12}",
        label in "[a-z\u{e0}-\u{ff}]{1,12}",
    ) {
        use unicode_normalization::UnicodeNormalization;
        let composed = format!("{local}@{label}.com");
        let Ok(email) = ContactEmail::parse(&composed) else {
            return Ok(());
        };
        let decomposed: String = composed.nfd().collect();
        prop_assert_eq!(ContactEmail::parse(&decomposed).unwrap(), email.clone());
        let fullwidth: String = composed
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { char::from_u32(c as u32 + 0xFEE0).unwrap() } else { c })
            .collect();
        prop_assert_eq!(ContactEmail::parse(&fullwidth).unwrap(), email.clone());
        let ascii_domain = email.as_str().split_once('@').unwrap().1.to_owned();
        let a_labels = format!("{}@{ascii_domain}", email.typed().split_once('@').unwrap().0);
        prop_assert_eq!(ContactEmail::parse(&a_labels).unwrap(), email.clone());
    }

    /// Escaped text has no markup left, and says exactly what was written.
    #[test]
    fn slack_escaping_leaves_no_markup_and_loses_nothing(s in "\\PC{0,200}") {
        let escaped = escape(&s);
        prop_assert!(!escaped.contains('<') && !escaped.contains('>'));
        let unescaped = escaped
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&");
        prop_assert_eq!(unescaped, s);
    }

    /// Escaped user data is read back as the text it was, never as markup (a link, a
    /// mention); and any message at all is read without a panic.
    #[test]
    fn escaped_text_reads_back_as_text_and_any_mrkdwn_is_read(s in "\\PC{0,200}", raw in "[<>|@#!&a-z;]{0,60}") {
        let read = pieces(&escape(&s));
        if s.is_empty() {
            prop_assert!(read.is_empty());
        } else {
            prop_assert_eq!(read, vec![Piece::Text(s.clone())]);
        }
        prop_assert_eq!(plain_text(&escape(&s), |_| None), s);
        let _ = plain_text(&raw, |_| None);
    }

    /// Any cell of an export's value column is read or refused, never a panic; an amount
    /// written the usual ways, with thousands marks and a currency, reads as itself.
    #[test]
    fn amounts_are_read_or_refused_and_written_ones_read_back(
        cell in "\\PC{0,24}",
        whole in 0u64..10_000_000,
        cents in 0u64..100,
        style in 0usize..4,
    ) {
        let _ = parse_amount(&cell);
        let grouped = |sep: &str| {
            let digits = whole.to_string();
            let mut out = String::new();
            for (i, c) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i) % 3 == 0 {
                    out.push_str(sep);
                }
                out.push(c);
            }
            out
        };
        let written = match style {
            0 => format!("${}.{cents:02}", grouped(",")),
            1 => format!("{},{cents:02} €", grouped(".")),
            2 => format!("EUR {}.{cents:02}", grouped(" ")),
            _ => format!("{}.{cents:02} USD", grouped("")),
        };
        let expected = whole as f64 + cents as f64 / 100.0;
        let read = parse_amount(&written);
        prop_assert!(read.is_some_and(|n| (n - expected).abs() < 1e-6), "{written:?} read as {read:?}");
    }

    /// The rule the digest applies agrees with counting days by hand, for any creation
    /// time, any "now", any Last Contacted and any time zone.
    #[test]
    fn the_stale_rule_agrees_with_a_naive_reference(
        created_secs in 946_684_800i64..4_102_444_800,
        later_secs in 0i64..(4000 * 86_400),
        contacted_back in proptest::option::of(0u64..4000),
        days in 1u32..400,
        zone in 0..chrono_tz::TZ_VARIANTS.len(),
    ) {
        let tz = chrono_tz::TZ_VARIANTS[zone];
        let created = Utc.timestamp_opt(created_secs, 0).unwrap();
        let now = created + chrono::Duration::seconds(later_secs);
        let today = now.with_timezone(&tz).date_naive();
        let contacted = contacted_back.map(|back| today.checked_sub_days(Days::new(back)).unwrap());

        // By hand: the local date is UTC plus the zone's offset at that instant.
        let offset = tz.offset_from_utc_datetime(&created.naive_utc()).fix().local_minus_utc();
        let created_local = (created.naive_utc() + chrono::Duration::seconds(i64::from(offset))).date();
        let touch_by_hand = contacted.unwrap_or(created_local);
        let stale_by_hand = (today - touch_by_hand).num_days() > i64::from(days);

        let touch = last_touch(contacted, created, tz);
        prop_assert_eq!(touch, touch_by_hand);
        prop_assert_eq!(is_stale(touch, today, days), stale_by_hand);
    }
}
