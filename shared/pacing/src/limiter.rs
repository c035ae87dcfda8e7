//! Client-side pacing that learns what the server allows.
//!
//! Two ways to make one: [`Limiter::new`] paces at a configured rate and never above
//! it; [`Limiter::finding`] starts at [`START_RATE`] (what every Notion plan allows) and
//! finds the budget by itself, under a ceiling if one is given. Notion has counted in
//! two ways, and a limiter that finds the budget tells them apart by `Retry-After`:
//!
//! * **A budget per window** (today: a fixed number per 60-second window, spendable in
//!   a burst, `Retry-After` to the window's reset; the workspace's limit, whose window
//!   may be longer): a long `Retry-After` says the window's budget is spent. Every task
//!   waits it out once, and what the server took since the last reset (or the start of
//!   this busy spell), spread over the time until the next, is this process's part of
//!   the budget (read when the pause ends, when every answer sent before the refusal is
//!   in): it paces there (1 % under, so the request that opens the next window does not
//!   arrive a moment early). A limiter with a configured rate paces there too, then
//!   climbs back to its rate as after any refusal: one reading after little work (a 529
//!   while Notion is overloaded, a window another process spent) must not hold it down.
//! * **An average per second** (older copies: "an average of three requests per
//!   second", a strict window or a bucket): a short `Retry-After` says the pace ran
//!   ahead, and the rules below step it down — from what got through since the refusal
//!   before (a window counts nothing during the pause; a bucket refills during it, and
//!   counted from the refusal, the refill is part of what the server allows).
//!
//! Until the first refusal it doubles its pace every two seconds while requests queue
//! (slow start; leaving it on a short `Retry-After`, what the server took in the last
//! second is the pace, halved when above the start rate, for a bucket lets a burst's
//! credit through first). After a refusal it holds; once calm for five minutes with
//! requests queueing, it asks for 10 % more each minute, which finds a budget that grew.
//!
//! What follows was written for the configured rate, and holds for both:
//! Notion allows an average of 3 requests per second per integration and answers 429
//! beyond it; a Slack webhook about one message per second. Pacing before sending is
//! cheaper than being told to wait. But the configured rate is only what one process
//! may use when it is alone: the digest, a second worker or an import may spend the
//! same budget, and a server that counts in a strict one-second window refuses a
//! request that arrives a millisecond early. So the limiter listens:
//!
//! * **A 429 pauses every task** of the process for its `Retry-After`, not only the one
//!   that got it: the others would only collect 429s of their own.
//! * **The rate steps down once per refusal**, not once per 429: requests already in
//!   flight when the first 429 came back answer 429 too, and carry no new news. The
//!   step is small (3 %), taken from the rate or, when less, from what the process
//!   actually got through since its last pause: with another process spending the same
//!   budget, that is its share. Refusals that follow each other within seconds say the
//!   rate is far off, and each doubles the step, so two processes that both start at
//!   the full rate find their shares within a few seconds.
//! * **The rate climbs back** towards the configured rate while calls succeed: it holds
//!   for a while after a refusal, then closes the gap, so a budget still shared is not
//!   probed into a refusal every few seconds, and one no one else uses any more is
//!   taken back within a few minutes. The further under the rate, the sooner the
//!   climb: processes sharing a budget drift towards equal shares. Never above the
//!   configured rate.
//! * **A share, when told one** ([`Limiter::set_share_among`]): processes that say to each
//!   other that they spend the same budget (through the store; see
//!   [`share_of`](crate::share_of)) pace at their parts of it instead of finding them
//!   through refusals, and one left alone takes the whole rate back at once — what the
//!   climb alone could only find by asking for more, at a refusal each time.
//! * **What was found, when told it** ([`Limiter::estimate`], [`Limiter::adopt`]):
//!   limiters that find the budget tell each other what they found (the budget, when,
//!   and whether still rising), and each takes the newest news, or of one piece of news
//!   (a window spent, seen by all at once) the largest. While sharing, one refusal is
//!   news once: a process refused just after it adopted a lower budget, or while a
//!   process joins, pauses without stepping again; a step taken just before a process
//!   is heard joining is undone; a probe for more that is refused is undone at once;
//!   and what got through is not read as the budget while parts changed under it. A
//!   pace refused while sharing steps towards what the server took of everyone lately:
//!   this process's and what each other said it took ([`Limiter::set_others_taken`]).
//! * **Bursts** (requests at once after a quiet spell) are allowed only while they
//!   cost nothing: a refusal takes the burst away, and it comes back only to a limiter
//!   that has been idle, a minute or more after the refusal. A refusal of a request
//!   that made more than the rate's requests within a second (a burst and what
//!   followed it) says more: the server counts in a window that a burst overruns (a
//!   token bucket would have taken it), so the process sends no burst again, and the
//!   rate, which was not the cause, stands. (Otherwise each quiet spell —
//!   the gap between two stream batches — would cost a refusal and a step down.)

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The pause after a 429 without `Retry-After`.
const DEFAULT_PAUSE: Duration = Duration::from_secs(1);
/// The step down after a refusal, as a share of the rate; it doubles for each refusal
/// that comes within `STREAK` of the one before, up to half.
const STEP: f64 = 0.03;
const STREAK: Duration = Duration::from_secs(5);
/// The rate never goes below this share of the configured rate.
const FLOOR: f64 = 0.1;
/// The climb back after a refusal: the rate holds for about half of this, then closes
/// five sixths of the gap to the configured rate by the end of it, and the rest soon
/// after (the gap shrinks by `exp(-1.8·(t/T)^4)`). Holding first keeps a process that
/// shares the budget from probing into a refusal every few seconds; closing the gap
/// later takes back a budget no one else uses any more. `T` is this for a process at
/// half the configured rate, and scales with how close to the rate it was stepped
/// (from half as long far under it to four times as long just under it).
const CLIMB: Duration = Duration::from_secs(100);
/// How far back delivered calls are counted to tell what the process got through.
const DELIVERY_WINDOW: Duration = Duration::from_secs(10);
/// The same for a limiter that finds the budget: from the last refusal on, up to this
/// far back. Counted from the refusal, not from the end of its pause, what got through
/// is what the server allows whether it counts in a window (nothing was sent during the
/// pause, and the window was full) or refills a bucket (which the pause refilled).
const FOUND_WINDOW: Duration = Duration::from_secs(60);
/// A quiet spell this long after a refusal gives the burst back.
const BURST_RESTORE: Duration = Duration::from_secs(60);
/// Where a limiter that finds the budget starts: what every plan allows (Notion's
/// 180 requests a minute, or its older "average of three a second").
pub const START_RATE: f64 = 3.0;
/// Until its first refusal, a limiter that finds the budget doubles its pace this
/// often while requests queue for it.
const DOUBLING: Duration = Duration::from_secs(2);
/// A `Retry-After` longer than this is a window's budget spent, not a pace too fast.
const LONG_PAUSE: Duration = Duration::from_secs(2);
/// After this long at the budget it found without a refusal, while requests queue,
/// a limiter that finds the budget asks for a little more, once per `PROBE_EVERY`:
/// the budget may have grown (an upgrade, another spender gone quiet).
const PROBE_AFTER: Duration = Duration::from_secs(300);
const PROBE_EVERY: Duration = Duration::from_secs(60);
const PROBE_STEP: f64 = 0.1;
/// An idle spell this long begins a new busy period: what came before it says
/// nothing about what a window's budget is.
const IDLE: Duration = Duration::from_secs(2);

