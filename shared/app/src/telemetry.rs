//! Logging setup.

use tracing_subscriber::EnvFilter;

/// JSON logs, one object per line, for CloudWatch: spans carry the submission or event
/// id so one lead can be followed across functions. `RUST_LOG` overrides the level.
pub fn init_json() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Lambda adds its own timestamp to each line; ours would only duplicate it.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
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
