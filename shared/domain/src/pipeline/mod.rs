//! The weekly pipeline report's figures, computed from what Notion holds of each deal
//! and the stage transitions the worker saw: pure, so each figure is tested against a
//! hand count and, by property, against a naive reference.
//!
//! * **By stage:** open deals (not won, not lost) counted and summed per stage, in the
//!   pipeline's order.
//! * **Forecast:** each open deal's value times its stage's probability.
//! * **Won and lost in the last 7 days**, with their values: deals in `won`/`lost` that
//!   entered it within the week.
//! * **Win rate (90 days):** of the deals that closed (won or lost) in the last 90 days,
//!   the share won. **Median days to win:** over the deals won in the last 90 days, from
//!   the deal's creation to its win.
//! * **Rotting:** open deals in their stage longer than the stage's limit.
//! * **Slipped:** open deals whose close date is past.
//! * **Missing:** open deals without an owner, a value or a close date.
//!
//! * **Won by week:** the value won in each of the last 12 weeks (the chart's second
//!   half), oldest first.
//!
//! A deal the product never saw move counts from its creation, and says so
//! ([`Since::Created`]).

mod message;

pub use message::{report_message, rotting_message};

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};

/// The stages a deal is closed in.
pub const WON: &str = "won";
pub const LOST: &str = "lost";

/// Since when a deal is in its stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// The transition the worker applied.
    Moved(DateTime<Utc>),
    /// Never seen moving (imported, or older than the deployment): its creation.
    Created(DateTime<Utc>),
}

impl Since {
    pub fn at(self) -> DateTime<Utc> {
        match self {
            Self::Moved(t) | Self::Created(t) => t,
        }
    }
}

/// One deal, as the report reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineDeal {
    pub name: String,
    pub url: String,
    /// The stage, lower-cased as the schema names it; `None` when empty.
    pub stage: Option<String>,
    pub value: Option<f64>,
    pub owners: Vec<String>,
    pub close_date: Option<NaiveDate>,
    pub created: DateTime<Utc>,
    pub since: Since,
}

impl PipelineDeal {
    fn is_open(&self) -> bool {
        !matches!(self.stage.as_deref(), Some(WON | LOST))
    }
}

/// What the report weighs and warns by, per stage.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRules {
    /// The pipeline's stages in order (open ones first, then won and lost).
    pub stages: Vec<String>,
    /// Probability of winning a deal in each stage (0–1); a stage missing counts 0.
    pub probability: BTreeMap<String, f64>,
    /// Days a deal may stay in each stage before it rots; a stage missing never rots.
    pub rot_days: BTreeMap<String, u32>,
}

/// One stage's open deals.
#[derive(Debug, Clone, PartialEq)]
pub struct StageTotal {
    pub stage: String,
    pub count: usize,
    pub value: f64,
}

/// A deal the report names, with why.
#[derive(Debug, Clone, PartialEq)]
pub struct Named {
    pub name: String,
    pub url: String,
    pub value: Option<f64>,
    pub owners: Vec<String>,
    /// Days in its stage (rotting), or past its close date (slipped).
    pub days: i64,
    /// Counted from its creation: the product never saw it move.
    pub from_creation: bool,
}

/// The figures.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Pipeline {
    pub by_stage: Vec<StageTotal>,
    pub open_value: f64,
    pub forecast: f64,
    pub won_week: Vec<Named>,
    pub lost_week: Vec<Named>,
    /// `None` when nothing closed in 90 days.
    pub win_rate_90: Option<f64>,
    /// `None` when nothing was won in 90 days.
    pub median_days_to_win: Option<f64>,
    pub rotting: Vec<Named>,
    pub slipped: Vec<Named>,
    pub missing_owner: Vec<Named>,
    pub missing_value: Vec<Named>,
    pub missing_close_date: Vec<Named>,
    /// The value won in each of the last [`WEEKS`] weeks, oldest first: each week the
    /// seven days ending at a multiple of seven days before `now`.
    pub won_by_week: Vec<WeekWon>,
}

/// How many weeks of wins the report charts.
pub const WEEKS: usize = 12;

/// One week's wins.
#[derive(Debug, Clone, PartialEq)]
pub struct WeekWon {
    /// The week's first day (in UTC).
    pub starts: NaiveDate,
    pub count: usize,
    pub value: f64,
}

impl Named {
    /// `deal`, named with `days` (in its stage, or past its close date).
    pub fn of(deal: &PipelineDeal, days: i64) -> Self {
        named(deal, days)
    }
}

fn named(deal: &PipelineDeal, days: i64) -> Named {
    Named {
        name: deal.name.clone(),
        url: deal.url.clone(),
        value: deal.value,
        owners: deal.owners.clone(),
        days,
        from_creation: matches!(deal.since, Since::Created(_)),
    }
}

/// Whole days from `from` to `to` (never negative).
fn days_between(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (to - from).num_days().max(0)
}

