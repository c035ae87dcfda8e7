//! Browser forms: a site's own HTML form posting straight to the intake, with no
//! signing server in between. A browser cannot keep a secret, so instead of a signature
//! a submission must come from an allowed origin and pass the spam checks (honeypot,
//! fill time, captcha, a per-address limit); see `docs/design.md`, "Browser forms".
//!
//! This module is the pure part: the forms' settings, reading a body, the checks that
//! need nothing but the fields, the pages a browser is shown, and the snippet.

pub mod body;
pub mod config;
mod multipart;
pub mod page;
pub mod screen;
pub mod snippet;

pub use body::{BodyError, Encoding};
pub use config::{Captcha, CaptchaProvider, FieldNames, FormConfig, parse_forms, parse_origin};
pub use screen::{Mapped, Screened, Spam, mapped, screen};
