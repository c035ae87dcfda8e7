//! Secrets: one JSON document, typed, never printable.
//!
//! ```json
//! {
//!   "notion_token": "ntn_…",
//!   "notion_webhook_token": "",
//!   "form_secrets": { "own": "…", "tally": "…", "typeform": "…", "formspree": "…", "webflow": "…" },
//!   "slack_webhooks": { "won": "https://hooks.slack.com/…", "digest": "https://…" },
//!   "slack_bot_token": "xoxb-…",
//!   "captcha_secrets": { "turnstile": "0x…", "hcaptcha": "0x…" }
//! }
//! ```
//!
//! `notion_webhook_token` starts empty: a verification handshake, while `crm webhook
//! listen` has the window open, offers a token (`notion_webhook_candidates`, a few at
//! most), and the first event signed with one of them pins it there — so a token planted
//! by someone else in the window is never the one events are verified with. A missing form secret makes that provider's route refuse
//! every request (fail closed); a missing Slack webhook makes its messages wait in the
//! inbox until it is added.
//!
//! Each field is read on its own. A bad entry (an unknown field, `"Tally"` for `tally`,
//! a Slack URL without a scheme, a number where text belongs) is left out and listed in
//! [`Secrets::problems`], which [`CachedSecrets`] logs once; only a function that needs
//! that entry fails, with a reason that names it. One mistake in the Slack part can
//! therefore never stop lead intake, which needs only `form_secrets`.
//!
//! Four ideas, a file each: the document's [`format`] (typed, each field read on its own),
//! where it comes from ([`source`]: the traits, the edits a handshake makes to any store
//! of it, and memory), [`manager`] (Secrets Manager, with its compare-and-set), and the
//! [`cache`] every function reads through.

mod cache;
mod format;
mod manager;
mod source;

pub use cache::CachedSecrets;
pub use format::{FORM_PROVIDERS, MissingSecret, Secrets, SecretsFormatError};
pub use manager::SecretsManagerSource;
pub use source::{
    MAX_WEBHOOK_CANDIDATES, MemorySecrets, READ_ACTIONS, SecretsError, SecretsSource,
    SecretsWriter, WRITE_ACTIONS, offer_in, pin_in,
};
