//! The parts AWS plays, played locally with the same code: the stream (new inbox items
//! to the worker at once), the redrive's schedule, the digest's 09:00 and the weekly
//! report's Monday 09:00.

use std::sync::Arc;
use std::time::Duration;

use crm_store::InboxStatus;
use crm_store::prelude::*;

use crm_app::inbox::Work;
use crm_app::scheduled::Job;
use crm_app::worker::{Outcome, Ran};

use crate::app::App;

/// Starts every loop; they run until the process ends.
pub(super) fn spawn_all(app: &Arc<App>) {
    tokio::spawn(work_loop(Arc::clone(app)));
    tokio::spawn(digest_loop(Arc::clone(app)));
    tokio::spawn(report_loop(Arc::clone(app)));
    tokio::spawn(redrive_loop(Arc::clone(app)));
}

/// The stream's job locally: new inbox items go to the worker at once. What fails is
/// the redrive's, as in AWS.
async fn work_loop(app: Arc<App>) {
    loop {
        match app.store.inbox_list_open(50).await {
            Ok(items) => {
                // Side by side, as the Lambda worker does with a batch.
                let pending = items
                    .into_iter()
                    .filter(|i| i.status == InboxStatus::Pending)
                    .map(|i| (lead_of(&i), i))
                    .collect();
                for (lead, ran) in app.worker.run_items(pending, None).await {
                    if let (Some(lead), Ran::Finished { outcome, .. }) = (lead, ran) {
                        println!("{}", said(&lead, &outcome));
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "could not read the inbox"),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `ann… (own:42)`: a lead as the console names it (the address redacted, as in every
/// log); `None` for what is not a lead (a deal's event: its Slack line says it).
fn lead_of(item: &crm_store::InboxItem) -> Option<String> {
    match Work::parse(item).ok()? {
        Work::Lead { lead, submission } => {
            Some(format!("{} ({submission})", lead.email.redacted()))
        }
        Work::Event(_) => None,
    }
}

/// One line per lead, as a person reads it.
fn said(lead: &str, outcome: &Outcome) -> String {
    match outcome {
        Outcome::Done => format!("lead {lead}: in Notion"),
        Outcome::Retry(why) => {
            format!("lead {lead}: not yet in Notion ({why}); tried again by itself")
        }
        Outcome::Wait { reason, .. } => format!("lead {lead}: waits ({reason}); goes on by itself"),
        Outcome::Failed(why) => {
            format!("lead {lead}: parked ({why}); once that is fixed, Replay on the page writes it")
        }
    }
}

/// The redrive's schedule locally: every minute (five in AWS), the same code.
async fn redrive_loop(app: Arc<App>) {
    loop {
        tokio::time::sleep(Duration::from_secs(60)).await;
        if let Err(e) = app.redrive.run(None).await {
            tracing::warn!(error = %e, "redrive failed; trying again in a minute");
        }
    }
}

/// The scheduler's job locally: the digest and the owners' rotting-deal DMs at 09:00 in
/// the configured time zone, each day, as EventBridge Scheduler fires them ([`At`]); a
/// run that fails is tried again a minute later (each posts at most once a day).
async fn digest_loop(app: Arc<App>) {
    let tz = app.digest.settings.stale.timezone;
    scheduled(At::daily(), tz, "digest", || async {
        crm_app::scheduled::run(Job::Daily, &app.digest, &app.report)
            .await
            .map(|_| ())
    })
    .await;
}

/// The weekly pipeline report at 09:00 each Monday (the template's default day), as the
/// digest's: it posts at most once a week on its own.
async fn report_loop(app: Arc<App>) {
    let tz = app.report.settings.timezone;
    scheduled(At::weekly(chrono::Weekday::Mon), tz, "report", || async {
        crm_app::scheduled::run(Job::Weekly, &app.digest, &app.report)
            .await
            .map(|_| ())
    })
    .await;
}

/// Runs `job` when `at` is due, looking every minute; a failed run is due again.
async fn scheduled<F, Fut>(mut at: At, tz: chrono_tz::Tz, what: &str, job: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let now = || chrono::Utc::now().with_timezone(&tz);
    at.start(now());
    loop {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let t = now();
        if !at.due(t) {
            continue;
        }
        match job().await {
            Ok(()) => at.ran(t),
            Err(e) => {
                tracing::warn!(error = %e, job = what, "a scheduled run failed; will try again in a minute")
            }
        }
    }
}

/// 09:00 each day, or each week on one day, in local time (DST moves the UTC hour, not
/// this one). A server started after 09:00 waits for the next one, as a schedule created
/// then would; the local page's buttons run the jobs at once.
struct At {
    weekday: Option<chrono::Weekday>,
    last: Option<chrono::NaiveDate>,
}

impl At {
    const HOUR: u32 = 9;

    fn daily() -> Self {
        Self {
            weekday: None,
            last: None,
        }
    }

    fn weekly(day: chrono::Weekday) -> Self {
        Self {
            weekday: Some(day),
            last: None,
        }
    }

    fn on_its_day(&self, now: chrono::DateTime<chrono_tz::Tz>) -> bool {
        self.weekday
            .is_none_or(|d| chrono::Datelike::weekday(&now) == d)
    }

    fn start(&mut self, now: chrono::DateTime<chrono_tz::Tz>) {
        let past = chrono::Timelike::hour(&now) >= Self::HOUR && self.on_its_day(now);
        self.last = past.then(|| now.date_naive());
    }

    fn due(&self, now: chrono::DateTime<chrono_tz::Tz>) -> bool {
        chrono::Timelike::hour(&now) >= Self::HOUR
            && self.on_its_day(now)
            && self.last != Some(now.date_naive())
    }

    fn ran(&mut self, now: chrono::DateTime<chrono_tz::Tz>) {
        self.last = Some(now.date_naive());
    }
}

#[cfg(test)]
mod tests {
    use super::At;
    use chrono::TimeZone;
    use chrono_tz::Europe::Berlin;

    fn at(d: u32, h: u32, m: u32) -> chrono::DateTime<chrono_tz::Tz> {
        Berlin.with_ymd_and_hms(2026, 3, d, h, m, 0).unwrap()
    }

    #[test]
    fn the_digest_is_due_at_nine_once_a_day_and_not_at_a_late_start() {
        let mut daily = At::daily();
        daily.start(at(27, 8, 59));
        assert!(!daily.due(at(27, 8, 59)));
        assert!(daily.due(at(27, 9, 0)));
        assert!(daily.due(at(27, 9, 1)), "a failed run is due again");
        daily.ran(at(27, 9, 1));
        assert!(!daily.due(at(27, 23, 59)));
        assert!(!daily.due(at(28, 8, 0)));
        assert!(daily.due(at(28, 9, 0)));

        let mut late = At::daily();
        late.start(at(27, 14, 0));
        assert!(!late.due(at(27, 14, 1)), "not at start after 09:00");
        // Berlin moves to summer time on 2026-03-29: 09:00 stays 09:00.
        assert!(!late.due(at(29, 8, 59)));
        assert!(late.due(at(29, 9, 0)));
    }

    #[test]
    fn the_report_is_due_at_nine_on_its_day_once() {
        // 2026-03-23 is a Monday.
        let mut weekly = At::weekly(chrono::Weekday::Mon);
        weekly.start(at(22, 12, 0));
        assert!(!weekly.due(at(22, 9, 30)), "a Sunday");
        assert!(!weekly.due(at(23, 8, 59)));
        assert!(weekly.due(at(23, 9, 0)));
        weekly.ran(at(23, 9, 0));
        assert!(!weekly.due(at(23, 10, 0)));
        assert!(!weekly.due(at(24, 9, 0)), "a Tuesday");
        assert!(weekly.due(at(30, 9, 0)), "the next Monday");
        let mut late = At::weekly(chrono::Weekday::Mon);
        late.start(at(23, 14, 0));
        assert!(
            !late.due(at(23, 14, 1)),
            "not at a start after 09:00 on its day"
        );
    }
}
