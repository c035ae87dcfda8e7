use std::time::Duration;

/// How hard one call tries before giving up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts that fail for another reason than the rate, the first included.
    pub max_attempts: u32,
    /// Attempts refused for the rate (429, Notion's 529), the first included. By
    /// default only the time budget bounds them: a refusal says "later", not "no", and a
    /// process that shares the budget with busy ones may be refused several times in a
    /// row before its turn comes (a digest that starts while two workers keep Notion's
    /// window full).
    pub max_refusals: u32,
    /// Give up rather than start a wait that would end after this much time since the
    /// call began: a worker must keep time to record the failure.
    pub max_elapsed: Duration,
    /// First backoff delay; doubles per attempt, with jitter.
    pub base_delay: Duration,
    /// Longest single backoff. A `Retry-After` is not capped by it: the limiter holds
    /// every call until it is over, and the call's deadline bounds that wait.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            max_refusals: u32::MAX,
            max_elapsed: Duration::from_secs(60),
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Whether to try again after `tries` (the failed attempts so far, by kind), when
    /// the next attempt would start after `wait`, `elapsed` into the call.
    pub fn may_retry(&self, tries: Tries, elapsed: Duration, wait: Duration) -> bool {
        tries.failed < self.max_attempts
            && tries.refused < self.max_refusals
            && elapsed + wait <= self.max_elapsed
    }

    /// Exponential backoff with jitter for retry number `retry` (0 for the first retry):
    /// between half and one and a half times `base · 2^retry`, capped. Jitter keeps
    /// concurrent workers that failed together from retrying together.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(retry.min(16)));
        let jittered = exp.mul_f64(0.5 + fastrand::f64());
        jittered.min(self.max_delay)
    }
}

/// The failed attempts of one call so far, by kind; see [`RetryPolicy::may_retry`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tries {
    /// Refused for the rate.
    pub refused: u32,
    /// Failed for another reason.
    pub failed: u32,
}

impl Tries {
    pub fn count(&mut self, refused: bool) {
        if refused {
            self.refused += 1;
        } else {
            self.failed += 1;
        }
    }

    /// Failed attempts so far, of both kinds: the number of the retry to come, from 0,
    /// for the backoff's growth.
    pub fn retries(&self) -> u32 {
        self.refused + self.failed
    }
}

/// Parses `Retry-After`: delta-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{SystemTime, UNIX_EPOCH};

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", SystemTime::now()), None);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let p = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            ..RetryPolicy::default()
        };
        for _ in 0..100 {
            let d0 = p.backoff(0);
            assert!(d0 >= Duration::from_millis(50) && d0 <= Duration::from_millis(150));
            let d2 = p.backoff(2);
            assert!(d2 >= Duration::from_millis(200) && d2 <= Duration::from_millis(600));
            assert!(p.backoff(30) <= Duration::from_secs(1));
        }
    }
}
