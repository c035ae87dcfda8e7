//! `crm import FILE.csv`: contacts from another CRM's or a spreadsheet's export, into
//! Notion — each person once, existing contacts only filled where empty — at the
//! configured pace, resumable (see `crm_app::import`). Locally (`--config`) progress is
//! kept in the SQLite store `crm serve` uses; with the deployed `CRM_*` settings, in the
//! stack's DynamoDB table.

mod deals;
mod file;
mod progress;

use crm_domain::import::formula::inert;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use crm_app::Ports;
use crm_app::import::{ImportActivity, ImportSettings, ImportStore, Importer, Report};
use crm_domain::import::dates::file_order;
use crm_domain::import::{DateOrder, Field, Plan, detect, fit_statuses, parse_overrides, plan};
use crm_domain::lead::MAX_SOURCE_LEN;
use crm_domain::{Clock, SystemClock};
use crm_settings::{CachedSecrets, MemorySecrets, SecretsLocation, SecretsSource, Settings};
use crm_store::{SqliteStore, Store};
use sha2::{Digest, Sha256};

/// How long any one of the import's calls may wait for Notion's budget: longer than any
/// pause Notion asks for, and than an import of a few thousand rows takes.
const IMPORT_PATIENCE: Duration = Duration::from_secs(6 * 3600);

#[derive(Args)]
pub struct ImportArgs {
    /// The export: CSV, UTF-8 or Windows-1252, `,` or `;` between fields.
    file: PathBuf,
    /// Columns the headers do not name in a known way: "E-mail=email,Organisation=company"
    /// (fields: email, name, first_name, last_name, company, phone, status, source, notes,
    /// last_contacted).
    #[arg(long)]
    map: Option<String>,
    /// Status of the contacts the import creates (default: the `new_lead_status` setting).
    #[arg(long)]
    status: Option<String>,
    /// Source of the contacts the import creates, unless a row names one.
    #[arg(long, default_value = "import")]
    source: String,
    /// The file holds deals (name, stage, value, owner, contact email, close date), not
    /// contacts; import the contacts first.
    #[arg(long)]
    deals: bool,
    /// Log an Activity on each imported contact ("Imported from FILE (line N)").
    #[arg(long)]
    activity: bool,
    /// Print what would be done, without writing.
    #[arg(long)]
    dry_run: bool,
    /// With --deals: the export's stages and the Stage option each becomes, where the
    /// built-in table of Pipedrive's, HubSpot's and Salesforce's default pipelines does
    /// not say: "Contact Made=qualified,Demo Scheduled=proposal".
    #[arg(long)]
    stage: Option<String>,
    /// How slashed dates read when a column cannot tell (`3/4/2026`): `mdy` (US exports)
    /// or `dmy`. A column with a date like `8/15/2025` or `15/08/2025` tells by itself.
    #[arg(long, value_parser = parse_dates)]
    dates: Option<DateOrder>,
    /// Where rows that cannot be imported are written (default: FILE.rejects.csv).
    #[arg(long)]
    rejects: Option<PathBuf>,
    /// People written at the same time (default: the `worker_concurrency` setting).
    #[arg(long)]
    concurrency: Option<usize>,
    /// A TOML config (settings and a `[secrets]` table, as for `crm serve`); without one,
    /// the deployed `CRM_*` settings and AWS credentials — or, with neither, the running
    /// `crm serve`'s own (it leaves them in its data folder).
    #[arg(long, env = "CRM_CONFIG_FILE")]
    config: Option<PathBuf>,
    /// Where the local store is (with `--config`).
    #[arg(long, default_value = ".crm-local")]
    data: PathBuf,
    /// How long a person's claim is held before a later run may take it over (after a
    /// killed run). Default: the longest one person's writes can take.
    #[arg(long, hide = true)]
    lease_seconds: Option<u64>,
}

