//! Notion's request limits, as switches.
//!
//! Notion's request-limits page has described two models:
//!
//! * **Older copies:** "an average of three requests per second per integration; some
//!   bursts beyond the average rate are allowed". The shape of the counter is not
//!   documented, and a client tuned to one shape can collect 429s from another: a
//!   token bucket ([`RateLimit::Bucket`]) lets a burst through; a strict window
//!   ([`RateLimit::Window`]) refuses the request after one.
//! * **The current copy:** each connection has "a fixed budget of requests per
//!   60-second window, based on the workspace's plan", which "can be spent at any pace
//!   within the window — spread out evenly or in a single burst"; beyond it, 429 with
//!   `Retry-After` = "the time until the window resets, so it is at most 60 seconds"
//!   ([`RateLimit::Budget`]; `additional_data.rate_limit_reason`
//!   `public_api_request_rate_limit`). And "a separate limit is shared across all of the
//!   workspace's connections and scaled to the workspace's plan … Retry-After for this
//!   limit can be longer than a minute" (the emulator's workspace limit, a `Budget`
//!   over every token; reason `public_api_space_request_rate_limit`).
//!
//! Neither the budget's size per plan (one copy says 180 a minute, 600 on Business and
//! Enterprise; the newest names no number), nor whether a window starts at the first
//! request or on the clock, nor the workspace window's length is documented: each is a
//! parameter here, and the product is measured in each (`make bench`). A refused
//! request spends nothing. "Other `rate_limit_reason` values can appear. Handle them
//! like any other 429": the emulator can be told to send one the client has never seen.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::Deserialize;

/// How the emulator counts requests against a rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(tag = "shape", rename_all = "snake_case")]
pub enum RateLimit {
    /// A token bucket: `per_second` sustained, up to `burst` at once after a quiet
    /// spell (the older copies' "average, some bursts allowed").
    Bucket { per_second: f64, burst: u32 },
    /// At most `requests` in any window of `seconds` (sliding): a burst is followed by
    /// a wait of the whole window.
    Window { requests: u32, seconds: f64 },
    /// `requests` per fixed window of `seconds`, spent at any pace; `Retry-After` runs
    /// to the window's reset. A window starts at the first request after the last one
    /// ended, or, `aligned`, on the clock (every `seconds` from the emulator's start).
    Budget {
        requests: u32,
        seconds: f64,
        #[serde(default)]
        aligned: bool,
    },
}

impl RateLimit {
    /// The older copies' average as a strict one-second window: 3 in any second.
    pub const STRICT: Self = Self::Window {
        requests: 3,
        seconds: 1.0,
    };

    /// The current copies' per-connection budget: `requests` per 60-second window.
    pub const fn per_minute(requests: u32) -> Self {
        Self::Budget {
            requests,
            seconds: 60.0,
            aligned: false,
        }
    }

    /// The requests per second it allows over a long run.
    pub fn sustained(&self) -> f64 {
        match *self {
            Self::Bucket { per_second, .. } => per_second,
            Self::Window { requests, seconds }
            | Self::Budget {
                requests, seconds, ..
            } => f64::from(requests) / seconds.max(0.001),
        }
    }
}

/// A rate limit and what it has counted.
#[derive(Debug)]
pub struct Counter {
    limit: RateLimit,
    tokens: f64,
    last: Instant,
    /// Arrival times of the requests taken, within the window.
    taken: VecDeque<Instant>,
    /// The current fixed window's start and the requests it took.
    window: Option<(Instant, u32)>,
    /// Where clock-aligned windows are counted from.
    epoch: Instant,
}

impl Counter {
    /// A counter whose clock-aligned windows start at `epoch`.
    pub fn starting(limit: RateLimit, epoch: Instant) -> Self {
        let tokens = match limit {
            RateLimit::Bucket { burst, .. } => f64::from(burst.max(1)),
            _ => 0.0,
        };
        Self {
            limit,
            tokens,
            last: Instant::now(),
            taken: VecDeque::new(),
            window: None,
            epoch,
        }
    }

    /// Counts a request arriving now; when the budget is spent, the whole seconds to
    /// wait (at least one), as Notion's `Retry-After` says them. A refused request
    /// spends nothing.
    pub fn take(&mut self) -> Result<(), u64> {
        self.take_at(Instant::now())
    }

