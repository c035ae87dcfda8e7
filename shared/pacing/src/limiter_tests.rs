use super::*;
use std::sync::Arc;

/// `n` tasks that each wait for a slot and say when they got it, since `start`.
fn acquire_at_once(
    limiter: &Arc<Limiter>,
    n: usize,
    start: Instant,
) -> Vec<tokio::task::JoinHandle<Duration>> {
    (0..n)
        .map(|_| {
            let l = Arc::clone(limiter);
            tokio::spawn(async move {
                l.acquire().await;
                start.elapsed()
            })
        })
        .collect()
}

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
    let tasks = acquire_at_once(&limiter, 60, start);
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

#[tokio::test(start_paused = true)]
async fn a_slot_after_the_deadline_is_refused_at_once_and_not_taken() {
    let limiter = Limiter::new(2.0, 1);
    limiter.acquire().await;
    let start = Instant::now();
    // The next slot is 500 ms away.
    let deadline = Some(start + Duration::from_millis(400));
    assert!(limiter.acquire_before(deadline).await.is_none());
    assert_eq!(start.elapsed(), Duration::ZERO, "it did not wait");
    // Nothing was reserved: the next caller gets that slot, not the one after.
    limiter.acquire().await;
    assert_eq!(start.elapsed(), Duration::from_millis(500));
    // A pause past the deadline is refused the same way.
    let t = limiter.acquire().await;
    limiter.limited(t, Some(Duration::from_secs(5)));
    let now = Instant::now();
    assert!(
        limiter
            .acquire_before(Some(now + Duration::from_secs(2)))
            .await
            .is_none()
    );
    assert_eq!(Instant::now(), now);
}

#[tokio::test(start_paused = true)]
async fn a_refusal_pauses_every_task_not_only_the_refused_one() {
    let limiter = Arc::new(Limiter::new(10.0, 1));
    let first = limiter.acquire().await;
    let start = Instant::now();
    // Five tasks queue for slots 100 ms apart; then the first request is refused.
    let waiting = acquire_at_once(&limiter, 5, start);
    tokio::time::sleep(Duration::from_millis(150)).await;
    limiter.limited(first, Some(Duration::from_secs(2)));
    let mut sent = Vec::new();
    for t in waiting {
        sent.push(t.await.unwrap());
    }
    sent.sort();
    // One had its slot before the refusal; every other waited the pause out — two
    // seconds from when the server refused, half way between sending (0 ms) and the
    // answer (150 ms) — and they resume one at a time, not in a burst.
    assert!(sent[0] < Duration::from_millis(150), "{sent:?}");
    for t in &sent[1..] {
        assert!(*t >= Duration::from_millis(2075), "{sent:?}");
    }
    for pair in sent[1..].windows(2) {
        assert!(pair[1] - pair[0] >= Duration::from_millis(100), "{sent:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_rate_steps_down_once_per_refusal_and_climbs_back_never_above_the_limit() {
    let limiter = Limiter::new(3.0, 1);
    // Three requests in flight together; all three are refused.
    let tickets = [
        limiter.acquire().await,
        limiter.acquire().await,
        limiter.acquire().await,
    ];
    for t in tickets {
        limiter.limited(t, None);
    }
    let stepped = limiter.rate();
    assert!(stepped < 3.0, "{stepped}");
    assert!(
        stepped > 3.0 * 0.9,
        "three answers to one burst stepped down more than once: {stepped}"
    );
    // A refusal to a request sent after the step is news: another step.
    let t = limiter.acquire().await;
    limiter.limited(t, None);
    let again = limiter.rate();
    assert!(again < stepped, "{again} !< {stepped}");
    // Calls succeed: the rate climbs back to the limit, and no further.
    let mut last = again;
    for _ in 0..2_000 {
        let t = limiter.acquire().await;
        limiter.succeeded(t);
        let now = limiter.rate();
        assert!(now >= last && now <= 3.0, "{last} then {now}");
        last = now;
    }
    assert!(last > 2.99, "after ~11 min of success the rate is {last}");
}

#[tokio::test(start_paused = true)]
async fn a_refusal_takes_the_burst_away_until_a_quiet_minute() {
    let limiter = Limiter::new(3.0, 3);
    let t = limiter.acquire().await;
    limiter.limited(t, None);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        three_in_a_row(&limiter).await > Duration::from_millis(600),
        "a burst went out"
    );
    tokio::time::sleep(Duration::from_secs(70)).await;
    let t = limiter.acquire().await;
    limiter.succeeded(t);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let start = Instant::now();
    for _ in 0..3 {
        limiter.acquire().await;
    }
    assert_eq!(start.elapsed(), Duration::ZERO, "the burst came back");
}

#[tokio::test(start_paused = true)]
async fn a_refused_burst_ends_bursts_and_leaves_the_rate() {
    let limiter = Limiter::new(3.0, 3);
    let start = Instant::now();
    let burst = [
        limiter.acquire().await,
        limiter.acquire().await,
        limiter.acquire().await,
    ];
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "the first burst goes at once"
    );
    for ticket in burst {
        limiter.succeeded(ticket);
    }
    // The fourth goes a third of a second after them, within the same second: a strict
    // window of three refuses it.
    let fourth = limiter.acquire().await;
    assert!(start.elapsed() < Duration::from_secs(1));
    limiter.limited(fourth, Some(Duration::from_secs(1)));
    assert_eq!(limiter.rate(), 3.0, "the pace was not the cause");
    // However long the limiter then idles, requests go paced, never at once.
    tokio::time::sleep(Duration::from_secs(120)).await;
    let took = three_in_a_row(&limiter).await;
    assert!(
        took >= Duration::from_millis(666),
        "a burst went out: {took:?}"
    );
}

