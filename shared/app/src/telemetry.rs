//! Logging setup.

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// What to log: `RUST_LOG` as a list of `target=level` directives and a default level
/// (`info`, `crm_app=debug,warn`), else `info`. Plain targets rather than
/// tracing-subscriber's `EnvFilter`, whose span and field filters bring a regex engine
/// into every bootstrap (about 0.5 MB) for nothing these functions log.
pub fn filter() -> Targets {
    std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO))
}

/// JSON logs, one object per line, for CloudWatch: spans carry the submission or event
/// id so one lead can be followed across functions. `RUST_LOG` overrides the level.
pub fn init_json() {
    // Lambda adds its own timestamp to each line; ours would only duplicate it.
    let json = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time();
    let _ = tracing_subscriber::registry()
        .with(json)
        .with(filter())
        .try_init();
}

/// An error and its sources, `outer: inner: innermost`, for one log field.
pub fn cause_chain(error: &dyn std::error::Error) -> String {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        source = s.source();
    }
    chain
}

/// The deployment every metric of this process belongs to (the `stack` setting), set
/// once when the context is built; `local` until then.
static STACK: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Names the deployment the metrics of this process belong to. The first call wins: a
/// process serves one deployment.
pub fn set_stack(stack: &str) {
    let _ = STACK.set(stack.to_owned());
}

/// Writes counts as one CloudWatch embedded-metric line on stdout (the function's log),
/// which CloudWatch turns into metrics under `NotionCrm` with the dimensions `Stack` and
/// `Function`: what the alarms in `template.yaml` watch, each for its own stack only. No
/// SDK call, nothing to wait for.
pub fn metrics(function: &str, values: &[(&str, u64)]) {
    if crate::place::is_serve() {
        return;
    }
    let now = crm_domain::Clock::now(&crm_domain::SystemClock).as_millis();
    let stack = STACK.get().map_or("local", String::as_str);
    println!("{}", metrics_line(stack, function, values, now));
}

fn metrics_line(stack: &str, function: &str, values: &[(&str, u64)], now_ms: i64) -> String {
    let mut line = serde_json::json!({
        "_aws": {
            "Timestamp": now_ms,
            "CloudWatchMetrics": [{
                "Namespace": "NotionCrm",
                "Dimensions": [["Stack", "Function"]],
                "Metrics": values
                    .iter()
                    .map(|(name, _)| serde_json::json!({"Name": name, "Unit": "Count"}))
                    .collect::<Vec<_>>(),
            }],
        },
        "Stack": stack,
        "Function": function,
    });
    for (name, value) in values {
        line[*name] = serde_json::json!(value);
    }
    line.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metrics_line_is_an_embedded_metric_document() {
        let line = metrics_line(
            "crm-prod",
            "redrive",
            &[("InboxParked", 2), ("InboxOverdue", 0)],
            7,
        );
        let doc: serde_json::Value = serde_json::from_str(&line).unwrap();
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(doc["_aws"]["Timestamp"], 7);
        assert_eq!(directive["Namespace"], "NotionCrm");
        // The alarms in template.yaml name both: a metric without the stack would set off
        // every stack's alarm in the region.
        assert_eq!(
            directive["Dimensions"],
            serde_json::json!([["Stack", "Function"]])
        );
        assert_eq!(directive["Metrics"][0]["Name"], "InboxParked");
        assert_eq!(
            (
                doc["InboxParked"].as_u64(),
                doc["Stack"].as_str(),
                doc["Function"].as_str()
            ),
            (Some(2), Some("crm-prod"), Some("redrive"))
        );
    }
}