/// A window's budget found spent: the cycle it was spent in (from `start` to the
/// refused request, sent at `before`, included: sent at once, they were one cycle), when the window resets, and what the server took
/// of the requests sent in it so far.
#[derive(Debug, Clone, Copy)]
struct Spent {
    start: Instant,
    before: Instant,
    reset: Instant,
    delivered: u64,
}

/// What a limiter that finds the budget knows of it ([`Limiter::estimate`]), for the
/// other processes spending the same budget to adopt ([`Limiter::adopt`]): each finds
/// its own part by its refusals, and told what the others found, all pace at parts of
/// one budget instead of each finding it again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The whole budget, in requests per second, for every process spending it.
    pub budget: f64,
    /// When it was learned.
    pub learned: Instant,
    /// What it was learned from.
    pub basis: Basis,
    /// What the server took of this process's requests lately, per second.
    pub taken: f64,
}

/// What an [`Estimate`] was learned from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// Slow start: found from below, no refusal has bounded it yet.
    Rising,
    /// A short `Retry-After`: the pace ran ahead (a budget per second).
    Refusal,
    /// The refusal that ended slow start: read from what the server took of this
    /// process's requests in the last second, which the process's part bounds.
    Overshoot,
    /// A window's budget spent: what the server took in it.
    Window,
    /// A probe for more, taken.
    Probe,
}

impl Basis {
    fn word(self) -> &'static str {
        match self {
            Self::Rising => "rising",
            Self::Refusal => "refusal",
            Self::Overshoot => "overshoot",
            Self::Window => "window",
            Self::Probe => "probe",
        }
    }

    fn parse(word: &str) -> Option<Self> {
        [
            Self::Rising,
            Self::Refusal,
            Self::Overshoot,
            Self::Window,
            Self::Probe,
        ]
        .into_iter()
        .find(|b| b.word() == word)
    }
}

impl Estimate {
    /// As the other processes read it in the store: the budget, when it was learned (Unix
    /// milliseconds: processes share no clock but the wall's), and from what.
    pub fn to_note(&self) -> String {
        let ago = Instant::now().saturating_duration_since(self.learned);
        let learned_ms = unix_ms().saturating_sub(ago.as_millis() as i64);
        format!(
            "{:.4} {learned_ms} {} {:.4}",
            self.budget,
            self.basis.word(),
            self.taken
        )
    }