/// The report's figures as of `now` (`today` in the report's time zone).
pub fn pipeline(
    deals: &[PipelineDeal],
    rules: &ReportRules,
    now: DateTime<Utc>,
    today: NaiveDate,
) -> Pipeline {
    let mut out = Pipeline::default();
    let week = now - Duration::days(7);
    let weeks_start = now - Duration::days(7 * WEEKS as i64);
    out.won_by_week = (0..WEEKS)
        .map(|k| WeekWon {
            starts: (weeks_start + Duration::days(7 * k as i64)).date_naive(),
            count: 0,
            value: 0.0,
        })
        .collect();
    let quarter = now - Duration::days(90);
    // Stages in the pipeline's order, then any other a deal names, by name.
    let mut order: Vec<String> = rules
        .stages
        .iter()
        .filter(|s| !matches!(s.as_str(), WON | LOST))
        .cloned()
        .collect();
    for deal in deals.iter().filter(|d| d.is_open()) {
        let stage = deal.stage.clone().unwrap_or_default();
        if !order.contains(&stage) {
            order.push(stage);
        }
    }
    for stage in &order {
        let open: Vec<&PipelineDeal> = deals
            .iter()
            .filter(|d| d.is_open() && d.stage.clone().unwrap_or_default() == *stage)
            .collect();
        if open.is_empty() && !rules.stages.contains(stage) {
            continue;
        }
        out.by_stage.push(StageTotal {
            stage: stage.clone(),
            count: open.len(),
            value: open.iter().filter_map(|d| d.value).sum(),
        });
    }
    let (mut won_90, mut lost_90, mut days_to_win) = (0usize, 0usize, Vec::new());
    for deal in deals {
        let entered = deal.since.at();
        match deal.stage.as_deref() {
            Some(WON) => {
                if entered >= week {
                    out.won_week.push(named(deal, 0));
                }
                if entered >= weeks_start && entered < now {
                    let k = ((entered - weeks_start).num_days() / 7) as usize;
                    if let Some(w) = out.won_by_week.get_mut(k.min(WEEKS - 1)) {
                        w.count += 1;
                        w.value += deal.value.unwrap_or(0.0);
                    }
                }
                if entered >= quarter {
                    won_90 += 1;
                    days_to_win.push(days_between(deal.created, entered));
                }
            }
            Some(LOST) => {
                if entered >= week {
                    out.lost_week.push(named(deal, 0));
                }
                if entered >= quarter {
                    lost_90 += 1;
                }
            }
            stage => {
                let stage = stage.unwrap_or_default();
                let value = deal.value.unwrap_or(0.0);
                out.open_value += value;
                out.forecast += value * rules.probability.get(stage).copied().unwrap_or(0.0);
                if let Some(in_stage) = rotting_days(deal, rules, now) {
                    out.rotting.push(named(deal, in_stage));
                }
                if let Some(close) = deal.close_date
                    && close < today
                {
                    out.slipped.push(named(deal, (today - close).num_days()));
                }
                if deal.owners.is_empty() {
                    out.missing_owner.push(named(deal, 0));
                }
                if deal.value.is_none() {
                    out.missing_value.push(named(deal, 0));
                }
                if deal.close_date.is_none() {
                    out.missing_close_date.push(named(deal, 0));
                }
            }
        }
    }
    out.win_rate_90 = (won_90 + lost_90 > 0).then(|| won_90 as f64 / (won_90 + lost_90) as f64);
    out.median_days_to_win = median(&mut days_to_win);
    out.rotting
        .sort_by(|a, b| b.days.cmp(&a.days).then(a.name.cmp(&b.name)));
    out.slipped
        .sort_by(|a, b| b.days.cmp(&a.days).then(a.name.cmp(&b.name)));
    out
}

/// Days an open deal has been in its stage, when that is past the stage's limit: the
/// one rule of rotting, for the report and for the owners' DMs.
pub fn rotting_days(deal: &PipelineDeal, rules: &ReportRules, now: DateTime<Utc>) -> Option<i64> {
    if !deal.is_open() {
        return None;
    }
    let limit = rules
        .rot_days
        .get(deal.stage.as_deref().unwrap_or_default())?;
    let in_stage = days_between(deal.since.at(), now);
    (in_stage > i64::from(*limit)).then_some(in_stage)
}

