//! What every function does, written once: the runtime context built at cold start and
//! (in the modules added per function) the handlers, generic over the ports so the
//! Lambda binaries, `crm serve` and the tests all run the same code.

pub mod runtime;
pub mod telemetry;

pub use runtime::{Context, ContextError, HandlerUnavailable, SecretsProvider};
