//! The one paced-retry loop of every client: take a slot from the limiter, send, tell
//! the limiter how the server took it, and try again while the policy allows.
//!
//! A client says how each attempt ended ([`Ending`]): what the budget heard (the server
//! took the request, refused it for the rate, or never saw it), and whether another
//! try may help. The loop does the rest the same way for Notion and Slack:
//!
//! * Waiting for a slot counts against the call's time: with many calls queued (or a
//!   long pause ahead), a call gives up unsent at its deadline rather than outlast it.
//! * A refusal for the rate pauses every caller of the limiter until `Retry-After` is
//!   over, however long: the next slot is the wait, so the loop sleeps no more. Only
//!   the deadline and [`RetryPolicy::max_refusals`] bound how often a call is refused:
//!   a refusal says "later", not "no".
//! * Any other failure worth a retry is retried after the client's wait, while
//!   [`RetryPolicy::may_retry`] allows.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::{Limiter, RetryPolicy, Tries};

/// What the budget heard of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    /// The server took the request (it answered: a success, or an error of its own).
    Took,
    /// The server refused it for the rate, with its `Retry-After` if it gave one.
    Refused(Option<Duration>),
    /// Nothing the pace can learn from (no answer, or a refusal that is not about it).
    Nothing,
}

/// How one attempt ended, as the loop acts on it.
#[derive(Debug)]
pub struct Ending<T, E> {
    pub result: Result<T, E>,
    pub heard: Heard,
    /// Try again after this wait; `None`: the result is final.
    pub again: Option<Duration>,
}

impl<T, E> Ending<T, E> {
    /// An answer to return as it is (a success, or an error no retry changes).
    pub fn done(result: Result<T, E>, heard: Heard) -> Self {
        Self {
            result,
            heard,
            again: None,
        }
    }

    /// Refused for the rate: tried again once the limiter's pause is over.
    pub fn refused(error: E, retry_after: Option<Duration>) -> Self {
        Self {
            result: Err(error),
            heard: Heard::Refused(retry_after),
            again: Some(Duration::ZERO),
        }
    }

    /// A failure another try may mend, after `wait`.
    pub fn again(error: E, heard: Heard, wait: Duration) -> Self {
        Self {
            result: Err(error),
            heard,
            again: Some(wait),
        }
    }
}

/// Who is calling what, for the log line of each retry.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub service: &'static str,
    pub call: &'a str,
}

/// Runs `attempt` at `limiter`'s pace until it ends for good, `policy` says stop, or no
/// slot is left before `deadline`; then `unsent` is the error when no attempt failed
/// yet. `attempt` is given the number of the retry it is (0 for the first try).
pub async fn paced<T, E, F, Fut>(
    limiter: &Limiter,
    policy: &RetryPolicy,
    deadline: Instant,
    call: Call<'_>,
    unsent: impl FnOnce() -> E,
    mut attempt: F,
) -> Result<T, E>
where
    E: Display,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Ending<T, E>>,
{
    let started = Instant::now();
    let mut tries = Tries::default();
    let mut last_error = None;
    loop {
        let Some(ticket) = limiter.acquire_before(Some(deadline)).await else {
            return Err(last_error.unwrap_or_else(unsent));
        };
        let ending = attempt(tries.retries()).await;
        let refused = matches!(ending.heard, Heard::Refused(_));
        match ending.heard {
            Heard::Took => limiter.succeeded(ticket),
            Heard::Refused(retry_after) => limiter.limited(ticket, retry_after),
            Heard::Nothing => {}
        }
        let (error, wait) = match (ending.result, ending.again) {
            (Err(error), Some(wait)) => (error, wait),
            (result, _) => return result,
        };
        tries.count(refused);
        let may = if refused {
            tries.refused < policy.max_refusals
        } else {
            policy.may_retry(tries, started.elapsed(), wait)
        };
        if !may {
            return Err(error);
        }
        let wait_ms = match limiter.paused_until() {
            Some(until) if refused => until.saturating_duration_since(Instant::now()),
            _ => wait,
        }
        .as_millis() as u64;
        let retry = tries.retries();
        let (service, what) = (call.service, call.call);
        if refused {
            tracing::warn!(
                service,
                call = what,
                retry,
                wait_ms,
                "refused for the rate (429); every call waits, then this one tries again"
            );
        } else {
            tracing::warn!(service, call = what, retry, wait_ms, error = %error, "retrying a call");
        }
        last_error = Some(error);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    const CALL: Call<'static> = Call {
        service: "test",
        call: "GET /x",
    };

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            max_elapsed: Duration::from_secs(60),
            base_delay: Duration::from_millis(100),
            ..RetryPolicy::default()
        }
    }

    /// Runs the loop over scripted endings; says what it returned, how many attempts
    /// were made and how long it took.
    async fn run(
        script: Vec<Ending<u32, String>>,
        deadline: Duration,
    ) -> (Result<u32, String>, usize, Duration) {
        let limiter = Limiter::new(100.0, 1);
        let script = std::cell::RefCell::new(script.into_iter());
        let made = Cell::new(0);
        let start = Instant::now();
        let out = paced(
            &limiter,
            &policy(),
            start + deadline,
            CALL,
            || "unsent".to_owned(),
            |_| {
                made.set(made.get() + 1);
                let next = script
                    .borrow_mut()
                    .next()
                    .expect("no more attempts scripted");
                async move { next }
            },
        )
        .await;
        (out, made.get(), start.elapsed())
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_waits_out_retry_after_then_tries_again() {
        let (out, made, took) = run(
            vec![
                Ending::refused("429".into(), Some(Duration::from_secs(30))),
                Ending::done(Ok(7), Heard::Took),
            ],
            Duration::from_secs(60),
        )
        .await;
        assert_eq!((out, made), (Ok(7), 2));
        assert!(took >= Duration::from_secs(29), "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_past_the_deadline_gives_the_last_error_back_unsent() {
        let (out, made, took) = run(
            vec![Ending::refused("429".into(), Some(Duration::from_secs(90)))],
            Duration::from_secs(60),
        )
        .await;
        assert_eq!((out, made), (Err("429".into()), 1));
        assert!(
            took < Duration::from_secs(1),
            "waited for nothing: {took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_final_answer_is_returned_at_once_and_failures_stop_at_the_policy() {
        let (out, made, _) = run(
            vec![Ending::done(Err("400".into()), Heard::Took)],
            Duration::from_secs(60),
        )
        .await;
        assert_eq!((out, made), (Err("400".into()), 1));
        let again = || Ending::again("503".into(), Heard::Took, Duration::from_millis(100));
        let (out, made, _) = run(
            vec![again(), again(), again(), again()],
            Duration::from_secs(60),
        )
        .await;
        assert_eq!((out, made), (Err("503".into()), 3), "max_attempts is 3");
        let (out, made, _) = run(
            vec![again(), Ending::done(Ok(1), Heard::Took)],
            Duration::from_secs(60),
        )
        .await;
        assert_eq!((out, made), (Ok(1), 2));
    }
}