pub async fn run(args: ImportArgs) -> Result<(), Box<dyn std::error::Error>> {
    // Every new contact gets it as its Source, a select option: Notion would refuse
    // each of them for a comma.
    if args.source.contains(',') || args.source.chars().count() > MAX_SOURCE_LEN {
        return Err(format!(
            "--source {:?}: a Notion select option has no comma and at most {MAX_SOURCE_LEN} characters",
            args.source
        )
        .into());
    }
    let bytes = std::fs::read(&args.file)
        .map_err(|e| format!("cannot read {}: {e}", args.file.display()))?;
    let table = file::read(&bytes)?;
    let overrides = match &args.map {
        Some(m) => parse_overrides(m)?,
        None => Vec::new(),
    };
    let run = hex::encode(&Sha256::digest(&bytes)[..8]);
    if table.footer > 0 {
        println!(
            "skipped the report's footer ({} lines at the end)",
            table.footer
        );
    }
    if args.deals {
        use crm_domain::import::deals::{DealField, detect, plan_deals};
        // Said wrong, said before anything is read from Notion.
        args.stage_map()?;
        let columns = detect(&table.headers).ok_or_else(|| {
            format!(
                "no column names the deal (headers: {}); call it \"Deal Name\" or \"Title\"",
                table.headers.join(", ")
            )
        })?;
        announce(&args, &table, "deal columns", &columns, |f| f.name());
        let dated = date_columns(&columns, DealField::CloseDate);
        let order = file_order(&table.headers, &dated, &table.rows, args.dates)?;
        let mut planned = plan_deals(&columns, table.rows.iter().cloned(), order);
        planned.rejects.extend(table.misshapen.iter().cloned());
        return with_ports(&args, &table, Planned::Deals(planned), &run).await;
    }
    let telling = crm_domain::import::deals::telling_deal_headers(&table.headers);
    if !telling.is_empty() {
        return Err(format!(
            "{} holds deals (columns {}): import it with --deals, after the contacts",
            args.file.display(),
            telling.join(", ")
        )
        .into());
    }
    let mapping = detect(&table.headers, &overrides)?;
    announce(&args, &table, "columns", &mapping.columns, |f| f.name());
    if !mapping.unused.is_empty() {
        println!(
            "not imported: {} (name one with --map \"<column>=<field>\")",
            mapping.unused.join(", ")
        );
    }
    let dated = date_columns(&mapping.columns, Field::LastContacted);
    let order = file_order(&table.headers, &dated, &table.rows, args.dates)?;
    let mut planned = plan(&mapping, table.rows.iter().cloned(), order);
    planned.rejects.extend(table.misshapen.iter().cloned());
    with_ports(&args, &table, Planned::Contacts(planned), &run).await
}

impl ImportArgs {
    /// `--stage`, read.
    pub(super) fn stage_map(&self) -> Result<Vec<(String, String)>, String> {
        match &self.stage {
            Some(text) => {
                crm_domain::import::deals::parse_stage_map(text).map_err(|e| format!("--stage {e}"))
            }
            None => Ok(Vec::new()),
        }
    }
}

/// The file as read, and which column feeds which field.
fn announce<F: Copy>(
    args: &ImportArgs,
    table: &file::Table,
    what: &str,
    columns: &[(usize, F)],
    name: impl Fn(F) -> &'static str,
) {
    let mut shown: Vec<String> = columns
        .iter()
        .map(|(i, f)| format!("{} → {}", table.headers[*i].trim(), name(*f)))
        .collect();
    shown.dedup();
    println!(
        "{}: {} rows ({}, '{}'); {what}: {}",
        args.file.display(),
        table.rows.len(),
        table.encoding,
        table.separator,
        shown.join(", ")
    );
}

/// `--dates`.
fn parse_dates(text: &str) -> Result<DateOrder, String> {
    DateOrder::parse(text)
        .ok_or_else(|| format!("{text:?}: say mdy (month first) or dmy (day first)"))
}

/// The columns that hold `field`.
fn date_columns<F: PartialEq>(columns: &[(usize, F)], field: F) -> Vec<usize> {
    columns
        .iter()
        .filter(|(_, f)| *f == field)
        .map(|(i, _)| *i)
        .collect()
}

/// What the file holds, read.
enum Planned {
    Contacts(Plan),
    Deals(crm_domain::import::deals::DealPlan),
}

/// Builds the ports (the local config's, or the deployed settings') and imports.
async fn with_ports(
    args: &ImportArgs,
    table: &file::Table,
    mut planned: Planned,
    run: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let config = match &args.config {
        Some(path) => Some(path.clone()),
        None => crate::local::config(&args.data)?,
    };
    match &config {
        Some(path) => {
            let settings = Settings::from_file_and_env(path, std::env::vars())?;
            let SecretsLocation::Inline(secrets) = &settings.secrets else {
                return Err(
                    "with --config the secrets come from its [secrets] table; remove secret_arn"
                        .into(),
                );
            };
            let clock: Arc<dyn Clock> = Arc::new(SystemClock);
            std::fs::create_dir_all(&args.data)?;
            let store = SqliteStore::open(&args.data.join("crm.sqlite"), Arc::clone(&clock))?;
            let secrets = Arc::new(CachedSecrets::new(
                MemorySecrets::new((**secrets).clone()),
                Duration::from_secs(300),
                Arc::clone(&clock),
            ));
            let ports = Ports::new(settings, store, secrets, clock)?;
            dispatch(args, &ports, table, &mut planned, run).await
        }
        None => {
            let ctx = crm_app::Context::from_env().await?;
            dispatch(args, &ctx, table, &mut planned, run).await
        }
    }
}

