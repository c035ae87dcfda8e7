//! Long text is split for Notion, never rejected and never changed.

use crm_notion::{MAX_RICH_TEXT_LEN, MAX_RICH_TEXT_OBJECTS, plain_text, rich_text};
use proptest::prelude::*;

fn units(s: &str) -> usize {
    s.encode_utf16().count()
}

fn check(text: &str) -> Result<(), TestCaseError> {
    let parts = rich_text(text);
    prop_assert!(parts.len() <= MAX_RICH_TEXT_OBJECTS);
    for part in &parts {
        prop_assert!(units(part.as_plain()) <= MAX_RICH_TEXT_LEN);
        prop_assert!(!part.as_plain().is_empty());
    }
    let kept = plain_text(&parts);
    if units(text) <= MAX_RICH_TEXT_LEN * MAX_RICH_TEXT_OBJECTS {
        prop_assert_eq!(kept, text);
    } else {
        // Only what one property cannot hold is cut, and only from the end.
        prop_assert!(text.starts_with(&kept));
        // A piece ends short of 2,000 units only when the next character would not fit.
        prop_assert!(units(&kept) >= (MAX_RICH_TEXT_LEN - 1) * MAX_RICH_TEXT_OBJECTS);
    }
    Ok(())
}

proptest! {
    /// Any text, in any script (astral characters are two UTF-16 units, which is what
    /// Notion counts): kept whole, in pieces of at most 2,000 units.
    #[test]
    fn text_is_kept_in_pieces_within_notions_limits(text in "\\PC{0,5000}") {
        check(&text)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// Text past what one property holds (100 pieces of 2,000 units) is cut at the end.
    #[test]
    fn text_past_one_propertys_capacity_is_cut_at_the_end(
        unit in "[a-z😀]{1,3}",
        repeat in 70_000usize..110_000,
    ) {
        check(&unit.repeat(repeat))?;
    }
}