/// How long three requests, each answered at once, take to be let go.
async fn three_in_a_row(limiter: &Limiter) -> Duration {
    let start = Instant::now();
    for _ in 0..3 {
        let t = limiter.acquire().await;
        limiter.succeeded(t);
    }
    start.elapsed()
}

#[tokio::test(start_paused = true)]
async fn a_refused_request_at_the_pace_steps_the_rate_even_in_a_backlog_begun_by_a_burst() {
    let limiter = Limiter::new(3.0, 3);
    let start = Instant::now();
    let mut last = None;
    // A backlog: three at once, then one every third of a second.
    for _ in 0..7 {
        if let Some(t) = last.replace(limiter.acquire().await) {
            limiter.succeeded(t);
        }
    }
    assert!(start.elapsed() >= Duration::from_secs(1));
    // The seventh kept the pace: someone else spends the budget.
    limiter.limited(last.unwrap(), Some(Duration::from_secs(1)));
    assert!(limiter.rate() < 3.0, "the rate stood: {}", limiter.rate());
}

#[tokio::test(start_paused = true)]
async fn a_smaller_share_respaces_waiting_tasks_and_a_larger_one_is_taken_at_once() {
    let limiter = Arc::new(Limiter::new(3.0, 1));
    let start = Instant::now();
    let tasks = acquire_at_once(&limiter, 40, start);
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Another process joins: this one's part is a third. The slots already handed out
    // at the full pace are not kept.
    limiter.set_share_among(1.0 / 3.0, 3);
    assert!((limiter.rate() - 1.0).abs() < 1e-9, "{}", limiter.rate());
    tokio::time::sleep(Duration::from_secs(10)).await;
    // The other is done: the whole rate at once, with no climb.
    limiter.set_share_among(1.0, 1);
    assert!((limiter.rate() - 3.0).abs() < 1e-9, "{}", limiter.rate());
    let mut times = Vec::new();
    for t in tasks {
        times.push(t.await.unwrap());
    }
    let between = |from: u64, to: u64| {
        times
            .iter()
            .filter(|t| **t >= Duration::from_secs(from) && **t < Duration::from_secs(to))
            .count()
    };
    assert!(
        (9..=11).contains(&between(1, 11)),
        "{} in the ten seconds at a third",
        between(1, 11)
    );
    assert!(
        (14..=16).contains(&between(11, 16)),
        "{} in the five at the whole rate",
        between(11, 16)
    );
}