async fn dispatch<S, P>(
    args: &ImportArgs,
    ports: &Ports<S, P>,
    table: &file::Table,
    planned: &mut Planned,
    run: &str,
) -> Result<(), Box<dyn std::error::Error>>
where
    S: Store + ImportStore + Clone,
    P: SecretsSource,
{
    let secrets = ports.secrets.get().await?;
    // A person watches the import: a long pause of Notion's (a spent window's or the
    // workspace's `Retry-After`) is waited out, however long, rather than failing rows.
    let notion = ports
        .notion
        .with_token(secrets.notion_token()?.clone())
        .until(tokio::time::Instant::now() + IMPORT_PATIENCE);
    let importer = importer(args, ports, &notion);
    match planned {
        Planned::Contacts(plan) => import(args, ports, &importer, table, plan, run).await,
        Planned::Deals(plan) => deals::import(args, ports, &importer, table, plan, run).await,
    }
}

async fn import<S, P>(
    args: &ImportArgs,
    ports: &Ports<S, P>,
    importer: &Importer<S>,
    table: &file::Table,
    planned: &mut Plan,
    run: &str,
) -> Result<(), Box<dyn std::error::Error>>
where
    S: Store + ImportStore + Clone,
    P: SecretsSource,
{
    let started = Instant::now();
    let work = async {
        let existing = importer.existing().await?;
        let dropped = fit_statuses(&mut planned.contacts, &existing.statuses);
        if dropped > 0 {
            println!(
                "{dropped} statuses are not among Status's options ({}): those contacts get {:?}",
                existing.statuses.join(", "),
                importer.settings.status
            );
        }
        let planned = &*planned;
        let known = planned
            .contacts
            .iter()
            .filter(|c| existing.by_email.contains_key(c.email.as_str()))
            .count();
        println!(
            "Notion has {} contacts{}; {} of the file's {} people are among them",
            existing.by_email.len(),
            listed(existing.complete),
            known,
            planned.contacts.len(),
        );
        if args.dry_run {
            return Ok::<_, crm_notion::NotionError>(None);
        }
        let outcome = write_all(
            &planned.contacts,
            |c| c.email.as_str().to_owned(),
            "contacts",
            &importer.settings,
            async |units, stop, tick| {
                importer
                    .run(run, units, &existing, stop, |_, _| tick())
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
    conclude(
        args,
        table,
        outcome,
        &Counts {
            what: "people",
            prefix: "",
            total: planned.contacts.len(),
            merged: planned.merged,
            blank: planned.blank,
            unreadable_dates: planned.unreadable_dates,
            rejects: &planned.rejects,
        },
        started,
    )
}

/// The engine with this run's settings.
pub(super) fn importer<S: Store + Clone, P>(
    args: &ImportArgs,
    ports: &Ports<S, P>,
    notion: &crm_notion::NotionClient,
) -> Importer<S> {
    let item = crm_app::worker::item_worst_case(notion.worst_call());
    let settings = ImportSettings {
        contacts: ports.settings.notion.contacts.to_string(),
        properties: ports.settings.properties.contacts.clone(),
        status: args
            .status
            .clone()
            .unwrap_or_else(|| ports.settings.leads.new_status.clone()),
        source: args.source.clone(),
        concurrency: args
            .concurrency
            .unwrap_or(ports.settings.notion.concurrency as usize),
        lease: args
            .lease_seconds
            .map(Duration::from_secs)
            .unwrap_or_else(|| crm_app::worker::lease_for(item)),
        retention: Duration::from_secs(30 * 86_400),
        activity: args.activity.then(|| ImportActivity {
            activities: ports.settings.notion.activities.to_string(),
            properties: ports.settings.properties.activities.clone(),
            kind: "note".into(),
            file: args
                .file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            day: chrono::Utc::now()
                .with_timezone(&ports.settings.stale.timezone)
                .format("%Y-%m-%d")
                .to_string(),
        }),
    };
    Importer {
        store: ports.store.clone(),
        notion: notion.clone(),
        settings,
    }
}

/// Said after what Notion holds when its listing stopped at the 10,000-row cap.
pub(super) fn listed(complete: bool) -> &'static str {
    if complete {
        ""
    } else {
        " (more than Notion lists at once: others are looked up one by one)"
    }
}

/// What a file held, for the summary.
pub(super) struct Counts<'a> {
    /// `people` or `deals`.
    pub what: &'static str,
    /// Before the summary line (`deals: `).
    pub prefix: &'static str,
    pub total: usize,
    pub merged: usize,
    pub blank: usize,
    /// Dates left out because they could not be read.
    pub unreadable_dates: usize,
    /// Rows rejected before anything was written.
    pub rejects: &'a [crm_domain::import::Reject],
}

/// The end of either command: a dry run's counts (`None`), or the rejects file and the
/// summary line; then the report and whether Ctrl-C stopped the run.
pub(super) fn conclude(
    args: &ImportArgs,
    table: &file::Table,
    outcome: Option<(Report, bool)>,
    counts: &Counts<'_>,
    started: Instant,
) -> Result<(), Box<dyn std::error::Error>> {
    let rejects_path = args
        .rejects
        .clone()
        .unwrap_or_else(|| rejects_beside(&args.file));
    if counts.unreadable_dates > 0 {
        println!(
            "{} dates could not be read (YYYY-MM-DD, or M/D/YYYY and D/M/YYYY in the file's order) and were left out",
            counts.unreadable_dates
        );
    }
    let what = counts.what;
    let Some((report, stopped)) = outcome else {
        println!(
            "dry run: {} {what} to write ({} rows merged into them), {} rows rejected, {} blank",
            counts.total,
            counts.merged,
            counts.rejects.len(),
            counts.blank
        );
        keep_rejects(&rejects_path, table, counts.rejects.iter());
        return Ok(());
    };
    let rejected = counts.rejects.len() + report.rejected.len();
    let see = if rejected > 0 {
        format!(" (see {})", rejects_path.display())
    } else {
        String::new()
    };
    let not_written = report.failed.len() + report.busy.len();
    let now = report.created + report.updated + report.unchanged;
    // The summary first: whatever happens to the rejects file, what was written is said.
    if now == 0 && not_written == 0 && report.earlier > 0 {
        println!(
            "{}nothing to do: all {} {what} done by an earlier run of this file; rejected {rejected}{see}, in {:.1} s",
            counts.prefix,
            report.earlier,
            started.elapsed().as_secs_f64(),
        );
    } else {
        let earlier = if report.earlier > 0 {
            format!(
                "; {} more done by an earlier run of this file",
                report.earlier
            )
        } else {
            String::new()
        };
        println!(
            "{}created {}, updated {}, unchanged {}, merged in file {}, rejected {rejected}{see}, failed {not_written}, in {:.1} s{earlier}",
            counts.prefix,
            report.created,
            report.updated,
            report.unchanged,
            counts.merged,
            started.elapsed().as_secs_f64(),
        );
    }
    keep_rejects(
        &rejects_path,
        table,
        counts.rejects.iter().chain(&report.rejected),
    );
    if stopped {
        let done = now + report.earlier;
        return Err(format!(
            "stopped with about {} {what} not written yet: run the same command again to go on",
            counts.total.saturating_sub(done + not_written)
        )
        .into());
    }
    if not_written == 0 {
        return Ok(());
    }
    for (who, why) in report.failed.iter().take(10) {
        eprintln!("not written: {who}: {why}");
    }
    if !report.busy.is_empty() {
        eprintln!(
            "not written: {} {what} another import is still writing",
            report.busy.len()
        );
    }
    Err(format!("{not_written} {what} were not written: run the same command again").into())
}

/// Writes the rejects file; a file that cannot be written is said, and the run's
/// outcome stands (what was written to Notion is written).
fn keep_rejects<'a>(
    path: &Path,
    table: &file::Table,
    rejects: impl IntoIterator<Item = &'a crm_domain::import::Reject>,
) {
    if let Err(e) = write_rejects(path, table, rejects) {
        eprintln!(
            "the rejected rows could not be written to {}: {e}",
            path.display()
        );
    }
}

