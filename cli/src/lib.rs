//! What the `crm` command does that a test calls directly: `crm setup`'s creation and
//! check of the Notion workspace.

pub mod workspace;