/// A long `Retry-After` after little work (Notion overloaded, answering 529 with half a
/// minute, or a window another process spent) is a thin reading of the budget: a
/// limiter with a configured rate waits it out, paces at what it measured, and climbs
/// back to its rate within a few minutes, as after any refusal.
#[tokio::test(start_paused = true)]
async fn a_long_pause_after_little_work_slows_a_configured_limiter_for_a_while_only() {
    let limiter = Limiter::new(3.0, 3);
    for _ in 0..3 {
        let t = limiter.acquire().await;
        limiter.succeeded(t);
    }
    let refused = limiter.acquire().await;
    let start = Instant::now();
    limiter.limited(refused, Some(Duration::from_secs(30)));
    let t = limiter.acquire().await;
    assert!(
        start.elapsed() >= Duration::from_secs(29),
        "the pause was waited out"
    );
    assert_eq!(limiter.budget(), 3.0, "the configured rate still stands");
    assert!(limiter.rate() < 1.0, "{}", limiter.rate());
    limiter.succeeded(t);
    while start.elapsed() < Duration::from_secs(240) {
        let t = limiter.acquire().await;
        limiter.succeeded(t);
    }
    assert!(limiter.rate() > 2.9, "back to the rate: {}", limiter.rate());
}

/// Answers come back in any order: the refusal that says a window's budget is spent may
/// arrive before the answers to requests sent ahead of it. What the server took is read
/// when the pause ends, so those count.
#[tokio::test(start_paused = true)]
async fn a_windows_part_counts_answers_that_arrive_after_its_refusal() {
    let limiter = Limiter::finding(10, None);
    let mut tickets = Vec::new();
    for _ in 0..8 {
        tickets.push(limiter.acquire().await);
    }
    let later = tickets.split_off(4);
    // The fifth request's refusal comes first; the first four's answers after it.
    limiter.limited(later[0], Some(Duration::from_secs(3)));
    for t in tickets {
        limiter.succeeded(t);
    }
    for t in &later[1..] {
        limiter.limited(*t, Some(Duration::from_secs(3)));
    }
    let start = Instant::now();
    limiter.acquire().await;
    assert!(start.elapsed() >= Duration::from_secs(2));
    // Four taken in the window, which resets three seconds after it began.
    let part = 0.99 * 4.0 / 3.0;
    assert!((limiter.rate() - part).abs() < 0.05, "{}", limiter.rate());
    assert!(
        (limiter.budget() - part).abs() < 0.05,
        "{}",
        limiter.budget()
    );
}

#[test]
fn an_estimate_reads_back_from_its_note_and_nothing_else_does() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let learned = Instant::now() - Duration::from_secs(7);
        let e = crate::Estimate {
            budget: 9.75,
            learned,
            basis: crate::Basis::Window,
            taken: 1.5,
        };
        let back = crate::Estimate::from_note(&e.to_note()).expect("its own words");
        assert_eq!(
            (back.budget, back.basis, back.taken),
            (9.75, crate::Basis::Window, 1.5)
        );
        let drift = back.learned.max(learned) - back.learned.min(learned);
        assert!(drift < Duration::from_millis(50), "{drift:?}");
        for other in [
            "",
            "3",
            "3 0 window",
            "x 0 window 1",
            "3 0 sometimes 1",
            "3 0 window x",
            "3 0 window 1 extra",
            "-1 0 window 1",
            "NaN 0 window 1",
        ] {
            assert_eq!(crate::Estimate::from_note(other), None, "{other:?}");
        }
    });
}

mod simulated {
    //! The limiter against simulated servers on a paused clock: what `make bench`
    //! measures against the emulator, reduced to the pacing itself.

    use super::*;

    enum Shape {
        /// At most `n` requests in any one-second window.
        Window { n: usize, seen: VecDeque<Instant> },
        /// A token bucket: `rate` per second, `burst` at most.
        Bucket {
            rate: f64,
            burst: f64,
            tokens: f64,
            last: Instant,
        },
        /// `n` per fixed window of `length`, starting with the first request after the
        /// last window ended, or on the clock (`aligned`).
        Budget {
            n: usize,
            length: Duration,
            aligned: Option<Instant>,
            window: Option<(Instant, usize)>,
        },
    }

    impl Shape {
        fn window(n: usize) -> Self {
            Self::Window {
                n,
                seen: VecDeque::new(),
            }
        }

        fn bucket(rate: f64, burst: f64) -> Self {
            Self::Bucket {
                rate,
                burst,
                tokens: burst,
                last: Instant::now(),
            }
        }