/// The median of whole days: the middle one, or the mean of the two middle ones.
fn median(days: &mut [i64]) -> Option<f64> {
    if days.is_empty() {
        return None;
    }
    days.sort_unstable();
    let mid = days.len() / 2;
    Some(if days.len() % 2 == 1 {
        days[mid] as f64
    } else {
        (days[mid - 1] + days[mid]) as f64 / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, 9, 0, 0).unwrap()
    }

    fn deal(name: &str, stage: &str, value: Option<f64>, since: Since) -> PipelineDeal {
        PipelineDeal {
            name: name.into(),
            url: format!("https://www.notion.so/{name}"),
            stage: Some(stage.into()),
            value,
            owners: vec!["Dana Lee".into()],
            close_date: NaiveDate::from_ymd_opt(2026, 12, 31),
            created: at(1),
            since,
        }
    }

    fn rules() -> ReportRules {
        ReportRules {
            stages: crate::schema::STAGES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            probability: [
                ("lead", 0.1),
                ("qualified", 0.2),
                ("proposal", 0.5),
                ("negotiation", 0.7),
            ]
            .iter()
            .map(|(s, p)| ((*s).to_owned(), *p))
            .collect(),
            rot_days: [("lead", 14), ("proposal", 10)]
                .iter()
                .map(|(s, d)| ((*s).to_owned(), *d))
                .collect(),
        }
    }

    /// A pipeline counted by hand.
    #[test]
    fn every_figure_matches_a_hand_count() {
        let now = at(30);
        let today = now.date_naive();
        let mut slipping = deal("Slip", "proposal", Some(1000.0), Since::Moved(at(25)));
        slipping.close_date = NaiveDate::from_ymd_opt(2026, 11, 20);
        let mut ownerless = deal("Nobody's", "lead", None, Since::Created(at(1)));
        ownerless.owners.clear();
        ownerless.close_date = None;
        let deals = vec![
            deal("A", "lead", Some(100.0), Since::Moved(at(20))),
            ownerless,
            deal("B", "proposal", Some(2000.0), Since::Moved(at(10))),
            slipping,
            deal("C", "negotiation", Some(5000.0), Since::Moved(at(28))),
            deal("Won1", "won", Some(3000.0), Since::Moved(at(27))),
            deal("Won2", "won", Some(500.0), Since::Moved(at(11))),
            deal("Lost1", "lost", Some(700.0), Since::Moved(at(29))),
        ];
        let p = pipeline(&deals, &rules(), now, today);
        let by_stage: Vec<(&str, usize, f64)> = p
            .by_stage
            .iter()
            .map(|s| (s.stage.as_str(), s.count, s.value))
            .collect();
        assert_eq!(
            by_stage,
            [
                ("lead", 2, 100.0),
                ("qualified", 0, 0.0),
                ("proposal", 2, 3000.0),
                ("negotiation", 1, 5000.0)
            ]
        );
        assert_eq!(p.open_value, 8100.0);
        // 100·0.1 + 2000·0.5 + 1000·0.5 + 5000·0.7
        assert!((p.forecast - 5010.0).abs() < 1e-9, "{}", p.forecast);
        let names = |v: &[Named]| v.iter().map(|n| n.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&p.won_week), ["Won1"]);
        assert_eq!(names(&p.lost_week), ["Lost1"]);
        // Closed in 90 days: Won1, Won2, Lost1.
        assert!((p.win_rate_90.unwrap() - 2.0 / 3.0).abs() < 1e-9);
        // Created on the 1st: won after 26 and 10 days.
        assert_eq!(p.median_days_to_win, Some(18.0));
        // Lead over 14 days: Nobody's (29 days, from its creation); proposal over 10: B (20).
        assert_eq!(names(&p.rotting), ["Nobody's", "B"]);
        assert!(p.rotting[0].from_creation && !p.rotting[1].from_creation);
        assert_eq!(p.rotting[0].days, 29);
        assert_eq!(names(&p.slipped), ["Slip"]);
        assert_eq!(p.slipped[0].days, 10);
        assert_eq!(names(&p.missing_owner), ["Nobody's"]);
        assert_eq!(names(&p.missing_value), ["Nobody's"]);
        assert_eq!(names(&p.missing_close_date), ["Nobody's"]);
        // Weeks end on the 30th at 09:00: Won1 (27th) in the last, Won2 (11th) three
        // weeks back.
        let won: Vec<(usize, f64)> = p.won_by_week.iter().map(|w| (w.count, w.value)).collect();
        assert_eq!(won.len(), WEEKS);
        assert_eq!(won[WEEKS - 1], (1, 3000.0));
        assert_eq!(won[WEEKS - 3], (1, 500.0));
        assert_eq!(won.iter().map(|w| w.0).sum::<usize>(), 2);
        assert_eq!(
            p.won_by_week[WEEKS - 1].starts,
            NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
        );
    }

    #[test]
    fn nothing_closed_has_no_rate_and_no_median() {
        let now = at(30);
        let p = pipeline(
            &[deal("A", "lead", Some(1.0), Since::Moved(at(29)))],
            &rules(),
            now,
            now.date_naive(),
        );
        assert_eq!((p.win_rate_90, p.median_days_to_win), (None, None));
        let old_win = deal(
            "Old",
            "won",
            Some(1.0),
            Since::Moved(at(1) - Duration::days(100)),
        );
        let p = pipeline(&[old_win], &rules(), now, now.date_naive());
        assert_eq!(p.win_rate_90, None, "a win past 90 days is not counted");
    }
}