    /// Reads [`to_note`](Self::to_note)'s words; `None` for anything else (a process of
    /// an older version says nothing, or something else).
    pub fn from_note(note: &str) -> Option<Self> {
        let mut words = note.split(' ');
        let budget: f64 = words.next()?.parse().ok()?;
        let learned_ms: i64 = words.next()?.parse().ok()?;
        let basis = Basis::parse(words.next()?)?;
        let taken: f64 = words.next()?.parse().ok()?;
        if words.next().is_some() || !budget.is_finite() || budget <= 0.0 {
            return None;
        }
        let ago = Duration::from_millis(unix_ms().saturating_sub(learned_ms).max(0) as u64);
        Some(Self {
            budget,
            learned: Instant::now().checked_sub(ago)?,
            basis,
            taken: if taken.is_finite() {
                taken.max(0.0)
            } else {
                0.0
            },
        })
    }
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// How far back what the server took of a process's requests is counted for the others.
const TAKEN_WINDOW: Duration = Duration::from_secs(10);

/// Estimates learned this close together are one piece of news (one window spent, seen
/// by every process): the largest is taken, as the one least hurt by a process that
/// used less than its part.
const SAME_NEWS: Duration = Duration::from_secs(3);

/// What [`Limiter::acquire`] hands out: which refusal period a request was sent in, so
/// that its answer is counted once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    epoch: u64,
    /// The request waited for its slot: there was more to send than the pace let go.
    queued: bool,
    /// When the request was let go.
    sent: Instant,
    /// Let go as one of more than the rate's requests within a second: the process
    /// overran any one-second window by itself, on the burst's credit.
    early: bool,
}

/// An adaptive GCRA ("leaky bucket as a meter") limiter: up to `burst` requests may go
/// at once, after which requests are spaced `1/rate` apart, where the rate adapts as
/// the module docs say. Each caller reserves its slot under the lock and sleeps outside
/// it, so waiting tasks keep their order and never oversubscribe.
#[derive(Debug)]
pub struct Limiter {
    /// The most it ever paces at: a configured rate, or unbounded when it finds the
    /// budget ([`Limiter::finding`]).
    ceiling: f64,
    /// Whether it looks for the budget above where it stands (no configured rate).
    finds: bool,
    max_burst: u32,
    state: Mutex<State>,
    /// Wakes the tasks waiting for a slot when the slots are dealt anew at a faster
    /// pace: they would otherwise sleep until the slot they had.
    respaced: tokio::sync::Notify,
}

#[derive(Debug)]
struct State {
    rate: f64,
    burst: u32,
    /// Whether the burst may come back: not once a burst was refused.
    bursts: bool,
    /// Theoretical arrival time of the next request.
    tat: Option<Instant>,
    paused_until: Option<Instant>,
    /// When the last pause ended (or ends): what got through is counted from there.
    resumed: Option<Instant>,
    /// When the last refusal was, as the server counted it.
    refused: Option<Instant>,
    /// Bumped by every pause: a slot reserved before it is void.
    generation: u64,
    /// Bumped by every step down: answers to requests sent before it are old news.
    epoch: u64,
    last_refusal: Option<Instant>,
    /// Refusals in a row, each soon after the one before.
    streak: u32,
    /// The rate right after the last refusal, where the climb starts.
    stepped: f64,
    /// The most this process may use: the budget as known (the configured rate, or
    /// what was found), or its share of it while other processes are known to spend
    /// the same budget ([`Limiter::set_share_among`]).
    cap: f64,
    /// The whole budget, as far as it is known: the configured rate, or what was found
    /// (in requests per second, for every process spending it together).
    known: f64,
    /// This process's part of the budget (1 when alone).
    share: f64,
    /// Finding the budget from below, doubling while requests queue, until a refusal.
    slow_start: bool,
    /// When the pace last grew (slow start or a probe).
    grown: Option<Instant>,
    /// When the budget was last learned, by this process or one it adopted from.
    learned: Option<Instant>,
    /// What it was last learned from (while not rising).
    basis: Basis,
    /// When it was last learned lower, from a refusal (this process's or another's).
    lowered: Option<Instant>,
    /// A probe for more (this process's, or one adopted), and the budget before it: a
    /// refusal soon after undoes it.
    probed: Option<(Instant, f64)>,
    /// How many processes spend the budget, this one among them, as last told.
    present: usize,
    /// What the server took lately of the other processes' requests, per second, as
    /// they last said.
    others_taken: f64,
    /// When that number last changed: a process joined or left.
    reshared: Option<Instant>,
    /// The last step down a refusal took, and the budget before it: undone when the
    /// refusal turns out to be a process joining, heard of at the next beat.
    stepped_from: Option<(Instant, f64)>,
    /// When this process last shared the budget with others: what it got through
    /// before then was its part, not what the server allows it alone.
    shared_at: Option<Instant>,
    /// The current cycle of a window's budget: since the last window reset (or the
    /// start of this busy period), and the calls the server took since.
    cycle_start: Option<Instant>,
    cycle_delivered: u64,
    /// A window's budget found spent, read when its pause ends: by then the answers to
    /// the requests sent before the refusal are in, whatever order Notion sent them in.
    spent: Option<Spent>,
    first_use: Option<Instant>,
    delivered: VecDeque<Instant>,
    /// When the requests the server took in about the last two seconds were sent.
    taken: VecDeque<Instant>,
    /// When the requests of about the last second were (or will be) let go.
    sends: VecDeque<Instant>,
}

