//! Waiting for the product's own clock: a held Slack message waits for its batch to fall
//! due (`burst.rs`), and "due" is a time on the [`Clock`]. In production the clock is the
//! wall clock and a pause is a sleep. In tests the clock is a
//! [`ManualClock`](crm_domain::ManualClock) and a sleep would wait for a time that never
//! comes unless something pushes the clock from outside; [`ManualPause`] moves that
//! clock itself, the way tokio's paused clock jumps ahead when everything waits.
//! (Tokio's paused clock itself does not serve here: these tests wait on SQLite's
//! blocking threads and on loopback HTTP, and its jumps would fire the clients' request
//! timeouts.)

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crm_domain::ManualClock;

/// A wait of the product's clock.
pub trait Pause: Send + Sync {
    fn pause(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// The wall clock's pause: a sleep.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sleep;

impl Pause for Sleep {
    fn pause(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(d))
    }
}

/// A [`ManualClock`]'s pause. By default it moves the clock on by the wait and returns
/// at once (after a yield, so others run). [`hold`](Self::hold) makes every pause wait
/// instead until the test [`release`](Self::release)s it — for a test that needs the
/// product caught *while* it waits (killed there, or joined there by another worker)
/// and decides itself how far the clock moves.
#[derive(Debug, Clone)]
pub struct ManualPause {
    clock: ManualClock,
    held: Arc<AtomicBool>,
    waiting: Arc<AtomicUsize>,
    released: Arc<tokio::sync::watch::Sender<u64>>,
}

impl ManualPause {
    pub fn new(clock: ManualClock) -> Self {
        Self {
            clock,
            held: Arc::default(),
            waiting: Arc::default(),
            released: Arc::new(tokio::sync::watch::Sender::new(0)),
        }
    }

    /// From now on pauses wait for [`release`](Self::release).
    pub fn hold(&self) {
        self.held.store(true, Ordering::SeqCst);
    }

    /// How many pauses are waiting for a release.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Moves the clock on by `by` and lets every waiting pause return; pauses move the
    /// clock themselves again.
    pub fn release(&self, by: Duration) {
        self.held.store(false, Ordering::SeqCst);
        self.clock.advance(by);
        self.released.send_modify(|n| *n += 1);
    }
}

/// Counts a held pause as waiting for as long as it exists, also when its task is
/// aborted while it waits.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Pause for ManualPause {
    fn pause(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            if !self.held.load(Ordering::SeqCst) {
                self.clock.advance(d);
                tokio::task::yield_now().await;
                return;
            }
            // Subscribed before counted: a release that sees this pause waiting is one
            // this pause sees.
            let mut released = self.released.subscribe();
            self.waiting.fetch_add(1, Ordering::SeqCst);
            let _waiting = Waiting(&self.waiting);
            let _ = released.changed().await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_domain::{Clock, Timestamp};

    #[tokio::test]
    async fn a_pause_moves_the_manual_clock_by_its_wait() {
        let clock = ManualClock::new(Timestamp::from_millis(0));
        let pause = ManualPause::new(clock.clone());
        pause.pause(Duration::from_millis(250)).await;
        pause.pause(Duration::from_secs(2)).await;
        assert_eq!(clock.now().as_millis(), 2_250);
    }

    #[tokio::test]
    async fn a_held_pause_waits_for_its_release_and_the_clock_moves_only_then() {
        let clock = ManualClock::new(Timestamp::from_millis(0));
        let pause = ManualPause::new(clock.clone());
        pause.hold();
        let waiter = {
            let pause = pause.clone();
            tokio::spawn(async move { pause.pause(Duration::from_secs(1)).await })
        };
        yielding_until(|| pause.waiting() == 1).await;
        assert_eq!(
            clock.now().as_millis(),
            0,
            "a held pause does not move the clock"
        );
        assert!(!waiter.is_finished());
        pause.release(Duration::from_secs(11));
        waiter.await.unwrap();
        assert_eq!(clock.now().as_millis(), 11_000);
        assert_eq!(pause.waiting(), 0);
    }

    #[tokio::test]
    async fn an_aborted_held_pause_is_no_longer_counted() {
        let pause = ManualPause::new(ManualClock::new(Timestamp::from_millis(0)));
        pause.hold();
        let waiter = {
            let pause = pause.clone();
            tokio::spawn(async move { pause.pause(Duration::from_secs(1)).await })
        };
        yielding_until(|| pause.waiting() == 1).await;
        waiter.abort();
        let _ = waiter.await;
        assert_eq!(pause.waiting(), 0);
    }

    /// Yields until `ready` (the spawned task runs on this thread between yields).
    async fn yielding_until(ready: impl Fn() -> bool) {
        for _ in 0..1_000 {
            if ready() {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("never ready");
    }
}
