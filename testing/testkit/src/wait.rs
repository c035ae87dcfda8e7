//! Waiting for a condition, not for a time: a test polls what it expects until it holds
//! or a deadline passes, and then fails naming what never happened. A fixed sleep is
//! either too short on a slow machine or wasted on a fast one.

use std::future::Future;
use std::time::{Duration, Instant};

/// How often a probe is asked again.
const POLL: Duration = Duration::from_millis(50);

/// Asks `probe` until it gives a value, for up to `within`; panics naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(POLL).await;
    }
}

/// [`eventually`] for a probe that does not wait on anything (a child's output, a
/// file), from a test that has no runtime.
pub fn eventually_sync<T>(what: &str, within: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        std::thread::sleep(POLL);
    }
}
