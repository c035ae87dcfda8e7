//! Where the handlers run: in a Lambda function (the default), or in `crm serve` on the
//! operator's machine. Two things differ, and only these: the metric lines (CloudWatch
//! reads them from a function's stdout; on a console they are noise between what a
//! person reads), and the commands a hint tells the operator to run.

use std::sync::atomic::{AtomicBool, Ordering};

static SERVE: AtomicBool = AtomicBool::new(false);

/// Says the handlers of this process run in `crm serve`.
pub fn in_serve() {
    SERVE.store(true, Ordering::Relaxed);
}

/// Whether they do.
pub fn is_serve() -> bool {
    SERVE.load(Ordering::Relaxed)
}

/// What opens the webhook's handshake window, as the operator does it here.
pub fn open_the_handshake() -> &'static str {
    if is_serve() {
        "restart `crm serve` (it lets the handshake in for its first 15 minutes)"
    } else {
        "run `crm webhook listen --stack <stack>`"
    }
}

/// The target of log lines that ask something of the operator: `crm serve` shows them
/// on a console that shows only warnings otherwise.
pub const OPERATOR: &str = "operator";
