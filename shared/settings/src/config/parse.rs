//! Parsers of the settings table: each turns a trimmed, non-empty value into its type
//! or says, in words, what it expected.

use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

use chrono_tz::Tz;
use crm_domain::NotionId;

use super::StageRoute;

pub type Parsed<T> = Result<T, String>;

pub fn text(v: &str) -> Parsed<String> {
    Ok(v.to_owned())
}

pub fn notion_id(v: &str) -> Parsed<NotionId> {
    NotionId::parse(v).map_err(|e| format!("{e} (got {v:?})"))
}

pub fn table_name(v: &str) -> Parsed<String> {
    let ok = (3..=255).contains(&v.len())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(v.to_owned())
    } else {
        Err(format!(
            "expected a DynamoDB table name (3-255 of a-z, A-Z, 0-9, _ - .), got {v:?}"
        ))
    }
}

pub fn secrets_ttl(v: &str) -> Parsed<Duration> {
    number(v, 0..=86_400, "whole seconds from 0 to 86400").map(Duration::from_secs)
}

pub fn http_url(v: &str) -> Parsed<String> {
    if v.starts_with("https://") || v.starts_with("http://") {
        Ok(v.trim_end_matches('/').to_owned())
    } else {
        Err(format!("expected an http(s) URL, got {v:?}"))
    }
}

pub fn rate(v: &str) -> Parsed<f64> {
    // The smallest positive float keeps 0 out: no requests at all would stall the worker.
    let what = "requests per second above 0 and at most 100";
    number(v, f64::MIN_POSITIVE..=100.0, what)
}

/// `auto` (found by the pacing itself: `None`), or the most requests per second.
pub fn rate_ceiling(v: &str) -> Parsed<Option<f64>> {
    if v.eq_ignore_ascii_case("auto") {
        return Ok(None);
    }
    rate(v)
        .map(Some)
        .map_err(|e| format!("{e}, or auto to find Notion's budget"))
}

pub fn activity_log(v: &str) -> Parsed<super::ActivityLog> {
    match v.to_ascii_lowercase().as_str() {
        "page" => Ok(super::ActivityLog::Page),
        "notes" => Ok(super::ActivityLog::Notes),
        _ => Err(format!("expected page or notes, got {v:?}")),
    }
}

pub fn burst(v: &str) -> Parsed<u32> {
    number(v, 1..=100, "a whole number from 1 to 100")
}

pub fn concurrency(v: &str) -> Parsed<u32> {
    number(v, 1..=64, "a whole number from 1 to 64")
}

pub fn burst_threshold(v: &str) -> Parsed<u32> {
    number(
        v,
        0..=1000,
        "a whole number from 0 (never summarise) to 1000",
    )
}

/// Seconds of a burst's timing: up to ten minutes, which a worker run can wait out.
pub fn burst_seconds(v: &str) -> Parsed<Duration> {
    number(v, 0..=600, "whole seconds from 0 to 600").map(Duration::from_secs)
}

/// The browser forms, as JSON: each mistake names the form and the part.
pub fn forms(
    v: &str,
) -> Parsed<std::collections::BTreeMap<String, crm_domain::browser_form::FormConfig>> {
    crm_domain::browser_form::parse_forms(v)
}

/// The longest a captcha provider may take: the visitor is waiting, and the intake
/// function's own timeout (10 s in `template.yaml`) must hold it with room to spare.
pub const MAX_CAPTCHA_TIMEOUT_MS: u64 = 5000;

/// A captcha provider gets a few seconds at most.
pub fn captcha_timeout(v: &str) -> Parsed<Duration> {
    number(
        v,
        100..=MAX_CAPTCHA_TIMEOUT_MS,
        "milliseconds from 100 to 5000",
    )
    .map(Duration::from_millis)
}

pub fn minutes(v: &str) -> Parsed<u32> {
    number(
        v,
        1..=10_080,
        "a whole number of minutes from 1 to 10080 (a week)",
    )
}

pub fn days(v: &str) -> Parsed<u32> {
    number(v, 1..=3650, "a whole number of days from 1 to 3650")
}

/// A number in `range` (NaN is in no range), or an error saying `what` was expected.
fn number<T: FromStr + PartialOrd>(v: &str, range: RangeInclusive<T>, what: &str) -> Parsed<T> {
    match v.parse::<T>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(format!("expected {what}, got {v:?}")),
    }
}

pub fn timezone(v: &str) -> Parsed<Tz> {
    v.parse::<Tz>().map_err(|_| {
        format!("expected an IANA time zone such as Europe/Berlin or America/New_York, got {v:?}")
    })
}

pub fn boolean(v: &str) -> Parsed<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(format!("expected true or false, got {v:?}")),
    }
}

pub fn list(v: &str) -> Parsed<Vec<String>> {
    let items: Vec<String> = v
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    if items.is_empty() {
        Err("expected a comma-separated list with at least one entry".into())
    } else {
        Ok(items)
    }
}

/// `stage=value` pairs, the stage lower-cased, each value read by `value`.
fn per_stage<T>(
    v: &str,
    value: impl Fn(&str) -> Option<T>,
    what: &str,
) -> Parsed<std::collections::BTreeMap<String, T>> {
    let mut out = std::collections::BTreeMap::new();
    for entry in v.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((stage, raw)) = entry.split_once('=') else {
            return Err(format!("entry {entry:?}: expected stage={what}"));
        };
        let stage = stage.trim().to_lowercase();
        let parsed =
            value(raw.trim()).ok_or_else(|| format!("entry {entry:?}: {raw:?} is not {what}"))?;
        if stage.is_empty() || out.insert(stage.clone(), parsed).is_some() {
            return Err(format!("entry {entry:?}: a stage once each"));
        }
    }
    Ok(out)
}

/// `lead=0.1,proposal=0.5`: each stage's chance of winning, 0 to 1.
pub fn probabilities(v: &str) -> Parsed<std::collections::BTreeMap<String, f64>> {
    per_stage(
        v,
        |p| p.parse::<f64>().ok().filter(|p| (0.0..=1.0).contains(p)),
        "a probability from 0 to 1",
    )
}

/// `lead=14,proposal=10`: each stage's days before a deal rots.
pub fn stage_days(v: &str) -> Parsed<std::collections::BTreeMap<String, u32>> {
    per_stage(
        v,
        |d| d.parse::<u32>().ok().filter(|d| *d > 0),
        "a number of days over 0",
    )
}

/// `won,lost=alerts,negotiation`: a stage, optionally `=destination` (defaults to the
/// stage's own name).
pub fn routes(v: &str) -> Parsed<Vec<StageRoute>> {
    let mut routes: Vec<StageRoute> = Vec::new();
    for entry in v.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (stage, destination) = match entry.split_once('=') {
            Some((s, d)) => (s.trim(), d.trim()),
            None => (entry, entry),
        };
        if stage.is_empty() || destination.is_empty() {
            return Err(format!(
                "entry {entry:?}: expected stage or stage=destination"
            ));
        }
        let stage = stage.to_lowercase();
        if routes.iter().any(|r| r.stage == stage) {
            return Err(format!("stage {stage:?} is routed twice"));
        }
        routes.push(StageRoute {
            stage,
            destination: destination.to_owned(),
        });
    }
    Ok(routes)
}
