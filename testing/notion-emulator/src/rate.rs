//! Notion's rate limit, as a switch.
//!
//! Notion documents a budget per connection — "an average of three requests per
//! second", in its current copy 180 requests per 60-second window that "can be spent in
//! a burst" — and a 429 `rate_limited` with an integer `Retry-After` beyond it (the
//! request-limits page). It does not document the shape of the counter, and a client
//! tuned to one shape can collect 429s from another: a token bucket lets a burst
//! through; a strict window refuses the request after one. So the emulator has both,
//! and the product's pacing is measured against each (`make bench`).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::Deserialize;

/// How the emulator counts requests against its rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(tag = "shape", rename_all = "snake_case")]
pub enum RateLimit {
    /// A token bucket: `per_second` sustained, up to `burst` at once after a quiet
    /// spell.
    Bucket { per_second: f64, burst: u32 },
    /// At most `requests` in any window of `seconds` (sliding): a burst is followed by
    /// a wait of the whole window.
    Window { requests: u32, seconds: f64 },
}

impl RateLimit {
    /// Notion's documented average as a strict one-second window: 3 in any second.
    pub const STRICT: Self = Self::Window {
        requests: 3,
        seconds: 1.0,
    };
}

/// A rate limit and what it has counted.
#[derive(Debug)]
pub struct Counter {
    limit: RateLimit,
    tokens: f64,
    last: Instant,
    /// Arrival times of the requests taken, within the window.
    taken: VecDeque<Instant>,
}

impl Counter {
    pub fn new(limit: RateLimit) -> Self {
        let tokens = match limit {
            RateLimit::Bucket { burst, .. } => f64::from(burst.max(1)),
            RateLimit::Window { .. } => 0.0,
        };
        Self {
            limit,
            tokens,
            last: Instant::now(),
            taken: VecDeque::new(),
        }
    }

    /// Counts a request arriving now; when the budget is spent, the whole seconds to
    /// wait (at least one), as Notion's `Retry-After` says them. A refused request
    /// spends nothing.
    pub fn take(&mut self) -> Result<(), u64> {
        let now = Instant::now();
        let wait = match self.limit {
            RateLimit::Bucket { per_second, burst } => {
                let refill = now.duration_since(self.last).as_secs_f64() * per_second;
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
                    .is_some_and(|t| now.duration_since(*t) >= window)
                {
                    self.taken.pop_front();
                }
                if self.taken.len() < requests.max(1) as usize {
                    self.taken.push_back(now);
                    return Ok(());
                }
                let oldest = self.taken.front().copied().unwrap_or(now);
                window.saturating_sub(now.duration_since(oldest))
            }
        };
        Err(wait.as_secs_f64().ceil().max(1.0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_strict_window_refuses_the_request_after_a_burst() {
        let mut c = Counter::new(RateLimit::STRICT);
        assert!((0..3).all(|_| c.take().is_ok()));
        assert_eq!(c.take(), Err(1));
    }

    #[test]
    fn a_bucket_lets_its_burst_through_then_says_how_long_to_wait() {
        let mut c = Counter::new(RateLimit::Bucket {
            per_second: 0.25,
            burst: 2,
        });
        assert!(c.take().is_ok() && c.take().is_ok());
        assert_eq!(c.take(), Err(4));
    }
}
