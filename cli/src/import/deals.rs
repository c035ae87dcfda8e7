//! `crm import --deals FILE.csv`: the deals of an export (see `crm_app::import` for how
//! they are matched and written).

use std::time::Instant;

use crm_app::Ports;
use crm_app::import::{DealTarget, ImportStore, Importer, Outcome};
use crm_domain::import::Reject;
use crm_domain::import::deals::DealPlan;
use crm_settings::SecretsSource;
use crm_store::Store;

use super::{Counts, ImportArgs, conclude, file, listed, write_all};

pub async fn import<S, P>(
    args: &ImportArgs,
    ports: &Ports<S, P>,
    importer: &Importer<S>,
    table: &file::Table,
    planned: &DealPlan,
    run: &str,
) -> Result<(), Box<dyn std::error::Error>>
where
    S: Store + ImportStore + Clone,
    P: SecretsSource,
{
    let started = Instant::now();
    let target = DealTarget {
        deals: ports.settings.notion.deals.to_string(),
        properties: ports.settings.properties.deals.clone(),
        stage_map: args.stage_map()?,
    };
    let mut unmatched = Vec::new();
    let work = async {
        let (world, notes) = importer.deal_world(&target).await?;
        for note in notes {
            println!("{note}");
        }
        println!(
            "Notion has {} deals and {} contacts{}; {} deals in the file",
            world.deals.len(),
            world.contacts.len(),
            listed(world.complete),
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
                "{unknown_owners} deals name an owner who is not among the workspace's people (by email, or by a name only one person has): their Owner is left empty"
            );
        }
        if args.dry_run {
            // What the run would reject, found the way the run finds it.
            for deal in &planned.deals {
                if let Err(Outcome::Rejected(reason)) =
                    importer.matched(&target, deal, &world).await
                {
                    unmatched.extend(deal.lines.iter().map(|&line| Reject {
                        line,
                        reason: reason.clone(),
                    }));
                }
            }
            return Ok::<_, crm_notion::NotionError>(None);
        }
        let outcome = write_all(
            &planned.deals,
            |d| d.key(),
            "deals",
            &importer.settings,
            async |units, stop, tick| {
                importer
                    .run_deals(run, &target, units, &world, stop, |_, _| tick())
                    .await
            },
        )
        .await;
        Ok(Some(outcome))
    };
    let outcome = ports
        .budget_share
        .spending(&ports.store, &importer.notion, work)
        .await?;
    let rejects: Vec<Reject> = planned.rejects.iter().cloned().chain(unmatched).collect();
    conclude(
        args,
        table,
        outcome,
        &Counts {
            what: "deals",
            prefix: "deals: ",
            total: planned.deals.len(),
            merged: planned.merged,
            blank: planned.blank,
            unreadable_dates: planned.unreadable_dates,
            rejects: &rejects,
        },
        started,
    )
}
