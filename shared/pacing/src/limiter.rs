//! Client-side pacing.
//!
//! Notion allows an average of 3 requests per second per connection and answers 429
//! beyond it. Pacing before sending is cheaper than being told to wait: a burst of 50
//! leads drains at the allowed rate without a single 429.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// A GCRA ("leaky bucket as a meter") limiter: `burst` requests may go at once, after
/// which requests are spaced `1/rate` apart. Each caller reserves its slot under the
/// lock and sleeps outside it, so waiting tasks keep their order and never oversubscribe.
#[derive(Debug)]
pub struct Limiter {
    interval: Duration,
    tolerance: Duration,
    /// Theoretical arrival time of the next request.
    tat: Mutex<Option<Instant>>,
}

impl Limiter {
    /// `rate` requests per second (above 0), `burst` at once (at least 1).
    pub fn new(rate: f64, burst: u32) -> Self {
        let interval = Duration::from_secs_f64(1.0 / rate.max(f64::MIN_POSITIVE));
        Self {
            interval,
            tolerance: interval.saturating_mul(burst.max(1) - 1),
            tat: Mutex::new(None),
        }
    }

    /// Waits until the next request may be sent.
    pub async fn acquire(&self) {
        let wait_until = {
            let mut tat = self.tat.lock().await;
            let now = Instant::now();
            let theoretical = tat.map_or(now, |t| t.max(now));
            let allowed_at = theoretical
                .checked_sub(self.tolerance)
                .unwrap_or(now)
                .max(now);
            *tat = Some(theoretical + self.interval);
            allowed_at
        };
        tokio::time::sleep_until(wait_until).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test(start_paused = true)]
    async fn burst_goes_at_once_then_requests_are_paced() {
        let limiter = Arc::new(Limiter::new(3.0, 3));
        let start = Instant::now();
        let mut at = Vec::new();
        for _ in 0..9 {
            limiter.acquire().await;
            at.push(start.elapsed());
        }
        assert_eq!(&at[..3], &[Duration::ZERO; 3]);
        // Then one every 333 ms.
        for (i, t) in at[3..].iter().enumerate() {
            let expected = Duration::from_secs_f64((i + 1) as f64 / 3.0);
            assert!(
                t.abs_diff(expected) < Duration::from_millis(2),
                "{i}: {t:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_share_one_budget() {
        let limiter = Arc::new(Limiter::new(3.0, 3));
        let start = Instant::now();
        let tasks: Vec<_> = (0..60)
            .map(|_| {
                let l = Arc::clone(&limiter);
                tokio::spawn(async move {
                    l.acquire().await;
                    start.elapsed()
                })
            })
            .collect();
        let mut times = Vec::new();
        for t in tasks {
            times.push(t.await.unwrap());
        }
        times.sort();
        // In any one-second window: at most 3 per second plus the burst.
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..]
                .iter()
                .take_while(|u| **u < *t + Duration::from_secs(1))
                .count();
            assert!(
                in_window <= 6,
                "{in_window} requests in the second after {t:?}"
            );
        }
        let total = *times.last().unwrap();
        assert!(
            total >= Duration::from_secs(19),
            "60 calls took only {total:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_limiter_refills_its_burst() {
        let limiter = Limiter::new(2.0, 2);
        for _ in 0..4 {
            limiter.acquire().await;
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
        let start = Instant::now();
        limiter.acquire().await;
        limiter.acquire().await;
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