/// Writes every unit with `write` (the engine's run), behind a progress bar, Ctrl-C
/// stopping it. A stopped run's claims are held until their lease runs out: then waits
/// for those, writing the ones still held (by `key`) every second, so nothing is skipped.
/// The report, and whether Ctrl-C stopped the run.
pub(super) async fn write_all<U: Clone>(
    units: &[U],
    key: impl Fn(&U) -> String,
    what: &'static str,
    settings: &ImportSettings,
    write: impl AsyncFn(&[U], &AtomicBool, &dyn Fn()) -> Report,
) -> (Report, bool) {
    let bar = progress::Progress::new(units.len() as u64, what);
    let (stop, listener) = stop_on_ctrl_c(what);
    let mut report = write(units, &stop, &|| bar.tick()).await;
    let deadline = Instant::now() + settings.lease + Duration::from_secs(5);
    while !report.busy.is_empty() && Instant::now() < deadline && !stop.load(Ordering::SeqCst) {
        bar.note(&format!(
            "waiting for {} {what} a stopped run was writing",
            report.busy.len()
        ));
        tokio::time::sleep(Duration::from_secs(1)).await;
        let held: Vec<U> = units
            .iter()
            .filter(|u| report.busy.contains(&key(u)))
            .cloned()
            .collect();
        let more = write(&held, &stop, &|| {}).await;
        report.merge(more);
    }
    bar.finish();
    listener.abort();
    (report, stop.load(Ordering::SeqCst))
}

