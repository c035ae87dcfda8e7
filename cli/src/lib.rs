//! What the `crm` command does that a test calls directly: `crm setup`'s creation and
//! check of the Notion workspace, and what it can tell of Notion's limits.

pub mod limits;
pub mod workspace;
