//! The weekly pipeline report over 10,000 deals, as deployed: the `stale-leads`
//! bootstrap (release, this machine) given the weekly schedule's event, against an
//! emulator holding 10,000 deals and counting requests in a strict window of 3 a second
//! (Notion's older average; no rate set, so the pacing finds it). Reports the time from
//! the invocation to its answer (the report posted), Notion's calls, and the process's
//! peak memory.

use std::time::Duration;

use crm_notion_emulator::{DEFAULT_TOKEN, Emulator, RateLimit, StageKind};
use serde_json::json;

use crate::coldstart::{RuntimeApi, bootstrap};
use crate::{Env, Row, variables_on};

const DEALS: usize = 10_000;

pub async fn measure(env: &Env, rows: &mut Vec<Row>) -> Result<(), Box<dyn std::error::Error>> {
    let what = "weekly report over 10,000 deals, strict 3/s window, no rate set (stale-leads bootstrap): time to posted / Notion calls / peak memory".to_owned();
    let path = bootstrap("stale-leads");
    if !path.exists() {
        rows.push((what, "not built; run `make bench`".into()));
        return Ok(());
    }
    let emulator = Emulator::start(0, DEFAULT_TOKEN).await?;
    let ws = emulator.seed_crm(StageKind::Status);
    let stages = [
        "lead",
        "qualified",
        "proposal",
        "negotiation",
        "won",
        "lost",
    ];
    for i in 0..DEALS {
        emulator.create_page_as_person(
            json!({
                "Deal Name": {"title": [{"text": {"content": format!("Deal {i}")}}]},
                "Stage": {"status": {"name": stages[i % stages.len()]}},
                "Value": {"number": 1_000 + (i % 50) * 500},
                "Owner": {"people": [{"id": ws.people[i % ws.people.len()].0}]},
                "Close Date": {"date": {"start": "2026-12-31"}},
            }),
            &ws.deals_data_source_id,
        )?;
    }
    emulator.set_rate_limit(Some(RateLimit::STRICT));
    emulator.clear_requests();
    let (_, table) = crm_testkit::aws::new_table("crm-bench-report").await;
    let vars = variables_on(env, &emulator, &ws, &table, None);
    let ran = RuntimeApi::start()
        .await?
        .invoke(
            &path,
            "stale-leads",
            vars,
            json!({"job": "report"}).to_string(),
            Duration::from_secs(600),
        )
        .await?;
    let posted = env.slack.to("report");
    let result = match ran.answered {
        Some(t) if ran.answer.contains("\"posted\":true") && !posted.is_empty() => format!(
            "{:.1} s / {} ({} refused) / {:.1} MB",
            t.as_secs_f64(),
            emulator.requests().len(),
            emulator.answered(429),
            ran.peak_mb.unwrap_or_default()
        ),
        _ => format!(
            "not posted: {}",
            ran.answer.chars().take(200).collect::<String>()
        ),
    };
    rows.push((what, result));
    Ok(())
}