/// Ctrl-C: no one more is started, those under way finish; a second Ctrl-C exits.
pub(super) fn stop_on_ctrl_c(what: &'static str) -> (Arc<AtomicBool>, tokio::task::JoinHandle<()>) {
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = Arc::clone(&stop);
    let listener = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("import: stopping after the {what} under way (Ctrl-C again to quit now)");
            stopping.store(true, Ordering::SeqCst);
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    (stop, listener)
}

pub(super) fn rejects_beside(file: &Path) -> PathBuf {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "import".into());
    file.with_file_name(format!("{stem}.rejects.csv"))
}

/// The rejected rows with their line and reason, then their cells as they were, so the
/// file can be fixed and imported again. Nothing rejected: no file (an old one removed).
pub(super) fn write_rejects<'a>(
    path: &Path,
    table: &file::Table,
    rejects: impl IntoIterator<Item = &'a crm_domain::import::Reject>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut rejects: Vec<_> = rejects.into_iter().collect();
    rejects.sort_by_key(|r| r.line);
    if rejects.is_empty() {
        let _ = std::fs::remove_file(path);
        return Ok(());
    }
    // Rows keep their own number of values (a row of another shape is a reject too).
    let mut out = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    let mut header = vec!["line".to_owned(), "reason".to_owned()];
    header.extend(table.headers.iter().map(|h| inert(h)));
    out.write_record(&header)?;
    for reject in rejects {
        let mut record = vec![reject.line.to_string(), inert(&reject.reason)];
        if let Some(row) = table.all.iter().find(|r| r.line == reject.line) {
            // Shown as text in a spreadsheet, whatever the export held.
            record.extend(row.cells.iter().map(|c| inert(c)));
        }
        out.write_record(&record)?;
    }
    let bytes = out.into_inner().map_err(|e| e.to_string())?;
    // A byte-order mark: Excel then reads the file as UTF-8 (accents and all).
    let mut file = std::fs::File::create(path)?;
    file.write_all(b"\xEF\xBB\xBF")?;
    file.write_all(&bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rejects file opened in a spreadsheet runs no formula the export held, and
    /// imported again after a fix it holds what the export held.
    #[test]
    fn rejects_are_written_inert_and_read_back_as_they_were() {
        let export = "email,name,phone\n=cmd|' /C calc'!A0,@SUM(1),+49 30 1234567\n";
        let table = file::read(export.as_bytes()).unwrap();
        let dir = std::env::temp_dir().join(format!("crm-rejects-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.rejects.csv");
        let reject = crm_domain::import::Reject {
            line: 2,
            reason: "-not an address".into(),
        };
        write_rejects(&path, &table, [&reject]).unwrap();
        let written = std::fs::read_to_string(&path).unwrap();
        let row = written.lines().nth(1).unwrap();
        for cell in ["'=cmd", "'@SUM(1)", "'+49 30 1234567", "'-not an address"] {
            assert!(row.contains(cell), "{cell} in {row}");
        }
        let again = file::read(written.as_bytes()).unwrap();
        assert_eq!(
            again.rows[0].cells[2..],
            ["=cmd|' /C calc'!A0", "@SUM(1)", "+49 30 1234567"]
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
