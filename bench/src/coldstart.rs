//! Cold start and memory of each bootstrap, against a stand-in for the Lambda Runtime
//! API: the release binary is started, its first `GET /next` ("ready": settings loaded,
//! clients built, the secret read) is answered with a typical event for the function,
//! and the time to its answer (`POST /response`) is the cold start a first caller
//! waits for.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde_json::json;
use tokio::sync::Notify;

use crate::{Env, FORM_SECRET, Row, WEBHOOK_TOKEN, variables};
use crm_domain::{Clock, SystemClock};
use crm_testkit::request::{notion_signed, own_signed};

const FUNCTIONS: &[&str] = &[
    "lead-intake",
    "notion-webhook",
    "worker",
    "stale-leads",
    "redrive",
];
const RUNS: usize = 10;

pub(crate) fn bootstrap(name: &str) -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    PathBuf::from(target).join("release").join(name)
}

/// One run's view of the Runtime API.
#[derive(Default)]
struct Run {
    /// The event the first `/next` gets; later ones wait, as between invocations.
    event: Option<String>,
    ready: Option<Instant>,
    answered: Option<Instant>,
    answer: String,
}

#[derive(Clone, Default)]
struct Api {
    run: Arc<Mutex<Run>>,
    answered: Arc<Notify>,
}

impl Api {
    fn run(&self) -> std::sync::MutexGuard<'_, Run> {
        self.run.lock().unwrap_or_else(|p| p.into_inner())
    }
}

async fn next(State(api): State<Api>) -> (StatusCode, HeaderMap, String) {
    let event = {
        let mut run = api.run();
        run.ready.get_or_insert_with(Instant::now);
        run.event.take()
    };
    let Some(event) = event else {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        return (StatusCode::OK, HeaderMap::new(), String::new());
    };
    let deadline = SystemClock.now().as_millis() + 60_000;
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("lambda-runtime-aws-request-id", "bench-request".to_owned()),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:000000000000:function:bench".to_owned(),
        ),
        ("lambda-runtime-trace-id", "Root=1-bench".to_owned()),
    ] {
        if let Ok(value) = value.parse() {
            headers.insert(name, value);
        }
    }
    (StatusCode::OK, headers, event)
}

async fn answered(State(api): State<Api>, Path(_id): Path<String>, body: String) -> StatusCode {
    {
        let mut run = api.run();
        run.answered.get_or_insert_with(Instant::now);
        run.answer = body;
    }
    api.answered.notify_one();
    StatusCode::ACCEPTED
}

async fn failed(State(api): State<Api>, body: String) -> StatusCode {
    {
        let mut run = api.run();
        run.answered.get_or_insert_with(Instant::now);
        run.answer = format!("error: {body}");
    }
    api.answered.notify_one();
    StatusCode::ACCEPTED
}

/// An HTTP API (payload 2.0) event for `path`, as API Gateway and Function URLs send it.
fn http_event(path: &str, headers: &[(&str, String)], body: &str) -> String {
    crm_testkit::request::HttpEvent::post(path, body)
        .headers(headers)
        .event()
        .to_string()
}

/// A typical first event for each function, and what its answer should contain.
fn event(name: &str, run: usize) -> (String, &'static str) {
    match name {
        "lead-intake" => {
            let body = json!({
                "email": format!("cold{run}-{}@example.com", uuid::Uuid::new_v4()),
                "message": "hello"
            })
            .to_string();
            let headers = own_signed(FORM_SECRET, SystemClock.now().as_secs(), body.as_bytes());
            (http_event("/lead", &headers, &body), "\"statusCode\":202")
        }
        "notion-webhook" => {
            // Signed, of a type the worker does not act on: verified and answered.
            let body = json!({
                "id": uuid::Uuid::new_v4().to_string(),
                "type": "comment.created",
                "timestamp": "2026-11-24T09:12:04.000Z"
            })
            .to_string();
            let headers = [notion_signed(WEBHOOK_TOKEN, body.as_bytes())];
            (http_event("/", &headers, &body), "\"statusCode\":200")
        }
        // A batch the stream filter let through with nothing left to do.
        "worker" => (json!({"Records": []}).to_string(), "batchItemFailures"),
        // The scheduler's event: the digest (posted by the first run, then the day is
        // claimed) and the redrive (the open inbox).
        _ => (
            json!({
                "version": "0",
                "id": uuid::Uuid::new_v4().to_string(),
                "detail-type": "Scheduled Event",
                "source": "aws.scheduler",
                "account": "000000000000",
                "time": "2026-11-24T09:00:00Z",
                "region": "us-east-1",
                "resources": [],
                "detail": {}
            })
            .to_string(),
            "",
        ),
    }
}