    pub fn take_at(&mut self, now: Instant) -> Result<(), u64> {
        let wait = match self.limit {
            RateLimit::Bucket { per_second, burst } => {
                let refill = now.saturating_duration_since(self.last).as_secs_f64() * per_second;
                self.tokens = (self.tokens + refill).min(f64::from(burst.max(1)));
                self.last = now;
                if self.tokens >= 1.0 {
                    self.tokens -= 1.0;
                    return Ok(());
                }
                Duration::from_secs_f64((1.0 - self.tokens) / per_second.max(f64::MIN_POSITIVE))
            }
            RateLimit::Window { requests, seconds } => {
                let window = Duration::from_secs_f64(seconds.max(0.001));
                while self
                    .taken
                    .front()
                    .is_some_and(|t| now.saturating_duration_since(*t) >= window)
                {
                    self.taken.pop_front();
                }
                if self.taken.len() < requests.max(1) as usize {
                    self.taken.push_back(now);
                    return Ok(());
                }
                let oldest = self.taken.front().copied().unwrap_or(now);
                window.saturating_sub(now.saturating_duration_since(oldest))
            }
            RateLimit::Budget {
                requests,
                seconds,
                aligned,
            } => {
                let length = Duration::from_secs_f64(seconds.max(0.001));
                let start = if aligned {
                    let since = now.saturating_duration_since(self.epoch).as_secs_f64();
                    let n = (since / length.as_secs_f64()).floor();
                    self.epoch + length.mul_f64(n)
                } else {
                    match self.window {
                        Some((start, _)) if now < start + length => start,
                        _ => now,
                    }
                };
                let used = match self.window {
                    Some((s, used)) if s == start => used,
                    _ => 0,
                };
                if used < requests {
                    self.window = Some((start, used + 1));
                    return Ok(());
                }
                self.window = Some((start, used));
                (start + length).saturating_duration_since(now)
            }
        };
        Err(wait.as_secs_f64().ceil().max(1.0) as u64)
    }

    /// Gives back the request last taken: another limit refused it after this one took
    /// it, and a refused request spends nothing.
    pub fn refund(&mut self) {
        match self.limit {
            RateLimit::Bucket { burst, .. } => {
                self.tokens = (self.tokens + 1.0).min(f64::from(burst.max(1)));
            }
            RateLimit::Window { .. } => {
                self.taken.pop_back();
            }
            RateLimit::Budget { .. } => {
                if let Some((_, used)) = self.window.as_mut() {
                    *used = used.saturating_sub(1);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_strict_window_refuses_the_request_after_a_burst() {
        let mut c = Counter::starting(RateLimit::STRICT, Instant::now());
        assert!((0..3).all(|_| c.take().is_ok()));
        assert_eq!(c.take(), Err(1));
    }

    #[test]
    fn a_bucket_lets_its_burst_through_then_says_how_long_to_wait() {
        let bucket = RateLimit::Bucket {
            per_second: 0.25,
            burst: 2,
        };
        let mut c = Counter::starting(bucket, Instant::now());
        assert!(c.take().is_ok() && c.take().is_ok());
        assert_eq!(c.take(), Err(4));
    }

    #[test]
    fn a_budget_is_spent_in_one_burst_and_retry_after_runs_to_the_reset() {
        let t0 = Instant::now();
        let mut c = Counter::starting(RateLimit::per_minute(180), t0);
        assert!(
            (0..180).all(|_| c.take_at(t0).is_ok()),
            "the whole budget at once"
        );
        assert_eq!(c.take_at(t0), Err(60));
        assert_eq!(c.take_at(t0 + Duration::from_millis(44_500)), Err(16));
        // Refused requests spent nothing; the next window has the whole budget again.
        let next = t0 + Duration::from_secs(60);
        assert!((0..180).all(|_| c.take_at(next).is_ok()));
        assert!(c.take_at(next).is_err());
    }

    #[test]
    fn a_window_starts_with_its_first_request_or_on_the_clock() {
        let t0 = Instant::now();
        let limit = |aligned| RateLimit::Budget {
            requests: 2,
            seconds: 60.0,
            aligned,
        };
        let late = t0 + Duration::from_secs(50);
        let mut first = Counter::starting(limit(false), t0);
        assert!(first.take_at(late).is_ok() && first.take_at(late).is_ok());
        assert_eq!(first.take_at(late), Err(60), "its window began at 50 s");
        let mut clock = Counter::starting(limit(true), t0);
        assert!(clock.take_at(late).is_ok() && clock.take_at(late).is_ok());
        assert_eq!(
            clock.take_at(late),
            Err(10),
            "the clock's window ends at 60 s"
        );
    }

    #[test]
    fn a_refund_gives_the_request_back() {
        let t0 = Instant::now();
        for limit in [
            RateLimit::per_minute(1),
            RateLimit::STRICT,
            RateLimit::Bucket {
                per_second: 0.01,
                burst: 1,
            },
        ] {
            let mut c = Counter::starting(limit, t0);
            while c.take_at(t0).is_ok() {}
            c.refund();
            assert!(c.take_at(t0).is_ok(), "{limit:?}: the refund gave it back");
        }
    }

    #[test]
    fn sustained_rates() {
        assert_eq!(RateLimit::per_minute(600).sustained(), 10.0);
        assert_eq!(RateLimit::STRICT.sustained(), 3.0);
    }
}
