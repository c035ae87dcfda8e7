//! `crm serve`: the whole product on 127.0.0.1.
//!
//! Built as the functions are: [`Server::build`] loads the settings (a config file's,
//! or the built-in world's: `world.rs`), opens the store and builds the handlers once
//! (`crate::app`); [`Server::run_until_stopped`] serves the endpoints (`routes.rs`) and
//! the page, and plays the stream's and the schedules' parts (`loops.rs`) until Ctrl-C.

mod loops;
mod routes;
mod world;

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use crm_domain::browser_form::snippet::{Send, snippet};
use crm_domain::{Clock, SystemClock};
use crm_store::SqliteStore;
use serde_json::json;
use tokio::net::TcpListener;

use crate::app::App;
pub use world::LOCAL_FORM_SECRET;
use world::{Emulated, World};

#[derive(Args)]
pub struct ServeArgs {
    /// A TOML config (settings and a `[secrets]` table) for real Notion and Slack;
    /// without one, the built-in Notion emulator and console Slack are used.
    #[arg(long, env = "CRM_CONFIG_FILE")]
    config: Option<PathBuf>,
    /// Port for the intake and webhook endpoints (0 picks a free one).
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// Port of the demo site with a browser form (another origin than the intake; 0
    /// picks a free one). Served with the built-in emulator only.
    #[arg(long, default_value_t = 3001)]
    demo_port: u16,
    /// Where the SQLite store lives.
    #[arg(long, default_value = ".crm-local")]
    data: PathBuf,
}

pub async fn run(args: ServeArgs) -> Result<(), Box<dyn std::error::Error>> {
    crm_app::place::in_serve();
    {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        // The console is read by a person: what went wrong, what is asked of them, and
        // (from the loops) a line per lead; `RUST_LOG=info` shows the functions' logs.
        let filter = match std::env::var("RUST_LOG") {
            Ok(_) => crm_app::telemetry::filter(),
            Err(_) => tracing_subscriber::filter::Targets::new()
                .with_default(tracing::Level::WARN)
                .with_target(crm_app::place::OPERATOR, tracing::Level::INFO),
        };
        tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .with_writer(std::io::stderr),
            )
            .with(filter)
            .init();
    }
    Server::build(&args).await?.run_until_stopped().await
}

/// Binds 127.0.0.1:`port`; a port in use is named with the flag that changes it.
pub(crate) async fn bind(port: u16, flag: &str) -> Result<TcpListener, Box<dyn std::error::Error>> {
    TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
        let said = if e.kind() == std::io::ErrorKind::AddrInUse {
            format!(
                "port {port} is in use (another crm serve?): stop what uses it, or choose another port with {flag} <port> (0 picks a free one)"
            )
        } else {
            format!("cannot listen on 127.0.0.1:{port} ({flag}): {e}")
        };
        said.into()
    })
}

/// Everything `crm serve` runs, built and bound, not yet serving.
pub struct Server {
    app: Arc<App>,
    listener: TcpListener,
    base: String,
    world: World,
    page: Arc<crate::page::Page>,
    /// The demo site's URL, when it is served.
    demo_page: Option<String>,
    /// The data folder, where the built-in product's settings are left for the other
    /// commands while it runs.
    data: PathBuf,
}

impl Server {
    /// Binds the ports, loads the settings, opens the store and builds the handlers
    /// and the page.
    pub async fn build(args: &ServeArgs) -> Result<Self, Box<dyn std::error::Error>> {
        let listener = bind(args.port, "--port").await?;
        let base = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
        let mut world = match &args.config {
            Some(path) => World::configured(path).await?,
            None => World::built_in(&base, args.demo_port).await?,
        };
        std::fs::create_dir_all(&args.data)?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store = SqliteStore::open(
            &store_file(&args.data, world.emulated.is_some())?,
            Arc::clone(&clock),
        )?;
        if let Some(Emulated {
            emulator,
            workspace,
            settings,
            ..
        }) = &world.emulated
        {
            crate::demo::remember_stages(&store, emulator, workspace).await?;
            crate::local::leave(&args.data, settings, &world.secrets, &base)?;
        }
        let demo = world.emulated.as_mut().and_then(|e| e.demo.take());
        let demo_page = match (demo, world.settings.forms.forms.get(crate::demo::FORM)) {
            (Some((listener, origin)), Some(form)) => {
                let site = crate::demo::router(form, &base);
                tokio::spawn(async move { axum::serve(listener, site).await });
                Some(format!("{origin}/"))
            }
            _ => None,
        };
        let app = Arc::new(App::build(
            world.settings.clone(),
            world.secrets.clone(),
            store,
            clock,
            world.sent.clone(),
        )?);
        let page = page_of(&world, &app, &base).await?;
        Ok(Self {
            app,
            listener,
            base,
            world,
            page,
            demo_page,
            data: args.data.clone(),
        })
    }