/// The bootstrap and zip `infra/lambda-zips.sh` built with cargo-lambda, as a deploy
/// uploads them, with the architecture read from the ELF header.
fn lambda_package(name: &str) -> Option<(String, u64, u64)> {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let dir = PathBuf::from(target).join("lambda").join(name);
    let bootstrap = std::fs::read(dir.join("bootstrap")).ok()?;
    let zip = std::fs::metadata(dir.join("bootstrap.zip")).ok()?.len();
    let arch = match bootstrap.get(18..20) {
        Some([0xb7, 0x00]) => "arm64",
        Some([0x3e, 0x00]) => "x86_64",
        _ => "unknown architecture",
    };
    Some((arch.to_owned(), bootstrap.len() as u64, zip))
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// The Runtime API stand-in, listening on 127.0.0.1.
pub(crate) struct RuntimeApi {
    api: Api,
    address: String,
}

/// One invocation of a bootstrap as a new Lambda instance: when it was ready, when it
/// answered, what it answered, and its memory then.
pub(crate) struct Invocation {
    pub ready: Option<Duration>,
    pub answered: Option<Duration>,
    pub answer: String,
    /// Resident memory just after it answered, and its peak (MB).
    pub rss_mb: Option<f64>,
    pub peak_mb: Option<f64>,
}

impl RuntimeApi {
    pub(crate) async fn start() -> Result<Self, Box<dyn std::error::Error>> {
        let api = Api::default();
        let app = axum::Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(answered),
            )
            .route(
                "/2018-06-01/runtime/invocation/{id}/error",
                post(|s: State<Api>, _: Path<String>, b: String| failed(s, b)),
            )
            .route("/2018-06-01/runtime/init/error", post(failed))
            .with_state(api.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?.to_string();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { api, address })
    }

    /// Starts the bootstrap at `path` with `vars`, gives it `event`, waits up to
    /// `within` for its answer, and stops it.
    pub(crate) async fn invoke(
        &self,
        path: &std::path::Path,
        name: &str,
        vars: Vec<(String, String)>,
        event: String,
        within: Duration,
    ) -> Result<Invocation, Box<dyn std::error::Error>> {
        *self.api.run() = Run {
            event: Some(event),
            ..Run::default()
        };
        let started = Instant::now();
        let mut child = tokio::process::Command::new(path)
            .envs(vars)
            .env("AWS_LAMBDA_RUNTIME_API", &self.address)
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
        tokio::time::timeout(within, self.api.answered.notified()).await?;
        // Idle again, waiting for its next event: what it holds between invocations.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let status = child
            .id()
            .map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default())
            .unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .map(|kb| kb / 1024.0)
        };
        let (rss_mb, peak_mb) = (field("VmRSS:"), field("VmHWM:"));
        child.kill().await?;
        let run = self.api.run();
        Ok(Invocation {
            ready: run.ready.map(|r| r.duration_since(started)),
            answered: run.answered.map(|a| a.duration_since(started)),
            answer: run.answer.clone(),
            rss_mb,
            peak_mb,
        })
    }
}

pub async fn measure(env: &Env, rows: &mut Vec<Row>) -> Result<(), Box<dyn std::error::Error>> {
    let runtime = RuntimeApi::start().await?;
    for name in FUNCTIONS {
        rows.push(match lambda_package(name) {
            Some((arch, bootstrap, zip)) => (
                format!("{name} Lambda package ({arch}, cargo-lambda): bootstrap / zip"),
                format!(
                    "{:.2} MB / {:.2} MB",
                    bootstrap as f64 / 1e6,
                    zip as f64 / 1e6
                ),
            ),
            None => (
                format!("{name} Lambda package"),
                "not built; `infra/lambda-zips.sh` builds it".to_owned(),
            ),
        });
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
        let (mut ready, mut first_answer, mut rss, mut wrong) = (vec![], vec![], vec![], None);
        for run in 0..RUNS {
            let (event, expected) = event(name, run);
            let ran = runtime
                .invoke(
                    &path,
                    name,
                    variables(env, None),
                    event,
                    Duration::from_secs(30),
                )
                .await?;
            rss.extend(ran.rss_mb);
            if let (Some(r), Some(a)) = (ran.ready, ran.answered) {
                ready.push(r);
                first_answer.push(a);
            }
            if !ran.answer.contains(expected) || ran.answer.starts_with("error") {
                wrong.get_or_insert_with(|| ran.answer.chars().take(200).collect::<String>());
            }
        }
        rss.sort_by(f64::total_cmp);
        rows.push((
            format!("{name} cold start: exec to first `/next` (ready), median of {RUNS}"),
            format!("{:.1} ms", median(ready).as_secs_f64() * 1e3),
        ));
        rows.push((
            format!("{name} cold start: exec to first answered invocation, median of {RUNS}"),
            match wrong {
                None => format!("{:.1} ms", median(first_answer).as_secs_f64() * 1e3),
                Some(answer) => format!("unexpected answer: {answer}"),
            },
        ));
        if let Some(m) = rss.get(rss.len() / 2) {
            rows.push((
                format!("{name} memory after its first invocation (RSS, median)"),
                format!("{m:.1} MB"),
            ));
        }
    }
    Ok(())
}
