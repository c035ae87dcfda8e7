//! How processes that know of each other split one budget.
//!
//! A server that counts in a strict one-second window refuses whole requests: two
//! processes at 1.5 requests a second each put two requests each into some second
//! whenever their phases drift together (four, where three are allowed), whereas one at
//! 2 and one at 1 never exceed three. So the budget is split in whole requests per
//! second, by rank, and each process paces a little under its part: a request that
//! lands a millisecond early must not make one too many.

/// Each process paces this much under its part while others share the budget.
pub const MARGIN: f64 = 0.98;

/// The share (of `rate`, 0 < share ≤ 1) that belongs to `me` among the processes
/// `present` (sorted, the same list for each of them): the whole budget alone; else the
/// whole requests per second dealt out by rank, the odd ones to the first ranks; an
/// equal part when there are more processes than whole requests.
pub fn share_of(present: &[String], me: &str, rate: f64) -> f64 {
    let n = present.len();
    if n <= 1 {
        return 1.0;
    }
    // Not listed (the store answered before it saw this process): counted as the last.
    let rank = present.iter().position(|m| m == me).unwrap_or(n - 1);
    // The nearest whole number: a budget found a few percent under three a second (a
    // refusal steps it down) is still three whole requests to deal out, and the parts
    // are of the budget itself, so they never add up to more than it.
    let units = if rate.is_finite() && rate >= 0.5 {
        rate.round() as usize
    } else {
        0
    };
    if units < n {
        return MARGIN / n as f64;
    }
    let mine = units / n + usize::from(rank < units % n);
    MARGIN * mine as f64 / units as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("m{i}")).collect()
    }

    #[test]
    fn alone_the_whole_budget() {
        assert_eq!(share_of(&members(1), "m0", 3.0), 1.0);
        assert_eq!(share_of(&[], "m0", 3.0), 1.0);
    }

    #[test]
    fn three_a_second_split_in_whole_requests() {
        let two = members(2);
        let parts: Vec<f64> = two.iter().map(|m| share_of(&two, m, 3.0) * 3.0).collect();
        assert!((parts[0] - 2.0 * MARGIN).abs() < 1e-9, "{parts:?}");
        assert!((parts[1] - MARGIN).abs() < 1e-9, "{parts:?}");
        let three = members(3);
        for m in &three {
            assert!((share_of(&three, m, 3.0) * 3.0 - MARGIN).abs() < 1e-9);
        }
    }

    #[test]
    fn the_parts_never_add_up_to_more_than_the_budget() {
        for rate in [1.0, 2.5, 3.0, 3.7, 10.0, 30.0] {
            for n in 1..12 {
                let present = members(n);
                let total: f64 = present.iter().map(|m| share_of(&present, m, rate)).sum();
                assert!(total <= 1.0 + 1e-9, "rate {rate}, {n} processes: {total}");
                assert!(total >= MARGIN * 0.8, "rate {rate}, {n} processes: {total}");
            }
        }
    }

    #[test]
    fn a_process_not_yet_listed_takes_the_last_part() {
        assert_eq!(
            share_of(&members(2), "late", 3.0),
            share_of(&members(2), "m1", 3.0)
        );
    }
}
