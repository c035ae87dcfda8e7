//! When an inbox item that is not done gets another attempt, and when a person must
//! hear about it (docs/design.md, "Redrive"). Pure: the redrive reads the items and
//! the clock, this decides.

use std::time::Duration;

use crate::Timestamp;

/// Where an item stands, as far as the redrive cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Accepted; the stream has it (or lost it, if nothing happened for long).
    Pending,
    /// An attempt failed in a way a later attempt may not.
    Failed,
    /// No retry can fix it (or retries went on too long): it waits for a person.
    Parked,
    Done,
}

/// The redrive's timings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The pause after the first failed attempt; each further one doubles it...
    pub first_pause: Duration,
    /// ...up to this.
    pub longest_pause: Duration,
    /// An item this old (since it was accepted) is no longer retried: it is parked.
    pub give_up_after: Duration,
    /// An item not done this long after it was accepted is reported.
    pub report_after: Duration,
    /// A pending item the stream has not touched for this long is taken by the redrive
    /// (the stream gave up on it, or the worker was killed halfway).
    pub pending_grace: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            first_pause: Duration::from_secs(60),
            longest_pause: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(7 * 86_400),
            report_after: Duration::from_secs(3600),
            pending_grace: Duration::from_secs(15 * 60),
        }
    }
}

/// What the redrive does with one item now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing to do: done, parked, or the stream still has it.
    Leave,
    /// Not yet: its pause runs until then.
    WaitUntil(Timestamp),
    /// Try it again now.
    Retry,
    /// Retried long enough: park it and tell a person.
    GiveUp,
}

/// An item's facts, as the inbox holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemTimes {
    pub standing: Standing,
    /// Failed attempts so far.
    pub attempts: u32,
    pub received_at: Timestamp,
    pub updated_at: Timestamp,
    /// Set while it waits for a time before which it cannot start (a long pause Notion
    /// asked for, or creates refused until a fix ops was told about).
    pub not_before: Option<Timestamp>,
}

impl Policy {
    /// The pause after `attempts` failed attempts: `first_pause`, doubling, capped.
    pub fn pause(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(20);
        self.first_pause
            .saturating_mul(1 << doublings)
            .min(self.longest_pause)
    }

    pub fn step(&self, item: ItemTimes, now: Timestamp) -> Step {
        match item.standing {
            Standing::Done | Standing::Parked => Step::Leave,
            // Waiting is not failing: its cause is known, passes by itself or with a
            // fix ops was told about, and is looked at again then; never given up.
            Standing::Failed if item.not_before.is_some() => match item.not_before {
                Some(due) if now < due => Step::WaitUntil(due),
                _ => Step::Retry,
            },
            _ if now.since(item.received_at) >= self.give_up_after => Step::GiveUp,
            Standing::Pending if now.since(item.updated_at) >= self.pending_grace => Step::Retry,
            Standing::Pending => Step::Leave,
            Standing::Failed => {
                let due = item.updated_at.plus(self.pause(item.attempts));
                if now >= due {
                    Step::Retry
                } else {
                    Step::WaitUntil(due)
                }
            }
        }
    }

    /// Whether a person should hear that the item is still not done.
    pub fn overdue(&self, item: ItemTimes, now: Timestamp) -> bool {
        matches!(item.standing, Standing::Pending | Standing::Failed)
            && now.since(item.received_at) >= self.report_after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn item(standing: Standing, attempts: u32, received_min: i64, updated_min: i64) -> ItemTimes {
        ItemTimes {
            standing,
            attempts,
            received_at: Timestamp::from_millis(received_min * MIN),
            updated_at: Timestamp::from_millis(updated_min * MIN),
            not_before: None,
        }
    }

    fn at(min: i64) -> Timestamp {
        Timestamp::from_millis(min * MIN)
    }

    #[test]
    fn pauses_grow_from_a_minute_to_an_hour() {
        let p = Policy::default();
        let minutes: Vec<u64> = (1..=9).map(|n| p.pause(n).as_secs() / 60).collect();
        assert_eq!(minutes, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(p.pause(u32::MAX), p.longest_pause);
    }

    #[test]
    fn a_failed_item_waits_out_its_pause() {
        let p = Policy::default();
        let failed_twice = item(Standing::Failed, 2, 0, 10);
        assert_eq!(p.step(failed_twice, at(11)), Step::WaitUntil(at(12)));
        assert_eq!(p.step(failed_twice, at(12)), Step::Retry);
    }

    #[test]
    fn pending_items_are_the_streams_until_it_goes_quiet() {
        let p = Policy::default();
        let pending = item(Standing::Pending, 0, 0, 0);
        assert_eq!(p.step(pending, at(14)), Step::Leave);
        assert_eq!(p.step(pending, at(15)), Step::Retry);
    }

    #[test]
    fn after_a_week_an_item_is_given_up_and_parked_ones_are_left() {
        let p = Policy::default();
        let week = 7 * 24 * 60;
        assert_eq!(
            p.step(item(Standing::Failed, 30, 0, week - 5), at(week)),
            Step::GiveUp
        );
        assert_eq!(
            p.step(item(Standing::Parked, 1, 0, 0), at(2 * week)),
            Step::Leave
        );
        assert_eq!(
            p.step(item(Standing::Done, 0, 0, 0), at(2 * week)),
            Step::Leave
        );
    }

    #[test]
    fn a_waiting_item_runs_at_its_time_however_old_it_is() {
        let p = Policy::default();
        let week = 7 * 24 * 60;
        let waiting = ItemTimes {
            not_before: Some(at(week + 15)),
            ..item(Standing::Failed, 9, 0, week)
        };
        assert_eq!(
            p.step(waiting, at(week + 1)),
            Step::WaitUntil(at(week + 15))
        );
        assert_eq!(p.step(waiting, at(week + 15)), Step::Retry, "not its pause");
    }

    #[test]
    fn overdue_after_an_hour_unless_done_or_parked() {
        let p = Policy::default();
        assert!(!p.overdue(item(Standing::Failed, 3, 0, 50), at(59)));
        assert!(p.overdue(item(Standing::Failed, 3, 0, 50), at(60)));
        assert!(p.overdue(item(Standing::Pending, 0, 0, 0), at(60)));
        assert!(!p.overdue(item(Standing::Parked, 1, 0, 0), at(600)));
    }
}