        fn budget(n: usize, seconds: u64, aligned: bool) -> Self {
            // Clock windows start at some moment before the first request.
            let epoch = Instant::now() - Duration::from_millis(seconds * 1000 / 3);
            Self::Budget {
                n,
                length: Duration::from_secs(seconds),
                aligned: aligned.then_some(epoch),
                window: None,
            }
        }

        /// What it allows over a long run, in requests per second.
        fn sustained(&self) -> f64 {
            match self {
                Self::Window { n, .. } => *n as f64,
                Self::Bucket { rate, .. } => *rate,
                Self::Budget { n, length, .. } => *n as f64 / length.as_secs_f64(),
            }
        }

        /// Takes a request arriving at `now`, or says how long until it would be
        /// taken (`Retry-After`, in whole seconds as Notion says it).
        fn admit(&mut self, now: Instant) -> Result<(), Duration> {
            let wait = match self {
                Self::Window { n, seen } => {
                    while seen
                        .front()
                        .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
                    {
                        seen.pop_front();
                    }
                    if seen.len() < *n {
                        seen.push_back(now);
                        return Ok(());
                    }
                    Duration::from_secs(1) - now.duration_since(seen[0])
                }
                Self::Bucket {
                    rate,
                    burst,
                    tokens,
                    last,
                } => {
                    *tokens =
                        (*tokens + now.duration_since(*last).as_secs_f64() * *rate).min(*burst);
                    *last = now;
                    if *tokens >= 1.0 {
                        *tokens -= 1.0;
                        return Ok(());
                    }
                    Duration::from_secs_f64((1.0 - *tokens) / *rate)
                }
                Self::Budget {
                    n,
                    length,
                    aligned,
                    window,
                } => {
                    let start = match (*aligned, *window) {
                        (Some(epoch), _) => {
                            let k = (now.duration_since(epoch).as_secs_f64()
                                / length.as_secs_f64())
                            .floor();
                            epoch + length.mul_f64(k)
                        }
                        (None, Some((s, _))) if now < s + *length => s,
                        (None, _) => now,
                    };
                    let used = match *window {
                        Some((s, used)) if s == start => used,
                        _ => 0,
                    };
                    if used < *n {
                        *window = Some((start, used + 1));
                        return Ok(());
                    }
                    *window = Some((start, used));
                    (start + *length).duration_since(now)
                }
            };
            Err(Duration::from_secs(
                wait.as_secs_f64().ceil().max(1.0) as u64
            ))
        }
    }

    fn calls(n: usize) -> Arc<std::sync::atomic::AtomicUsize> {
        Arc::new(std::sync::atomic::AtomicUsize::new(n))
    }

    #[derive(Default, Debug)]
    struct Tally {
        ok: usize,
        refused: usize,
    }

    /// Who is present, until when, and what each found of the budget: the store's
    /// presence record, reduced.
    #[derive(Clone, Default)]
    struct Presence(Arc<Mutex<std::collections::BTreeMap<String, Attendance>>>);

    /// Present until, and what it found.
    type Attendance = (Instant, Option<crate::Estimate>);

    impl Presence {
        /// What a process does every second while it works (`crm_app`'s budget share):
        /// says it is here for five seconds with what it found, adopts what the others
        /// found, and takes its share of who is.
        fn attend(&self, me: &str, limiter: &Limiter) {
            let now = Instant::now();
            let mut present = self.0.lock().unwrap();
            present.insert(
                me.to_owned(),
                (now + Duration::from_secs(5), limiter.estimate()),
            );
            let here: Vec<(&String, &Option<crate::Estimate>)> = present
                .iter()
                .filter(|(_, (until, _))| *until > now)
                .map(|(m, (_, e))| (m, e))
                .collect();
            let mut others_taken = 0.0;
            for (_, estimate) in here.iter().filter(|(m, _)| *m != me) {
                if let Some(e) = estimate {
                    limiter.adopt(*e);
                    others_taken += e.taken;
                }
            }
            limiter.set_others_taken(others_taken);
            let members: Vec<String> = here.iter().map(|(m, _)| (*m).clone()).collect();
            limiter.set_share_among(
                crate::share_of(&members, me, limiter.budget()),
                members.len(),
            );
        }
    }

