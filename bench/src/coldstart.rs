//! Cold start and memory of each bootstrap: the release binary is started against a
//! stand-in for the Lambda runtime API, and "ready" is its first request for an event
//! (after it has loaded settings, built its clients and read the secret).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::routing::get;
use tokio::sync::Notify;

use crate::{Env, Row, variables};

const FUNCTIONS: &[&str] = &[
    "lead-intake",
    "notion-webhook",
    "worker",
    "stale-leads",
    "redrive",
];
const RUNS: usize = 10;

fn bootstrap(name: &str) -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    PathBuf::from(target).join("release").join(name)
}

pub async fn measure(env: &Env, rows: &mut Vec<Row>) -> Result<(), Box<dyn std::error::Error>> {
    let ready = Arc::new(Notify::new());
    let notify = Arc::clone(&ready);
    let app = axum::Router::new().route(
        "/2018-06-01/runtime/invocation/next",
        get(move || {
            let notify = Arc::clone(&notify);
            async move {
                notify.notify_one();
                // Never answer: the function stays idle, as between invocations.
                tokio::time::sleep(Duration::from_secs(3600)).await;
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let api = listener.local_addr()?.to_string();
    tokio::spawn(async move { axum::serve(listener, app).await });

    for name in FUNCTIONS {
        let path = bootstrap(name);
        let Ok(meta) = std::fs::metadata(&path) else {
            rows.push((
                format!("{name} bootstrap"),
                format!("not built ({}); run `make bench`", path.display()),
            ));
            continue;
        };
        rows.push((
            format!("{name} bootstrap size (release, this machine)"),
            format!("{:.1} MB", meta.len() as f64 / 1e6),
        ));
        let starts = Arc::new(Mutex::new(Vec::new()));
        let mut rss = Vec::new();
        for _ in 0..RUNS {
            let started = Instant::now();
            let mut child = tokio::process::Command::new(&path)
                .envs(variables(env, 3.0))
                .env("AWS_LAMBDA_RUNTIME_API", &api)
                .env("AWS_LAMBDA_FUNCTION_NAME", name)
                .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
                .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
                .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
                .env("AWS_LAMBDA_LOG_GROUP_NAME", "bench")
                .env("RUST_LOG", "warn")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()?;
            tokio::time::timeout(Duration::from_secs(10), ready.notified()).await?;
            starts
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(started.elapsed());
            if let Some(pid) = child.id() {
                let status =
                    std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
                if let Some(kb) = status
                    .lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<f64>().ok())
                {
                    rss.push(kb / 1024.0);
                }
            }
            child.kill().await?;
        }
        let mut starts = starts.lock().unwrap_or_else(|p| p.into_inner()).clone();
        starts.sort();
        rss.sort_by(f64::total_cmp);
        rows.push((
            format!("{name} cold start (process start to ready, median of {RUNS})"),
            format!("{:.1} ms", starts[RUNS / 2].as_secs_f64() * 1e3),
        ));
        if let Some(m) = rss.get(rss.len() / 2) {
            rows.push((
                format!("{name} memory when ready (RSS, median)"),
                format!("{m:.1} MB"),
            ));
        }
    }
    Ok(())
}
