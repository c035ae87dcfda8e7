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

proptest! {
    /// The report's figures against a naive count of the same deals: every open deal in
    /// exactly one stage's total, the forecast and the open value as plain sums, the win
    /// rate as won over closed in 90 days, and each named list exactly the deals its rule
    /// names.
    #[test]
    fn pipeline_figures_match_a_naive_count(
        deals in proptest::collection::vec(
            (0usize..8, proptest::option::of(0u32..100_000), 0i64..200, 0i64..400, proptest::option::of(-60i64..60), any::<bool>(), any::<bool>()),
            0..40,
        ),
    ) {
        use crm_domain::pipeline::{PipelineDeal, ReportRules, Since, pipeline};
        let stages = ["lead", "qualified", "proposal", "negotiation", "won", "lost", "custom", ""];
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
        let today = now.date_naive();
        let rules = ReportRules {
            stages: stages[..6].iter().map(|s| (*s).to_owned()).collect(),
            probability: [("lead", 0.1), ("qualified", 0.25), ("proposal", 0.5), ("negotiation", 0.75), ("custom", 0.3)]
                .iter().map(|(s, p)| ((*s).to_owned(), *p)).collect(),
            rot_days: [("lead", 14), ("proposal", 21), ("custom", 5)]
                .iter().map(|(s, d)| ((*s).to_owned(), *d)).collect(),
        };
        let deals: Vec<PipelineDeal> = deals
            .iter()
            .enumerate()
            .map(|(i, (stage, value, since_days, created_extra, close, owned, seen))| {
                let since = now - chrono::Duration::days(*since_days);
                let created = since - chrono::Duration::days(*created_extra);
                PipelineDeal {
                    name: format!("Deal {i}"),
                    url: format!("https://www.notion.so/{i}"),
                    stage: (!stages[*stage].is_empty()).then(|| stages[*stage].to_owned()),
                    value: value.map(f64::from),
                    owners: if *owned { vec!["Dana".to_owned()] } else { Vec::new() },
                    close_date: close.map(|d| today + chrono::Duration::days(d)),
                    created,
                    since: if *seen { Since::Moved(since) } else { Since::Created(since) },
                }
            })
            .collect();
        let p = pipeline(&deals, &rules, now, today);

        let open: Vec<&PipelineDeal> = deals.iter().filter(|d| !matches!(d.stage.as_deref(), Some("won" | "lost"))).collect();
        let counted: usize = p.by_stage.iter().map(|s| s.count).sum();
        prop_assert_eq!(counted, open.len());
        let open_value: f64 = open.iter().filter_map(|d| d.value).sum();
        prop_assert!((p.open_value - open_value).abs() < 1e-6);
        let staged: f64 = p.by_stage.iter().map(|s| s.value).sum();
        prop_assert!((staged - open_value).abs() < 1e-6);
        let forecast: f64 = open.iter().map(|d| {
            d.value.unwrap_or(0.0) * rules.probability.get(d.stage.as_deref().unwrap_or("")).copied().unwrap_or(0.0)
        }).sum();
        prop_assert!((p.forecast - forecast).abs() < 1e-6);

        let quarter = now - chrono::Duration::days(90);
        let closed = |stage: &str| deals.iter().filter(|d| d.stage.as_deref() == Some(stage) && d.since.at() >= quarter).count();
        let (won, lost) = (closed("won"), closed("lost"));
        let rate = (won + lost > 0).then(|| won as f64 / (won + lost) as f64);
        prop_assert_eq!(p.win_rate_90, rate);
        prop_assert_eq!(p.median_days_to_win.is_some(), won > 0);

        let week = now - chrono::Duration::days(7);
        let in_week = |stage: &str| deals.iter().filter(|d| d.stage.as_deref() == Some(stage) && d.since.at() >= week).count();
        prop_assert_eq!(p.won_week.len(), in_week("won"));
        prop_assert_eq!(p.lost_week.len(), in_week("lost"));

        let rotting = open.iter().filter(|d| {
            rules.rot_days.get(d.stage.as_deref().unwrap_or("")).is_some_and(|limit| (now - d.since.at()).num_days() > i64::from(*limit))
        }).count();
        prop_assert_eq!(p.rotting.len(), rotting);
        prop_assert!(p.rotting.windows(2).all(|w| w[0].days >= w[1].days), "longest first");
        let slipped = open.iter().filter(|d| d.close_date.is_some_and(|c| c < today)).count();
        prop_assert_eq!(p.slipped.len(), slipped);
        prop_assert_eq!(p.missing_owner.len(), open.iter().filter(|d| d.owners.is_empty()).count());
        prop_assert_eq!(p.missing_value.len(), open.iter().filter(|d| d.value.is_none()).count());
        prop_assert_eq!(p.missing_close_date.len(), open.iter().filter(|d| d.close_date.is_none()).count());

        // Each week's wins, counted naively: a win belongs to the week whose seven days
        // (ending at a multiple of seven days before now) hold its time.
        prop_assert_eq!(p.won_by_week.len(), crm_domain::pipeline::WEEKS);
        for (k, w) in p.won_by_week.iter().enumerate() {
            let ends = now - chrono::Duration::days(7 * (crm_domain::pipeline::WEEKS - 1 - k) as i64);
            let starts = ends - chrono::Duration::days(7);
            let wins: Vec<&PipelineDeal> = deals.iter().filter(|d| {
                d.stage.as_deref() == Some("won") && d.since.at() >= starts && d.since.at() < ends
            }).collect();
            prop_assert_eq!(w.count, wins.len(), "week {}", k);
            let value: f64 = wins.iter().filter_map(|d| d.value).sum();
            prop_assert!((w.value - value).abs() < 1e-6);
        }
    }
}