    /// Serves until Ctrl-C (or the server fails): opens the webhook's handshake window,
    /// prints where everything is, then starts the work.
    pub async fn run_until_stopped(self) -> Result<(), Box<dyn std::error::Error>> {
        let Self {
            app,
            listener,
            base,
            world,
            page,
            demo_page,
            data,
        } = self;
        let router = routes::router(Arc::clone(&app)).merge(crate::page::routes(page));
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await
        });
        let clock = app.worker.clock.as_ref();
        if let Some(emulated) = &world.emulated {
            // Locally, the operator is the one starting the emulator's subscription.
            crm_app::webhook::open_handshake_window(&app.store, clock, 5).await?;
            emulated
                .emulator
                .subscribe(&format!("{base}/notion/webhook"))
                .await;
        } else {
            crm_app::webhook::open_handshake_window(&app.store, clock, 15).await?;
            tracing::info!("the webhook accepts Notion's verification handshake for 15 minutes");
        }
        announce(&world, &base, demo_page.as_deref());
        // The work starts once the first line is out: what it prints (Slack messages)
        // comes after the line a user or a script reads the URLs from.
        loops::spawn_all(&app);
        let stopped = tokio::select! {
            _ = tokio::signal::ctrl_c() => Ok(()),
            r = server => r.map_err(Into::into).and_then(|r| r.map_err(Into::into)),
        };
        crate::local::forget(&data);
        stopped
    }
}

/// The local page, reading Notion as the product does.
async fn page_of(
    world: &World,
    app: &Arc<App>,
    base: &str,
) -> Result<Arc<crate::page::Page>, Box<dyn std::error::Error>> {
    let slack = match &world.slack_console {
        Some(console) => crate::page::Slack::Console(Arc::clone(console)),
        None => crate::page::Slack::Real(world.sent.clone().unwrap_or_default()),
    };
    let notion = match &world.emulated {
        Some(emulated) => crate::page::Notion::Emulated {
            emulator: Arc::clone(&emulated.emulator),
            workspace: Box::new(emulated.workspace.clone()),
            form: world
                .settings
                .forms
                .forms
                .get(crate::demo::FORM)
                .map(|form| snippet(form, base, Send::Fetch))
                .unwrap_or_default(),
        },
        // Read with the process's own client: its pacing is the one for this token.
        None => {
            let n = &world.settings.notion;
            let sources = [
                ("Contacts", n.contacts.to_string()),
                ("Deals", n.deals.to_string()),
                ("Activities", n.activities.to_string()),
            ];
            let token = app.digest.secrets.get().await?.notion_token()?.clone();
            crate::page::Notion::Real {
                links: crate::page::notion_links(&app.digest.notion.with_token(token), sources)
                    .await,
            }
        }
    };
    Ok(crate::page::Page::new(Arc::clone(app), notion, slack))
}

/// The first line a script reads the URLs from, then what a person reads.
fn announce(world: &World, base: &str, demo_page: Option<&str>) {
    let forms: serde_json::Map<String, serde_json::Value> = world
        .settings
        .forms
        .forms
        .keys()
        .map(|name| (name.clone(), json!(format!("{base}/lead/form/{name}"))))
        .collect();
    let emulated = world.emulated.is_some();
    println!(
        "{}",
        json!({
            "intake": format!("{base}/lead"),
            "webhook": format!("{base}/notion/webhook"),
            "digest": format!("{base}/digest"),
            "inbox": format!("{base}/inbox"),
            "replay": format!("{base}/replay"),
            "page": format!("{base}/"),
            "forms": forms,
            "demo_page": demo_page,
            "notion": world.settings.notion.base_url,
            "form_secret": emulated.then_some(LOCAL_FORM_SECRET),
            "workspace": world.emulated.as_ref().map(|e| &e.workspace),
        })
    );
    println!("Open {base}/ to watch it work.");
    if emulated {
        println!(
            "Or try: $(CRM_FORM_SECRET={LOCAL_FORM_SECRET} cargo run -q -p crm-cli -- sign --curl {base}/lead '{{\"email\":\"ann@example.com\",\"name\":\"Ann\",\"message\":\"Hello\"}}')"
        );
        if let Some(page) = demo_page {
            println!("Or open {page} and send its form from a browser.");
        }
    }
}

/// The store's file. With the built-in emulator, whose workspace is new at each start,
/// a new store too: what an old one holds (contacts cached by page id, deals' last
/// stages, today's digest) is about pages that are gone.
fn store_file(data: &std::path::Path, emulated: bool) -> std::io::Result<PathBuf> {
    if !emulated {
        return Ok(data.join("crm.sqlite"));
    }
    for suffix in ["", "-wal", "-shm", "-journal"] {
        match std::fs::remove_file(data.join(format!("demo.sqlite{suffix}"))) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(data.join("demo.sqlite"))
}