impl Limiter {
    /// At most `rate` requests per second (above 0), `burst` at once (at least 1): it
    /// starts at `rate` and never goes above it.
    pub fn new(rate: f64, burst: u32) -> Self {
        let ceiling = if rate.is_finite() && rate > 0.0 {
            rate
        } else {
            f64::MIN_POSITIVE
        };
        Self::build(ceiling, false, ceiling, burst)
    }

    /// A limiter that finds what the server allows, from [`START_RATE`] up, never above
    /// `ceiling` when one is given: until the first refusal it doubles its pace every
    /// two seconds while requests queue; a window's budget spent (a long `Retry-After`) tells
    /// it the budget's size; now and then it asks for a little more.
    pub fn finding(burst: u32, ceiling: Option<f64>) -> Self {
        let ceiling = ceiling
            .filter(|c| c.is_finite() && *c > 0.0)
            .unwrap_or(f64::INFINITY);
        Self::build(ceiling, true, START_RATE.min(ceiling), burst)
    }

    fn build(ceiling: f64, finds: bool, start: f64, burst: u32) -> Self {
        Self {
            ceiling,
            finds,
            max_burst: burst.max(1),
            respaced: tokio::sync::Notify::new(),
            state: Mutex::new(State {
                rate: start,
                burst: burst.max(1),
                bursts: true,
                tat: None,
                paused_until: None,
                resumed: None,
                refused: None,
                generation: 0,
                epoch: 0,
                last_refusal: None,
                streak: 0,
                stepped: start,
                cap: start,
                known: start,
                share: 1.0,
                slow_start: finds,
                grown: None,
                learned: None,
                basis: Basis::Rising,
                lowered: None,
                shared_at: None,
                present: 1,
                others_taken: 0.0,
                reshared: None,
                stepped_from: None,
                probed: None,
                cycle_start: None,
                cycle_delivered: 0,
                spent: None,
                first_use: None,
                delivered: VecDeque::new(),
                taken: VecDeque::new(),
                sends: VecDeque::new(),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The whole budget as far as it is known: the configured rate, or what was found.
    pub fn budget(&self) -> f64 {
        self.state().known
    }

    /// Until when every request waits out a refusal's `Retry-After`, if it does now.
    pub fn paused_until(&self) -> Option<Instant> {
        let now = Instant::now();
        self.state().paused_until.filter(|until| *until > now)
    }

    /// What this limiter found of the budget, when it finds the budget and has learned
    /// something: for the other processes that spend the same budget.
    pub fn estimate(&self) -> Option<Estimate> {
        if !self.finds {
            return None;
        }
        let s = self.state();
        let now = Instant::now();
        Some(Estimate {
            budget: s.known,
            learned: s.learned?,
            basis: if s.slow_start { Basis::Rising } else { s.basis },
            taken: s
                .rate_since(now, &[now.checked_sub(TAKEN_WINDOW)])
                .unwrap_or(0.0),
        })
    }

    /// What another process spending the same budget found: taken when it is newer
    /// news than this limiter's own; of the same news (learned within seconds), the
    /// larger of two windows spent (a process that used less than its part reads less),
    /// else the smaller (the pace that ran ahead was refused). Taken from one no longer
    /// rising, it ends this limiter's slow start too: the budget is bounded; one still
    /// rising says nothing to a limiter that found the bound. A limiter with a
    /// configured rate keeps its rate.
    pub fn adopt(&self, other: Estimate) {
        if !self.finds || !other.budget.is_finite() || other.budget <= 0.0 {
            return;
        }
        let mut s = self.state();
        let now = Instant::now();
        let newer = |mine: Instant| other.learned > mine + SAME_NEWS;
        let same =
            |mine: Instant| other.learned + SAME_NEWS >= mine && other.learned <= mine + SAME_NEWS;
        let rising = other.basis == Basis::Rising;
        // A window spent is read from what the server took of each process's requests,
        // which how much each sent bounds: of one piece of news, the largest reading
        // is the nearest. A pace refused says the budget is under it: the smallest.
        let both_windows = other.basis == Basis::Window && s.basis == Basis::Window;
        let better = |known: f64| {
            if both_windows {
                other.budget > known
            } else {
                other.budget < known
            }
        };
        let take = match (s.learned, s.slow_start, rising) {
            (None, ..) => true,
            (Some(_), true, false) => true,
            (Some(_), false, true) => false,
            (Some(mine), ..) => newer(mine) || (same(mine) && better(s.known)),
        };
        // A pace refused just as a process joined was the crowding of the join, not
        // news of the budget: the refused one undoes its step when it hears of the join.
        let joined = s
            .reshared
            .is_some_and(|r| now.saturating_duration_since(r) < SAME_NEWS);
        if !take || (joined && other.basis != Basis::Window && other.budget < s.known) {
            return;
        }
        if other.budget < s.known {
            s.lowered = Some(now);
        } else if !rising && !s.slow_start {
            // Another process's probe, or a budget it found larger: undone like this
            // one's own probe if a refusal follows.
            s.probed = Some((now, s.known));
        }
        s.known = other.budget.clamp(self.floor(), self.ceiling);
        s.learned = Some(s.learned.map_or(other.learned, |m| m.max(other.learned)));
        // Its doubling counts as this one's: the pace doubles once per period, not
        // once per process.
        s.grown = Some(s.grown.map_or(other.learned, |g| g.max(other.learned)));
        if !rising {
            s.slow_start = false;
            s.basis = other.basis;
        }
        self.recap(&mut s);
    }

    /// What the server took lately of the other processes' requests, per second, as
    /// they say: with this process's own, what it takes of everyone.
    pub fn set_others_taken(&self, taken: f64) {
        self.state().others_taken = if taken.is_finite() {
            taken.max(0.0)
        } else {
            0.0
        };
    }

    /// The rate the limiter paces at now (requests per second).
    pub fn rate(&self) -> f64 {
        self.state().rate
    }

    /// Tells the limiter what share of the budget (0 < `share` ≤ 1) is this process's
    /// while others spend the same budget, as they say themselves, and how many they are
    /// (`present`, this one among them). A share that grows (another process is done)
    /// is taken at once: the budget it frees would otherwise be found only by climbing
    /// into it. One that shrinks caps the rate. When the number changes, a refusal in
    /// the moments around it is the crowding of a process joining, not news of the
    /// budget.
    pub fn set_share_among(&self, share: f64, present: usize) {
        let share = if share.is_finite() {
            share.clamp(FLOOR, 1.0)
        } else {
            1.0
        };
        let mut s = self.state();
        let now = Instant::now();
        if present != s.present {
            s.reshared = Some(now);
            if let Some((at, before)) = s.stepped_from.take()
                && present > s.present
                && now.saturating_duration_since(at) < SAME_NEWS
            {
                // Refused because another process began spending the budget too, not
                // because the budget is smaller: the step is undone.
                s.known = before;
                s.learned = Some(now);
                s.lowered = None;
            }
            s.present = present;
        }
        if share == s.share {
            self.recap(&mut s);
            return;
        }
        if s.share < 1.0 {
            s.shared_at = Some(now);
        }
        s.share = share;
        self.recap(&mut s);
    }

    /// Sets the cap from the budget known and the share, and respaces the waiting
    /// tasks when it moved.
    fn recap(&self, s: &mut State) {
        let cap = s.known.min(self.ceiling) * s.share;
        if cap == s.cap {
            return;
        }
        if cap > s.cap {
            s.rate = cap;
            s.stepped = cap;
        } else {
            s.rate = s.rate.min(cap);
            s.stepped = s.stepped.min(cap);
        }
        s.cap = cap;
        // The slots already handed out were spaced for the old cap: void them, so the
        // waiting tasks take new ones at the new pace, the first one interval after the
        // last request sent.
        let now = Instant::now();
        s.generation += 1;
        s.sends.retain(|t| *t <= now);
        let last = s.sends.back().copied().unwrap_or(now);
        let next = (last + Duration::from_secs_f64(1.0 / s.rate)).max(now);
        s.tat = Some(s.paused_until.map_or(next, |p| p.max(next)));
        self.respaced.notify_waiters();
    }

    /// Waits until the next request may be sent.
    pub async fn acquire(&self) -> Ticket {
        loop {
            if let Some(ticket) = self.acquire_before(None).await {
                return ticket;
            }
        }
    }

    /// Waits until the next request may be sent, unless that is after `deadline`: then
    /// `None` at once, with no slot taken. A call with a time budget asks this way, so
    /// that waiting its turn behind other tasks, or out a long pause, counts against
    /// its budget instead of stretching it.
    pub async fn acquire_before(&self, deadline: Option<Instant>) -> Option<Ticket> {
        let too_late = |at: Instant| deadline.is_some_and(|d| at > d);
        loop {
            // Made before the slot is taken, so a respacing after it is not missed.
            let respaced = self.respaced.notified();
            let (at, generation, epoch, early, queued) = {
                let mut s = self.state();
                let now = Instant::now();
                s.first_use.get_or_insert(now);
                match s.paused_until {
                    Some(until) if until > now => {
                        if too_late(until) {
                            return None;
                        }
                        (until, None, s.epoch, false, true)
                    }
                    _ => {
                        if let Some(spent) = s.spent.take() {
                            self.window_spent(&mut s, spent);
                        }
                        // The burst comes back only to an idle limiter: restored in
                        // the middle of a backlog, it would send one at once.
                        let idle = s.tat.is_none_or(|t| t <= now);
                        // A new busy period: what the server took before the idle
                        // spell says nothing of a window's budget.
                        if s.tat.is_none_or(|t| t + IDLE <= now) {
                            s.cycle_start = Some(now);
                            s.cycle_delivered = 0;
                        }
                        let quiet = s
                            .last_refusal
                            .is_none_or(|r| now.duration_since(r) >= BURST_RESTORE);
                        if idle && quiet && s.bursts {
                            s.burst = self.max_burst;
                        }
                        let interval = Duration::from_secs_f64(1.0 / s.rate);
                        let tolerance = interval.saturating_mul(s.burst - 1);
                        let theoretical = s.tat.map_or(now, |t| t.max(now));
                        let allowed = theoretical.checked_sub(tolerance).unwrap_or(now).max(now);
                        if too_late(allowed) {
                            return None;
                        }
                        s.tat = Some(theoretical + interval);
                        let early = s.overruns(allowed, interval);
                        (allowed, Some(s.generation), s.epoch, early, allowed > now)
                    }
                }
            };
            tokio::select! {
                () = tokio::time::sleep_until(at) => {}
                () = respaced => {}
            }
            // A pause that began while this task slept voided its slot: take a new one.
            if generation.is_some_and(|g| g == self.state().generation) {
                return Some(Ticket {
                    epoch,
                    queued,
                    sent: Instant::now(),
                    early,
                });
            }
        }
    }

    /// The server took a request sent with `ticket`: the rate may climb, and a limiter
    /// that finds the budget may grow.
    pub fn succeeded(&self, ticket: Ticket) {
        let mut s = self.state();
        let now = Instant::now();
        s.delivered.push_back(now);
        while s
            .delivered
            .front()
            .is_some_and(|t| now.duration_since(*t) > FOUND_WINDOW)
        {
            s.delivered.pop_front();
        }
        s.taken.push_back(ticket.sent);
        while s
            .taken
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) > Duration::from_secs(2))
        {
            s.taken.pop_front();
        }
        let st = &mut *s;
        match st.spent.as_mut() {
            Some(spent) if ticket.sent >= spent.start && ticket.sent <= spent.before => {
                spent.delivered += 1;
            }
            _ if st.cycle_start.is_none_or(|c| ticket.sent >= c) => st.cycle_delivered += 1,
            _ => {}
        }
        if self.finds && ticket.queued {
            self.grow(&mut s, now);
        }
        let Some(refusal) = s.last_refusal else {
            return;
        };
        // A process far under the configured rate climbs back sooner than one close to it:
        // two processes that share the budget drift towards equal shares, and one left
        // alone takes the budget back soon; one refused just under the rate (timing, not
        // another process) holds there longer and is refused seldom.
        let cap = s.cap;
        let gap = (cap - s.stepped).max(f64::MIN_POSITIVE);
        let scale = (cap / (2.0 * gap)).clamp(0.5, 4.0);
        let t =
            now.saturating_duration_since(refusal).as_secs_f64() / (CLIMB.as_secs_f64() * scale);
        let left = gap * (-1.8 * t.powi(4)).exp();
        s.rate = (cap - left).clamp(s.rate.min(cap), cap);
    }

    /// More was waiting to be sent than the pace let go, and the server took it: until
    /// the first refusal the budget doubles every [`DOUBLING`]; after it, once the rate
    /// has climbed back and [`PROBE_AFTER`] went by without a refusal, it is asked for
    /// [`PROBE_STEP`] more every [`PROBE_EVERY`].
    fn grow(&self, s: &mut State, now: Instant) {
        if s.known >= self.ceiling || s.paused_until.is_some_and(|p| p > now) {
            return;
        }
        let since = s
            .grown
            .map_or(DOUBLING, |g| now.saturating_duration_since(g));
        let factor = if s.slow_start {
            if since < DOUBLING / 8 {
                return;
            }
            2f64.powf(since.min(DOUBLING).as_secs_f64() / DOUBLING.as_secs_f64())
        } else {
            let calm = s
                .last_refusal
                .is_none_or(|r| now.saturating_duration_since(r) >= PROBE_AFTER);
            if !calm || since < PROBE_EVERY || s.rate < s.cap * 0.999 {
                return;
            }
            s.probed = Some((now, s.known));
            1.0 + PROBE_STEP
        };
        s.grown = Some(now);
        s.learned = Some(now);
        if !s.slow_start {
            s.basis = Basis::Probe;
        }
        s.known = (s.known * factor).min(self.ceiling);
        self.recap(s);
    }

    /// The server refused a request sent with `ticket` for its rate (429, or Notion's
    /// 529): every task waits `retry_after` (a second when the server did not say).
    ///
    /// A long wait means a window's budget is spent: the calls the server took since
    /// the last reset, over the time to the next, are this process's part of it, and
    /// the pace is set there. A short one means the pace ran ahead: the first refusal
    /// since the last step steps the rate down — unless the request went early, in a
    /// burst: then bursts end instead.
    pub fn limited(&self, ticket: Ticket, retry_after: Option<Duration>) {
        let mut s = self.state();
        let now = Instant::now();
        // The server counted from when it refused, which is about half way between
        // sending and this answer: with a slow server, waiting from now would wait too
        // long.
        let refused_at = ticket.sent + now.saturating_duration_since(ticket.sent) / 2;
        let wait = retry_after.unwrap_or(DEFAULT_PAUSE);
        let until = (refused_at + wait).max(now);
        let until = s.paused_until.map_or(until, |p| p.max(until));
        s.paused_until = Some(until);
        s.resumed = Some(until);
        let previous_refusal = s.refused.replace(refused_at);
        // Resume one request at a time after the pause, spaced from its end.
        s.tat = Some(until);
        s.generation += 1;
        // The slots reserved ahead are void: they were never sent.
        s.sends.retain(|t| *t <= now);
        s.burst = 1;
        let news = ticket.epoch == s.epoch;
        if wait > LONG_PAUSE {
            if news {
                s.epoch += 1;
                s.slow_start = false;
                s.last_refusal = Some(now);
                s.streak = 0;
                if let Some(earlier) = s.spent.take() {
                    self.window_spent(&mut s, earlier);
                }
                s.spent = Some(Spent {
                    start: s.cycle_start.or(s.first_use).unwrap_or(now),
                    before: ticket.sent,
                    reset: until,
                    delivered: s.cycle_delivered,
                });
            }
            s.cycle_start = Some(until);
            s.cycle_delivered = 0;
            return;
        }
        if !news {
            return;
        }
        s.epoch += 1;
        // A budget found lower moments ago — here, or by another process refused in the
        // same crowding and adopted — already answers this refusal: stepping again would
        // step once per process for one piece of news. So does a process joining: until
        // each has heard of the other at a beat, both spend the whole budget.
        let recent =
            |at: Option<Instant>| at.is_some_and(|t| now.saturating_duration_since(t) < SAME_NEWS);
        let sharing = s.share < 1.0;
        if self.finds && (recent(s.reshared) || (sharing && !s.slow_start && recent(s.lowered))) {
            s.last_refusal = Some(now);
            return;
        }
        // A probe for more refused: back to the budget that held before it, at once,
        // rather than stepping down from above it a refusal at a time.
        if let Some((at, before)) = s.probed.take()
            && self.finds
            && s.share < 1.0
            && !s.slow_start
            && now.saturating_duration_since(at) < PROBE_EVERY
        {
            s.last_refusal = Some(now);
            s.known = before;
            s.learned = Some(now);
            s.basis = Basis::Refusal;
            s.lowered = Some(now);
            s.cap = s.known.min(self.ceiling) * s.share;
            s.rate = s.cap.max(self.floor());
            s.stepped = s.rate;
            return;
        }
        if ticket.early {
            // The burst overran the server's window; the pace did not.
            s.bursts = false;
            return;
        }
        // Refusals one after another say the rate is far off: each step doubles. Not
        // for processes that tell each other what they found: their refusals in a row
        // are each other's news, and the budget they share is not far off.
        let soon = s
            .last_refusal
            .is_some_and(|r| now.duration_since(r) < STREAK);
        s.streak = if soon { (s.streak + 1).min(4) } else { 0 };
        s.last_refusal = Some(now);
        // What got through since the last pause, when there is enough of it to tell: with
        // another process spending the budget, that is its share.
        let measured = if s.slow_start {
            // Too early to tell from what got through (answers lag by the latency):
            // what was taken in the last second tells, below.
            None
        } else if self.finds && s.share < 1.0 {
            // Sharing: what the server took of everyone lately, this process's part of it.
            s.rate_since(now, &[now.checked_sub(TAKEN_WINDOW)])
                .map(|mine| (mine + s.others_taken) * s.share)
        } else if self.finds
            && s.shared_at
                .is_some_and(|t| now.saturating_duration_since(t) < FOUND_WINDOW)
        {
            // Alone only since moments ago: what got through was its part.
            None
        } else if self.finds {
            s.found_rate(now, previous_refusal)
        } else {
            s.delivered_rate(now)
        };
        // A limiter that finds the budget takes what got through as a reading, not as
        // the budget: it counts the pause, and the gaps where there was less to send
        // than the pace allowed (the end of a stream batch), so it steps at most half
        // way down to it, and by the plain step: the reading already says how far off.
        let reading = self.finds && measured.is_some_and(|got| got < s.rate);
        let mut from = match measured {
            Some(got) if self.finds => got.max(s.rate / 2.0).min(s.rate),
            Some(got) => got.min(s.rate),
            None => s.rate,
        };
        if s.slow_start {
            // What the server took of the requests sent in the second before this one is
            // about what it allows in a second (for this process's share). But a server
            // that took more than the start rate may have been spending a burst's
            // credit (a token bucket): half of it is nearer what it allows for long.
            let second = ticket.sent.checked_sub(Duration::from_secs(1));
            let took = s
                .taken
                .iter()
                .filter(|t| second.is_none_or(|from| **t >= from) && **t < ticket.sent)
                .count() as f64;
            if took >= 1.0 {
                from = from.min((took / 2.0).max(START_RATE.min(took)));
            }
        }
        let finds = self.finds;
        let was_slow_start = std::mem::replace(&mut s.slow_start, false);
        let refused_rate = s.rate;
        let streak = if reading { 0 } else { s.streak };
        let step = (1.0 - STEP * f64::from(1u32 << streak)).max(0.5);
        s.rate = (step * from).clamp(self.floor(), s.cap.max(self.floor()));
        s.stepped = s.rate;
        if finds {
            s.stepped_from = Some((now, s.known));
            s.known = if was_slow_start {
                // Slow start ran ahead of the budget: where the pace stepped to is the
                // best reading there is, and no climb goes back above it — but never
                // under what every plan allows: a process that got less than its part
                // of the last second (another took more) reads too little.
                (s.rate / s.share).max(START_RATE.min(self.ceiling))
            } else {
                // Just under the pace that was refused: the pace climbs back to it, as
                // a configured one does to its rate, so a reading that came out low
                // (what got through counts the pause and the gaps with less to send)
                // does not hold it down; each refusal there lowers it a step.
                (refused_rate * (1.0 - STEP)).min(s.known * s.share) / s.share
            }
            .max(self.floor());
            s.cap = s.known.min(self.ceiling) * s.share;
            s.learned = Some(now);
            s.basis = if was_slow_start {
                Basis::Overshoot
            } else {
                Basis::Refusal
            };
            s.lowered = Some(now);
        }
    }

    /// A window's budget was spent. This process's part of it is what the server took
    /// of the requests sent in the cycle before the refusal, spread over the time from
    /// the cycle's start to the reset.
    ///
    /// A limiter that finds the budget takes that as the budget. One with a configured
    /// rate paces there and climbs back to its rate as after any refusal: one refusal
    /// is a thin reading (a 529 when Notion is overloaded, or a window another process
    /// spent), and the configured rate is what the operator said the budget is.
    fn window_spent(&self, s: &mut State, spent: Spent) {
        let span = spent
            .reset
            .saturating_duration_since(spent.start)
            .as_secs_f64();
        if span < 1.0 || spent.delivered == 0 {
            return;
        }
        // A little under it: paced at exactly the budget, the request that opens the
        // next window may reach the server a moment before the reset.
        let part = 0.99 * spent.delivered as f64 / span;
        if self.finds {
            s.known = (part / s.share).clamp(self.floor(), self.ceiling);
            s.cap = s.known.min(self.ceiling) * s.share;
            s.learned = Some(spent.reset);
            s.basis = Basis::Window;
        }
        s.rate = part.clamp(self.floor(), s.cap.max(self.floor()));
        s.stepped = s.rate;
    }

    /// The slowest it ever paces: a tenth of the configured rate, or of the start rate
    /// for a limiter that finds the budget.
    fn floor(&self) -> f64 {
        let base = if self.finds {
            START_RATE.min(self.ceiling)
        } else {
            self.ceiling
        };
        base * FLOOR
    }
}

impl State {
    /// Records a request let go at `at` and tells whether it makes more than the rate's
    /// requests within a second. Paced requests never do, even when the count's edge
    /// falls on one of them: the second is counted short by half an interval.
    fn overruns(&mut self, at: Instant, interval: Duration) -> bool {
        let span = Duration::from_secs(1).saturating_sub(interval / 2);
        while self
            .sends
            .front()
            .is_some_and(|t| at.saturating_duration_since(*t) >= span)
        {
            self.sends.pop_front();
        }
        self.sends.push_back(at);
        self.sends.len() as f64 > self.rate.ceil()
    }

    /// Calls the server took per second since the refusal before the last one (or the
    /// first use, or the last time the process shared the budget), up to
    /// [`FOUND_WINDOW`] back; `None` with under two seconds to go by.
    fn found_rate(&self, now: Instant, previous_refusal: Option<Instant>) -> Option<f64> {
        self.rate_since(
            now,
            &[
                previous_refusal,
                now.checked_sub(FOUND_WINDOW),
                self.shared_at,
            ],
        )
    }

    /// Calls the server took per second over the last seconds without a pause; `None`
    /// with under two seconds to go by.
    fn delivered_rate(&self, now: Instant) -> Option<f64> {
        self.rate_since(now, &[self.resumed, now.checked_sub(DELIVERY_WINDOW)])
    }

    /// Calls the server took per second since the latest of the first use and `from`;
    /// `None` with under two seconds to go by.
    fn rate_since(&self, now: Instant, from: &[Option<Instant>]) -> Option<f64> {
        let since = std::iter::once(self.first_use)
            .chain(from.iter().copied())
            .flatten()
            .max()?;
        let span = now.saturating_duration_since(since);
        let got = self.delivered.iter().filter(|t| **t >= since).count();
        (span >= Duration::from_secs(2)).then(|| got as f64 / span.as_secs_f64())
    }
}

#[cfg(test)]
#[path = "limiter_tests.rs"]
mod tests;
