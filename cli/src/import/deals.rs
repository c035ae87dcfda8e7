//! `crm import --deals FILE.csv`: the deals of an export (see `crm_app::import` for how
//! they are matched and written).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crm_app::Ports;
use crm_app::import::{DealTarget, ImportStore};
use crm_domain::import::deals::DealPlan;
use crm_settings::SecretsSource;
use crm_store::Store;

use super::{Counts, ImportArgs, conclude, file, importer, progress};

pub async fn import<S, P>(
    args: &ImportArgs,
    ports: &Ports<S, P>,
    table: &file::Table,
    planned: &DealPlan,
    run: &str,
) -> Result<(), Box<dyn std::error::Error>>
where
    S: Store + ImportStore + Clone,
    P: SecretsSource,
{
    let started = Instant::now();
    let secrets = ports.secrets.get().await?;
    let notion = ports.notion.with_token(secrets.notion_token()?.clone());
    let importer = importer(args, ports, &notion);
    let target = DealTarget {
        deals: ports.settings.notion.deals.to_string(),
        properties: ports.settings.properties.deals.clone(),
    };
    let work = async {
        let (world, notes) = importer.deal_world(&target).await?;
        for note in notes {
            println!("{note}");
        }
        println!(
            "Notion has {} deals and {} contacts; {} deals in the file",
            world.deals.len(),
            world.contacts.len(),
            planned.deals.len()
        );
        let unknown_owners = planned
            .deals
            .iter()
            .filter_map(|d| d.owner.as_deref())
            .filter(|o| !world.people.contains_key(&o.trim().to_lowercase()))
            .count();
        if unknown_owners > 0 && !world.people.is_empty() {
            println!(
                "{unknown_owners} deals name an owner who is not among the workspace's people (by email or name): their Owner is left empty"
            );
        }
        if args.dry_run {
            return Ok::<_, crm_notion::NotionError>(None);
        }
        let bar = progress::Progress::new(planned.deals.len() as u64);
        let (stop, listener) = super::stop_on_ctrl_c("deals");
        let mut report = importer
            .run_deals(run, &target, &planned.deals, &world, &stop, |_, _| {
                bar.tick()
            })
            .await;
        let deadline = Instant::now() + importer.settings.lease + Duration::from_secs(5);
        while !report.busy_deals.is_empty()
            && Instant::now() < deadline
            && !stop.load(Ordering::SeqCst)
        {
            bar.note(&format!(
                "waiting for {} deals a stopped run was writing",
                report.busy_deals.len()
            ));
            tokio::time::sleep(Duration::from_secs(1)).await;
            let busy: Vec<_> = planned
                .deals
                .iter()
                .filter(|d| report.busy_deals.contains(&d.key()))
                .cloned()
                .collect();
            let again = importer
                .run_deals(run, &target, &busy, &world, &stop, |_, _| {})
                .await;
            report.merge(again);
        }
        bar.finish();
        listener.abort();
        Ok(Some((report, stop.load(Ordering::SeqCst))))
    };
    let outcome = ports
        .budget_share
        .spending(&ports.store, &notion, work)
        .await?;
    let Some((report, stopped)) = conclude(
        args,
        table,
        outcome,
        &Counts {
            what: "deals",
            prefix: "deals: ",
            total: planned.deals.len(),
            merged: planned.merged,
            blank: planned.blank,
            rejects: &planned.rejects,
        },
        |r| r.failed_deals.len() + r.busy_deals.len(),
        started,
    )?
    else {
        return Ok(());
    };
    let left = report.failed_deals.len() + report.busy_deals.len();
    if stopped {
        return Err("stopped: run the same command again to go on".into());
    }
    if left == 0 {
        return Ok(());
    }
    for (name, why) in report.failed_deals.iter().take(10) {
        eprintln!("not written: {name}: {why}");
    }
    Err(format!("{left} deals were not written: run the same command again").into())
}