    /// One process: `calls` calls from `tasks` concurrent tasks, each answered after
    /// `latency` (decided half-way, with a little jitter on arrival). With `presence`,
    /// it attends every second while it works, and leaves when done.
    async fn process(
        server: Arc<Mutex<Shape>>,
        left: Arc<std::sync::atomic::AtomicUsize>,
        tasks: usize,
        latency: Duration,
        seed: u64,
        presence: Option<Presence>,
    ) -> Tally {
        run(
            Limiter::new(3.0, 3),
            server,
            left,
            tasks,
            latency,
            seed,
            presence,
        )
        .await
    }

    /// [`process`] with a limiter of the caller's.
    async fn run(
        limiter: Limiter,
        server: Arc<Mutex<Shape>>,
        left: Arc<std::sync::atomic::AtomicUsize>,
        tasks: usize,
        latency: Duration,
        seed: u64,
        presence: Option<Presence>,
    ) -> Tally {
        let limiter = Arc::new(limiter);
        let me = seed.to_string();
        let beats = presence.clone().map(|presence| {
            presence.attend(&me, &limiter);
            let (limiter, me) = (Arc::clone(&limiter), me.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    presence.attend(&me, &limiter);
                }
            })
        });
        let tally = Arc::new(Mutex::new(Tally::default()));
        let workers: Vec<_> = (0..tasks)
            .map(|i| {
                let (limiter, server, left, tally) = (
                    Arc::clone(&limiter),
                    Arc::clone(&server),
                    Arc::clone(&left),
                    Arc::clone(&tally),
                );
                let mut rng = fastrand::Rng::with_seed(seed * 100 + i as u64);
                tokio::spawn(async move {
                    while left
                        .fetch_update(
                            std::sync::atomic::Ordering::SeqCst,
                            std::sync::atomic::Ordering::SeqCst,
                            |n| n.checked_sub(1),
                        )
                        .is_ok()
                    {
                        call(&limiter, &server, latency, &mut rng, &tally).await;
                    }
                })
            })
            .collect();
        for w in workers {
            w.await.unwrap();
        }
        if let (Some(beats), Some(presence)) = (beats, presence) {
            beats.abort();
            presence.0.lock().unwrap().remove(&me);
        }
        Arc::try_unwrap(tally).unwrap().into_inner().unwrap()
    }

    /// One call, sent again after each refusal until the server takes it; answered
    /// after `latency` (decided half-way, with a little jitter on arrival).
    async fn call(
        limiter: &Limiter,
        server: &Mutex<Shape>,
        latency: Duration,
        rng: &mut fastrand::Rng,
        tally: &Mutex<Tally>,
    ) {
        loop {
            let ticket = limiter.acquire().await;
            let jitter = Duration::from_micros(rng.u64(0..3_000));
            tokio::time::sleep(latency / 2 + jitter).await;
            let answer = server.lock().unwrap().admit(Instant::now());
            tokio::time::sleep(latency / 2).await;
            let Err(retry_after) = answer else {
                limiter.succeeded(ticket);
                tally.lock().unwrap().ok += 1;
                return;
            };
            limiter.limited(ticket, Some(retry_after));
            tally.lock().unwrap().refused += 1;
        }
    }

    /// The worker's way: items of three calls each (a lead's find, create, log), in
    /// stream batches of 100 items, eight at a time within a batch, the next batch once
    /// the last is done — so the end of each batch has less to send than the pace
    /// allows. With `presence`, as `me`, it attends every second while it works.
    async fn drain_in_batches(
        limiter: Limiter,
        server: Arc<Mutex<Shape>>,
        items: usize,
        latency: Duration,
        presence: Option<(&str, Presence)>,
    ) -> Tally {
        const CALLS: usize = 3;
        const BATCH: usize = 100;
        const LANES: usize = 8;
        let limiter = Arc::new(limiter);
        let beats = presence.as_ref().map(|(me, presence)| {
            presence.attend(me, &limiter);
            let (limiter, me, presence) = (Arc::clone(&limiter), me.to_string(), presence.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    presence.attend(&me, &limiter);
                }
            })
        });
        let tally = Arc::new(Mutex::new(Tally::default()));
        let mut left = items;
        let mut seed = presence
            .as_ref()
            .map_or(0, |(me, _)| me.len() as u64 * 1000);
        while left > 0 {
            let this = calls(BATCH.min(left));
            left -= BATCH.min(left);
            let workers: Vec<_> = (0..LANES)
                .map(|_| {
                    seed += 1;
                    let (limiter, server, this, tally) = (
                        Arc::clone(&limiter),
                        Arc::clone(&server),
                        Arc::clone(&this),
                        Arc::clone(&tally),
                    );
                    let mut rng = fastrand::Rng::with_seed(seed);
                    tokio::spawn(async move {
                        while this
                            .fetch_update(
                                std::sync::atomic::Ordering::SeqCst,
                                std::sync::atomic::Ordering::SeqCst,
                                |n| n.checked_sub(1),
                            )
                            .is_ok()
                        {
                            for _ in 0..CALLS {
                                call(&limiter, &server, latency, &mut rng, &tally).await;
                            }
                        }
                    })
                })
                .collect();
            for w in workers {
                w.await.unwrap();
            }
        }
        if let (Some(beats), Some((me, presence))) = (beats, presence) {
            beats.abort();
            presence.0.lock().unwrap().remove(me);
        }
        Arc::try_unwrap(tally).unwrap().into_inner().unwrap()
    }

    fn check(what: &str, tally: &Tally, took: Duration, min_share: f64, max_refused: f64) {
        check_against(what, 3.0, tally, took, min_share, max_refused);
    }

    fn check_against(
        what: &str,
        limit: f64,
        tally: &Tally,
        took: Duration,
        min_share: f64,
        max_refused: f64,
    ) {
        let achieved = tally.ok as f64 / took.as_secs_f64() / limit;
        eprintln!(
            "{what}: {:.1} % of the limit, {:.2} % refused",
            achieved * 100.0,
            100.0 * tally.refused as f64 / (tally.ok + tally.refused) as f64
        );
        let refused = tally.refused as f64 / (tally.ok + tally.refused) as f64;
        assert!(
            achieved >= min_share && refused <= max_refused,
            "{what}: {:.1} % of the limit, {:.2} % refused ({tally:?} in {took:?})",
            achieved * 100.0,
            refused * 100.0
        );
    }

    #[tokio::test(start_paused = true)]
    async fn one_process_runs_at_the_limit_of_a_strict_window_or_a_bucket() {
        for latency in [0, 200, 500] {
            let latency = Duration::from_millis(latency);
            for (name, shape) in [
                ("window", Shape::window(3)),
                ("bucket", Shape::bucket(3.0, 10.0)),
            ] {
                let start = Instant::now();
                let tally =
                    process(Arc::new(Mutex::new(shape)), calls(900), 8, latency, 1, None).await;
                check(
                    &format!("{name} at {latency:?}"),
                    &tally,
                    start.elapsed(),
                    0.95,
                    0.01,
                );
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn two_processes_sharing_one_budget_back_off_on_each_other() {
        for latency in [0, 200, 500] {
            let latency = Duration::from_millis(latency);
            let server = Arc::new(Mutex::new(Shape::window(3)));
            let start = Instant::now();
            let queue = calls(900);
            let (a, b) = tokio::join!(
                process(Arc::clone(&server), Arc::clone(&queue), 8, latency, 1, None),
                process(Arc::clone(&server), queue, 8, latency, 2, None),
            );
            let both = Tally {
                ok: a.ok + b.ok,
                refused: a.refused + b.refused,
            };
            check(
                &format!("two at {latency:?}"),
                &both,
                start.elapsed(),
                0.90,
                0.05,
            );
        }
    }

    /// What `make bench` runs: two workers with work of their own (450 calls each) and
    /// the digest (10 calls, half a minute in), each configured at the full rate. Told
    /// of each other through the store, they split the budget at once, and the one left
    /// takes it all back as soon as the other is done, with no refusal to learn it from.
    #[tokio::test(start_paused = true)]
    async fn processes_that_know_of_each_other_split_the_budget_and_the_last_takes_it_all() {
        for latency in [0, 200, 500] {
            let latency = Duration::from_millis(latency);
            let server = Arc::new(Mutex::new(Shape::window(3)));
            let presence = Presence::default();
            let start = Instant::now();
            let digest = {
                let (server, presence) = (Arc::clone(&server), presence.clone());
                async move {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    process(server, calls(10), 1, latency, 9, Some(presence)).await
                }
            };
            let (a, b, c) = tokio::join!(
                process(
                    Arc::clone(&server),
                    calls(450),
                    8,
                    latency,
                    1,
                    Some(presence.clone())
                ),
                process(
                    Arc::clone(&server),
                    calls(450),
                    8,
                    latency,
                    2,
                    Some(presence.clone())
                ),
                digest,
            );
            let all = Tally {
                ok: a.ok + b.ok + c.ok,
                refused: a.refused + b.refused + c.refused,
            };
            assert_eq!(all.ok, 910);
            check(
                &format!("two and the digest at {latency:?}"),
                &all,
                start.elapsed(),
                0.92,
                0.01,
            );
        }
    }

    /// A server's name, the server, the work (calls or items) to give it, the most
    /// refusals allowed.
    type Case = (&'static str, fn() -> Shape, usize, f64);

    /// Runs `drain` against every case at 0, 200 and 500 ms of latency, and fails naming
    /// each run that took less than 95 % of what the server allows or was refused more
    /// than its case allows.
    async fn at_every_latency<F, Fut>(cases: &[Case], drain: F)
    where
        F: Fn(Arc<Mutex<Shape>>, usize, Duration) -> Fut,
        Fut: std::future::Future<Output = Tally>,
    {
        let mut failed = Vec::new();
        for latency in [0, 200, 500] {
            let latency = Duration::from_millis(latency);
            for (name, shape, work, max_refused) in cases {
                let server = shape();
                let limit = server.sustained();
                let start = Instant::now();
                let tally = drain(Arc::new(Mutex::new(server)), *work, latency).await;
                let what = format!("{name} at {latency:?}");
                let outcome = std::panic::catch_unwind(|| {
                    check_against(&what, limit, &tally, start.elapsed(), 0.95, *max_refused)
                });
                if let Err(e) = outcome {
                    failed.push(e.downcast_ref::<String>().cloned().unwrap_or_default());
                }
            }
        }
        assert!(failed.is_empty(), "{failed:#?}");
    }

    /// With no rate configured, one process finds the limit by itself: the older
    /// per-second average (a strict window or a bucket) and today's budget per window of
    /// any size, whether windows start with the first request or on the clock.
    #[tokio::test(start_paused = true)]
    async fn a_limiter_with_no_rate_finds_any_limit_by_itself() {
        let cases: [Case; 7] = [
            ("strict 3/s", || Shape::window(3), 900, 0.01),
            (
                "bucket 3/s bursts of 10",
                || Shape::bucket(3.0, 10.0),
                900,
                0.01,
            ),
            ("180/min", || Shape::budget(180, 60, false), 900, 0.03),
            (
                "180/min on the clock",
                || Shape::budget(180, 60, true),
                900,
                0.03,
            ),
            ("600/min", || Shape::budget(600, 60, false), 3_000, 0.03),
            (
                "1800/min on the clock",
                || Shape::budget(1_800, 60, true),
                9_000,
                0.03,
            ),
            (
                "workspace 300/120 s",
                || Shape::budget(300, 120, false),
                1_500,
                0.03,
            ),
        ];
        at_every_latency(&cases, |server, n, latency| {
            run(
                Limiter::finding(3, None),
                server,
                calls(n),
                16,
                latency,
                1,
                None,
            )
        })
        .await;
    }

    /// With no rate configured, processes that find the budget and tell each other what
    /// they found (two workers with work of their own and the digest half a minute in,
    /// as `make bench` runs them) spend one budget between them at its limit, under the
    /// older per-second average and under today's budgets per window.
    #[tokio::test(start_paused = true)]
    async fn processes_that_find_the_budget_together_spend_it_at_its_limit() {
        let cases: [Case; 5] = [
            ("strict 3/s", || Shape::window(3), 450, 0.01),
            // Ten seconds of credit hide the rate from both slow starts, and what both
            // have in flight when it is spent is refused together: a few dozen, once.
            (
                "bucket 3/s bursts of 30",
                || Shape::bucket(3.0, 30.0),
                450,
                0.03,
            ),
            ("180/min", || Shape::budget(180, 60, false), 450, 0.03),
            (
                "600/min on the clock",
                || Shape::budget(600, 60, true),
                1_500,
                0.03,
            ),
            (
                "workspace 300/120 s",
                || Shape::budget(300, 120, false),
                750,
                0.03,
            ),
        ];
        at_every_latency(&cases, |server, n, latency| async move {
            let presence = Presence::default();
            let worker = |seed| {
                let (server, presence) = (Arc::clone(&server), presence.clone());
                let limiter = Limiter::finding(3, None);
                run(limiter, server, calls(n), 8, latency, seed, Some(presence))
            };
            let digest = async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                let limiter = Limiter::finding(3, None);
                let server = Arc::clone(&server);
                run(
                    limiter,
                    server,
                    calls(10),
                    1,
                    latency,
                    9,
                    Some(presence.clone()),
                )
                .await
            };
            let (a, b, c) = tokio::join!(worker(1), worker(2), digest);
            Tally {
                ok: a.ok + b.ok + c.ok,
                refused: a.refused + b.refused + c.refused,
            }
        })
        .await;
    }

    /// The worker drains in stream batches (100 leads of three calls, eight at a time):
    /// the end of each batch sends less than the pace allows, and a limiter that finds
    /// the budget must not read those gaps as the budget.
    #[tokio::test(start_paused = true)]
    async fn a_limiter_that_finds_the_budget_drains_stream_batches_at_the_limit() {
        // About a hundred seconds of each budget, in leads.
        let cases: [Case; 4] = [
            ("strict 3/s in batches", || Shape::window(3), 300, 0.01),
            // Ten seconds of credit hide the rate from slow start, and the requests in
            // flight when it is spent are refused together: a handful of refusals, once.
            (
                "bucket 3/s bursts of 30 in batches",
                || Shape::bucket(3.0, 30.0),
                300,
                0.015,
            ),
            (
                "180/min in batches",
                || Shape::budget(180, 60, false),
                300,
                0.03,
            ),
            (
                "600/min in batches",
                || Shape::budget(600, 60, false),
                1_000,
                0.03,
            ),
        ];
        at_every_latency(&cases, |server, items, latency| {
            drain_in_batches(Limiter::finding(3, None), server, items, latency, None)
        })
        .await;
    }

    /// What `make bench` runs, in stream batches: two workers telling each other what
    /// they found, and the digest half a minute in. What the server took of everyone is
    /// the sum of what each took, which each says: a pace refused steps towards it, so
    /// two processes that each read only their own part do not hold the pace down.
    #[tokio::test(start_paused = true)]
    async fn two_workers_draining_stream_batches_share_the_budget_at_its_limit() {
        let cases: [Case; 4] = [
            ("strict 3/s, two in batches", || Shape::window(3), 150, 0.01),
            // As above: a bucket's credit is found once, by both slow starts together.
            (
                "bucket 3/s bursts of 10, two in batches",
                || Shape::bucket(3.0, 10.0),
                150,
                0.03,
            ),
            (
                "bucket 3/s bursts of 30, two in batches",
                || Shape::bucket(3.0, 30.0),
                150,
                0.03,
            ),
            (
                "180/min, two in batches",
                || Shape::budget(180, 60, false),
                150,
                0.03,
            ),
        ];
        at_every_latency(&cases, |server, items, latency| async move {
            let presence = Presence::default();
            let worker = |me| {
                let limiter = Limiter::finding(3, None);
                let presence = Some((me, presence.clone()));
                drain_in_batches(limiter, Arc::clone(&server), items, latency, presence)
            };
            let digest = async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                let limiter = Limiter::finding(3, None);
                let server = Arc::clone(&server);
                run(
                    limiter,
                    server,
                    calls(3),
                    1,
                    latency,
                    9,
                    Some(presence.clone()),
                )
                .await
            };
            let (a, b, c) = tokio::join!(worker("a"), worker("b"), digest);
            Tally {
                ok: a.ok + b.ok + c.ok,
                refused: a.refused + b.refused + c.refused,
            }
        })
        .await;
    }
}
